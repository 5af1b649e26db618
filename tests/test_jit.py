"""numba's cache of the project's compiled functions is stamped with all the sources compiled
code can reach, not only each function's own file (numba issue #1833)."""

from __future__ import annotations

from pathlib import Path

from sensorhub.core import kernel
from sensorhub.jit import sources_stamp


def _package(root: Path) -> Path:
    for name, text in {
        "core/kernel/events.py": "A = 1\n",
        "core/fast.py": "B = 1\n",
        "codec/scan.py": "C = 1\n",
        "contract.py": "D = 1\n",
        "jit.py": "F = 1\n",
        "commands/serve.py": "E = 1\n",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_change_to_any_compiled_source_changes_every_functions_stamp(tmp_path: Path) -> None:
    package = _package(tmp_path)
    before = sources_stamp(package)
    assert sources_stamp(package) == before
    for name in ("core/kernel/events.py", "codec/scan.py", "contract.py", "jit.py"):
        (package / name).write_text((package / name).read_text() + "# edited\n")
        after = sources_stamp(package)
        assert after != before, name
        before = after


def test_a_change_outside_the_compiled_sources_keeps_the_cache(tmp_path: Path) -> None:
    package = _package(tmp_path)
    before = sources_stamp(package)
    (package / "commands/serve.py").write_text("E = 2\n")
    assert sources_stamp(package) == before


def test_the_kernel_is_cached_by_the_projects_locator() -> None:
    locator = kernel._run._cache._impl._locator  # numba's internals, as jit.py uses them
    assert type(locator).__name__.startswith("Project")
