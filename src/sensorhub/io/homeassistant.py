"""Home Assistant MQTT discovery (``serve --homeassistant``): each room's open incident as a
binary sensor, each page as an event, with sensorhub's availability.

For every room the rule file names (and every room that has an incident), ``serve`` publishes two
retained discovery configs under Home Assistant's discovery prefix (``homeassistant`` by default),
one device per room:

- ``<prefix>/binary_sensor/sensorhub_<id>_incident/config``: "Incident", device class ``problem``,
  state ``ON``/``OFF`` retained on ``sensorhub/ha/<site>/<room>/incident``. ON while the room has
  an incident that is paged and neither acknowledged nor resolved (the router's status ``open``);
  OFF once staff acknowledged it or arrived. An incident held back by a silence (``sensorhub
  mute``) is not paged and leaves the sensor OFF.
- ``<prefix>/event/sensorhub_<id>_page/config``: "Page", event types the incident kinds of the
  contract; every page to the room (each recipient, each escalation) is published, not retained,
  on ``sensorhub/ha/<site>/<room>/page`` as ``{"event_type": <kind>, <the page's fields>}``.

``<id>`` is ``<site>__<room>`` when both names are of ``[A-Za-z0-9-]`` parts joined by single
underscores (what Home Assistant allows in a discovery topic, and unambiguous), else ``x`` and 16
hex digits of the SHA-256 of ``<site>/<room>``: the same in every process, so Home Assistant keeps
its entities (names, areas, history) across restarts.

Availability: both entities are available when *both* ``sensorhub/availability`` says ``online``
(plain text, retained, published with the JSON status on every connect, ``offline`` when the
service stops or its store cannot be written) *and* the JSON status on ``sensorhub/status`` says
``{"state": "online"}`` (``availability_mode: all``). MQTT gives a connection one last will, and
it stays the JSON status: after a crash or a lost network only the JSON status turns ``offline``,
and that alone makes the entities unavailable.

Home Assistant's birth message (``online`` on ``<prefix>/status``) has every config and incident
state published again, as Home Assistant asks (after a restart of it or of a broker that forgot
its retained messages). A reload of the rules publishes the configs of rooms added, and removes
those of rooms it does not name and that have no open incident (an empty retained message on
each of their topics).

Nothing here decides anything: it shows what the router decided (``Round.incidents`` and
``Round.pages``) and publishes it through the service's own connection.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from sensorhub import __version__
from sensorhub.contract import INCIDENT_KINDS, Page
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.mqtt import STATUS_TOPIC, MqttConnection, MqttSettings
from sensorhub.rules.policy import Policy

logger = logging.getLogger(__name__)

#: Home Assistant's default discovery prefix (its ``discovery_prefix``).
DISCOVERY_PREFIX: Final = "homeassistant"
#: Plain ``online``/``offline`` beside the JSON status (retained).
AVAILABILITY_TOPIC: Final = "sensorhub/availability"
#: Where each room's incident state and pages go: ``<base>/<site>/<room>/incident|page``.
STATE_BASE: Final = "sensorhub/ha"
ON: Final = "ON"
OFF: Final = "OFF"
#: The router's incident status that makes a room's binary sensor ON.
OPEN_STATUS: Final = "open"
#: Home Assistant's birth message, on ``<prefix>/status``.
BIRTH: Final = b"online"

Room = tuple[str, str]

_PLAIN = re.compile(r"[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")


def check_discovery_prefix(prefix: str, events: str | None = None) -> str:
    """``prefix`` if it is a usable discovery prefix apart from the ``events`` prefix (the
    service would take its own configs for sensor events), else ValueError saying why."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"Home Assistant discovery prefix {prefix!r} must be topic levels of letters, digits, "
            f"'_' and '-' (Home Assistant's default is {DISCOVERY_PREFIX})"
        )
    if events is not None and (
        f"{prefix}/".startswith(f"{events}/") or f"{events}/".startswith(f"{prefix}/")
    ):
        raise ValueError(
            f"Home Assistant discovery prefix {prefix!r} overlaps the event prefix {events!r}: "
            "give them topics apart (--homeassistant-prefix or --prefix)"
        )
    return prefix


