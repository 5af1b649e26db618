"""Publish a recording to an MQTT broker, as the sensors of a ward would.

Each event goes to ``<prefix>/<site>/<room>/<kind>/<device>`` with its JSON as the payload, at
QoS 1, in the recording's order; an acknowledgement line (``{"ts", "site", "ack": {...}}``)
goes to ``sensorhub/ack/<site>`` as staff would send it. A malformed line is published as it
is, to the topic of a valid room, so that it exercises the service's dead-letter path. A
foreign device's message (``simulators.ward.zigbee.ForeignMessage``) goes to its own topic as
it is. ``--sensors zigbee`` publishes the door contacts, motion sensors, call buttons and bed
mats as Zigbee2MQTT devices under ``zigbee2mqtt/``, and the care radars of a ward simulated
with ``--radars`` as Milesight VS373 radars under ``vs373/`` (the rule file needs the
``sources:`` section that ``python -m simulators.ward --sensors zigbee --rules ...`` writes). At the
end it waits until the broker has acknowledged every message, so nothing is lost.

``--speed 60`` replays a night so that event time runs 60 times faster than the wall clock
(without it: as fast as possible); ``--now`` shifts every event time so the first event is now,
for a service that runs on the wall clock.

The recording is a ``.jsonl`` or ``.jsonl.gz`` file, or the STEM that ``simulators.site``
wrote (``out/week`` for ``out/week.jsonl.gz``).

Command line::

    python -m simulators.publish night.jsonl --broker mqtt://127.0.0.1:1883 [--speed 60] [--now]
    python -m simulators.publish out/week --speed 600
    python -m simulators.publish night.jsonl --sensors zigbee --speed 60
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sensorhub.codec.payload import event_time as _codec_event_time
from sensorhub.contract import ACK_TOPIC, NAME_RE
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.mqtt import MqttConnection, MqttSettings, MqttSettingsError
from simulators.ward import iter_recording
from simulators.ward.zigbee import SENSORS, ForeignMessage, zigbee_entries

logger = logging.getLogger(__name__)

#: A recording entry: an event (dict), or a malformed line as text or bytes; or a message of a
#: foreign device, published as it is.
Entry = dict[str, Any] | str | bytes | ForeignMessage

#: Progress is reported this often (wall-clock seconds).
PROGRESS_EVERY: Final = 2.0
#: How long to wait for the broker to accept the connection.
CONNECT_TIMEOUT: Final = 10.0
#: How long to wait at the end for the broker's acknowledgements.
ACK_TIMEOUT: Final = 60.0
#: QoS 1 messages awaiting acknowledgement at most; a publisher sends in bulk, so more than the
#: service's connection allows.
MAX_INFLIGHT: Final = 200
_LOCATION: Final = ("site", "room", "kind", "device")


@dataclass(slots=True)
class PublishProgress:
    """How far a publication has come."""

    sent: int = 0
    #: entries that name no valid place or time (malformed lines), sent as they are to the topic
    #: of a valid room; other bad input (an unknown event, say) goes to its own topic
    malformed: int = 0
    acknowledged: int = 0
    seconds: float = 0.0
    #: event time of the latest event sent (Unix seconds, after any shift), or None
    event_time: float | None = None

    @property
    def rate(self) -> float:
        """Messages per wall-clock second so far."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class PublishError(RuntimeError):
    """The broker could not be reached, or did not acknowledge what was sent."""


def find_recording(path: Path) -> Path | None:
    """``path`` if it is a file, else the recording of the STEM ``path`` (``STEM.jsonl.gz``
    or ``STEM.jsonl``, as ``simulators.site`` writes it), else None."""
    if path.is_file():
        return path
    for ending in (".jsonl.gz", ".jsonl"):
        candidate = path.with_name(path.name + ending)
        if candidate.is_file():
            return candidate
    return None


