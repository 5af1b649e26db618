"""The command line of ``sensorhub serve`` (its options; the command is ``serve.py``)."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Final

from sensorhub.contract import DEFAULT_PREFIX, MAX_LATENESS
from sensorhub.durations import DURATION_GUIDE, duration_argument, format_duration
from sensorhub.io.homeassistant import DISCOVERY_PREFIX
from sensorhub.io.mqtt_cli import add_broker_arguments
from sensorhub.store import DEFAULT_STORE_URL, STORE_ENV, store_url_default

#: Default of --idle-flush (s).
IDLE_FLUSH: Final = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_broker_arguments(
        parser,
        broker_help="mqtt://host[:port] or mqtts://host[:port] (TLS); default: start a private "
        "Mosquitto on 127.0.0.1 and log its address",
        client_id_default=f"sensorhub-{socket.gethostname()}",
        client_id_help="MQTT client id; keep it fixed so the broker keeps the events sent while "
        "sensorhub is away (default: sensorhub-<hostname>)",
    )
    classify = parser.add_argument_group("classification")
    classify.add_argument(
        "--rules", type=Path, metavar="FILE", help="rule file (default: the shipped policy)"
    )
    classify.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"topic prefix of sensor events (default {DEFAULT_PREFIX}: "
        f"{DEFAULT_PREFIX}/<site>/<room>/<kind>/<device>)",
    )
    classify.add_argument(
        "--clock",
        choices=["wall", "event"],
        default="wall",
        help="wall: decide on the wall clock (live sites, default); event: only on the "
        "events' own time, as replay does",
    )
    classify.add_argument(
        "--lateness",
        type=duration_argument,
        default=MAX_LATENESS,
        metavar="DURATION",
        help=f"how late an event may arrive and still be decided in order; pages decided by "
        f"a timer lag by this much: a duration, seconds or e.g. 2s, 1m (see {DURATION_GUIDE}; "
        f"default {format_duration(MAX_LATENESS)})",
    )
    classify.add_argument(
        "--idle-flush",
        type=duration_argument,
        default=IDLE_FLUSH,
        metavar="DURATION",
        help=f"event clock only: when no message arrives for this long, decide everything "
        f"buffered, as replay does at the end of a file (a duration; default "
        f"{format_duration(IDLE_FLUSH)})",
    )
    keep = parser.add_argument_group("durable state")
    keep.add_argument(
        "--store",
        metavar="URL",
        default=store_url_default(),
        help="where open incidents, pending escalations, acknowledgements, silences, the outbox "
        f"of unconfirmed pages and the audit are kept across restarts: sqlite:///path.db (one "
        f"file) or postgresql://user@host:port/db (default ${STORE_ENV} if set, else "
        f"{DEFAULT_STORE_URL}: sensorhub.db in the working directory)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--pages", type=Path, metavar="FILE", help="also append every page to FILE (JSONL)"
    )
    out.add_argument(
        "--audit",
        type=Path,
        metavar="FILE",
        help="append the decision on every event and timer, and why, to FILE (JSONL)",
    )
    out.add_argument(
        "--homeassistant",
        action="store_true",
        help="publish Home Assistant MQTT discovery: per room an incident binary sensor and a "
        "page event, available while sensorhub is (see docs/homeassistant.md)",
    )
    out.add_argument(
        "--homeassistant-prefix",
        default=DISCOVERY_PREFIX,
        metavar="PREFIX",
        help=f"Home Assistant's discovery prefix (default {DISCOVERY_PREFIX})",
    )
    out.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (default: off)",
    )
    out.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="address for the metrics server (default 127.0.0.1; 0.0.0.0 for all)",
    )


__all__ = ["IDLE_FLUSH", "add_arguments"]
