"""Peak memory of ``sensorhub replay`` for a recording and one ten times longer: replay streams,
so the longer one must not need ten times the memory. Also what its first start costs.

Run: ``.venv/bin/python benchmarks/memory.py [--rooms 36] [--nights 7] [--times 10]
[--formats jsonl,parquet] [--classifier fast|reference]``

Makes (once, in ``benchmarks/.data/``) the recording of ``benchmarks/replay.py`` and one
``--times`` as long (the same nights repeated, shifted in time), as JSONL and as Parquet. Then
runs, each as its own fresh process, ``python -m sensorhub replay FILE --pages ... --classifier
fast --quiet`` on each (the fast classifier is replay's default), and reads the peak resident set
size (ru_maxrss) of exactly that child from ``os.wait4``. The baseline, measured in the same run,
is the same interpreter importing what replay imports and doing nothing.

Before that, the start of replay is timed on the first ``START_LINES`` lines of the recording:
once with numba's cache pointed at an empty folder (``NUMBA_CACHE_DIR``: the first start after an
install, which compiles the kernel), then once with the cache warm (every later start). The
warm start also fills the cache, so the measured runs load the kernel from it.

A child's ru_maxrss on Linux starts at the size of the process it was forked from, so this
script stays small: it makes the recordings in a child too, and imports nothing heavy until
the measurements are done (``parent`` in the output shows its size at the last start).

Prints the machine, the load, each peak with its wall time, the ratio of the long run's peak to
the short one's, and the same ratio above the baseline. Makes no assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recordings import Recording, load_line, machine

#: The long recording must need less than this many times the memory of the short one.
TARGET_RATIO = 10.0
#: Below this ratio, memory is flat in the length of the recording (what streaming should give).
FLAT_RATIO = 1.5
#: Lines of the recording replayed to time the start (cold and warm numba cache).
START_LINES = 1_000


@dataclass(frozen=True)
class Peak:
    rss_mb: float
    seconds: float
    status: int


def measure(argv: list[str], *, env: dict[str, str] | None = None) -> Peak:
    """Run ``argv`` as a child; its peak RSS (MB), wall time and exit status."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=False
    )
    # wait4 reaps this child and gives its own rusage; RUSAGE_CHILDREN would give the largest
    # of all children so far
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode("utf-8", "replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed with status {child.returncode}:\n{errors}")
    scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: KiB on Linux, bytes on macOS
    return Peak(usage.ru_maxrss * scale / 1e6, seconds, child.returncode)


def make_recording(rooms: int, nights: int, times: int) -> Recording:
    """The benchmark recording, made by a child process (see the module's docstring)."""
    here = Path(__file__).resolve().parent
    made = subprocess.run(
        [sys.executable, str(here / "recordings.py"), str(rooms), str(nights), str(times)],
        stdout=subprocess.PIPE,
        check=True,
    )
    paths = json.loads(made.stdout)
    return Recording(
        Path(paths["jsonl"]),
        Path(paths["parquet"]),
        Path(paths["rules"]),
        paths["lines"],
        paths["generator"],
    )