def event_time(value: Any) -> float | None:
    """An event's ``ts`` as Unix seconds, as the codec reads it (a number, or an RFC 3339
    string with an offset, within the contract's range), or None if the codec would refuse it.

    A thin wrapper: the codec's parser is private and expects a value its schema already
    checked to be a number or a string.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return _codec_event_time(value, [])
    except OverflowError:  # an integer too large for a float
        return None


def topic_of(entry: Entry, prefix: str) -> str | None:
    """The topic of a recording entry, or None if it does not name a valid place.

    Local because the codec has no public topic builder (and its private one knows only the
    default prefix); the names are checked with the contract's ``NAME_RE``.
    """
    if not isinstance(entry, dict):
        return None
    names = [entry.get(key) for key in _LOCATION]
    if not all(isinstance(name, str) and NAME_RE.fullmatch(name) for name in names):
        return None
    return "/".join((prefix, *(str(name) for name in names)))


def _settings(broker_url: str, client_id: str) -> MqttSettings:
    """The publisher's connection: no status announcements, no session, a wider in-flight
    window. ``host[:port]`` without a scheme means ``mqtt://host[:port]``."""
    url = broker_url if "://" in broker_url else f"mqtt://{broker_url}"
    settings = MqttSettings.from_url(
        url, client_id=client_id or f"sensorhub-publish-{secrets.token_hex(4)}"
    )
    return dataclasses.replace(
        settings, announce=False, clean_session=True, max_inflight=MAX_INFLIGHT
    )


def _connection_log() -> logging.Logger:
    """The connection's own "connecting", "connected" lines would break into the progress
    lines: it says only what goes wrong, unless debugging."""
    log = logging.getLogger(f"{__name__}.mqtt")
    if log.level == logging.NOTSET and not logger.isEnabledFor(logging.DEBUG):
        log.setLevel(logging.WARNING)
    return log


def publish_recording(
    events: Iterable[Entry],
    broker_url: str,
    *,
    prefix: str = "care",
    speed: float | None = None,
    shift_to_now: bool = False,
    qos: int = 1,
    on_progress: Callable[[PublishProgress], None] | None = None,
    client_id: str = "",
    progress_every: float = PROGRESS_EVERY,
    stop: threading.Event | None = None,
) -> PublishProgress:
    """Publish ``events`` (dicts, or str for malformed lines) to the broker at ``broker_url``.

    ``broker_url`` is ``mqtt://[user@]host[:port]`` or ``mqtts://...``, read by
    ``MqttSettings.from_url``. ``speed``: None publishes as fast as possible; a factor such as
    60 sleeps so that event time runs that many times faster than the wall clock.
    ``shift_to_now`` moves every event time so the first event is now (not with foreign
    messages, whose time is in their payload: ``ValueError``). ``on_progress`` is called
    every ``progress_every`` seconds and at the end. ``stop``, when set, ends the publication
    early. Returns the final progress. Raises ``PublishError`` if the broker cannot be reached
    or does not acknowledge everything, ``ValueError`` for a bad speed or broker URL.
    """
    if speed is not None and speed <= 0:
        raise ValueError("speed must be a positive factor, or None for as fast as possible")
    try:
        settings = _settings(broker_url, client_id)
    except MqttSettingsError as error:
        raise ValueError(str(error)) from None
    inbox: queue.Queue[InboundMessage] = queue.Queue()  # no subscriptions: stays empty
    connection = MqttConnection(settings, [], inbox, log=_connection_log())
    connection.start()
    try:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        # a refused or unreachable broker fails at once, as it would on the first attempt
        while not connection.wait_connected(0.05):
            if connection.last_failure is not None or time.monotonic() >= deadline:
                why = connection.last_failure or f"no answer within {CONNECT_TIMEOUT:g} s"
                raise PublishError(f"cannot connect to the MQTT broker {broker_url}: {why}")
        publisher = _Publisher(connection, prefix, qos, on_progress, progress_every)
        publisher.run(events, speed=speed, shift_to_now=shift_to_now, stop=stop)
    finally:
        connection.stop()
    return publisher.progress


