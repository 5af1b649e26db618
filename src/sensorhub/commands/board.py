"""Show the night on a web page: ``sensorhub board``, the ward board at the nurses' station.

  sensorhub board --store sqlite:////var/lib/sensorhub/sensorhub.db \\
      --broker mqtt://localhost:1883 --rules /etc/sensorhub/rules.yaml --port 8090

It runs as a process of its own beside ``serve``: it reads the open incidents from serve's store
once at start, then follows the pages, acknowledgements and serve's status on the broker (it
subscribes, it never publishes), and serves a page per site at ``http://HOST:PORT/site/SITE``
that updates itself within a second of a page. The rule file gives each site's language (Dutch
or English) and time zone; without it, the shipped defaults'. See
docs/board.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import queue
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from sensorhub.board.app import create_app
from sensorhub.board.ward import Ward
from sensorhub.contract import ACK_TOPIC, PAGES_TOPIC
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.mqtt import STATUS_TOPIC, MqttConnection, MqttSettings, MqttSettingsError
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.store import STORE_HELP, StoreError, open_existing_store

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8090


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help=STORE_HELP,
    )
    parser.add_argument(
        "--broker",
        metavar="URL",
        default="mqtt://localhost:1883",
        help="the broker serve publishes its pages on (default %(default)s)",
    )
    parser.add_argument(
        "--rules", type=Path, help="serve's rule file: each site's language and time zone"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (default %(default)s)"
    )


def run(args: argparse.Namespace) -> int:
    # imported here: the web server is needed by this command only
    import uvicorn  # noqa: PLC0415

    try:
        policy = load_policy(args.rules)
    except RuleFileError as error:
        print(f"sensorhub board: the rule file has mistakes:\n{error}", file=sys.stderr)
        return 2
    try:
        settings = MqttSettings.from_url(args.broker, client_id=f"sensorhub-board-{os.getpid()}")
    except MqttSettingsError as error:
        print(f"sensorhub board: {error}", file=sys.stderr)
        return 2
    ward = Ward()
    try:
        with open_existing_store(args.store) as store:
            opened = ward.load(store.incidents())
    except StoreError as error:
        print(f"sensorhub board: {error}", file=sys.stderr)
        return 2

    def language(site: str) -> str:
        return policy.room(site, "").language

    zone = ZoneInfo(policy.room("", "").timezone)
    listener = _listen(settings, ward)
    print(
        f"sensorhub board: {opened} open incidents; on http://{args.host}:{args.port}/",
        flush=True,
    )
    try:
        uvicorn.run(
            create_app(ward, language, zone),
            host=args.host,
            port=args.port,
            log_level="warning",
            # the live views never end by themselves: a stop must not wait for the browsers
            timeout_graceful_shutdown=1,
        )
    finally:
        listener.stop()
    return 0


def _listen(settings: MqttSettings, ward: Ward) -> MqttConnection:
    """Follow the pages, acknowledgements and serve's status into ``ward``."""
    settings = dataclasses.replace(
        settings,
        announce=False,  # sensorhub/status is serve's to set: no will, no online/offline
        clean_session=True,  # the store has the past: the broker need queue nothing
    )
    inbox: queue.Queue[InboundMessage] = queue.Queue()
    connection = MqttConnection(
        settings, [f"{PAGES_TOPIC}/#", f"{ACK_TOPIC}/#", STATUS_TOPIC], inbox, log=logger
    )

    def read() -> None:
        while True:
            message = inbox.get()
            try:
                payload = json.loads(message.payload)
            except ValueError:
                continue
            ward.on_message(message.topic, payload, message.received_at)

    threading.Thread(target=read, name="sensorhub-board-mqtt", daemon=True).start()
    connection.start()
    return connection
