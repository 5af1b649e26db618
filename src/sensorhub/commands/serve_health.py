"""What ``/healthz`` and ``/readyz`` of ``sensorhub serve`` read from the running service.

Kept out of ``serve.py`` (at its length limit): the checks themselves are ``io.health``; this
only says where in a ``Service`` each probe looks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sensorhub.io.health import Health, HealthCollector, Probes
from sensorhub.store import MQTT_CHANNEL

if TYPE_CHECKING:
    from sensorhub.commands.serve import Service


def service_health(service: Service) -> Health:
    """The health of ``service``, its probes reading its connection, store, channels, inbox;
    its metrics registered in the service's registry."""
    connection = service.connection

    def store() -> str | None:
        held = service.held.holding
        if not held:
            return None
        return (
            f"the store {service.store.url} cannot be written ({service.held.error}): "
            f"{held} round(s) held in memory"
        )

    health = Health(
        Probes(
            broker=lambda: (connection.settings.url, connection.connected),
            store=store,
            links=lambda: {channel.name: channel.connected for channel in service.channels},
            outbox=lambda: {
                MQTT_CHANNEL: connection.unacknowledged,
                **{channel.channel: channel.unconfirmed for channel in service.channels},
            },
            waiting=lambda: service.inbox.waiting,
        )
    )
    service.registry.register(HealthCollector(health))
    return health
