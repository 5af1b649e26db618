"""How many events a second ``sensorhub serve`` takes from a broker with nothing lost, and how soon
a resident call becomes a page, beside what ``mosquitto_sub`` alone drains from the same broker.

Run: ``.venv/bin/python benchmarks/live.py [--events 30000] [--rates 5000,10000,20000,...]
[--seconds 1.5] [--call-every 500] [--all-rates] [--budget 90] [--broker-setting LINE ...]``

Everything runs on this machine, on loopback, and stops by itself (the whole run takes about a
minute; each wait is bounded):

- a private Mosquitto (``sensorhub.testing.broker.PrivateBroker``: unlimited queue, 10,000 messages
  in flight per client, as docs/operations.md asks of a site's broker);
- ``sensorhub serve --broker URL --clock event --metrics-port P`` as a child process, with the
  benchmark recording's rule file (INFO logging, as deployed, to a file);
- for each run, a separate publisher process (this script with ``--role publisher``: MQTT on
  a plain socket, ``RawPublisher``, QoS 1, packets encoded beforehand and written 32 at a time,
  no limit on messages in flight) that publishes events of the benchmark recording (see
  ``benchmarks/recordings.py``; serve's runs one after another from its start, so that event
  time runs on from run to run, the ceiling's from its middle), at fixed rates, lowest first,
  then as fast as it can; after every
  ``--call-every`` events it presses a resident call button in a room of its own, with the
  field ``sent_at`` (its wall clock) in the payload. It waits for the broker's PUBACK of every
  message;
- in this process, a subscriber on ``sensorhub/pages/#`` notes when the page of each call
  arrives: publish-to-page latency (same machine, same clock);
- serve's intake is counted on its metrics endpoint (``sensorhub_events_total`` plus
  ``sensorhub_deadletters_total``), polled every 50 ms: an event is taken once it is counted;
- the ceiling, in the same run: the same publisher and load on topics under ``ceiling/`` (which
  serve does not subscribe to), drained by ``mosquitto_sub -q 1`` alone.

For each run it prints the rate the publisher reached, the rate at which serve took the events
(from the first publish to the last event counted), how many were lost (never counted, even
after serve went idle), whether serve kept up (counted everything within ``KEEP_UP`` s of the
last PUBACK, at ``KEEP_PACE`` of the published rate or more), serve's cpu time over that time
(all threads; 100% is one core), the call latency p50/p99 (a call's page is waited for up to
``PAGES_WAIT`` s after serve took every event), and mosquitto_sub's rate for the same load.
The sustained rate is the highest rate the publisher offered in full (95%) with nothing lost,
every call paged and serve keeping up.
Targets (issue 4): at least 20,000 messages/s sustained, p99 under 50 ms.

The last run (``--flood BYTES``, 16 KiB by default; 0 leaves it out) is a flood: the same number
of messages as the run as fast as possible, each replaced by ``BYTES`` control bytes (not JSON:
every one a dead letter), published as fast as the broker takes them, with the same calls among
them sent on a connection of their own (a hostile client floods on its own connection, the
buttons have theirs: on the flood's, a call waited behind megabytes of it in that TCP stream
before the broker or serve could see it). Its call latency, beside that of the run as fast as
possible of good events, is issue 13's measure: calls decided within 100 ms p99 while bad input
floods in. Makes no assertion on time.

``--broker-setting LINE`` adds a line to the private Mosquitto's configuration, to see what the
broker's limits do: by default Mosquitto sends a subscriber at most 20 unacknowledged QoS 1
messages at a time (``max_inflight_messages``) and queues at most 1,000 more
(``max_queued_messages``), dropping the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sensorhub.commands.demo import scrape
from sensorhub.evaluation.scoring import percentile_of

TARGET_RATE = 20_000.0
TARGET_P99 = 0.050
#: the longest a run waits, once serve took every event, for the pages of its last calls
PAGES_WAIT = 10.0
#: the longest serve may take to come online (numba compiling its core the first time)
SERVE_START = 300
#: serve kept up if it had counted every message this long after the publisher's last PUBACK,
KEEP_UP = 0.5
#: ... and took them at this share of the rate they were published at, at least
KEEP_PACE = 0.95
#: the longest any one run waits for serve (or mosquitto_sub) to take what was published
DRAIN_LIMIT = 10.0
#: a run ends when nothing more arrived for this long (the rest was dropped)
STALL = 2.0
#: the longest a run waits for serve to finish what the run before left it
SETTLE_LIMIT = 30.0
POLL = 0.05
#: messages the publisher writes to its socket at a time (and between looks at the clock)
SEND_CHUNK = 32
FASTEST = "as fast as possible"
#: the label of the flood run (``--flood``): bad messages as fast as possible, calls among them
FLOOD = "flood of bad input"
#: the most a resident call may take to be paged under a flood of bad input (issue 13)
TARGET_FLOOD_P99 = 0.100
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# --- the publisher process ----------------------------------------------------------------------


def _messages(
    path: Path, skip: int, count: int, prefix: str
) -> list[tuple[str, dict[str, Any] | bytes]]:
    """``count`` entries of the recording after ``skip``: (topic, event or raw line)."""
    out: list[tuple[str, dict[str, Any] | bytes]] = []
    topic = f"{prefix}/zonnehof/101/call/call-101"
    with path.open("rb") as stream:
        for number, line in enumerate(stream):
            if number < skip:
                continue
            if len(out) >= count:
                break
            line = line.rstrip(b"\n")  # noqa: PLW2901
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and all(
                isinstance(entry.get(k), str) for k in ("site", "room", "kind", "device")
            ):
                topic = (
                    f"{prefix}/{entry['site']}/{entry['room']}/{entry['kind']}/{entry['device']}"
                )
                out.append((topic, entry))
            else:  # a malformed line: to the topic of the event before it, as sensors would
                out.append((topic, line))
    return out


def _varint(n: int) -> bytes:
    """An MQTT remaining length: 7 bits a byte, low first, the high bit saying more follow."""
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 1 with packet id ``mid``."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + mid.to_bytes(2, "big") + payload
    return b"\x32" + _varint(len(body)) + body


class RawPublisher:
    """A QoS 1 publisher on a plain socket: PUBLISH packets encoded beforehand and written many
    at a time, a thread counting the broker's PUBACKs. paho's publish costs tens of µs a
    message in Python and its network thread; at 20,000 msgs/s and more the load generator
    would be what is measured."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = client_id.encode()
        # CONNECT: protocol "MQTT" level 4, clean session, keepalive 60 s
        body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(name).to_bytes(2, "big") + name
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        connack = self._read_exactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise RuntimeError(f"the broker refused the publisher: CONNACK {connack.hex()}")
        self.acked = 0
        self.last_ack_at = 0.0
        self.expected = -1
        self.all_acked = threading.Event()
        self._reader = threading.Thread(target=self._count_pubacks, daemon=True)
        self._reader.start()

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise RuntimeError("the broker closed the publisher's connection")
            data += chunk
        return data

    def _count_pubacks(self) -> None:
        """Every packet the broker sends a publisher is a 4-byte PUBACK."""
        rest = 0
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            whole, rest = divmod(rest + len(chunk), 4)
            self.acked += whole
            self.last_ack_at = time.time()
            if self.acked >= self.expected >= 0:
                self.all_acked.set()

    def send(self, packets: list[bytes]) -> None:
        self.sock.sendall(b"".join(packets))

    def finish(self, total: int, timeout: float) -> None:
        """Wait until ``total`` PUBACKs came (at most ``timeout`` s), then disconnect."""
        self.expected = total
        if self.acked >= total:
            self.all_acked.set()
        self.all_acked.wait(timeout)
        self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()


