"""numba's flags, and the decorators that apply them: the one place they are set.

Every compiled function of the project (the kernel, ``core/fast.py``, ``core/columns.py``,
``core/hashtable.py``, ``codec/scan.py``, ``codec/columnar.py``, ``codec/rows.py``) is decorated
with one of these, never with ``numba.njit`` itself. They all share the same flags:

- ``cache=True``: the second start pays no JIT (numba's cache sits in the ``__pycache__`` next
  to each source file, or under ``NUMBA_CACHE_DIR``, one entry per function);
- ``fastmath=False``: exact float semantics, the numbers round as Python's. Every decision
  compares times and levels, and the policy relies on NaN comparing false (a sound with no
  level is not loud, no loud run has no start), which fastmath may assume away;
- ``nogil=True``: a batch may run beside the I/O threads.

``hot`` adds IR inlining and ``parallel_jit`` numba's parallel loops, each for a reason of its
own (see them); the flags above are the same for all three.

numba's cache checks a function against its own source file only: a cached function does not
notice that a compiled function it calls, or a constant it reads, changed in *another* file
(numba issue #1833). The callee's code is compiled into the caller, so after an edit of, say,
``kernel/events.py``, ``kernel/drivers.py``'s ``_run`` still runs the old ``_decide`` from
its cache. After editing compiled code, delete the cache (``find src -name '*.nb[ic]'
-delete``, or the folder ``NUMBA_CACHE_DIR`` points at) before testing or timing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba

_F = TypeVar("_F", bound=Callable[..., Any])

#: The flags of every compiled function (see the module docstring).
FLAGS: Final[dict[str, Any]] = {"cache": True, "fastmath": False, "nogil": True}

#: numba runs the compiled functions as Python (``NUMBA_DISABLE_JIT``: the coverage run).
DISABLED: Final = bool(getattr(numba.config, "DISABLE_JIT", False))


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
