"""numba's flags, and the decorators that apply them: the one place they are set.

Every compiled function of the project (the kernel, ``core/arrival.py``, ``codec/columns.py``,
``codec/hashtable.py``, ``codec/scan.py``, ``codec/columnar.py``, ``codec/rows.py``) is decorated
with one of these, never with ``numba.njit`` itself. They all share the same flags:

- ``cache=True``: the second start pays no JIT (numba's cache sits in the ``__pycache__`` next
  to each source file, or under ``NUMBA_CACHE_DIR``, one entry per function);
- ``fastmath=False``: exact float semantics, the numbers round as Python's. Every decision
  compares times and levels, and the policy relies on NaN comparing false (a sound with no
  level is not loud, no loud run has no start), which fastmath may assume away;
- ``nogil=True``: a batch may run beside the I/O threads.

``hot`` adds IR inlining and ``parallel_jit`` numba's parallel loops, each for a reason of its
own (see them); the flags above are the same for all three.

numba's cache checks a function against its own source file only: a cached function would not
notice that a compiled function it calls, or a constant it reads, changed in *another* file
(numba issue #1833; the callee's code is compiled into the caller). So the project's compiled
functions are cached against all the sources compiled code can reach (``COMPILED_SOURCES``): a
change to any of them compiles everything again, once, as a change to one file did when the
kernel was one file. ``_ProjectLocator`` does it, through numba's list of cache locators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import numba
from numba.core import caching

_F = TypeVar("_F", bound=Callable[..., Any])

#: The flags of every compiled function (see the module docstring).
FLAGS: Final[dict[str, Any]] = {"cache": True, "fastmath": False, "nogil": True}

#: numba runs the compiled functions as Python (``NUMBA_DISABLE_JIT``: the coverage run).
DISABLED: Final = bool(getattr(numba.config, "DISABLE_JIT", False))


#: The sources whose code or constants compiled code reaches: the core (the kernel, its driver
#: and the columns), the codec's compiled tiers, and the contract's vocabulary codes.
_PACKAGE: Final = Path(__file__).resolve().parent
COMPILED_SOURCES: Final = ("core", "codec", "contract.py", "jit.py")


def sources_stamp(package: Path) -> str:
    """A digest of every file of ``COMPILED_SOURCES`` in ``package``."""
    digest = hashlib.sha256()
    for name in COMPILED_SOURCES:
        top = package / name
        for path in sorted(top.rglob("*.py")) if top.is_dir() else [top]:
            digest.update(path.relative_to(package).as_posix().encode("utf-8"))
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@cache
def project_stamp() -> str:
    """numba's source stamp of each of the project's compiled functions: the digest of this
    sensorhub's compiled sources, read once a process."""
    return sources_stamp(_PACKAGE)


def _project_locators() -> None:
    """Put, before each of numba's cache locators, one that does the same for the project's
    own files but stamps them with :func:`project_stamp` as well (see the module docstring).
    numba's locators are its internals: where they are not as this numba has them, the cache
    is numba's own (and an edit across files needs the cache deleted by hand)."""
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    originals = list(getattr(impl, "_locator_classes", ()))
    if impl is None or not originals or getattr(impl, "_sensorhub", False):
        return

    def wrapped(base: type) -> type:
        class Locator(base):  # type: ignore[misc]
            def get_source_stamp(self) -> Any:
                return (super().get_source_stamp(), project_stamp())

            @classmethod
            def from_function(cls, py_func: Any, py_file: str) -> Any:
                if not Path(py_file).resolve().is_relative_to(_PACKAGE):
                    return None
                return super().from_function(py_func, py_file)

        Locator.__name__ = Locator.__qualname__ = f"Project{base.__name__}"
        return Locator

    impl._locator_classes = [*map(wrapped, originals), *originals]
    impl._sensorhub = True


_project_locators()


def jit(fn: _F) -> _F:
    """Compile ``fn`` with the project's numba flags."""
    return cast(_F, numba.njit(**FLAGS)(fn))


def hot(fn: _F) -> _F:
    """``jit``, and compiled into every caller (numba IR inlining: ``inline="always"``): for
    the few small helpers on every event's path, where a call costs more than the helper's
    work (a call that takes an array counts a reference to it)."""
    return cast(_F, numba.njit(**FLAGS, inline="always")(fn))


def parallel_jit(fn: _F) -> _F:
    """``jit`` with numba's parallel loops (``parallel=True``, ``numba.prange``): for the one
    entry that runs room partitions on numba's threads (``kernel.drivers._run_parts``)."""
    return cast(_F, numba.njit(**FLAGS, parallel=True)(fn))