def own_peak_mb() -> float:
    scale = 1024 if sys.platform != "darwin" else 1
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=36)
    parser.add_argument("--nights", type=int, default=7)
    parser.add_argument("--times", type=int, default=10, help="how much longer the long one is")
    parser.add_argument("--formats", default="jsonl,parquet", help="comma-separated")
    parser.add_argument(
        "--classifier",
        choices=("fast", "reference"),
        default="fast",
        help="replay --classifier (default: fast, replay's default)",
    )
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not set(formats) <= {"jsonl", "parquet"}:
        sys.exit("--formats: jsonl and/or parquet")
    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        print("note: an address-space limit is set; peaks near it would fail", file=sys.stderr)

    short = make_recording(args.rooms, args.nights, 1)
    long = make_recording(args.rooms, args.nights, args.times)
    python = sys.executable
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root / "src") + os.pathsep + str(root)}
    load_before = os.getloadavg()[0]

    def replay(path: Path, rules: Path, pages: Path, run_env: dict[str, str]) -> Peak:
        return measure(
            [
                python,
                "-m",
                "sensorhub",
                "replay",
                str(path),
                "--rules",
                str(rules),
                "--pages",
                str(pages),
                "--classifier",
                args.classifier,
                "--quiet",
            ],
            env=run_env,
        )

    print("measuring the baseline (interpreter + imports) ...", file=sys.stderr)
    baseline = measure(
        [
            python,
            "-c",
            "import sensorhub.cli, sensorhub.commands.replay, sensorhub.codec.columnar",
        ],
        env=env,
    )
    peaks: dict[tuple[str, str], Peak] = {}
    with tempfile.TemporaryDirectory(prefix="sensorhub-bench-") as folder:
        pages = Path(folder) / "pages.jsonl"
        start = Path(folder) / "start.jsonl"
        with short.jsonl.open("rb") as source, start.open("wb") as head:
            head.writelines(line for _, line in zip(range(START_LINES), source, strict=False))
        empty_cache = Path(folder) / "numba-cache"
        empty_cache.mkdir()
        print("timing the first start (empty numba cache) ...", file=sys.stderr)
        cold = replay(start, short.rules, pages, {**env, "NUMBA_CACHE_DIR": str(empty_cache)})
        print("timing a later start (numba cache warm) ...", file=sys.stderr)
        replay(start, short.rules, pages, env)  # fills the cache if it was not warm
        warm = replay(start, short.rules, pages, env)
        for fmt in formats:
            for label, recording in (("1x", short), (f"{args.times}x", long)):
                path = recording.jsonl if fmt == "jsonl" else recording.parquet
                print(f"replaying {path.name} ...", file=sys.stderr)
                peaks[(fmt, label)] = replay(path, recording.rules, pages, env)
    load_after = os.getloadavg()[0]

    parent = own_peak_mb()
    print()
    print("\n".join(machine()))
    print(load_line(load_before, load_after))
    print(
        f"recordings: {short.jsonl.name} {short.lines:,} lines ({short.sizes}); "
        f"{long.jsonl.name} {long.lines:,} lines ({long.sizes})"
    )
    print(f"replay    : --classifier {args.classifier}, each run a fresh process")
    print()
    print(f"{'':46} {'peak RSS':>10} {'wall s':>8}")
    print(f"{'parent (this script, at the last start)':46} {parent:8.1f} MB")
    print(f"{'baseline: python + sensorhub imports':46} {baseline.rss_mb:8.1f} MB {'':8}")
    start_label = f"{START_LINES:,} lines"
    print(
        f"{'first start, empty numba cache, ' + start_label:46} "
        f"{cold.rss_mb:8.1f} MB {cold.seconds:8.1f}"
    )
    print(
        f"{'later start, numba cache warm, ' + start_label:46} "
        f"{warm.rss_mb:8.1f} MB {warm.seconds:8.1f}"
    )
    for (fmt, label), peak in peaks.items():
        name = f"sensorhub replay, {fmt}, {label}"
        print(f"{name:46} {peak.rss_mb:8.1f} MB {peak.seconds:8.1f}")
    print()
    print(
        f"first start: {cold.seconds:.1f} s, of which about {cold.seconds - warm.seconds:.1f} s "
        f"numba compiling (a later start: {warm.seconds:.1f} s)"
    )
    long_label = f"{args.times}x"
    for fmt in formats:
        one, many = peaks[(fmt, "1x")], peaks[(fmt, long_label)]
        ratio = many.rss_mb / one.rss_mb
        above = (many.rss_mb - baseline.rss_mb) / max(one.rss_mb - baseline.rss_mb, 1e-9)
        if ratio < FLAT_RATIO:
            judged = "flat: replay streams"
        elif ratio < TARGET_RATIO:
            judged = f"below {TARGET_RATIO:g}x, but grows with the length"
        else:
            judged = f"MISSED: {ratio / TARGET_RATIO:.1f}x over the {TARGET_RATIO:g}x bound"
        print(
            f"{fmt}: peak {long_label} / 1x = {ratio:.2f}x (above the baseline: {above:.2f}x) "
            f"for {long.lines / short.lines:.0f}x the lines -> {judged}"
        )


if __name__ == "__main__":
    main()
