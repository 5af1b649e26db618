"""The house's layout (shared/STYLE.md): one concern a folder, imports pointing one way, no file
over 800 lines, and no I/O in the parts that decide."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sensorhub

PACKAGE = Path(sensorhub.__file__).parent
SIMULATORS = PACKAGE.parents[1] / "simulators"
#: Each part may import only the parts before it (data flows one way).
LAYERS = (
    "contract",
    "durations",
    "text",
    "jit",
    "codec",
    "sources",
    "rules",
    "core",
    "routing",
    "espa",
    "engine",
    "store",
    "io",
    "evaluation",
    "testing",
    "board",
    "commands",
    "cli",
    "__main__",
)
#: The parts that decide: no clock, socket, broker, metric or thread in them.
SANS_IO = ("sources", "core", "routing", "espa", "engine")
IO_MODULES = {"time", "socket", "threading", "paho", "prometheus_client", "subprocess", "psycopg"}
#: The compile step (``python -m sensorhub.core.warm``) times itself; it decides nothing.
SANS_IO_EXCEPTIONS = {"core/warm.py"}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_a_part_imports_only_the_parts_before_it(path: Path) -> None:
    part = _part(path)
    allowed = set(LAYERS[: LAYERS.index(part) + 1])
    used = {name.split(".")[1] for name in _imports(path) if name.startswith("sensorhub.")}
    assert used <= allowed, f"{part} imports {sorted(used - allowed)}"


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if _part(p) in SANS_IO],
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_the_parts_that_decide_do_no_io(path: Path) -> None:
    if path.relative_to(PACKAGE).as_posix() in SANS_IO_EXCEPTIONS:
        return
    roots = {name.split(".")[0] for name in _imports(path)}
    assert not roots & IO_MODULES


def test_no_source_file_is_over_800_lines() -> None:
    files = [*PACKAGE.rglob("*.py"), *SIMULATORS.rglob("*.py")]
    long = {
        f.as_posix(): n
        for f in files
        if (n := len(f.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert long == {}


def test_only_the_demo_command_imports_the_simulators() -> None:
    """The wheel ships ``simulators`` for the demo; nothing else of the installed package needs
    it (and cli.py imports a command's module only when that command runs)."""
    importers = {
        p.relative_to(PACKAGE).as_posix()
        for p in SOURCES
        if any(name.split(".")[0] == "simulators" for name in _imports(p))
    }
    assert importers <= {"commands/demo.py"}
