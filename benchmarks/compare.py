"""How long ``sensorhub rules compare`` takes on a week of a 36-room site, beside one replay.

Run: ``.venv/bin/python benchmarks/compare.py [--repeat 5] [--rooms 36] [--nights 7]``

Uses the week of ``benchmarks/replay.py`` (``site-36x7``: 364,258 lines, made once by
``recordings.py``) as JSONL and as Parquet, its rule file, and the same rule file with the
first resident at high fall risk set back to normal (``*.fall-risk.rules.yaml``, written next
to it). Each command runs as a fresh process, ``python -m sensorhub ...``, as a user types it,
``--repeat`` times after one untimed run, interleaved run for run so that other work on the
machine weighs on all alike; printed are the median wall time, the range, and the median cpu
time (all threads), and each compare against the replay of the same format:

- baseline: ``sensorhub replay WEEK --rules R --pages ... --quiet`` (one replay);
- ``sensorhub rules compare R R WEEK --quiet``: two replays, nothing differs (no audit pass);
- ``sensorhub rules compare R CHANGED WEEK --quiet``: two replays, then the one room that
  differs replayed again through the changed rules with its audit on (the reasons).

Prints the machine, the load and the figures. Makes no assertion on time.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from recordings import load_line, machine
from startup import ROOT, Checkout, Command, make_recording, run

HIGH_RISK = re.compile(r'^(\s+"[^"]+": )\{resident: \{fall_risk: high\}\}', re.MULTILINE)


def changed_rules(rules: Path) -> tuple[Path, str]:
    """``rules`` with its first resident at high fall risk at normal risk, and that room."""
    text = rules.read_text(encoding="utf-8")
    found = HIGH_RISK.search(text)
    if found is None:
        sys.exit(f"{rules}: no resident at high fall risk to change")
    changed = rules.with_name(rules.name.replace(".rules.yaml", ".fall-risk.rules.yaml"))
    changed.write_text(text[: found.start()] + found.group(1) + "{}" + text[found.end() :])
    return changed, found.group(1).strip().rstrip(":").strip('"')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--rooms", type=int, default=36)
    parser.add_argument("--nights", type=int, default=7)
    args = parser.parse_args(argv)

    here = Checkout("this checkout", ROOT)
    env = here.env(dict(os.environ))
    week = make_recording(args.rooms, args.nights, env)
    rules = Path(week["rules"])
    changed, room = changed_rules(rules)
    with tempfile.TemporaryDirectory(prefix="sensorhub-compare-") as folder:
        scratch = Path(folder)
        commands = []
        for form in ("jsonl", "parquet"):
            path = week[form]
            pages = str(scratch / f"{form}.pages.jsonl")
            commands += [
                Command(
                    f"replay ({form})",
                    ["replay", path, "--rules", str(rules), "--pages", pages, "--quiet"],
                ),
                Command(
                    f"compare, nothing differs ({form})",
                    ["rules", "compare", str(rules), str(rules), path, "--quiet"],
                ),
                Command(
                    f"compare, room {room} differs ({form})",
                    ["rules", "compare", str(rules), str(changed), path, "--quiet"],
                ),
            ]

        def argv_of(command: Command) -> list[str]:
            return [sys.executable, "-m", "sensorhub", *command.argv]

        print("untimed first runs ...", file=sys.stderr)
        for command in commands:
            run(argv_of(command), env, scratch)
        load_before = os.getloadavg()[0]
        for repeat in range(args.repeat):
            print(f"run {repeat + 1} of {args.repeat} ...", file=sys.stderr)
            for command in commands if repeat % 2 == 0 else commands[::-1]:
                wall, cpu = run(argv_of(command), env, scratch)
                command.walls.setdefault(here.name, []).append(wall)
                command.cpus.setdefault(here.name, []).append(cpu)
        load_after = os.getloadavg()[0]

    print()
    print("\n".join(machine()))
    print(load_line(load_before, load_after))
    print(
        f"recording: {Path(week['jsonl']).stem}, {int(week['lines']):,} lines; rules "
        f"{rules.name} against {changed.name} (room {room} at normal fall risk)"
    )
    print(
        f"each     : a fresh process `python -m sensorhub ...`, {args.repeat} timed runs after "
        "one untimed, interleaved; wall seconds median [fastest-slowest], cpu seconds median"
    )
    print()
    print(f"{'':40}{'wall s':>8} {'range':>13} {'cpu s':>7}   wall / replay")
    baseline = 0.0
    for command in commands:
        walls, cpus = command.walls[here.name], command.cpus[here.name]
        median = statistics.median(walls)
        if command.argv[0] == "replay":
            baseline = median
        print(
            f"{command.label:40}{median:8.2f} [{min(walls):5.2f}-{max(walls):5.2f}] "
            f"{statistics.median(cpus):7.2f}   {median / baseline:8.1f}x"
        )


if __name__ == "__main__":
    main()