class _Publisher:
    """One publication: keeps the count and the pace."""

    def __init__(
        self,
        connection: MqttConnection,
        prefix: str,
        qos: int,
        on_progress: Callable[[PublishProgress], None] | None,
        progress_every: float,
    ) -> None:
        self.connection = connection
        self.prefix = prefix
        self.qos = qos
        self.on_progress = on_progress
        self.progress_every = progress_every
        self.progress = PublishProgress()
        self.started = self.last_report = time.monotonic()

    def send(self, topic: str, payload: bytes) -> None:
        self.connection.publish(topic, payload, qos=self.qos)
        self.progress.sent += 1

    def send_ack(self, entry: dict[str, Any], shift: float) -> None:
        """An acknowledgement line of the recording, as staff send it: its ``ack`` with the
        line's ``ts``, on the acknowledgement topic of its site."""
        ts = event_time(entry.get("ts"))
        body = {**entry["ack"], **({} if ts is None else {"ts": round(ts + shift, 3)})}
        self.send(f"{ACK_TOPIC}/{entry.get('site')}", json.dumps(body).encode("utf-8"))

    def send_foreign(
        self,
        message: ForeignMessage,
        first_ts: float | None,
        speed: float | None,
        stop: threading.Event | None,
    ) -> None:
        """A foreign device's message, as it is, paced by the event time it stands for."""
        if speed is not None and first_ts is not None:
            self.wait_until(self.started + (message.ts - first_ts) / speed, stop)
        self.send(message.topic, message.payload)
        self.progress.event_time = message.ts
        self.report()

    def send_malformed(self, entry: Entry, topic: str) -> None:
        self.progress.malformed += 1
        if isinstance(entry, bytes):
            self.send(topic, entry)
        elif isinstance(entry, str):
            self.send(topic, entry.encode("utf-8"))
        else:
            self.send(topic, json.dumps(entry).encode("utf-8"))

    def report(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is not None and (
            force or now - self.last_report >= self.progress_every
        ):
            self.last_report = now
            self.progress.seconds = now - self.started
            self.progress.acknowledged = self.progress.sent - self.connection.unacknowledged
            self.on_progress(self.progress)

    def run(
        self,
        events: Iterable[Entry],
        *,
        speed: float | None,
        shift_to_now: bool,
        stop: threading.Event | None,
    ) -> None:
        early: list[Entry] = []  # malformed lines before the first valid topic
        valid_topic: str | None = None
        shift = 0.0
        first_ts: float | None = None
        for entry in events:
            if stop is not None and stop.is_set():
                break
            if isinstance(entry, dict) and isinstance(entry.get("ack"), dict):
                self.send_ack(entry, shift)
                continue
            if isinstance(entry, ForeignMessage):
                if shift_to_now:
                    raise ValueError(
                        "a foreign device's message keeps its time in its payload: it cannot "
                        "be shifted to now (run serve on event time instead)"
                    )
                self.send_foreign(entry, first_ts, speed, stop)
                first_ts = entry.ts if first_ts is None else first_ts
                continue
            topic = topic_of(entry, self.prefix)
            ts = event_time(entry.get("ts")) if isinstance(entry, dict) else None
            if topic is None or ts is None or not isinstance(entry, dict):
                # bad input is sent as it is, to a valid room: it must reach the dead letters
                if valid_topic is None:
                    early.append(entry)
                else:
                    self.send_malformed(entry, valid_topic)
                continue
            if valid_topic is None:
                valid_topic = topic
                for line in early:
                    self.send_malformed(line, topic)
                early.clear()
            if first_ts is None:
                first_ts = ts
                shift = time.time() - ts if shift_to_now else 0.0
            if speed is not None:
                self.wait_until(self.started + (ts - first_ts) / speed, stop)
            payload = {**entry, "ts": round(ts + shift, 3)} if shift else entry
            self.send(topic, json.dumps(payload, separators=(",", ":")).encode("utf-8"))
            self.progress.event_time = ts + shift
            self.report()
        for line in early:  # not one valid event: any well-formed topic will do
            self.send_malformed(line, f"{self.prefix}/unknown/unknown/call/unknown")
        self.wait_for_acknowledgements()
        self.report(force=True)

    @staticmethod
    def wait_until(due: float, stop: threading.Event | None) -> None:
        ahead = due - time.monotonic()
        if ahead > 0.002:
            if stop is not None:
                stop.wait(ahead)
            else:
                time.sleep(ahead)

    def wait_for_acknowledgements(self) -> None:
        if not self.connection.flush(ACK_TIMEOUT):
            left = self.connection.unacknowledged
            how = "" if self.connection.connected else " (the connection to it broke)"
            raise PublishError(
                f"the broker did not acknowledge {left:,} messages within {ACK_TIMEOUT:g} s{how}"
            )
        self.progress.acknowledged = self.progress.sent


# --- command line -----------------------------------------------------------------------------


def _print_progress(progress: PublishProgress) -> None:
    print(
        f"... {progress.sent:,} messages sent ({progress.malformed} malformed lines), "
        f"{progress.rate:,.0f}/s",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.publish",
        description="Publish a recording (.jsonl or .jsonl.gz) to an MQTT broker at QoS 1, "
        "one message per line, to <prefix>/<site>/<room>/<kind>/<device>.",
    )
    parser.add_argument(
        "recording",
        type=Path,
        help="the recording to publish: .jsonl, .jsonl.gz, or the STEM of STEM.jsonl.gz",
    )
    parser.add_argument(
        "--broker",
        default="mqtt://127.0.0.1:1883",
        help="mqtt://[user@]host[:port] or mqtts://... (default mqtt://127.0.0.1:1883)",
    )
    parser.add_argument("--prefix", default="care", help="topic prefix (default care)")
    parser.add_argument(
        "--speed",
        type=float,
        help="event time runs this many times faster than the wall clock "
        "(default: as fast as possible)",
    )
    parser.add_argument(
        "--now", action="store_true", help="shift event times so the first event is now"
    )
    parser.add_argument(
        "--sensors",
        choices=SENSORS,
        default="native",
        help="zigbee: publish door contacts, motion sensors, call buttons and bed mats as "
        "Zigbee2MQTT devices under zigbee2mqtt/, and care radars (radar-<room>) as VS373 "
        "radars under vs373/ (default native)",
    )
    args = parser.parse_args(argv)
    if args.speed is not None and args.speed <= 0:
        parser.error("--speed must be a positive factor")
    if args.now and args.sensors == "zigbee":
        parser.error(
            "--now cannot shift Zigbee2MQTT payloads (their time is in last_seen): "
            "run serve with --clock event instead"
        )
    recording = find_recording(args.recording)
    if recording is None:
        parser.error(f"no such recording: {args.recording} (nor {args.recording}.jsonl.gz)")
    how = f"at {args.speed:g}x event time" if args.speed else "as fast as possible"
    when = ", event times shifted to now" if args.now else ""
    print(f"publishing {recording} to {args.broker} {how}{when}", flush=True)
    try:
        entries = iter_recording(recording)
        done = publish_recording(
            zigbee_entries(entries) if args.sensors == "zigbee" else entries,
            args.broker,
            prefix=args.prefix,
            speed=args.speed,
            shift_to_now=args.now,
            on_progress=_print_progress,
        )
    except (PublishError, ValueError) as error:
        print(f"publish: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("publish: interrupted", file=sys.stderr)
        return 130
    print(
        f"done: {done.sent:,} messages ({done.malformed} malformed lines) in {done.seconds:.1f} s, "
        f"all acknowledged by the broker"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
