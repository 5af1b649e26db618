"""Which JSON decoder is fastest on a recording's lines, and what replay's decoders cost per line.

Run: ``.venv/bin/python benchmarks/decode.py [--rooms 36] [--nights 7] [--repeat 3]``

orjson is not a dependency of sensorhub; to time it too, install it into a throwaway folder and
put that on the path for this run only::

    .venv/bin/pip install --target /tmp/benchlib orjson
    PYTHONPATH=/tmp/benchlib .venv/bin/python benchmarks/decode.py

Without it, its row is skipped with a note.

Takes the benchmark recording of ``benchmarks/replay.py`` (made once in ``benchmarks/.data/``),
reads its lines into memory as replay's batch decoder reads them (``batch.read_chunks``), then
times on exactly those lines, in the same run, best of ``--repeat`` passes each:

- per line, parsing only or parsing into a typed value: ``json.loads`` (the baseline),
  ``pydantic_core.from_json`` (the parser ``codec.decode_line`` uses), msgspec to ``dict``,
  orjson, and msgspec into the typed ``Struct`` of ``sensorhub.codec.segments`` (which also
  checks most of the contract in C);
- the codec itself: ``decode_line`` (every line to an ``Event`` or a dead letter, what
  ``replay --classifier reference`` runs) and ``decode_mqtt`` (what ``serve`` runs on a message,
  the topic made from the line's place beforehand);
- the compiled scanner alone (``sensorhub.codec.scan``, the batch decoder's first tier): every
  chunk's bytes to columns in one compiled pass, a new table of names per pass;
- the batch decoder end to end: ``LineDecoder.decode`` on every chunk, placed (the scanner, then
  msgspec's typed struct for the lines it leaves, every line neither vouches for through
  ``decode_line``): what ``replay`` runs, and the ceiling of replay from JSONL.

A line that a decoder refuses (the recording has about 0.1% malformed lines; the typed struct
also refuses lines it leaves to the codec) is caught and counted, so every row does the same
work on the same bytes. Prints the machine, the load, and which per-line decoder is fastest.
Makes no assertion on time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
import pydantic_core

from recordings import ensure_recording, load_line, machine
from sensorhub.codec.batch import LineDecoder
from sensorhub.codec.columns import Registry
from sensorhub.codec.lines import read_chunks
from sensorhub.codec.payload import decode_line, decode_mqtt
from sensorhub.codec.scan import NameTable
from sensorhub.codec.segments import Line
from sensorhub.contract import Event

try:
    import orjson
except ImportError:  # not a dependency: see the module's docstring
    orjson = None

#: The batch decoder's per-line decoder (segments.py's ``_DECODE``): a typed struct, checked in C.
STRUCT = "msgspec -> typed Struct (segments.py's)"
#: The tuple msgspec raises for bad input.
MSGSPEC_ERRORS = (msgspec.ValidationError, msgspec.DecodeError)


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """(seconds, what the run counted) of the fastest of ``repeat`` runs."""
    best = (float("inf"), 0)
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        count = run()
        seconds = time.perf_counter() - started
        if seconds < best[0]:
            best = (seconds, count)
    return best


def per_line(decode: Callable[[bytes], Any], errors: type[Exception] | tuple[type[Exception], ...]):
    """A run that decodes every line with ``decode`` and counts the lines it refuses."""

    def run(lines: list[bytes]) -> int:
        refused = 0
        for line in lines:
            try:
                decode(line)
            except errors:
                refused += 1
        return refused

    return run


def topics(lines: list[bytes]) -> list[str]:
    """The MQTT topic each line would have come on (a placeholder where it names no place)."""
    result = []
    for line in lines:
        try:
            entry = json.loads(line)
            place = [entry["site"], entry["room"], entry["kind"], entry["device"]]
        except (ValueError, TypeError, KeyError):
            place = ["x", "x", "x", "x"]
        result.append("care/" + "/".join(str(p) for p in place))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=36)
    parser.add_argument("--nights", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many passes each")
    args = parser.parse_args(argv)

    recording = ensure_recording(args.rooms, args.nights)
    chunks = list(read_chunks(recording.jsonl))
    lines = [line for chunk in chunks for line in chunk.lines if line.strip()]
    n = len(lines)
    name = recording.jsonl.name
    received = time.time()
    mqtt = list(zip(topics(lines), lines, strict=True))
    load_before = os.getloadavg()[0]

    struct = msgspec.json.Decoder(Line).decode
    to_dict = msgspec.json.Decoder().decode
    runs: list[tuple[str, Callable[[list[bytes]], int] | None]] = [
        ("json.loads (baseline, stdlib)", per_line(json.loads, ValueError)),
        ("pydantic_core.from_json (codec's parser)", per_line(pydantic_core.from_json, ValueError)),
        ("msgspec -> dict", per_line(to_dict, MSGSPEC_ERRORS)),
        ("orjson.loads", per_line(orjson.loads, orjson.JSONDecodeError) if orjson else None),
        (STRUCT, per_line(struct, MSGSPEC_ERRORS)),
    ]
    parsers = [label for label, _ in runs]

    def run_decode_line(lines: list[bytes]) -> int:
        return sum(
            type(decode_line(line, received, f"{name}:{i}")) is not Event
            for i, line in enumerate(lines, start=1)
        )

    def run_decode_mqtt(_: list[bytes]) -> int:
        return sum(type(decode_mqtt(t, p, received)) is not Event for t, p in mqtt)

    blocks = [block for block in (chunk.block() for chunk in chunks) if block is not None]

    def run_scan(_: list[bytes]) -> int:
        table = NameTable()  # a new one, as each replay starts with
        left = 0
        for text, limit in blocks:
            got = table.scan(np.frombuffer(text, dtype=np.uint8), limit)
            left += got.lines - got.taken
        return left

    def run_batch(_: list[bytes]) -> int:
        decoder = LineDecoder()  # a new one, as each replay starts with
        registry = Registry()
        return sum(
            len(decoder.decode(chunk, received).placed(registry).dead_letters) for chunk in chunks
        )

    runs += [
        ("codec decode_line (Event or dead letter)", run_decode_line),
        ("codec decode_mqtt (serve, topic given)", run_decode_mqtt),
        ("compiled scanner alone (batch's 1st tier)", run_scan),
        ("batch decoder end to end (replay's)", run_batch),
    ]

    results: dict[str, tuple[float, int]] = {}
    for label, run in runs:
        if run is None:
            continue
        print(f"timing {label} ...", file=sys.stderr)
        results[label] = best_of(args.repeat, lambda run=run: run(lines))
    load_after = os.getloadavg()[0]

    print()
    print("\n".join(machine()))
    print(
        f"versions : msgspec {msgspec.__version__}, "
        + (f"orjson {orjson.__version__}" if orjson else "orjson not importable")
    )
    print(load_line(load_before, load_after))
    print(
        f"recording: {name} ({recording.generator} simulator): {n:,} non-blank lines, "
        f"mean {sum(map(len, lines)) / n:.0f} B; in memory, best of {args.repeat} passes, "
        "one thread"
    )
    print()
    baseline = results[parsers[0]][0]
    print(f"{'':42} {'us/line':>8} {'lines/s':>11} {'x json':>7} {'refused':>8}")
    for label, _ in runs:
        if label not in results:
            print(f"{label:42} {'not timed: not importable (see --help)':>38}")
            continue
        seconds, refused = results[label]
        print(
            f"{label:42} {seconds / n * 1e6:8.2f} {n / seconds:11,.0f} "
            f"{baseline / seconds:7.2f} {refused:8,}"
        )
    print(
        "(refused: lines the decoder raised on, or made a dead letter of; for the scanner, "
        "the lines it left to the tiers behind it, blank ones included)"
    )
    print()
    timed = [label for label in parsers if label in results]
    fastest = min(timed, key=lambda label: results[label][0])
    runner_up = min(
        (label for label in timed if label != fastest), key=lambda label: results[label][0]
    )
    print(
        f"fastest per-line decoder: {fastest}, "
        f"{results[runner_up][0] / results[fastest][0]:.2f}x the next ({runner_up})"
    )
    if fastest == STRUCT:
        print("  batch.py (replay's JSONL decoder) decodes lines into it, in runs of lines")
    else:
        print(f"  batch.py decodes lines into {STRUCT}, not with the fastest here")
    if orjson is None:
        print(
            "note: orjson is not importable, so it was not timed "
            "(pip install --target /tmp/benchlib orjson; PYTHONPATH=/tmp/benchlib)"
        )
    batch, codec = results[runs[-1][0]][0], results[runs[-4][0]][0]
    print(
        f"batch decoder end to end: {n / batch:,.0f} lines/s, {codec / batch:.1f}x "
        "decode_line per line"
    )


if __name__ == "__main__":
    main()
