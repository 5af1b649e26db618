"""See sensorhub at work: a simulated ward night, streamed through the real service.

The demo starts a private Mosquitto on a free port of 127.0.0.1, simulates one night of a ward
(residents turning over, toilet visits, calls, wanderers, a fall now and then, staff rounds,
ailing devices) and starts `sensorhub serve` on it, on event time. It then publishes the night,
much faster than real time, prints every page as the service sends it, and ends with what a
conventional alarm system would have sounded against what sensorhub paged.

With --sensors zigbee the door contacts, motion sensors, call buttons and bed mats publish as
Zigbee2MQTT devices do (`{"contact": false, ...}` on zigbee2mqtt/door-103), the rule file maps
them with a `sources:` section (docs/sources.md), and the demo shows a few of these raw
payloads going in; cameras, sound monitors and presence buttons stay native. With --radars
three rooms of every eight have a Milesight VS373 care radar instead of a camera, which with
--sensors zigbee publishes the radar's own trigger reports (on vs373/radar-101).

Nothing is sent anywhere but the private broker, and everything is stopped at the end (also on
Ctrl-C). The files (night.jsonl, rules.yaml, pages.jsonl, serve.log) live in a temporary folder
unless --keep names one.

Examples:
  sensorhub demo
  sensorhub demo --rooms 16 --seed 7 --keep demo-night
  sensorhub demo --sensors zigbee
  sensorhub demo --sensors zigbee --radars
  then, for the same night offline:
  sensorhub replay demo-night/night.jsonl --rules demo-night/rules.yaml --pages pages.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families
from simulators.publish import Entry, PublishError, PublishProgress, publish_recording
from simulators.ward import RecordingEntry, Ward, simulate_night, write_recording
from simulators.ward.cli import add_radars_option
from simulators.ward.radar import RADAR_BASE
from simulators.ward.zigbee import (
    SENSORS,
    ZIGBEE_KINDS,
    ForeignMessage,
    rule_file,
    zigbee_entries,
)

from sensorhub.commands import compare
from sensorhub.contract import PAGES_TOPIC
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.mqtt import STATUS_TOPIC, MqttConnection, MqttSettings
from sensorhub.testing.broker import BrokerError, PrivateBroker, free_port

logger = logging.getLogger(__name__)

#: The service decides what is still buffered after this many seconds without a message.
IDLE_FLUSH: Final = 3.0
#: After publishing, the demo waits until no page came for this long.
QUIET: Final = 4.0
#: How long the service may take to start and subscribe.
START_TIMEOUT: Final = 60.0
#: How long the service may take to work through what was published.
CATCH_UP_TIMEOUT: Final = 60.0
#: Progress lines while publishing, every this many seconds.
PROGRESS_EVERY: Final = 3.0
#: Client id of the demo's page listener.
LISTENER_ID: Final = "sensorhub-demo-pages"
#: Share of events the demo night delivers late, and of lines that are malformed.
LATE: Final = 0.01
MALFORMED: Final = 0.002
#: With --sensors zigbee: raw Zigbee2MQTT payloads shown at most, and at least this many
#: seconds apart (a few, not every message).
RAW_SHOWN: Final = 8
RAW_EVERY: Final = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, default=8, help="rooms on the ward (default 8)")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the simulated night (default 1)"
    )
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=date(2026, 11, 20),
        metavar="YYYY-MM-DD",
        help="local date the night starts (default 2026-11-20)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=2000.0,
        help="how many times faster than real time the night is played (default 2000: "
        "a 9.5 h night in under 20 s)",
    )
    parser.add_argument(
        "--sensors",
        choices=SENSORS,
        default="native",
        help="zigbee: door contacts, motion sensors, call buttons and bed mats publish as "
        "Zigbee2MQTT devices, mapped by the rule file's sources: section (default native: "
        "every sensor speaks sensorhub's own format)",
    )
    add_radars_option(parser)
    parser.add_argument(
        "--shadow",
        type=Path,
        metavar="CANDIDATE",
        help="run the service with CANDIDATE rules in its shadow (serve --shadow): they decide "
        "the same night, page nobody, and the demo ends with rules compare of the two (write "
        "CANDIDATE from the rules.yaml of a run with --keep)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the recording, rule file, pages and service log to DIR and keep them "
        "(default: a temporary folder, removed at the end)",
    )


def run(args: argparse.Namespace) -> int:
    if args.rooms < 1 or args.rooms > 500:
        print("sensorhub demo: --rooms must be between 1 and 500", file=sys.stderr)
        return 2
    if args.speed <= 0:
        print("sensorhub demo: --speed must be a positive factor", file=sys.stderr)
        return 2
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        folder = args.keep
    else:
        folder = Path(tempfile.mkdtemp(prefix="sensorhub-demo-"))
    demo = Demo(args, folder)
    try:
        return demo.run()
    except (BrokerError, PublishError) as error:
        demo.say(f"sensorhub demo: {error}")
        return 1
    except KeyboardInterrupt:
        demo.say("\ninterrupted: stopping the service and the broker")
        return 130
    finally:
        demo.close()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


class Demo:
    """One run of the demo: the files, the broker, the service and the page listener."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        #: the pages of the --shadow candidate
        self.shadow_pages = folder / "shadow.jsonl"
        self.ward = Ward.typical(args.rooms, day=args.date, radars=args.radars)
        self.zone = ZoneInfo(self.ward.timezone)
        self._print_lock = threading.Lock()
        self._broker: PrivateBroker | None = None
        self._service: subprocess.Popen[bytes] | None = None
        self._service_log: IO[bytes] | None = None
        self._listener: MqttConnection | None = None
        self._inbox: queue.Queue[InboundMessage] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._listener_done = threading.Event()
        self._online = threading.Event()
        self._last_page = time.monotonic()
        self._stop = threading.Event()
        self._zigbee_sent = 0
        self._radar_sent = 0
        self._raw_shown = 0
        self._raw_last = -RAW_EVERY

    # -- output --------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        with self._print_lock:
            print(text, flush=True)

    def local(self, ts: float, clock: str = "%H:%M:%S") -> str:
        return datetime.fromtimestamp(ts, self.zone).strftime(clock)

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> int:
        args, ward = self.args, self.ward
        started = time.monotonic()
        night = simulate_night(ward, args.seed, late_fraction=LATE, malformed_fraction=MALFORMED)
        recording = self.folder / "night.jsonl"
        rules = self.folder / "rules.yaml"
        pages = self.folder / "pages.jsonl"
        shadow = self.shadow_pages
        log = self.folder / "serve.log"
        for old in (pages, shadow, *self.folder.glob("sensorhub.db*")):  # of an earlier --keep
            old.unlink(missing_ok=True)
        write_recording(night.recording, recording)
        rules.write_text(rule_file(ward, args.sensors), encoding="utf-8")
        first, last = ward.recording_bounds()
        high = sum(1 for room in ward.rooms if room.fall_risk == "high")
        wanders = sum(1 for room in ward.rooms if room.wanders)
        self.say(
            f"sensorhub demo: one night of ward {ward.site}, {len(ward.rooms)} rooms "
            f"({high} residents at high fall risk, {wanders} who wander), "
            f"{self.local(first, '%Y-%m-%d %H:%M')} to {self.local(last, '%Y-%m-%d %H:%M')} "
            f"{ward.timezone}, seed {args.seed}"
        )
        self.say(
            f"  recording  {recording} ({len(night.events):,} events, {night.late} of them "
            f"late, and {night.malformed} malformed lines)"
        )
        self.say(f"  rules      {rules}")
        if args.sensors == "zigbee":
            devices = sum(1 for r in ward.rooms for kind in r.kinds() if kind in ZIGBEE_KINDS)
            self.say(
                f"  sensors    {devices} door contacts, motion sensors, call buttons and bed "
                "mats as Zigbee2MQTT devices on zigbee2mqtt/<name>, mapped by the rule file's "
                "sources: section; cameras, sound monitors and presence buttons native on care/"
            )
        if args.sensors == "zigbee" and args.radars:
            radars = sum(1 for room in ward.rooms if room.radar)
            self.say(
                f"             {radars} care radars (rooms with a radar instead of a camera) as "
                f"Milesight VS373 radars on {RADAR_BASE}/<name>, mapped by the same section"
            )

        self._broker = PrivateBroker()
        self._broker.start()
        self.say(f"  broker     {self._broker.url} (a private Mosquitto, 127.0.0.1 only)")
        self._listen(self._broker)
        metrics_port = free_port()
        self._start_service(self._broker.url, rules, pages, log, metrics_port)
        self.say(f"  service    sensorhub serve --clock event, log in {log}")
        if args.shadow is not None:
            self.say(f"  shadow     {args.shadow}: its pages in {shadow}, paging nobody")
        if not self._wait_until_online():
            return 1

        hours = (last - first) / 3600
        self.say(
            f"\npublishing the night at {args.speed:g}x: {hours:.1f} h in about "
            f"{hours * 3600 / args.speed:.0f} s. Pages, as the service sends them:\n"
        )
        self.say(f"  {'time':8}  {'room':6}  {'page':15}  {'priority':8}  text")
        entries: Iterable[Entry] = night.recording
        if args.sensors == "zigbee":
            entries = self._as_zigbee(night.recording)
        published = publish_recording(
            entries,
            self._broker.url,
            speed=args.speed,
            on_progress=self._progress,
            progress_every=PROGRESS_EVERY,
            client_id="sensorhub-demo-publisher",
            stop=self._stop,
        )
        ended = time.monotonic()
        metrics = self._wait_for_service(published, metrics_port, ended)
        if metrics is None:
            return 1
        self._summary(published, metrics, time.monotonic() - started)
        if args.shadow is not None:
            self._compare_shadow(metrics, rules, pages, shadow)
        if args.keep is not None:
            form = " (night.jsonl is its native form)" if args.sensors == "zigbee" else ""
            self.say(f"\nthe files are in {self.folder}; replay the same night offline{form} with")
            self.say(f"  sensorhub replay {recording} --rules {rules} --pages replayed.jsonl")
        else:
            self.say("\n(--keep DIR keeps the night, the rule file, the pages and the service log)")
        return 0

    # -- the service ---------------------------------------------------------------------------

    def _start_service(
        self, url: str, rules: Path, pages: Path, log: Path, metrics_port: int
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "sensorhub",
            "serve",
            "--broker",
            url,
            "--client-id",
            "sensorhub-demo",
            "--clock",
            "event",
            "--rules",
            str(rules),
            "--metrics-port",
            str(metrics_port),
            "--pages",
            str(pages),
            "--idle-flush",
            f"{IDLE_FLUSH:g}",
            "--store",  # a night of its own: nothing carried over from an earlier demo
            f"sqlite:///{self.folder / 'sensorhub.db'}",
        ]
        if self.args.shadow is not None:
            command += ["--shadow", str(self.args.shadow)]
            command += ["--shadow-pages", str(self.shadow_pages)]
        self._service_log = log.open("wb")
        # a session of its own: Ctrl-C reaches the demo, which stops the service in order
        self._service = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._service_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _service_failed(self, what: str) -> bool:
        """If the service has exited, say so with the end of its log."""
        service = self._service
        if service is None or service.poll() is None:
            return False
        self.say(f"\nsensorhub demo: the service exited (status {service.returncode}) {what}.")
        self._show_log_tail()
        return True

    def _show_log_tail(self) -> None:
        log = self.folder / "serve.log"
        try:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
        except OSError:
            return
        self.say(f"last lines of {log}:")
        for line in tail:
            self.say(f"  {line}")

    def _wait_until_online(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._online.wait(0.1):
            if self._service_failed("while starting"):
                return False
            if time.monotonic() > deadline:
                self.say(
                    f"\nsensorhub demo: the service did not come online within {START_TIMEOUT:g} s."
                )
                self._show_log_tail()
                return False
        return True

    def _wait_for_service(
        self, published: PublishProgress, metrics_port: int, ended: float
    ) -> Scrape | None:
        """Wait until the service has taken in everything and gone quiet; its metrics then."""
        self.say(
            f"\n... all {published.sent:,} messages are at the broker; waiting for the service "
            f"to decide the last ones (it does after {IDLE_FLUSH:g} s without a message)"
        )
        deadline = ended + CATCH_UP_TIMEOUT
        while True:
            if self._service_failed("before it had decided everything"):
                return None
            now = time.monotonic()
            metrics = scrape(metrics_port)
            taken = metrics.total("sensorhub_events_total") + metrics.total(
                "sensorhub_deadletters_total"
            )
            flushed = now - ended >= IDLE_FLUSH + 1
            quiet = now - max(self._last_page, ended) >= QUIET
            if taken >= published.sent and flushed and quiet:
                return metrics
            if now > deadline:
                self.say(
                    f"sensorhub demo: the service took in {taken:,.0f} of {published.sent:,} "
                    f"messages within {CATCH_UP_TIMEOUT:g} s; the summary shows what it had."
                )
                return metrics
            time.sleep(0.25)

    # -- listening for pages -------------------------------------------------------------------

    def _listen(self, broker: PrivateBroker) -> None:
        """Print the pages and notice the service's status, through the project's MQTT adapter."""
        settings = MqttSettings(
            broker.host,
            broker.port,
            LISTENER_ID,
            announce=False,  # sensorhub/status is the service's to set: no will, no online/offline
            clean_session=True,  # for this run only: the broker keeps no session, queues nothing
        )
        # its "connecting", "connected" lines would break into the demo's own output
        log = logging.getLogger(f"{__name__}.listener")
        log.setLevel(logging.NOTSET if logger.isEnabledFor(logging.DEBUG) else logging.WARNING)
        self._listener = MqttConnection(
            settings, [f"{PAGES_TOPIC}/#", STATUS_TOPIC], self._inbox, log=log
        )
        self._listener.start()
        self._reader = threading.Thread(
            target=self._read_inbox, name="sensorhub-demo-pages", daemon=True
        )
        self._reader.start()
        if not self._listener.wait_connected(10.0):
            raise BrokerError(f"could not subscribe to the pages at {broker.url}")

    def _read_inbox(self) -> None:
        """Hand what the listener receives to ``_on_message``, until ``close()``."""
        while not self._listener_done.is_set():
            try:
                message = self._inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            self._on_message(message)

    def _on_message(self, message: InboundMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(payload, dict):
            return
        if message.topic == STATUS_TOPIC:
            # the service subscribes before it says it is online, so it hears what follows
            if payload.get("state") == "online":
                self._online.set()
            return
        self._last_page = time.monotonic()
        self.say(format_page(payload, self.zone))

    def _as_zigbee(self, recording: Iterable[RecordingEntry]) -> Iterator[Entry]:
        """The night with its Zigbee2MQTT devices' and radars' events as their messages, showing
        a few of the raw payloads that change a state as they go in (a radar's among them)."""
        radar_shown = False
        for entry in zigbee_entries(recording, timezone=self.ward.timezone):
            if isinstance(entry, ForeignMessage):
                radar = entry.topic.startswith(RADAR_BASE + "/")
                if radar:
                    self._radar_sent += 1
                else:
                    self._zigbee_sent += 1
                now = time.monotonic()
                due = self._raw_shown < RAW_SHOWN and now - self._raw_last >= RAW_EVERY
                if entry.event != "heartbeat" and (due or (radar and not radar_shown)):
                    radar_shown = radar_shown or radar
                    self._raw_shown += 1
                    self._raw_last = now
                    payload = entry.payload.decode("utf-8")
                    self.say(f"  {self.local(entry.ts)}  in: {entry.topic} {payload}")
            yield entry

    def _progress(self, progress: PublishProgress) -> None:
        if progress.event_time is None:
            return
        self.say(
            f"  ~ {self.local(progress.event_time, '%H:%M')} night time: "
            f"{progress.sent:,} messages published ({progress.rate:,.0f}/s)"
        )

    # -- the end -------------------------------------------------------------------------------

    def _summary(self, published: PublishProgress, metrics: Scrape, seconds: float) -> None:
        events = metrics.total("sensorhub_events_total")
        dead = metrics.total("sensorhub_deadletters_total")
        raw = metrics.total("sensorhub_raw_alarms_total")
        reactions = metrics.total("sensorhub_reactions_total")
        reduction = metrics.total("sensorhub_reduction_ratio")  # the service's, of the same counts
        by_kind = metrics.by("sensorhub_pages_total", "kind", audience="care")
        technical = int(metrics.total("sensorhub_pages_total", audience="technical"))
        kinds = ", ".join(f"{kind} {n}" for kind, n in by_kind.most_common()) or "none"
        self.say("\nsummary")
        good = published.sent - published.malformed
        # a radar's event may be two reports or three (the alarms it resolves first)
        what = "events" if self.args.sensors == "native" else "sensor messages"
        self.say(
            f"  published         {published.sent:,} messages: {good:,} {what} and "
            f"{published.malformed} malformed lines (to show the dead-letter path)"
        )
        if self.args.sensors == "zigbee":
            self.say(
                f"  as Zigbee2MQTT    {self._zigbee_sent:,} of them (each report also says "
                "its device is alive: a heartbeat event)"
            )
        if self._radar_sent:
            self.say(
                f"  as VS373 reports  {self._radar_sent:,} of them (each also says its radar is "
                "alive)"
            )
        self.say(f"  events classified {events:,.0f}")
        self.say(f"  dead letters      {dead:,.0f} (bad input, set aside with the reason)")
        self.say(f"  raw alarms        {raw:,.0f} (what a conventional alarm system would sound)")
        self.say(f"  reactions         {reactions:,.0f} (someone had to go to a room)")
        self.say(
            f"  pages by kind     {kinds}; technical (device faults) {technical} (re-sent and "
            "escalated pages included: nobody acknowledges in the demo)"
        )
        self.say(
            f"  reduction         {reduction:.1%} of the conventional alarms needed nobody "
            f"(1 - reactions / raw alarms)"
        )
        self.say(f"  took              {seconds:.1f} s")

    def _compare_shadow(self, metrics: Scrape, rules: Path, pages: Path, shadow: Path) -> None:
        """What the shadow's candidate would have paged beside the live rules: the service's
        count of agreement, then ``sensorhub rules compare`` of the two page files."""
        verdicts = metrics.by("sensorhub_shadow_pages_total", "verdict")
        self.say(
            f"\nshadow: {verdicts['agree']:,} pages agreed, {verdicts['live_only']:,} "
            f"only live, {verdicts['shadow_only']:,} only the candidate's "
            f"(sensorhub_shadow_pages_total); what rules compare makes of them:\n"
        )
        parser = argparse.ArgumentParser()
        compare.add_arguments(parser)
        both = ["--pages", str(pages), str(shadow), "--rules", str(rules), "--quiet"]
        compare.run(parser.parse_args(both))

    def close(self) -> None:
        """Stop the publisher, the service, the listener and the broker, in that order."""
        self._stop.set()
        service = self._service
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(10)
            except subprocess.TimeoutExpired:
                logger.warning("the service ignored SIGTERM for 10 s; killing it")
                service.kill()
                service.wait()
        if self._service_log is not None:
            self._service_log.close()
        if self._listener is not None:
            self._listener.stop()
        self._listener_done.set()
        if self._reader is not None:
            self._reader.join()
        if self._broker is not None:
            self._broker.close()


def format_page(page: dict[str, Any], zone: ZoneInfo) -> str:
    """One page as a line: local time, room, kind, priority, text."""
    ts = page.get("ts")
    when = (
        datetime.fromtimestamp(ts, zone).strftime("%H:%M:%S")
        if isinstance(ts, int | float)
        else "?"
    )
    escalation = page.get("escalation", 0)
    kind = str(page.get("kind", "?"))
    if isinstance(escalation, int) and escalation > 0:
        kind += f" (+{escalation})"
    return (
        f"  {when:8}  {page.get('room', '?')!s:6}  {kind:15}  "
        f"{page.get('priority', '?')!s:8}  {page.get('text', '')}"
    )


class Scrape:
    """The samples of one scrape of the service's metrics endpoint."""

    def __init__(self, samples: list[tuple[str, dict[str, str], float]]) -> None:
        self.samples = samples

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels``."""
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        )

    def by(self, name: str, label: str, **labels: str) -> Counter[str]:
        """The samples called ``name`` (whose labels include ``labels``) summed by ``label``."""
        counts: Counter[str] = Counter()
        for sample, have, value in self.samples:
            if sample == name and all(have.get(k) == v for k, v in labels.items()):
                counts[have.get(label, "")] += int(value)
        return counts


def scrape(port: int) -> Scrape:
    """Scrape the service's metrics on 127.0.0.1:``port``; no samples if it does not answer."""
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode("utf-8")
    except OSError:
        return Scrape([])
    return Scrape(
        [
            (sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    )