def room_id(site: str, room: str) -> str:
    """The room's part of its discovery topics and unique ids: stable across processes."""
    if _PLAIN.fullmatch(site) and _PLAIN.fullmatch(room):
        return f"{site}__{room}"
    return "x" + hashlib.sha256(f"{site}/{room}".encode()).hexdigest()[:16]


def state_topic(site: str, room: str, what: str) -> str:
    """``sensorhub/ha/<site>/<room>/<what>`` (``incident`` or ``page``)."""
    return f"{STATE_BASE}/{site}/{room}/{what}"


def discovery_configs(site: str, room: str, prefix: str = DISCOVERY_PREFIX) -> dict[str, Any]:
    """The room's discovery configs, by their topic (published retained, as JSON)."""
    rid = room_id(site, room)
    common: dict[str, Any] = {
        "availability": [
            {
                "topic": AVAILABILITY_TOPIC,
                "payload_available": "online",
                "payload_not_available": "offline",
            },
            {
                "topic": STATUS_TOPIC,
                "value_template": "{{ value_json.state }}",
                "payload_available": "online",
                "payload_not_available": "offline",
            },
        ],
        "availability_mode": "all",
        "device": {
            "identifiers": [f"sensorhub_{rid}"],
            "name": f"Room {room} ({site})",
            "manufacturer": "sensorhub",
            "model": "care room",
            "sw_version": __version__,
        },
        "origin": {"name": "sensorhub", "sw_version": __version__},
        "qos": 1,
    }
    incident = f"sensorhub_{rid}_incident"
    page = f"sensorhub_{rid}_page"
    return {
        f"{prefix}/binary_sensor/{incident}/config": {
            "name": "Incident",
            "unique_id": incident,
            "state_topic": state_topic(site, room, "incident"),
            "payload_on": ON,
            "payload_off": OFF,
            "device_class": "problem",
            **common,
        },
        f"{prefix}/event/{page}/config": {
            "name": "Page",
            "unique_id": page,
            "state_topic": state_topic(site, room, "page"),
            "event_types": list(INCIDENT_KINDS),
            **common,
        },
    }


def named_rooms(policy: Policy) -> set[Room]:
    """The rooms the rule file names, site by site."""
    return {(site, room) for site, rules in policy.rules.sites.items() for room in rules.rooms}


def page_event(page: Page) -> bytes:
    """The event entity's payload for ``page``: its kind as ``event_type``, and its fields."""
    return json.dumps({"event_type": page.kind, **page.model_dump(mode="json")}).encode()


class OpenIncidents:
    """Which rooms have an open incident, from the router's incidents as JSON (what
    ``Router.snapshot`` and ``Round.incidents`` give)."""

    def __init__(self) -> None:
        self._open: dict[str, Room] = {}  # incident -> its room, while open

    def rooms(self) -> set[Room]:
        return set(self._open.values())

    def update(self, incidents: Mapping[str, str | None]) -> set[Room]:
        """Take the incidents a round changed (JSON text, None: forgotten); the rooms whose
        state may have changed."""
        touched: set[Room] = set()
        for name, text in incidents.items():
            was = self._open.pop(name, None)
            if was is not None:
                touched.add(was)
            if text is not None:
                touched.update(self._take(name, json.loads(text)))
        return touched

    def restore(self, incidents: Iterable[Mapping[str, Any]]) -> None:
        """Start from the router's incidents as parsed JSON (``Router.snapshot()``)."""
        self._open.clear()
        for incident in incidents:
            self._take(str(incident["page"]["incident"]), incident)

    def _take(self, name: str, incident: Mapping[str, Any]) -> list[Room]:
        page = incident["page"]
        room = (str(page["site"]), str(page["room"]))
        if incident.get("status") == OPEN_STATUS:
            self._open[name] = room
        return [room]


