"""How long ``decode_mqtt`` takes per message, beside ``json.loads`` alone on the same payloads.

Run: ``.venv/bin/python benchmarks/decode.py [--messages 200000] [--repeat 3]``

Builds a realistic night of sensor traffic (every kind, ids, confidences, sound levels, some
RFC 3339 times, an unknown field now and then), then times in the same run, best of
``--repeat`` passes each:

- ``json.loads`` alone on every payload (the baseline: parsing only, no validation);
- ``pydantic_core.from_json`` alone (the parser the codec uses);
- ``decode_mqtt`` on every message (topic, parse, validation, Event);
- ``decode_mqtt`` on a stream of bad input (to show that dead letters stay cheap too).

Prints the machine it ran on. Makes no assertion on time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pydantic
import pydantic_core

from recordings import machine
from sensorhub.codec import decode_mqtt
from sensorhub.contract import HEALTH_EVENTS, VOCABULARY, DeadLetter, Event

START = 1_761_346_800.0  # 2025-10-24T23:00:00Z, a night in Amsterdam
Message = tuple[str, bytes]


def realistic_messages(count: int, rng: random.Random) -> list[Message]:
    """``count`` valid messages from three sites of 40 rooms, each room with every kind."""
    kinds = list(VOCABULARY)
    messages: list[Message] = []
    ts = START
    for n in range(count):
        site = rng.choice(("north", "riverside", "de-linde"))
        room = f"{rng.randrange(1, 41):03d}"
        kind = rng.choice(kinds)
        device = f"{kind[:3]}-{room}"
        events = VOCABULARY[kind] if rng.random() < 0.95 else HEALTH_EVENTS
        ts += rng.expovariate(50.0)
        body: dict[str, object] = {
            "ts": round(ts, 3),
            "event": rng.choice(events),
            "id": f"{site}-{device}-{n:010d}",
        }
        if rng.random() < 0.05:  # a few sensors send RFC 3339 times
            body["ts"] = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
        if kind == "optical":
            body["confidence"] = round(rng.uniform(0.5, 1.0), 2)
        if kind == "acoustic":
            body["value"] = round(rng.uniform(30.0, 90.0), 1)
        if rng.random() < 0.5:  # unknown fields some firmwares add
            body.update(fw="2.3.1", rssi=rng.randrange(-90, -40))
        if rng.random() < 0.1:
            body.update(site=site, room=room)
        topic = f"care/{site}/{room}/{kind}/{device}"
        messages.append((topic, json.dumps(body).encode()))
    return messages


def bad_messages(count: int, rng: random.Random) -> list[Message]:
    """``count`` messages of bad input of several sorts."""
    samples = [
        b"not json at all",
        b'{"ts": "2026-10-25T02:30:00", "event": "in_bed"}',
        b'{"ts": 1761355800.5, "event": "jumped"}',
        b'{"ts": true, "event": "in_bed", "confidence": "0.9"}',
        b'{"ts": 946684799, "event": "in_bed"}',
        b'{"ts": 1761355800.5, "event": "in_bed", "value": NaN}',
        b"[1, 2, 3]",
        b"\xff\xfe\x00",
    ]
    topic = "care/north/012/optical/opt-012"
    return [(topic, rng.choice(samples)) for _ in range(count)]


def best_of(repeat: int, run: Callable[[], None]) -> float:
    """The shortest of ``repeat`` timed runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    good = realistic_messages(args.messages, rng)
    bad = bad_messages(max(args.messages // 10, 1), rng)
    sizes = [len(body) for _, body in good]
    received = START + 3600.0

    # Sanity, not timing: every realistic message must decode, every bad one must not.
    decoded = [decode_mqtt(topic, body, received) for topic, body in good]
    rejected = [m for m in decoded if not isinstance(m, Event)]
    if rejected:
        sys.exit(f"benchmark payloads rejected, fix the generator: {rejected[0]}")
    del decoded, rejected  # 200k live events would make every gc pass slower in the timing
    if not all(isinstance(decode_mqtt(t, b, received), DeadLetter) for t, b in bad):
        sys.exit("a bad payload was accepted, fix the generator")

    loads = json.loads
    from_json = pydantic_core.from_json

    def run_loads() -> None:
        for _, body in good:
            loads(body)

    def run_from_json() -> None:
        for _, body in good:
            from_json(body)

    def run_decode() -> None:
        for topic, body in good:
            decode_mqtt(topic, body, received)

    def run_bad() -> None:
        for topic, body in bad:
            decode_mqtt(topic, body, received)

    n = len(good)
    us_loads = best_of(args.repeat, run_loads) / n * 1e6
    us_from_json = best_of(args.repeat, run_from_json) / n * 1e6
    us_decode = best_of(args.repeat, run_decode) / n * 1e6
    us_bad = best_of(args.repeat, run_bad) / len(bad) * 1e6

    print("\n".join(machine()))
    print(f"pydantic : {pydantic.VERSION}")
    print(
        f"payloads : {n} valid, {len(bad)} bad; valid size mean {statistics.mean(sizes):.0f} B, "
        f"min {min(sizes)} B, max {max(sizes)} B; best of {args.repeat} passes"
    )
    print()
    print(f"json.loads alone (baseline)        {us_loads:7.2f} us/message")
    print(f"pydantic_core.from_json alone      {us_from_json:7.2f} us/message")
    print(f"decode_mqtt, valid messages        {us_decode:7.2f} us/message")
    print(f"decode_mqtt, bad input             {us_bad:7.2f} us/message")
    print()
    print(f"decode_mqtt / json.loads           {us_decode / us_loads:7.2f}x")
    print(f"messages per second, one core      {1e6 / us_decode:9,.0f}")


if __name__ == "__main__":
    main()
