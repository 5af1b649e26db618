"""Classify live sensor events from an MQTT broker and publish a page for each actionable incident.

Subscribes to PREFIX/# (QoS 1: care/<site>/<room>/<kind>/<device>), classifies every event with
the rule file's policy, routes each incident to its recipients and publishes the pages (QoS 1)
to sensorhub/pages/<site>/<recipient>, and as ESPA 4.4.4 calls to the site's paging systems.
Unanswered pages are re-sent and escalated by the rule file's escalation steps until staff
acknowledge (sensorhub/ack/<site>, or the pager) or arrive in the room. Bad messages go to
sensorhub/deadletter with the reason; the service goes on. Its state (online/offline) is kept
retained on sensorhub/status. Stop it with Ctrl-C or SIGTERM.

Open incidents, pending escalations, acknowledgements, silences (sensorhub mute) and the pages
not yet confirmed delivered are kept in the store (--store): a restart, even after kill -9,
loses no page, sends no second first page and resumes each escalation at its time.

The broker keeps our session while sensorhub is away (a fixed --client-id and a persistent
session): events sent meanwhile are delivered when it is back. Run one sensorhub per client id.

Without --broker, sensorhub starts a private Mosquitto on a free port of 127.0.0.1 and logs its
address: handy to try things out, not for a site.

The password is never given on the command line or in the rule file: set it in the environment
variable SENSORHUB_MQTT_PASSWORD, or put it in a file readable only by the service
(--password-file).

Clock: with --clock wall (the default, for live sites) incidents decided by a timer (a fall not
contradicted within 10 s, a bed exit, ...) are paged when the wall clock minus --lateness has
passed the timer, so they lag by --lateness; resident calls are paged on arrival. --clock event
uses only the events' own time, as replay does: for replaying recordings over MQTT and tests.

Examples:
  sensorhub serve --broker mqtts://broker.site.local --username sensorhub \\
      --cafile /etc/sensorhub/site-ca.pem --rules /etc/sensorhub/site.yaml \\
      --metrics-port 9464 --pages /var/log/sensorhub/pages.jsonl
      (with SENSORHUB_MQTT_PASSWORD set in the service's environment)
  sensorhub serve --rules rules/example-site.yaml       # try it on a private broker
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from prometheus_client import REGISTRY

from sensorhub.commands.serve import IDLE_FLUSH, Service, ServiceError, ServiceOptions
from sensorhub.commands.signals import handle, stopped_by_signals
from sensorhub.contract import DEFAULT_PREFIX, MAX_LATENESS
from sensorhub.durations import DURATION_GUIDE, duration_argument, format_duration
from sensorhub.io.homeassistant import DISCOVERY_PREFIX
from sensorhub.io.mqtt import MqttSettingsError
from sensorhub.io.mqtt_cli import add_broker_arguments, mqtt_settings
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.store import DEFAULT_STORE_URL, STORE_ENV, StoreError, open_store, store_url_default
from sensorhub.testing.broker import BrokerError, PrivateBroker

logger = logging.getLogger("sensorhub.commands.serve")


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
    shadow = parser.add_argument_group("trying rules before they go live")
    shadow.add_argument(
        "--shadow",
        type=Path,
        metavar="CANDIDATE",
        help="also decide the same stream by the CANDIDATE rule file, paging nobody: its pages "
        "go to sensorhub/shadow/<site>/<recipient> only, agreement is counted in "
        "sensorhub_shadow_pages_total{kind,verdict}; a reload reads it again",
    )
    shadow.add_argument(
        "--shadow-pages",
        type=Path,
        metavar="FILE",
        help="also append the candidate's pages to FILE (JSONL), for sensorhub rules compare "
        "--pages LIVE FILE (with --pages LIVE)",
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
        help="serve Prometheus metrics, /healthz and /readyz on this port (default: off)",
    )
    out.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="address for the metrics server (default 127.0.0.1; 0.0.0.0 for all)",
    )


__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.rules)
    except RuleFileError as error:
        print(f"sensorhub serve: the rule file has mistakes:\n{error}", file=sys.stderr)
        return 2
    if args.shadow is not None:
        try:
            load_policy(args.shadow)
        except RuleFileError as error:
            print(f"sensorhub serve: the --shadow rules have mistakes:\n{error}", file=sys.stderr)
            return 2
    try:
        options = ServiceOptions(
            rules_path=args.rules,
            prefix=args.prefix,
            clock=args.clock,
            lateness=args.lateness,
            idle_flush=args.idle_flush,
            pages_path=args.pages,
            audit_path=args.audit,
            metrics_port=args.metrics_port,
            metrics_addr=args.metrics_addr,
            store_url=args.store,
            homeassistant=args.homeassistant_prefix if args.homeassistant else None,
            shadow_path=args.shadow,
            shadow_pages_path=args.shadow_pages,
        )
    except ValueError as error:
        print(f"sensorhub serve: {error}", file=sys.stderr)
        return 2
    with ExitStack() as resources:
        url = args.broker
        if url is None:
            try:
                broker = resources.enter_context(PrivateBroker())
            except BrokerError as error:
                print(f"sensorhub serve: {error}", file=sys.stderr)
                return 2
            url = broker.url
            logger.warning(
                "no --broker given: started a private Mosquitto at %s (127.0.0.1 only). "
                "Publish events there, e.g. mosquitto_pub -h %s -p %d -q 1 "
                '-t %s/SITE/ROOM/call/BUTTON -m \'{"ts": %d, "event": "pressed"}\'',
                url,
                broker.host,
                broker.port,
                options.prefix,
                int(time.time()),
            )
        try:
            settings = mqtt_settings(args, url)
        except MqttSettingsError as error:
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
        try:
            store = resources.enter_context(open_store(options.store_url))
        except StoreError as error:
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
        try:
            service = Service(policy, settings, options, registry=REGISTRY, store=store)
        except OSError as error:  # paho reads the TLS files when the client is made
            print(f"sensorhub serve: cannot set up TLS: {error}", file=sys.stderr)
            return 2
        except ValueError as error:  # a source's topics overlap --prefix
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
        stop = stopped_by_signals(resources)
        handle(resources, signal.SIGHUP, service.request_reload)  # read the rules again
        try:
            service.run_forever(stop)
        except ServiceError as error:
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
    return 0
