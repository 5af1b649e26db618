"""How many parameter sets a minute ``sensorhub sweep`` scores on a site-week, in local processes
and on a 2-worker Dask ``LocalCluster``, beside a single replay of the same week in the same run.

Run: ``.venv/bin/python benchmarks/sweep.py [--rooms 36] [--nights 7] [--jobs 2]
[--workers 2]`` (needs the ``cluster`` extra: ``pip install -e '.[cluster]'``)

Makes (once, in ``benchmarks/.data/``) the simulated week of ``recordings.py``, as JSONL and as
Parquet, then times, from each format:

- one ``replay()`` of the week in this process (the baseline: what one set costs without a
  sweep; its second run, so numba's cache is loaded already);
- ``sensorhub sweep --jobs 1``: the 13 replays one after the other in the command's process;
- ``sensorhub sweep`` of a 4 x 3 grid (``bathroom_grace`` x ``acoustic_threshold``) and the file
  as written, 13 replays, on ``--jobs`` local processes, from the command's start to its table;
- the same sweep on a ``LocalCluster`` of ``--workers`` worker processes (one thread each),
  started before the clock and warmed by a first sweep of one set, as a cluster is when a
  researcher runs one sweep after another on it.

Parameter sets per minute count the 13 sets. No ground truth: the scoring against one takes
about 10 ms a set, next to a replay's half second. Prints the machine, the load and the figures;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from recordings import ensure_recording, machine
from sensorhub.cli import main as sensorhub
from sensorhub.commands.replay import replay
from sensorhub.rules import load_policy

GRID = ("--set", "bathroom_grace=5m,10m,15m,20m", "--set", "acoustic_threshold=60,65,70")
SETS = 13


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (a local sweep's
    processes have ended when it returns)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_sweep(
    recording: Path, rules: Path, where: list[str], scratch: Path, repeat: int
) -> dict[str, float]:
    """Wall and CPU seconds of the fastest of ``repeat`` runs of ``sensorhub sweep`` of GRID,
    and what it reported of itself (its workers, their busy seconds, what they compiled)."""
    out = scratch / "sweep.json"
    best: dict[str, float] = {"seconds": float("inf")}
    for _ in range(repeat):
        started, cpu = time.perf_counter(), cpu_seconds()
        with contextlib.redirect_stdout(io.StringIO()):
            command = ["sweep", str(recording), "--rules", str(rules), *GRID, *where]
            status = sensorhub([*command, "--quiet", "--json", str(out)])
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        if status != 0:
            raise SystemExit(f"sweep failed with status {status}")
        workers = json.loads(out.read_text(encoding="utf-8"))["run"]["workers"].values()
        if seconds < best["seconds"]:
            best = {
                "seconds": seconds,
                "cpu": cpu,
                "workers": len(workers),
                "busy": sum(worker["seconds"] for worker in workers),
                "compiled": sum(worker["compiled"] for worker in workers),
            }
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=36)
    parser.add_argument("--nights", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2, help="local processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="best of (default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    recording = ensure_recording(args.rooms, args.nights, say=lambda s: print(s, file=sys.stderr))
    print("\n".join(machine()))
    load_before = os.getloadavg()[0]
    print(f"recording: {recording.jsonl.name}, {recording.lines:,} lines ({recording.sizes})")
    print(f"grid     : {' '.join(GRID)}: {SETS} parameter sets with the file as written\n")

    from distributed import Client, LocalCluster  # noqa: PLC0415 - the cluster extra

    rows: list[tuple[str, str, float, float | None, str]] = []
    policy = load_policy(recording.rules)
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
    ):
        scratch = Path(folder)
        cluster_where = ["--scheduler", cluster.scheduler_address]
        with Client(cluster.scheduler_address) as client:
            client.wait_for_workers(args.workers)
        for path in (recording.jsonl, recording.parquet):
            kind = "Parquet" if path.suffix == ".parquet" else "JSONL"
            best = (float("inf"), 0.0)
            for run in range(args.repeat + 1):  # the first loads numba's cache: not counted
                started, cpu = time.perf_counter(), time.process_time()
                replay(path, policy, scratch / "pages.jsonl", deadletter_path=scratch / "dl")
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                if run:
                    best = min(best, (wall, cpu))
            rows.append((kind, "one replay in this process (baseline)", *best, "-"))
            for jobs in (1, args.jobs):
                local = time_sweep(
                    path, recording.rules, ["--jobs", str(jobs)], scratch, args.repeat
                )
                rows.append(
                    (
                        kind,
                        "sweep, --jobs 1 (one after the other, here)"
                        if jobs == 1
                        else f"sweep, --jobs {jobs} (local processes)",
                        local["seconds"],
                        local["cpu"],
                        f"{local['workers']:.0f} process{'' if local['workers'] == 1 else 'es'}, "
                        f"{local['busy']:.1f} s in replays, {local['compiled']:.0f} compiled",
                    )
                )
            # the cluster's workers load numba's cache before the clock, as for a researcher
            # who runs one sweep after another on a cluster
            with contextlib.redirect_stdout(io.StringIO()):
                one = ["sweep", str(path), "--rules", str(recording.rules), "--set", "wanders=true"]
                sensorhub([*one, *cluster_where, "--quiet"])
            remote = time_sweep(path, recording.rules, cluster_where, scratch, args.repeat)
            rows.append(
                (
                    kind,
                    f"sweep, LocalCluster of {args.workers} workers",
                    remote["seconds"],
                    None,
                    f"{remote['workers']:.0f} workers, {remote['busy']:.1f} s in replays, "
                    f"{remote['compiled']:.0f} compiled",
                )
            )
    load_after = os.getloadavg()[0]
    print(
        f"load     : {load_before:.2f} before, {load_after:.2f} after (1-minute load average; "
        "other work on the machine slows every row alike)\n"
    )
    print(f"{'from':8} {'run':42} {'wall s':>7} {'cpu s':>7} {'sets/min':>9}  workers")
    for kind, what, seconds, cpu, workers in rows:
        sets = 1 if "baseline" in what else SETS
        shown = "-" if cpu is None else f"{cpu:7.2f}"
        print(f"{kind:8} {what:42} {seconds:7.2f} {shown:>7} {sets / seconds * 60:9.1f}  {workers}")
    print(
        "\nsets/min: parameter sets scored a minute of wall time; cpu s: of this process and "
        "the local processes a sweep started (the cluster's workers are not counted)"
    )


if __name__ == "__main__":
    main()
