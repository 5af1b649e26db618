"""The kernel's state: the arrays every kernel takes, as one ``State`` (a numba ``StructRef``).

One row per room in ``ri`` (int64) and ``rf`` (float64), one row per device in ``di`` and
``df``, the room parameters in ``rp``, the evidence lists' node pool in ``nodes``, the output
records in ``out_i``/``out_f`` and the evidence of pages in ``ev_out``, the counters in
``cnt``, the night tables in ``night_b``/``night_off`` and scratch lists in ``scratch``; their
column numbers are in ``layout``.
"""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from numba.core import cgutils, types
from numba.experimental import structref
from numba.extending import intrinsic

from sensorhub.core.kernel.layout import F64, I64
from sensorhub.jit import DISABLED, jit

STATE_FIELDS: Final = (
    "ri",
    "rf",
    "di",
    "df",
    "rp",
    "nodes",
    "out_i",
    "out_f",
    "ev_out",
    "cnt",
    "night_b",
    "night_off",
    "scratch",
)


class State:
    """All kernel state: the arrays named in ``STATE_FIELDS`` (see the module docstring).

    Compiled, it is a numba ``StructRef`` (``make_state``): the kernels pass one pointer
    instead of a tuple of thirteen arrays, whose reference counting at every call cost more
    than the decisions. Its arrays are not counted either: the Python proxy owns them (see
    ``_unowned``). Under ``NUMBA_DISABLE_JIT`` it is this plain class.
    """

    ri: I64
    rf: F64
    di: I64
    df: F64
    rp: F64
    nodes: I64
    out_i: I64
    out_f: F64
    ev_out: I64
    cnt: I64
    night_b: F64
    night_off: I64
    scratch: I64

    def __init__(self, *arrays: Any) -> None:
        for name, array in zip(STATE_FIELDS, arrays, strict=True):
            setattr(self, name, array)


_numba_types: Any = types  # numba's own annotations are partial: keep mypy out
_numba_structref: Any = structref
_numba_intrinsic: Any = intrinsic
_numba_cgutils: Any = cgutils


@_numba_structref.register
class _StateType(_numba_types.StructRef):  # type: ignore[misc]
    """The numba type of the compiled ``State`` (module level, so that the cache finds it)."""

    def preprocess_fields(self, fields: Any) -> Any:
        return tuple((name, _numba_types.unliteral(typ)) for name, typ in fields)


class _StateProxy(_numba_structref.StructRefProxy):  # type: ignore[misc]
    """The compiled ``State`` as Python sees it: the arrays are its attributes, as ``State``'s
    (set by ``make_state``), and they keep alive the arrays its struct views."""


_numba_structref.define_proxy(_StateProxy, _StateType, list(STATE_FIELDS))


def _unowned_typed(typingctx: Any, array: Any) -> Any:
    """``_unowned``: ``array`` without its meminfo: a view that numba counts no references on.

    Every ``s.ri`` in a kernel took a reference to the array and dropped it at the end: two
    atomic operations, tens of them for an event that goes through ``_decide`` (a call per
    helper, each reading its arrays again). The State's proxy holds the arrays instead, for as
    long as the State lives (``make_state``)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        view = context.make_array(signature.args[0])(context, builder, value=args[0])
        view.meminfo = _numba_cgutils.get_null_value(view.meminfo.type)
        return view._getvalue()

    return array(array), codegen


_unowned: Callable[[Any], Any] = _numba_intrinsic(_unowned_typed)


@jit
def _unowned_state(
    ri: I64,
    rf: F64,
    di: I64,
    df: F64,
    rp: F64,
    nodes: I64,
    out_i: I64,
    out_f: F64,
    ev_out: I64,
    cnt: I64,
    night_b: F64,
    night_off: I64,
    scratch: I64,
) -> State:
    return _StateProxy(
        _unowned(ri),
        _unowned(rf),
        _unowned(di),
        _unowned(df),
        _unowned(rp),
        _unowned(nodes),
        _unowned(out_i),
        _unowned(out_f),
        _unowned(ev_out),
        _unowned(cnt),
        _unowned(night_b),
        _unowned(night_off),
        _unowned(scratch),
    )


def _make_state(*arrays: Any) -> State:
    state = _unowned_state(*arrays)
    for name, array in zip(STATE_FIELDS, arrays, strict=True):
        setattr(state, name, array)  # the struct's arrays are views that own nothing
    return state


#: Makes the ``State`` the kernels take from the arrays of ``STATE_FIELDS``, in that order.
make_state: Callable[..., State] = State if DISABLED else _make_state
