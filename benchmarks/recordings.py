"""What the benchmarks share: the machine they ran on, and the recordings they replay.

Not a benchmark itself. ``ensure_recording(rooms, nights, times)`` makes (once, cached in
``benchmarks/.data/``, which git ignores) a simulated recording of ``rooms`` rooms over
``nights`` nights, as JSONL and as Parquet, with its rule file; ``times`` > 1 makes a recording
that many times longer by repeating it, shifted in time (one copy after the other, ids kept:
they are only compared within an hour), which is what the memory benchmark needs.

The site simulator (``simulators.site``: consecutive nights of one care home, heartbeats all
day) is used when it is there, else ``times`` nights of ``simulators.ward``. Either way 2% of
the events are up to 9 s late and about 0.1% of the lines are malformed, so dead letters are
part of the work.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"
START = date(2026, 11, 16)
SEED = 1
LATE = 0.02
MALFORMED = 0.001


def machine() -> list[str]:
    """Lines naming the machine and the software the figures were measured with."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for row in cpuinfo:
                if row.startswith("model name"):
                    model = row.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    versions = []
    for name in ("numpy", "pyarrow", "pydantic_core", "numba", "paho.mqtt"):
        try:
            module = __import__(name, fromlist=["__version__"])
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            versions.append(f"{name} missing")
    return [
        f"platform : {platform.platform()}",
        f"cpu      : {model}, {os.cpu_count()} logical cpus ({usable} usable by this process)",
        f"python   : {platform.python_implementation()} {sys.version.split()[0]}",
        f"packages : {', '.join(versions)}",
    ]


def load_line(before: float, after: float) -> str:
    """The line saying how busy the machine was (the 1-minute load average) before and after."""
    return (
        f"load     : {before:.2f} before, {after:.2f} after (1-minute load average; "
        f"above {os.cpu_count()} other work competes for the cpus)"
    )


@dataclass(frozen=True)
class Recording:
    """One benchmark recording, in both formats, and the rule file of its site."""

    jsonl: Path
    parquet: Path
    rules: Path
    lines: int
    generator: str

    @property
    def sizes(self) -> str:
        return (
            f"JSONL {self.jsonl.stat().st_size / 1e6:,.1f} MB, "
            f"Parquet {self.parquet.stat().st_size / 1e6:,.1f} MB"
        )


def _generator() -> str:
    try:
        from simulators.site import simulate_site  # noqa: F401, PLC0415 - optional
    except ImportError:
        return "ward"
    return "site"


def ensure_recording(
    rooms: int = 36,
    nights: int = 7,
    times: int = 1,
    *,
    fresh: bool = False,
    say: Callable[[str], None] = print,
) -> Recording:
    """The recording of ``rooms`` x ``nights`` (repeated ``times``), made if not there yet."""
    generator = _generator()
    stem = DATA / (f"{generator}-{rooms}x{nights}" + ("" if times == 1 else f"-x{times}"))
    jsonl, parquet = stem.with_suffix(".jsonl"), stem.with_suffix(".parquet")
    rules = DATA / f"{generator}-{rooms}x{nights}.rules.yaml"
    DATA.mkdir(parents=True, exist_ok=True)
    if fresh or not jsonl.exists() or not rules.exists():
        started = time.perf_counter()
        if times == 1:
            say(f"making {jsonl.name}: {rooms} rooms x {nights} nights ({generator} simulator)")
            lines = _simulate(generator, rooms, nights, jsonl, rules)
        else:
            base = ensure_recording(rooms, nights, 1, fresh=fresh, say=say)
            say(f"making {jsonl.name}: {base.jsonl.name} {times} times, shifted in time")
            lines = _repeat(base.jsonl, jsonl, times, nights * 86_400.0)
        say(f"  {lines:,} lines in {time.perf_counter() - started:.1f} s")
        parquet.unlink(missing_ok=True)
    if not parquet.exists():
        from sensorhub.commands.convert import convert  # noqa: PLC0415 - only when needed

        started = time.perf_counter()
        say(f"making {parquet.name} with sensorhub convert")
        convert(jsonl, parquet, deadletter_path=stem.with_suffix(".deadletter.jsonl"))
        say(f"  done in {time.perf_counter() - started:.1f} s")
    lines = _count_lines(jsonl)
    return Recording(jsonl, parquet, rules, lines, generator)


def _simulate(generator: str, rooms: int, nights: int, jsonl: Path, rules: Path) -> int:
    from simulators import ward  # noqa: PLC0415 - heavy, only when making a recording

    if generator == "site":
        from simulators.site import simulate_site  # noqa: PLC0415

        run = simulate_site(rooms, nights, START, SEED, LATE, MALFORMED)
        rules.write_text(run.rule_file(), encoding="utf-8")
        return ward.write_recording(run.recording, jsonl)

    def entries() -> Iterator[ward.RecordingEntry]:
        for night in range(nights):
            one = ward.Ward.typical(rooms, day=START + timedelta(days=night))
            yield from ward.generate_night(one, SEED + night, LATE, MALFORMED)

    rules.write_text(ward.demo_rule_file(ward.Ward.typical(rooms, day=START)), encoding="utf-8")
    return ward.write_recording(entries(), jsonl)


def _repeat(source: Path, target: Path, times: int, period: float) -> int:
    """``source`` ``times`` times, copy k shifted by k * ``period`` seconds."""
    lines = 0
    partial = target.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for copy in range(times):
            shift = copy * period
            with source.open(encoding="utf-8") as stream:
                for line in stream:
                    lines += 1
                    if shift:
                        try:
                            entry = json.loads(line)
                        except ValueError:
                            entry = None
                        if isinstance(entry, dict) and isinstance(entry.get("ts"), int | float):
                            entry["ts"] = round(entry["ts"] + shift, 3)
                            line = json.dumps(entry, separators=(",", ":")) + "\n"  # noqa: PLW2901
                    out.write(line)
    partial.replace(target)
    return lines


def _count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def main() -> None:
    """``python benchmarks/recordings.py ROOMS NIGHTS TIMES``: make the recording, print its
    paths as JSON (for benchmarks that must not import the heavy modules themselves)."""
    rooms, nights, times = (int(arg) for arg in sys.argv[1:4])
    recording = ensure_recording(rooms, nights, times, say=lambda s: print(s, file=sys.stderr))
    print(
        json.dumps(
            {
                "jsonl": str(recording.jsonl),
                "parquet": str(recording.parquet),
                "rules": str(recording.rules),
                "lines": recording.lines,
                "generator": recording.generator,
            }
        )
    )


if __name__ == "__main__":
    main()
