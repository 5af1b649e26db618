"""The compiled classification core: the care policy of ``classifier.py`` as numba kernels.

The pure-Python ``Classifier`` is the specification; this package decides the same things over
columnar batches and per-room state arrays, with no Python object per event. Event-time order
and the watermark are the driver's business (``fast.py``): the kernel is handed a *plan*, the
events of a batch in the order the reference decides them, each with its decision time.

Rooms never interact, so timers are fixed slots per room (fall, absent, bed_mat, door) and per
device (silent, obstructed) instead of a heap: before an event of room ``r`` is decided, the
timers *of room r* that the reference would have fired first are fired, in (due, creation)
order; at the end of a batch every timer up to the watermark is fired, room by room.

State layout: one row per room in ``ri`` (int64) and ``rf`` (float64), one row per device in
``di`` and ``df``; the column numbers are the ``RI_*``/``RF_*``/``DI_*``/``DF_*`` constants.
Evidence (the event ids a page carries) lives in singly linked lists in a node pool
(``nodes``: event sequence number, next); a list is three columns (head, tail, length).
Decisions come out as rows of ``out_i``/``out_f`` (the ``O_*``/``OF_*`` columns) plus the
evidence of pages in ``ev_out``; the driver turns them into ``Page`` and ``AuditRecord``.

The kernel never grows an array: it stops before an item when an output or the node pool could
run short and returns where it stopped; the driver grows the arrays and calls again.

The modules, each calling only those above it:

- ``layout``: the vocabulary as small integers and the column numbers (constants only);
- ``state``: ``State``, the arrays every kernel takes, and ``make_state``;
- ``records``: sequence numbers, evidence lists, output records, pending slots;
- ``rooms``: what the kernel asks of a room (night, staff present, a working camera, ...);
- ``incidents``: raising, resolving and cancelling incidents, device faults;
- ``events``: deciding one event (``_decide`` and the handler of each kind);
- ``timers``: a room's next timer, firing it, firing a room's timers;
- ``drivers``: ``_run`` (a batch's plan, the simple events on a fast path), ``_fire_all``,
  the room partitions on numba's threads;
- ``planning``: the plan of a batch;
- ``api``: the checked entries called from Python.

This package re-exports what its users (``fast.py``, ``arrival.py``, ``records.py``, the tests,
the benchmarks) take from it as ``kernel.X``: every constant of ``layout``, the state, the
checked entries, and the few compiled functions the driver calls directly. numba's flags are in
``sensorhub.jit``.

numba caches every compiled function apart, and a cached function does not notice a change
in another module that it calls or reads constants from (see ``sensorhub.jit``): after
editing a module of the kernel, delete the cache before testing or timing the change.
"""

from __future__ import annotations

from sensorhub.core.kernel.api import Plan as Plan
from sensorhub.core.kernel.api import check_columns as check_columns
from sensorhub.core.kernel.api import fire_all as fire_all
from sensorhub.core.kernel.api import fire_room as fire_room
from sensorhub.core.kernel.api import live_seqs as live_seqs
from sensorhub.core.kernel.api import partition_plan as partition_plan
from sensorhub.core.kernel.api import plan as plan
from sensorhub.core.kernel.api import run as run
from sensorhub.core.kernel.api import run_parallel as run_parallel
from sensorhub.core.kernel.drivers import EventArrays as EventArrays
from sensorhub.core.kernel.drivers import _fire_all as _fire_all
from sensorhub.core.kernel.drivers import _run as _run
from sensorhub.core.kernel.layout import *  # noqa: F403 - the vocabulary and columns, as kernel.X
from sensorhub.core.kernel.planning import PLAN_MOVES as PLAN_MOVES
from sensorhub.core.kernel.planning import _plan as _plan
from sensorhub.core.kernel.planning import _plan_into as _plan_into
from sensorhub.core.kernel.records import _live_seqs as _live_seqs
from sensorhub.core.kernel.rooms import _staff_present as _staff_present
from sensorhub.core.kernel.state import STATE_FIELDS as STATE_FIELDS
from sensorhub.core.kernel.state import State as State
from sensorhub.core.kernel.state import make_state as make_state