def publisher(args: argparse.Namespace) -> None:
    """Publish, report as JSON on stdout. Waits for 'go' on stdin after printing 'ready'."""
    messages = _messages(Path(args.input), args.skip, args.count, args.prefix)
    host, port = args.url.removeprefix("mqtt://").rsplit(":", 1)
    client = RawPublisher(host, int(port), f"bench-pub-{os.getpid()}")
    # packets made beforehand, but for the calls: they carry the time they are sent
    packets: list[bytes | tuple[str, dict[str, Any]]] = []
    calls = 0
    ts = 0.0
    bad = b"\x01" * args.flood  # not JSON: control bytes, as a hostile client sent them
    for n, (topic, entry) in enumerate(messages, start=1):
        mid = len(packets) % 65535 + 1
        if bad:  # the flood: the entry's time and topic, a bad payload
            packets.append(publish_packet(topic, bad, mid))
            ts = entry.get("ts", ts) if isinstance(entry, dict) else ts
        elif isinstance(entry, dict):
            payload = json.dumps(entry, separators=(",", ":")).encode()
            packets.append(publish_packet(topic, payload, mid))
            ts = entry.get("ts", ts)
        else:
            packets.append(publish_packet(topic, entry, mid))
        if args.call_every and n % args.call_every == 0:
            calls += 1
            room = f"bc-{args.tag}-{calls}"
            call = {"ts": ts, "event": "pressed", "id": f"bench-call-{args.tag}-{calls}"}
            packets.append((f"{args.prefix}/zonnehof/{room}/call/call-{room}", call))
    # a flood comes from a hostile client, the calls from the buttons' own connection: on the
    # flood's, a call would wait behind megabytes of it in that one TCP stream, before the
    # broker (or serve) could do anything about it
    buttons = RawPublisher(host, int(port), f"bench-buttons-{os.getpid()}") if bad else None
    print("ready", flush=True)
    sys.stdin.readline()
    sent_at: dict[str, float] = {}
    rate = args.rate
    first = time.time()
    start = time.perf_counter()
    for at in range(0, len(packets), SEND_CHUNK):
        if rate:
            ahead = start + at / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        chunk: list[bytes] = []
        for n, packet in enumerate(packets[at : at + SEND_CHUNK], start=at):
            if isinstance(packet, tuple):
                topic, call = packet
                if buttons is not None:  # the flood so far is on its way: the call is pressed
                    client.send(chunk)
                    chunk = []
                now = time.time()
                call["sent_at"] = now
                sent_at[call["id"]] = now
                packet = publish_packet(topic, json.dumps(call).encode(), n % 65535 + 1)  # noqa: PLW2901
                if buttons is not None:
                    buttons.send([packet])
                    continue
            chunk.append(packet)
        client.send(chunk)
    published = time.time()
    if buttons is not None:
        buttons.finish(calls, DRAIN_LIMIT + 30)
    client.finish(len(packets) - (calls if buttons is not None else 0), DRAIN_LIMIT + 30)
    json.dump(
        {
            "sent": len(packets),
            "acked": client.acked + (buttons.acked if buttons is not None else 0),
            "first": first,
            "published": published,
            "acked_at": client.last_ack_at or time.time(),
            "calls": sent_at,
        },
        sys.stdout,
    )
    sys.stdout.flush()


