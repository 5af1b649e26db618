"""``/healthz`` and ``/readyz`` of ``sensorhub serve``, on its metrics port beside ``/metrics``.

Why two: a process can be alive yet unable to do its work. ``/healthz`` says whether it is alive
(its main loop turned within ``LOOP_STALE`` s): a supervisor restarts it when not. ``/readyz``
says whether it can do its work now (the broker connected, the store writable, each paging
link up, the classifier not behind): a process that is not ready is not helped by a restart,
a person must look, and the JSON says at what. Both answer 200 or 503 with the reasons::

    {"ok": false, "checks": {"broker": {"ok": false, "detail": "not connected to ..."}, ...},
     "reasons": ["not connected to ..."]}

The checks are read on the HTTP server's thread from what the service keeps anyway (flags and
counters read without a lock), so a scrape costs the loop nothing. The same values are exported
as metrics (``HealthCollector``) for the alert rules in ``deploy/``.

| metric | type | meaning |
|---|---|---|
| ``sensorhub_broker_connected`` | gauge | 1 while connected to the MQTT broker |
| ``sensorhub_paging_link_up{system}`` | gauge | 1 while the link to the ESPA paging system is up |
| ``sensorhub_outbox_waiting{channel}`` | gauge | pages handed out and not yet confirmed, by channel |
| ``sensorhub_inbox_waiting`` | gauge | messages received and not yet taken by the classifier |
| ``sensorhub_loop_last_turn_seconds`` | gauge | seconds since the main loop last turned |
"""  # noqa: E501 - a table reads best unbroken

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

#: The main loop turns every 0.1 s when idle; one not turned for this long (s) is stuck.
LOOP_STALE: Final = 5.0
#: Messages waiting for the classifier beyond this: it is behind (a second or more of a heavy
#: burst at the 20,000 messages/s it decides, ten of its rounds).
BEHIND: Final = 20_000


@dataclass(frozen=True, slots=True)
class Probes:
    """What the checks read, each called on the HTTP server's thread."""

    #: the broker's address, and whether connected to it
    broker: Callable[[], tuple[str, bool]]
    #: None while the store takes writes, else why not
    store: Callable[[], str | None]
    #: each paging system's name and whether its link is up
    links: Callable[[], dict[str, bool]]
    #: pages handed out and not yet confirmed, by channel
    outbox: Callable[[], dict[str, int]]
    #: messages received and not yet taken by the classifier
    waiting: Callable[[], int]


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


class Health:
    """The service's liveness and readiness, from ``probes`` and the loop's ``turned()``."""

    def __init__(self, probes: Probes, *, stale: float = LOOP_STALE, behind: int = BEHIND) -> None:
        self.probes = probes
        self.stale = stale
        self.behind = behind
        self._last_turn: float | None = None  # None: the loop has not started

    def turned(self) -> None:
        """The main loop turned once (called by it each turn: one clock read)."""
        self._last_turn = time.monotonic()

    def since_turn(self) -> float | None:
        """Seconds since the loop last turned; None before its first turn."""
        return None if self._last_turn is None else time.monotonic() - self._last_turn

    def loop(self) -> Check:
        since = self.since_turn()
        if since is None:
            return Check(False, "starting: the main loop has not turned yet")
        if since > self.stale:
            return Check(False, f"the main loop last turned {since:.1f} s ago (stuck)")
        return Check(True, f"the main loop turned {since:.1f} s ago")

    def live(self) -> dict[str, Check]:
        """Alive: the loop turns, or it is starting (the classifier is compiled first)."""
        loop = self.loop()
        if self._last_turn is None:
            loop = Check(True, loop.detail)
        return {"loop": loop}

    def ready(self) -> dict[str, Check]:
        probes = self.probes
        url, connected = probes.broker()
        checks = {"loop": self.loop()}
        checks["broker"] = Check(
            connected, f"connected to {url}" if connected else f"not connected to {url}"
        )
        store = probes.store()
        checks["store"] = Check(store is None, "the store takes writes" if store is None else store)
        for name, up in sorted(probes.links().items()):
            checks[f"paging:{name}"] = Check(
                up, f"paging system {name}: link {'up' if up else 'down'}"
            )
        waiting = probes.waiting()
        checks["classifier"] = Check(
            waiting <= self.behind,
            f"{waiting} message(s) waiting for the classifier"
            + ("" if waiting <= self.behind else f", over {self.behind}: it is behind"),
        )
        return checks


def answer(checks: dict[str, Check]) -> tuple[bool, bytes]:
    """Whether every check passed, and the JSON body that says so and why not."""
    ok = all(check.ok for check in checks.values())
    body = {
        "ok": ok,
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        "reasons": [c.detail for c in checks.values() if not c.ok],
    }
    return ok, (json.dumps(body, indent=1) + "\n").encode("utf-8")


class HealthCollector(Collector):
    """Exports what the health checks read, at scrape time, for the alert rules."""

    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterable[Metric]:
        probes = self.health.probes
        yield GaugeMetricFamily(
            "sensorhub_broker_connected",
            "1 while connected to the MQTT broker, 0 while not.",
            value=int(probes.broker()[1]),
        )
        links = GaugeMetricFamily(
            "sensorhub_paging_link_up",
            "1 while the link to the ESPA paging system is up, 0 while not.",
            labels=["system"],
        )
        for name, up in sorted(probes.links().items()):
            links.add_metric([name], int(up))
        yield links
        outbox = GaugeMetricFamily(
            "sensorhub_outbox_waiting",
            "Pages handed out and not yet confirmed (by the broker, or by the paging system), "
            "by channel.",
            labels=["channel"],
        )
        for channel, count in sorted(probes.outbox().items()):
            outbox.add_metric([channel], count)
        yield outbox
        yield GaugeMetricFamily(
            "sensorhub_inbox_waiting",
            "Messages received and not yet taken by the classifier.",
            value=probes.waiting(),
        )
        since = self.health.since_turn()
        yield GaugeMetricFamily(
            "sensorhub_loop_last_turn_seconds",
            "Seconds since the main loop last turned (0 before its first turn).",
            value=0.0 if since is None else since,
        )


class _Quiet(WSGIRequestHandler):
    """No line in the log per request (Prometheus scrapes every 15 s)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_http(
    registry: CollectorRegistry, health: Health, port: int, addr: str = "127.0.0.1"
) -> WSGIServer:
    """Serve ``/healthz``, ``/readyz`` and the metrics of ``registry`` (every other path, as
    before) on ``http://addr:port`` from a daemon thread.

    Stop it with ``server.shutdown(); server.server_close()``.
    """
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in ("/healthz", "/readyz"):
            return iter(metrics(environ, start_response))
        ok, body = answer(health.live() if path == "/healthz" else health.ready())
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK" if ok else "503 Service Unavailable", headers)
        return iter([body])

    class Server(ThreadingWSGIServer):
        """Of the address family of ``addr`` (an IPv6 address works too)."""

    Server.address_family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]
    server = make_server(addr, port, app, Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="sensorhub-http", daemon=True).start()
    return server