class HomeAssistant:
    """Publishes the discovery configs and the rooms' states on the service's connection."""

    def __init__(self, prefix: str = DISCOVERY_PREFIX) -> None:
        self.prefix = check_discovery_prefix(prefix)
        self.birth_topic = f"{prefix}/status"
        self.incidents = OpenIncidents()
        self._connection: MqttConnection | None = None
        self._announced: set[Room] = set()
        self._states: dict[Room, str] = {}

    @property
    def subscriptions(self) -> list[str]:
        """What the service subscribes to for Home Assistant: its birth message."""
        return [self.birth_topic]

    @staticmethod
    def settings(mqtt: MqttSettings) -> MqttSettings:
        """The service's broker settings, with the plain availability topic beside its status."""
        return dataclasses.replace(mqtt, availability=AVAILABILITY_TOPIC)

    def start(
        self, connection: MqttConnection, policy: Policy, incidents: Iterable[Mapping[str, Any]]
    ) -> None:
        """Publish every room's config and state, the router's ``incidents`` as they are now
        (``Router.snapshot()["incidents"]``); queued until the connection is up."""
        self._connection = connection
        self.incidents.restore(incidents)
        self._announced = set()
        self._states = {}
        self._announce(named_rooms(policy) | self.incidents.rooms())
        logger.info(
            "Home Assistant discovery under %s/: %d room(s), availability on %s",
            self.prefix,
            len(self._announced),
            AVAILABILITY_TOPIC,
        )

    def received(self, messages: list[InboundMessage]) -> list[InboundMessage]:
        """The messages that are not Home Assistant's birth message; on its ``online``, every
        config and state is published again."""
        births = [m for m in messages if m.topic == self.birth_topic]
        if not births:
            return messages
        if self._connection is not None:
            self._connection.ack(births)
        if any(m.payload.strip() == BIRTH for m in births):
            rooms = set(self._announced)
            self._announced, self._states = set(), {}
            self._announce(rooms)
            logger.info("Home Assistant came online: published %d room(s) again", len(rooms))
        return [m for m in messages if m.topic != self.birth_topic]

    def round(self, incidents: Mapping[str, str | None], pages: Iterable[Page]) -> None:
        """Show what a round changed: the rooms' incident states, then its pages as events."""
        touched = self.incidents.update(incidents)
        self._announce(touched)
        for page in pages:
            self._announce([(page.site, page.room)])
            self._publish(state_topic(page.site, page.room, "page"), page_event(page), False)

    def reload(self, policy: Policy) -> None:
        """New rules: configs for the rooms they add; the configs of the rooms announced that
        they do not name removed, unless the room has an open incident."""
        named = named_rooms(policy)
        gone = self._announced - named - self.incidents.rooms()
        for site, room in sorted(gone):
            for topic in discovery_configs(site, room, self.prefix):
                self._publish(topic, b"", True)
            self._publish(state_topic(site, room, "incident"), b"", True)
            self._announced.discard((site, room))
            self._states.pop((site, room), None)
        added = named - self._announced
        self._announce(added)
        if gone or added:
            logger.info(
                "Home Assistant: %d room(s) added, %d removed by the new rules",
                len(added),
                len(gone),
            )

    def _announce(self, rooms: Iterable[Room]) -> None:
        """Configs of the rooms not yet announced, then each room's state if it changed."""
        open_rooms = self.incidents.rooms()
        for room in sorted(rooms):
            if room not in self._announced:
                self._announced.add(room)
                for topic, config in discovery_configs(*room, self.prefix).items():
                    self._publish(topic, json.dumps(config).encode(), True)
            state = ON if room in open_rooms else OFF
            if self._states.get(room) != state:
                self._states[room] = state
                self._publish(state_topic(*room, "incident"), state.encode(), True)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        if self._connection is not None:
            self._connection.publish(topic, payload, qos=1, retain=retain)