# --- the benchmark ------------------------------------------------------------------------------


@dataclass
class Report:
    sent: int
    acked: int
    first: float
    published: float
    acked_at: float
    calls: dict[str, float]

    @property
    def publish_rate(self) -> float:
        return self.sent / max(self.acked_at - self.first, 1e-9)


@dataclass
class RunResult:
    label: str
    report: Report
    taken: int
    taken_at: float
    kept_up: bool
    latencies: list[float] = field(default_factory=list)
    missing_pages: int = 0
    #: all it took in the end, late or not (None: ``taken``)
    final: int | None = None
    #: the taker's cpu time over the run's wall time (1.0: one core busy all the time)
    cpu_share: float | None = None

    @property
    def lost(self) -> int:
        """Messages never taken: dropped on the way."""
        return self.report.sent - (self.taken if self.final is None else self.final)

    @property
    def rate(self) -> float:
        return self.taken / max(self.taken_at - self.report.first, 1e-9)


class Pages:
    """Subscribes to sensorhub/pages/# and notes when each benchmark call's page arrives."""

    def __init__(self, host: str, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.online = threading.Event()
        self._lock = threading.Lock()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-pages-{os.getpid()}",
            protocol=mqtt.MQTTv311,
        )
        client.on_message = self._on_message
        client.on_connect = lambda c, *_: c.subscribe(
            [("sensorhub/pages/#", 1), ("sensorhub/status", 1)]
        )
        client.connect(host, port)
        client.loop_start()
        self._client = client

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        now = time.time()
        if message.topic == "sensorhub/status":
            if b'"online"' in message.payload:
                self.online.set()
            return
        page = json.loads(message.payload)
        with self._lock:
            for ref in page.get("events", ()):
                if ref.startswith("bench-call-") and ref not in self.arrived:
                    self.arrived[ref] = now

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def taken(metrics_port: int) -> int:
    """Events plus dead letters (and bad messages a flood made it drop) serve has counted so far."""
    metrics = scrape(metrics_port)
    if not metrics.samples:
        raise RuntimeError(f"serve's metrics endpoint on port {metrics_port} did not answer")
    return int(
        metrics.total("sensorhub_events_total")
        + metrics.total("sensorhub_deadletters_total")
        + metrics.total("sensorhub_deadletters_dropped_total")
    )


