"""How long the ``sensorhub`` command takes as a user types it: whole processes, by the wall clock.

Run: ``.venv/bin/python benchmarks/startup.py [--repeat 10] [--base REF | --no-base] [--as-is]``

Each command runs as a fresh process, ``python -m sensorhub ...`` (what the ``sensorhub`` script
runs too), ``--repeat`` times after one untimed run; printed are the median wall time, the range
(fastest-slowest) and the median cpu time of the process (all its threads):

- ``sensorhub --help``;
- ``sensorhub rules check rules/example-site.yaml``;
- ``sensorhub silences`` on an empty store (made in a temporary folder);
- ``sensorhub replay`` (default fast classifier, ``--quiet``) of a 1,000-line recording (the
  first 1,000 lines of the site simulator's night of 36 rooms, ``site-36x1.jsonl``) and of the
  week of ``benchmarks/replay.py`` (``site-36x7``, 364,258 lines), as JSONL and as Parquet.

The baseline, measured in the same run, is the same commands at ``--base`` (default
``BASELINE``, the last commit before the command line was made to import only what a command
needs): the commit is exported once with ``git archive`` to ``benchmarks/.data/startup-base-*``
and run with its own ``PYTHONPATH``; its first run compiles numba's cache there (about a minute,
once). The two are interleaved, run for run, so that other work on the machine weighs on both
alike. Two floors are timed too: ``python -c pass`` and ``python -c "import numba"``. The first
pages (escalation 0) of each replay are compared between the two: they must be the same (a
checkout from before the engine wrote no escalations and its own page ids).

The processes use bytecode caches (``.pyc``), as an installed package does (pip compiles them
when it installs): ``PYTHONDONTWRITEBYTECODE`` is lifted for them and ``PYTHONPYCACHEPREFIX``
points at a temporary folder, so nothing is written into the checkouts but numba's cache.
``--as-is`` keeps this environment's settings instead (with ``PYTHONDONTWRITEBYTECODE=1`` every
start compiles sensorhub's own modules from source again: some 0.1-0.3 s more per command).

Prints the machine, the load, and the figures. Makes no assertion on time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recordings import DATA, load_line, machine

ROOT = Path(__file__).resolve().parent.parent
#: The last commit before the command line imported only what the command it names needs.
BASELINE = "a805ccc1670719614b13e693b5e169183c41113c"
#: Lines of the short recording.
SHORT_LINES = 1_000


@dataclass
class Command:
    """One command line, timed in each checkout."""

    label: str
    argv: list[str]  # after ``python -m sensorhub`` (or after ``python``: a floor)
    floor: bool = False
    pages: Path | None = None  # replay: where it writes its pages (compared between checkouts)
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkout:
    name: str
    root: Path

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "PYTHONPATH": f"{self.root / 'src'}{os.pathsep}{self.root}"}


def make_recording(rooms: int, nights: int, env: dict[str, str]) -> dict[str, str]:
    """The benchmark recording (``recordings.py``, in a child: this process stays light)."""
    made = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "recordings.py"), str(rooms), str(nights), "1"],
        stdout=subprocess.PIPE,
        env=env,
        check=True,
    )
    paths: dict[str, str] = json.loads(made.stdout)
    return paths


def export(ref: str) -> Checkout:
    """The commit ``ref`` as files in ``benchmarks/.data/startup-base-*`` (made once)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = DATA / f"startup-base-{sha[:12]}"
    if not folder.is_dir():
        print(f"exporting {sha[:12]} to {folder} ...", file=sys.stderr)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", sha],
            stdout=subprocess.PIPE,
            check=True,
        ).stdout
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(folder)
    return Checkout(f"base {sha[:12]}", folder)


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, cpu seconds) of ``argv`` as a child; exits if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of each (default 10)")
    parser.add_argument("--base", default=BASELINE, help="commit of the baseline")
    parser.add_argument("--no-base", action="store_true", help="this checkout and the floors only")
    parser.add_argument("--rooms", type=int, default=36)
    parser.add_argument("--nights", type=int, default=7, help="of the longer recording")
    parser.add_argument(
        "--as-is", action="store_true", help="keep this environment's bytecode settings"
    )
    args = parser.parse_args(argv)

    here = Checkout("this checkout", ROOT)
    checkouts = [here] if args.no_base else [here, export(args.base)]
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="sensorhub-startup-") as folder:
        scratch = Path(folder)
        env = dict(os.environ)
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
        night = make_recording(args.rooms, 1, here.env(env))
        week = make_recording(args.rooms, args.nights, here.env(env))
        short = scratch / f"first-{SHORT_LINES}.jsonl"
        with open(night["jsonl"], "rb") as source, short.open("wb") as head:
            for _, line in zip(range(SHORT_LINES), source, strict=False):
                head.write(line)
        url = f"sqlite:///{scratch / 'sensorhub.db'}"  # an empty store, as serve leaves it
        subprocess.run(
            [python, "-c", f"from sensorhub.store import open_store; open_store({url!r}).close()"],
            env=here.env(env),
            check=True,
        )

        def replay(label: str, path: str, rules: str, name: str) -> Command:
            pages = scratch / f"{name}.pages.jsonl"
            argv = ["replay", path, "--rules", rules, "--pages", str(pages), "--quiet"]
            return Command(label, argv, pages=pages)

        week_name = Path(week["jsonl"]).stem
        commands = [
            Command("sensorhub --help", ["--help"]),
            Command(
                "sensorhub rules check rules/example-site.yaml",
                ["rules", "check", str(ROOT / "rules" / "example-site.yaml")],
            ),
            Command("sensorhub silences (empty store)", ["silences", "--store", url]),
            replay(f"replay {SHORT_LINES:,} lines (JSONL)", str(short), night["rules"], "short"),
            replay(
                f"replay {week_name}, {week['lines']:,} lines (JSONL)",
                week["jsonl"],
                week["rules"],
                "week-jsonl",
            ),
            replay(f"replay {week_name} (Parquet)", week["parquet"], week["rules"], "week-pq"),
            Command("floor: python -c pass", ["-c", "pass"], floor=True),
            Command('floor: python -c "import numba"', ["-c", "import numba"], floor=True),
        ]

        def argv_of(command: Command, checkout: Checkout) -> list[str]:
            if command.floor:
                return [python, *command.argv]
            argv = list(command.argv)
            if command.pages is not None:  # each checkout its own pages, to compare
                argv[argv.index("--pages") + 1] = f"{command.pages}.{checkouts.index(checkout)}"
            return [python, "-m", "sensorhub", *argv]

        print(
            "untimed first runs (bytecode caches; numba compiles in a new baseline export, "
            "about a minute) ...",
            file=sys.stderr,
        )
        for command in commands:
            for checkout in checkouts[:1] if command.floor else checkouts:
                run(argv_of(command, checkout), checkout.env(env), scratch)
        load_before = os.getloadavg()[0]
        for repeat in range(args.repeat):
            print(f"run {repeat + 1} of {args.repeat} ...", file=sys.stderr)
            order = checkouts if repeat % 2 == 0 else checkouts[::-1]
            for command in commands:
                for checkout in checkouts[:1] if command.floor else order:
                    wall, cpu = run(argv_of(command, checkout), checkout.env(env), scratch)
                    command.walls.setdefault(checkout.name, []).append(wall)
                    command.cpus.setdefault(checkout.name, []).append(cpu)
        load_after = os.getloadavg()[0]
        same = {
            command.label: len({_first_pages(Path(f"{command.pages}.{i}")) for i in range(2)}) == 1
            for command in commands
            if command.pages is not None and len(checkouts) == 2
        }

    print()
    print("\n".join(machine()))
    print(load_line(load_before, load_after))
    print(
        "bytecode : "
        + (
            "as this environment has it"
            + (" (PYTHONDONTWRITEBYTECODE=1)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "")
            if args.as_is
            else "cached (.pyc, as an installed package has them)"
        )
    )
    print(
        f"each     : a fresh process `python -m sensorhub ...`, {args.repeat} timed runs after "
        "one untimed, the checkouts interleaved; wall seconds median [fastest-slowest], cpu "
        "seconds median"
    )
    print()
    names = [checkout.name for checkout in checkouts]
    header = f"{'':49}" + "".join(f" {name:>28}" for name in names)
    print(header + ("   base / this" if len(checkouts) == 2 else ""))
    for command in commands:
        cells = []
        medians = []
        for name in names:
            walls = command.walls.get(name)
            if not walls:
                cells.append(f" {'':>28}")
                continue
            median = statistics.median(walls)
            medians.append(median)
            cpu = statistics.median(command.cpus[name])
            cells.append(f" {median:6.3f} [{min(walls):.3f}-{max(walls):.3f}] {cpu:6.3f}")
        ratio = f"   {medians[1] / medians[0]:8.1f}x" if len(medians) == 2 else ""
        print(f"{command.label:49}" + "".join(cells) + ratio)
    if same:
        print()
        verdicts = [f"{label}: {'the same' if ok else 'DIFFERENT'}" for label, ok in same.items()]
        print("first pages of the two checkouts: " + "; ".join(verdicts))


def _first_pages(path: Path) -> frozenset[tuple[str, str, float, str]]:
    """The first pages of a replay: (incident, kind, time, recipient)."""
    pages = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(
        (p["incident"], p["kind"], p["ts"], p["recipient"]) for p in pages if p["escalation"] == 0
    )


if __name__ == "__main__":
    main()
