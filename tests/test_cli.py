"""The ``sensorhub`` command line: it imports only the module of the command it names.

The light commands (help, ``rules check``, ``mute``, ``unmute``, ``silences``) run each in a
process of its own, as a user types them (``python -m sensorhub``, with ``-X importtime``,
which lists every module the process imports): none imports numba, pyarrow or matplotlib.
Nothing here is timed; ``benchmarks/startup.py`` times them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sensorhub import cli
from sensorhub.store import STORE_ENV, open_store

REPO = Path(__file__).parents[1]
EXAMPLE = REPO / "rules" / "example-site.yaml"
#: Slow imports the light commands do without.
HEAVY = ("numba", "pyarrow", "matplotlib")
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


def sensorhub(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, set[str]]:
    """Run ``python -m sensorhub ARGV`` in a fresh process: (exit status, stdout, the
    top-level packages it imported)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sensorhub", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    imported = {name.split(".")[0] for name in _IMPORTED.findall(done.stderr)}
    assert "sensorhub" in imported, done.stderr[-2000:]  # -X importtime did list the imports
    return done.returncode, done.stdout, imported


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An empty store, as `sensorhub serve` leaves it, named by $SENSORHUB_STORE."""
    path = tmp_path / "sensorhub.db"
    open_store(f"sqlite:///{path}").close()
    return {**os.environ, STORE_ENV: f"sqlite:///{path}", "USER": "jan"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["rules", "--help"],
        ["rules", "check", "--help"],
        ["mute", "--help"],
        ["unmute", "--help"],
        ["silences", "--help"],
        ["--log-level", "DEBUG", "silences", "--help"],
    ],
)
def test_help_imports_neither_numba_nor_pyarrow_nor_matplotlib(argv: list[str]) -> None:
    status, out, imported = sensorhub(*argv)
    assert status == 0
    assert "sensorhub" in out
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_the_top_level_help_lists_every_command_without_importing_any() -> None:
    status, out, imported = sensorhub("--help")
    assert status == 0
    for name, (_, help_text) in cli.COMMANDS.items():
        assert re.search(rf"^\s+{name}\s", out, re.MULTILINE), name
        assert help_text.split()[0] in out
    assert "rules" in out
    assert imported.isdisjoint({"yaml", "pydantic", "numpy", *HEAVY})


def test_rules_check_imports_neither_numba_nor_pyarrow_nor_matplotlib() -> None:
    status, out, imported = sensorhub("rules", "check", str(EXAMPLE))
    assert status == 0
    assert out.splitlines() == [f"{EXAMPLE}: OK (1 site, 7 rooms)"]
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_mute_silences_and_unmute_import_neither_numba_nor_pyarrow_nor_matplotlib(
    env: dict[str, str],
) -> None:
    status, out, imported = sensorhub(
        "mute", "--site", "zon", "--room", "101", "--for", "1h", "--reason", "mat", env=env
    )
    assert status == 0, out
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)
    assert "yaml" not in imported  # the rule files' loader only with --rules
    [silence] = [line.split()[-1] for line in out.splitlines() if line.startswith("silence id")]

    status, out, imported = sensorhub("silences", env=env)
    assert status == 0
    assert silence in out
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)

    status, out, imported = sensorhub("unmute", silence, env=env)
    assert status == 0
    assert out.startswith("unmuted ")
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)

    status, out, imported = sensorhub(
        "mute",
        *("--site", "zonnebloem", "--device", "cam-101", "--for", "2h", "--reason", "new"),
        *("--rules", str(EXAMPLE)),
        env=env,
    )
    assert status == 0, out
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_a_replay_of_jsonl_does_not_import_pyarrow(tmp_path: Path) -> None:
    """pyarrow is for Parquet recordings only."""
    recording = tmp_path / "night.jsonl"
    recording.write_text(
        '{"ts": 1795206608.0, "site": "zon", "room": "101", "kind": "call", "device": "b",'
        ' "event": "pressed", "id": "e1"}\n',
        encoding="utf-8",
    )
    pages = tmp_path / "pages.jsonl"
    status, out, imported = sensorhub("replay", str(recording), "--pages", str(pages))
    assert status == 0
    assert "events        1 of 1 lines" in out
    assert pages.read_text(encoding="utf-8").count("\n") >= 1  # the call paged
    assert "numba" in imported
    assert "pyarrow" not in imported


# -- the parser ----------------------------------------------------------------------------


def test_the_parser_for_a_command_line_has_that_command_in_full_and_the_others_by_name() -> None:
    every = cli.build_parser()
    for argv in (["--help"], ["silences"], ["rules", "check", "x.yaml"], ["bogus"], []):
        assert cli.build_parser(argv).format_help() == every.format_help()
    args = cli.build_parser(["silences", "--all"]).parse_args(["silences", "--all"])
    assert args.all is True
    assert args.run is cli.importlib.import_module("sensorhub.commands.mute").silences.run


@pytest.mark.parametrize(
    ("argv", "named", "rest"),
    [
        (["silences", "--all"], "silences", ["--all"]),
        (["--log-level", "DEBUG", "silences"], "silences", []),
        (["--log-level=DEBUG", "silences"], "silences", []),
        (["--log", "DEBUG", "silences"], "silences", []),  # argparse takes abbreviations
        (["-h"], None, []),
        (["--version", "replay", "x"], "replay", ["x"]),
        (["--", "mute", "--site", "s"], "mute", ["--site", "s"]),
        (["rules", "check", "f.yaml"], "rules", ["check", "f.yaml"]),
        ([], None, []),
    ],
)
def test_the_command_named_is_found_as_argparse_finds_it(
    argv: list[str], named: str | None, rest: list[str]
) -> None:
    assert cli._named(argv, ("--log-level",)) == (named, rest)


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "WARNING", "rules", "check", str(EXAMPLE)],
        ["--log", "WARNING", "rules", "check", str(EXAMPLE)],
        ["--log-level=WARNING", "rules", "check", str(EXAMPLE)],
    ],
)
def test_options_before_the_command_still_reach_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.strip() == f"{EXAMPLE}: OK (1 site, 7 rooms)"