@dataclass(frozen=True)
class Load:
    """One run's load: ``count`` events of the recording from line ``skip`` on, at ``rate``
    msgs/s (0: as fast as possible)."""

    label: str
    rate: float
    count: int
    skip: int
    #: the size of each bad message of a flood (0: the recording's events)
    flood: int = 0

    @property
    def tag(self) -> str:
        """Names the run's call rooms and ids: a run that repeats a rate must not press the
        calls of an earlier one again (serve would take them for redeliveries)."""
        return re.sub(r"[^A-Za-z0-9]", "", self.label) + f"at{self.skip}"


@dataclass(frozen=True)
class Setup:
    """What every run uses."""

    broker_url: str
    broker_port: int
    metrics_port: int
    recording: Path
    call_every: int
    folder: Path
    serve_pid: int


def start_publisher(setup: Setup, load: Load, *, prefix: str, tag: str) -> subprocess.Popen[str]:
    """The publisher process, connected and ready; it starts on ``go`` (``go(child)``)."""
    child = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            *("--role", "publisher", "--url", setup.broker_url, "--input", str(setup.recording)),
            *("--skip", str(load.skip), "--count", str(load.count), "--rate", str(load.rate)),
            *("--call-every", str(setup.call_every), "--tag", tag, "--prefix", prefix),
            *("--flood", str(load.flood)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    ready = child.stdout.readline().strip()
    if ready != "ready":
        child.kill()
        sys.exit(f"the publisher did not start: {ready!r}")
    return child


def go(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


def finish_publisher(child: subprocess.Popen[str]) -> Report:
    out, _ = child.communicate(timeout=DRAIN_LIMIT + 60)
    return Report(**json.loads(out))


def cpu_seconds(pid: int) -> float:
    """User + system cpu time of process ``pid`` (all its threads), from /proc; 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(metrics_port: int, quiet: float = 1.0) -> int:
    """Serve's count once it has not moved for ``quiet`` s (at most SETTLE_LIMIT s)."""
    count, since = taken(metrics_port), time.time()
    deadline = since + SETTLE_LIMIT
    while time.time() - since < quiet and time.time() < deadline:
        time.sleep(POLL)
        now = taken(metrics_port)
        if now != count:
            count, since = now, time.time()
    return count


def serve_run(setup: Setup, load: Load, pages: Pages) -> RunResult:
    """``load`` published to serve; counted on its metrics endpoint."""
    base = settle(setup.metrics_port)  # serve idle: nothing left of the run before
    child = start_publisher(setup, load, prefix="care", tag=load.tag)
    cpu_before = cpu_seconds(setup.serve_pid)
    go(child)
    seen, seen_at, last_change = 0, time.time(), time.time()
    report: Report | None = None
    while True:  # count while publishing, then at most DRAIN_LIMIT after the last PUBACK
        now = time.time()
        count = taken(setup.metrics_port) - base
        if count != seen:
            seen, seen_at, last_change = count, now, now
        if report is None and child.poll() is not None:
            report = finish_publisher(child)
        if report is not None and (
            seen >= report.sent
            or now - report.acked_at > DRAIN_LIMIT
            or now - last_change > STALL  # nothing more is coming: the rest is lost
        ):
            break
        time.sleep(POLL)
    kept_up = seen >= report.sent and seen_at - report.acked_at <= KEEP_UP
    cpu = cpu_seconds(setup.serve_pid) - cpu_before
    # what serve still had queued counts as taken (late), not lost: wait until it is idle
    final = seen if seen >= report.sent else settle(setup.metrics_port) - base
    deadline = time.time() + PAGES_WAIT  # the pages of the last calls
    while time.time() < deadline and any(i not in pages.arrived for i in report.calls):
        time.sleep(POLL)
    latencies = [pages.arrived[i] - t for i, t in report.calls.items() if i in pages.arrived]
    missing = sum(1 for i in report.calls if i not in pages.arrived)
    result = RunResult(load.label, report, seen, seen_at, kept_up, latencies, missing, final)
    result.cpu_share = cpu / max(seen_at - report.first, 1e-9)
    # and at the publisher's pace: in a short run, 0.5 s behind can be a third slower
    result.kept_up = kept_up and result.rate >= KEEP_PACE * report.publish_rate
    return result


def ceiling_run(setup: Setup, load: Load) -> RunResult | None:
    """The same ``load`` (under ``ceiling/``) drained by mosquitto_sub alone; None without it."""
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        return None
    tag = "c" + load.tag
    child = start_publisher(setup, load, prefix="ceiling", tag=tag)
    total = load.count + (load.count // setup.call_every if setup.call_every else 0)
    sub = subprocess.Popen(
        [
            binary,
            *("-h", "127.0.0.1", "-p", str(setup.broker_port), "-t", "ceiling/#", "-q", "1"),
            *("-C", str(total), "-i", f"bench-ceiling-{tag}-{os.getpid()}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    received = [0, 0.0]  # messages, time of the last

    def read() -> None:
        assert sub.stdout is not None
        for chunk in iter(lambda: sub.stdout.read1(1 << 16), b""):  # type: ignore[union-attr]
            received[0] += chunk.count(b"\n")
            received[1] = time.time()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)  # subscribed by then, on loopback
    go(child)
    report = finish_publisher(child)
    while reader.is_alive():  # until all arrived (it exits), or nothing came for STALL s
        reader.join(POLL * 5)
        now = time.time()
        if now - max(received[1], report.acked_at) > STALL or now - report.acked_at > DRAIN_LIMIT:
            sub.terminate()
            reader.join()
    sub.wait()
    count, last = int(received[0]), float(received[1])
    kept_up = count >= report.sent and last - report.acked_at <= KEEP_UP
    return RunResult(load.label, report, count, last, kept_up)


def percentile(values: list[float], rank: float) -> float:
    """The nearest-rank percentile ``rank`` (0-100) of ``values``, as ``sensorhub evaluate``
    reports latencies; nan for no values."""
    value = percentile_of(sorted(values), rank)
    return float("nan") if value is None else value


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--events", type=int, default=30_000, help="events of the as-fast-as-possible run"
    )
    parser.add_argument(
        "--rates", default="5000,10000,20000,25000,30000", help="fixed rates, msgs/s"
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="length of a fixed-rate run")
    parser.add_argument(
        "--call-every", type=int, default=500, help="a resident call after every N events"
    )
    parser.add_argument(
        "--budget", type=float, default=90.0, help="start no run after this many seconds"
    )
    parser.add_argument(
        "--all-rates",
        action="store_true",
        help="run the higher rates even after serve failed to keep up at a lower one",
    )
    parser.add_argument(
        "--broker-setting",
        action="append",
        metavar="LINE",
        help="add LINE to the private Mosquitto's configuration (repeatable), e.g. "
        "'max_queued_messages 100000' or 'max_inflight_messages 1000'",
    )
    parser.add_argument(
        "--flood",
        type=int,
        default=16_384,
        metavar="BYTES",
        help="a last run of --events bad messages of BYTES bytes each (control bytes, not JSON) "
        "as fast as possible, with the same calls among them: call latency under a flood, "
        "beside the run as fast as possible of good events (0: no flood run)",
    )
    parser.add_argument(
        "--flood-rates",
        default="",
        metavar="RATES",
        help="also flood at these fixed rates (msgs/s, comma-separated), each for --seconds, "
        "before the flood as fast as possible",
    )
    parser.add_argument("--role", default="benchmark", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--skip", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="x", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="care", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "publisher":
        publisher(args)
        return
    benchmark(args)


def benchmark(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from recordings import ensure_recording, machine  # noqa: PLC0415
    from sensorhub.testing.broker import PrivateBroker, free_port  # noqa: PLC0415

    started = time.perf_counter()
    recording = ensure_recording(say=lambda s: print(s, file=sys.stderr))
    plan = [(label, rate, count) for label, rate, count in _plan(args)]
    needed = 2 * sum(count for _, _, count in plan)
    if needed > recording.lines:
        sys.exit(f"the plan needs {needed:,} events, the recording has {recording.lines:,}")
    load_before = os.getloadavg()[0]
    results: list[tuple[RunResult, RunResult | None]] = []
    notes: list[str] = []
    drops: dict[str, int] = {}
    settings = list(args.broker_setting or [])

    class Broker(PrivateBroker):
        """The private broker, with the --broker-setting lines added to its configuration
        (through its private ``_config``: a benchmark knob, not an API)."""

        def _config(self) -> str:
            return super()._config() + "".join(f"{line}\n" for line in settings)

    with tempfile.TemporaryDirectory(prefix="sensorhub-live-") as name, Broker() as broker:
        folder = Path(name)
        metrics_port = free_port()
        log_path = folder / "serve.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
        with log_path.open("wb") as log:
            serve = subprocess.Popen(
                [
                    *(sys.executable, "-m", "sensorhub", "serve", "--broker", broker.url),
                    *("--clock", "event", "--metrics-port", str(metrics_port)),
                    *("--client-id", f"bench-serve-{os.getpid()}", "--rules", str(recording.rules)),
                    *("--store", f"sqlite:///{folder / 'sensorhub.db'}"),
                ],
                stdout=log,
                stderr=log,
                env=env,
            )
        pages = Pages(broker.host, broker.port)
        try:
            # serve says online once numba has loaded (or, the first time, compiled) its core
            if not pages.online.wait(SERVE_START):
                sys.exit(f"serve did not come online; its log:\n{log_path.read_text()[-3000:]}")
            setup = Setup(
                broker.url,
                broker.port,
                metrics_port,
                recording.jsonl,
                args.call_every,
                folder,
                serve.pid,
            )
            # serve's runs play the first half of the recording on, one after the other, so
            # that its event time runs on as in one stretch of nights (a run starting hours of
            # event time after the last made every escalation due at once); the ceiling's runs
            # take the second half
            skip, ceiling_skip = 0, needed // 2
            failed_at: str | None = None
            for label, rate, count in plan:
                if time.perf_counter() - started > args.budget:
                    notes.append(f"not run, over the {args.budget:g} s budget: {label}")
                    continue
                if rate and failed_at is not None and not _is_flood(label):
                    continue
                print(f"run {label}: {count:,} events to serve ...", file=sys.stderr)
                flood = args.flood if _is_flood(label) else 0
                served = serve_run(setup, Load(label, rate, count, skip, flood), pages)
                print(f"run {label}: the same load to mosquitto_sub ...", file=sys.stderr)
                ceiling = ceiling_run(setup, Load(label, rate, count, ceiling_skip, flood))
                skip += count
                ceiling_skip += count
                results.append((served, ceiling))
                if (
                    rate
                    and not _is_flood(label)
                    and not (served.kept_up and served.lost == 0)
                    and not args.all_rates
                ):
                    failed_at = label
                    higher = [name for name, r, _ in plan if r > rate and not _is_flood(name)]
                    if higher:
                        notes.append(
                            f"not run: {', '.join(higher)} (serve did not keep up at {label}; "
                            "--all-rates runs them anyway)"
                        )
            drops = _drop_notices(broker.log_path)
        finally:
            pages.stop()
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(10)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    print()
    print("\n".join(machine()))
    print(
        f"load     : {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"(1-minute average; {os.cpu_count()} cpus)"
    )
    print(
        f"run took : {time.perf_counter() - started:.0f} s; broker: private Mosquitto, "
        + (f"with {'; '.join(settings)}" if settings else "PrivateBroker's settings")
        + "; QoS 1 throughout"
    )
    report(results, args)
    for note in notes:
        print(f"  note: {note}")
    if drops:
        print(
            "  note: the broker dropped QoS 1 messages for a subscriber that fell more than its "
            "queue (max_queued_messages, 1000 by default) behind: "
            + ", ".join(f"{client} ({n} notices)" for client, n in drops.items())
        )


def _drop_notices(log: Path) -> dict[str, int]:
    """Per client, how often Mosquitto's log says it dropped messages for it."""
    found: dict[str, int] = {}
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        if "dropped" in line.lower():
            match = re.search(r"client (\S+?)\.?$", line)
            client = match.group(1) if match else "?"
            client = "serve" if client.startswith("bench-serve") else client
            client = "mosquitto_sub" if client.startswith("bench-ceiling") else client
            found[client] = found.get(client, 0) + 1
    return found


def _plan(args: argparse.Namespace) -> list[tuple[str, float, int]]:
    """The fixed rates, lowest first, then as fast as possible."""
    rates = sorted(float(r) for r in args.rates.split(",") if r.strip())
    plan = [(f"{rate:,.0f}/s", rate, int(rate * args.seconds)) for rate in rates]
    flood: list[tuple[str, float, int]] = []
    if args.flood:
        floods = sorted(float(r) for r in args.flood_rates.split(",") if r.strip())
        flood = [(f"{FLOOD}, {r:,.0f}/s", r, int(r * args.seconds)) for r in floods]
        flood.append((FLOOD, 0.0, args.events))
    return [*plan, (FASTEST, 0.0, args.events), *flood]


def _is_flood(label: str) -> bool:
    return label.startswith(FLOOD)


def report(results: list[tuple[RunResult, RunResult | None]], args: argparse.Namespace) -> None:
    print(f"calls    : one resident call after every {args.call_every} events")
    if results and results[0][1] is None:
        print("ceiling  : mosquitto_sub is not installed: no ceiling measured")
    print()
    print(
        f"{'':20} | {'serve (sensorhub serve --clock event)':^70} | "
        f"{'ceiling (mosquitto_sub alone)':^28}"
    )
    print(
        f"{'run':>20} | {'published/s':>11} {'taken/s':>9} {'lost':>6} {'kept up':>7} "
        f"{'cpu':>5} {'p50 ms':>7} {'p99 ms':>7} {'paged':>7} | {'published/s':>11} "
        f"{'taken/s':>9} {'lost':>6}"
    )
    sustained = 0.0
    worst_p99 = 0.0
    for served, ceiling in results:
        p50 = percentile(served.latencies, 50) * 1e3
        p99 = percentile(served.latencies, 99) * 1e3
        calls = f"{len(served.latencies)}/{len(served.report.calls)}"
        ceiling_text = (
            f"{ceiling.report.publish_rate:11,.0f} {ceiling.rate:9,.0f} {ceiling.lost:6d}"
            if ceiling
            else f"{'-':>11} {'-':>9} {'-':>6}"
        )
        print(
            f"{served.label:>20} | {served.report.publish_rate:11,.0f} {served.rate:9,.0f} "
            f"{served.lost:6d} {'yes' if served.kept_up else 'NO':>7} "
            f"{served.cpu_share or 0:5.0%} {p50:7.1f} {p99:7.1f} "
            f"{calls:>7} | {ceiling_text}"
        )
        if _is_flood(served.label):
            continue
        offered = served.label == FASTEST or (
            served.report.publish_rate >= 0.95 * _rate_of(served.label)
        )
        if served.kept_up and served.lost == 0 and served.missing_pages == 0 and offered:
            sustained = max(sustained, served.report.publish_rate)
            if served.latencies:
                worst_p99 = max(worst_p99, percentile(served.latencies, 99))
    print()
    print("targets (issue 4):")
    miss = (
        "met" if sustained >= TARGET_RATE else f"MISSED by {TARGET_RATE / max(sustained, 1):.1f}x"
    )
    print(
        f"  sustained >= {TARGET_RATE:,.0f} msgs/s with nothing lost: {sustained:,.0f} msgs/s "
        f"-> {miss} (the highest rate offered in full that serve kept up with, nothing lost)"
    )
    if sustained:
        verdict = "met" if worst_p99 < TARGET_P99 else f"MISSED by {worst_p99 / TARGET_P99:.1f}x"
        print(
            f"  call p99 < {TARGET_P99 * 1e3:.0f} ms at the rates serve kept up with: "
            f"{worst_p99 * 1e3:.1f} ms -> {verdict}"
        )
    fastest = next((pair for pair in results if pair[0].label == FASTEST), None)
    if fastest is not None and fastest[1] is not None:
        print(
            f"  ceiling: mosquitto_sub alone drained {fastest[1].rate:,.0f} msgs/s of the "
            f"as-fast-as-possible load; serve took {fastest[0].rate:,.0f} events/s "
            f"({fastest[0].rate / max(fastest[1].rate, 1):.0%} of it)"
        )
    for flood in (served for served, _ in results if _is_flood(served.label)):
        good = fastest[0] if fastest is not None else None
        p99 = percentile(flood.latencies, 99)
        verdict = "met" if p99 < TARGET_FLOOD_P99 else f"MISSED by {p99 / TARGET_FLOOD_P99:.1f}x"
        print(
            f"  flood (issue 13): call p99 < {TARGET_FLOOD_P99 * 1e3:.0f} ms while "
            f"{flood.report.sent - len(flood.report.calls):,} bad messages of {args.flood:,} "
            f"bytes came at {flood.report.publish_rate:,.0f} msgs/s: {p99 * 1e3:.1f} ms "
            f"(p50 {percentile(flood.latencies, 50) * 1e3:.1f} ms, "
            f"{len(flood.latencies)}/{len(flood.report.calls)} calls paged) -> {verdict}"
            + (
                f"; the same calls among good events as fast as possible: p99 "
                f"{percentile(good.latencies, 99) * 1e3:.1f} ms"
                if good is not None
                else ""
            )
        )
    limited = [
        s
        for s, _ in results
        if s.label != FASTEST
        and not _is_flood(s.label)
        and s.report.publish_rate < 0.95 * _rate_of(s.label)
    ]
    if limited:
        print(
            "  note: the publisher did not reach "
            + ", ".join(s.label for s in limited)
            + " on this machine: those runs measure the publisher's rate, not serve's limit"
        )


def _rate_of(label: str) -> float:
    return float(label.removesuffix("/s").replace(",", ""))


if __name__ == "__main__":
    main()
