"""``FastClassifier``: the reference ``Classifier``'s interface and decisions, on the numba core.

The driver keeps what the reference keeps outside its rooms, in Python and numpy: the ids seen
for redelivery checks (``seen.SeenIds``: a whole batch checked in one compiled pass), the
event clock (latest event time, watermark, lateness) and the reorder buffer. For a
batch of events in arrival order it works out, with whole-array operations, which events the
reference would decide in order and which on arrival (late), and in which order and at which
time; the kernel (``kernel/``) then decides them against the per-room state arrays and fires
the rooms' timers, and the driver turns the kernel's decision records into incidents and
``AuditRecord`` objects with the reference's texts.

Resident calls are paged on arrival, as in the reference: the batch is cut before each press so
that the on-arrival check sees the in-order state the reference would see at that moment.

What differs from the reference, on purpose: pages and audit records of different rooms may
come in another order within one ``Step`` (each room's own order is the reference's), and the
audit records of redeliveries come first in a ``Step``.

Beside this module: ``clock.EventClock`` (``tick``, ``drain``, the ``Step`` handed over, as in
the reference), ``arrival.py`` (the compiled check of a press paged on arrival), ``records.py``
(the kernel's decision records read back: incident ids, events, the audit texts) and
``eventlog.py`` (the refs of the events that may still be named as evidence).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sensorhub.codec.columns import EventColumns, Redeliveries, Registry, empty_columns
from sensorhub.contract import INCIDENT_KINDS, KINDS, MAX_LATENESS, Event
from sensorhub.core import kernel as k
from sensorhub.core import reasons, records
from sensorhub.core.arrival import Waiting, group_by_room, page_on_arrival
from sensorhub.core.care import incident_id
from sensorhub.core.clock import DEDUP_WINDOW, EventClock
from sensorhub.core.eventlog import EventLog
from sensorhub.core.night import NightTables
from sensorhub.core.seen import SeenIds
from sensorhub.core.types import (
    AuditRecord,
    Evidence,
    Opened,
    Resolved,
    RoomReload,
    Step,
)
from sensorhub.jit import DISABLED
from sensorhub.rules.policy import Policy, RoomPolicy, room_differences

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: The event log is pruned once it holds this many batches or this many events (and then again
#: at twice what pruning left): few batches when they are large (replay's), few events' worth
#: of batch lists when they are small (live micro-batches).
LOG_BATCHES: Final = 64
LOG_EVENTS: Final = 1 << 16
#: Plans of at least this many events are made into arrays kept from batch to batch
PLAN_SCRATCH_MIN: Final = 1 << 12
#: The kernel's outputs (and their dtypes): written by a call and read and emptied after it, so
#: between calls a snapshot keeps only their shapes.
_OUTPUTS: Final = {"_out_i": np.int64, "_out_f": np.float64, "_ev_out": np.int64}


def _grow(array: Any, rows: int, fill: float | int) -> Any:
    """``array`` with at least ``rows`` rows (doubling), new rows set to ``fill``."""
    if array.shape[0] >= rows:
        return array
    size = max(rows, 2 * array.shape[0])
    grown = np.full((size, *array.shape[1:]), fill, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


class FastClassifier(EventClock):
    """The reference ``Classifier`` on the compiled core: same interface, same decisions.

    Beyond ``push``/``tick``/``drain``, ``push_batch(columns)`` takes a whole batch of events in
    arrival order as ``EventColumns`` built against ``self.registry``. With ``audit=False`` no
    audit records are made (``replay`` and ``serve`` without ``--audit``), which saves a Python
    object per event: the kernel keeps only the records of incidents, which become the
    ``Step``'s incidents either way.

    Live use: ``push`` of one event costs tens of microseconds of Python around the kernel
    (numpy on one row, the calls into numba); a service should hand over what has arrived as
    one ``push_batch`` (a micro-batch of 1-500 events decides the same as ``push`` of each, at a
    fraction of the cost per event: see docs/benchmarks.md).

    It pickles like the reference: ``pickle.loads(pickle.dumps(c))`` (policy, registry, state
    arrays, buffer and timers included) decides from there on exactly as ``c`` would.
    """

    #: With audit on, only these (site, room) get audit records (None: every room); see
    #: :meth:`set_audit`. A class default, so a snapshot made before it existed still loads.
    audit_rooms: frozenset[tuple[str, str]] | None = None

    def __init__(
        self,
        policy: Policy,
        *,
        lateness: float = MAX_LATENESS,
        audit: bool = True,
    ) -> None:
        super().__init__(lateness)
        self.policy = policy
        self.registry = Registry()
        self._policies: list[RoomPolicy] = []
        self._nights = NightTables()
        self._n_devices = 0
        self._ri = np.zeros((0, k.N_RI), dtype=np.int64)
        self._rf = np.zeros((0, k.N_RF), dtype=np.float64)
        self._rp = np.zeros((0, k.N_RP), dtype=np.float64)
        self._di = np.zeros((0, k.N_DI), dtype=np.int64)
        self._df = np.zeros((0, k.N_DF), dtype=np.float64)
        self._nodes = np.zeros((0, 2), dtype=np.int64)
        self._out_i = np.zeros((4 * k.OUT_RESERVE, k.N_OI), dtype=np.int64)
        self._out_f = np.zeros((4 * k.OUT_RESERVE, k.N_OF), dtype=np.float64)
        self._ev_out = np.zeros(4 * k.OUT_RESERVE, dtype=np.int64)
        self._cnt = np.zeros(k.N_CNT, dtype=np.int64)
        self._cnt[k.C_FREE_HEAD] = -1
        self.set_audit(audit)
        self._scratch = np.full((4, 3), -1, dtype=np.int64)
        self._scratch[:, 2] = 0
        self._grow_nodes(4 * k.OUT_RESERVE)
        self._buf = empty_columns()
        self._buf_seq = np.zeros(0, dtype=np.int64)
        self._seq = 0
        self._seen_ids = SeenIds(DEDUP_WINDOW)
        self._log = EventLog(self.registry)
        self._prune_at = (LOG_BATCHES, LOG_EVENTS)  # batches, events
        self._state_ids: tuple[int, ...] = ()
        self._state_made: k.State | None = None
        self._plan_work: tuple[I64, F64, npt.NDArray[np.bool_]] | None = None

    # -- snapshots --------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the kernel's compiled view of the arrays (made again on use); the
        event log pruned first, as small as it can be (``serve`` saves this every 30 s, and
        the log can hold a hundred thousand events between its prunings)."""
        self._prune_log(force=True)
        state = dict(self.__dict__)
        state["_state_made"] = None
        state["_state_ids"] = ()
        state["_plan_work"] = None  # scratch
        if not (self._cnt[k.C_NOUT] or self._cnt[k.C_NEV]):
            for name in _OUTPUTS:  # the kernel's outputs, read after each call: their shape
                state[name] = getattr(self, name).shape
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name, dtype in _OUTPUTS.items():
            shape = state[name]
            if isinstance(shape, tuple):
                setattr(self, name, np.zeros(shape, dtype=dtype))

    def set_audit(self, audit: bool, rooms: Iterable[tuple[str, str]] | None = None) -> None:
        """Whether to make audit records from now on (as the constructor's ``audit``);
        ``rooms``: of these (site, room) only (``rules compare`` explains the pages of a few
        rooms: a Python object per event of every other room would cost it most of its time).
        Redeliveries, which name no room, are audited either way."""
        self.audit = audit
        self.audit_rooms = None if rooms is None else frozenset(rooms)
        # without an audit trail, the kernel keeps only the records of incidents
        self._cnt[k.C_AUDIT] = 1 if audit else 0

    def _audits(self, policy: RoomPolicy) -> bool:
        """Whether the decisions of ``policy``'s room get audit records (with audit on)."""
        rooms = self.audit_rooms
        return rooms is None or (policy.site, policy.room) in rooms

    def set_policy(self, policy: Policy) -> list[RoomReload]:
        """As the reference's: rooms whose parameters changed decide by the new ones from now
        on, their pending decisions keep their due times and are returned with them."""
        reloaded: list[RoomReload] = []
        for r, old in enumerate(self._policies):
            new = policy.room(old.site, old.room)
            changed = room_differences(old, new)
            self._policies[r] = new
            self._rp[r] = _parameters(new, self._nights.table(new))
            if not changed:
                continue
            pending = sorted(
                (
                    int(self._ri[r, k.RI_PEND_SEQ + p]),
                    k.PENDING_NAMES[p],
                    float(self._rf[r, k.RF_PEND_DUE + p]),
                )
                for p in range(k.N_PEND)
                if self._ri[r, k.RI_PEND_ON + p] == 1
            )
            reloaded.append(
                RoomReload(
                    old.site, old.room, tuple(changed), tuple((name, at) for _, name, at in pending)
                )
            )
        self.policy = policy
        return reloaded

    # -- the reference's interface --------------------------------------------------------

    @property
    def raw_alarms(self) -> int:
        """How many alarms a conventional system would have sounded so far."""
        return int(self._cnt[k.C_RAW])

    @property
    def buffered(self) -> int:
        """Events received but not yet decided."""
        return len(self._buf)

    @property
    def next_seq(self) -> int:
        """The sequence number the next event pushed gets (``push_batch``: the first of them)."""
        return self._seq

    def push(self, event: Event) -> Step:
        event.seq = self._seq
        return self.push_batch(EventColumns.from_events([event], self.registry))

    def push_batch(self, columns: EventColumns) -> Step:
        """Events in arrival order: the same as ``push`` of each, in one pass."""
        return self.push_checked(columns, self.check_redeliveries(columns))

    def check_redeliveries(self, columns: EventColumns) -> Redeliveries:
        """The first step of ``push_batch`` on its own: which events of the batch are new
        (``None``: all of them), the new ids remembered. It touches nothing but the ids seen,
        so it may run on another thread while an earlier batch is decided (its compiled pass
        lets go of the GIL); each batch must be checked once, in arrival order, and then be
        handed to ``push_checked`` with the result, in the same order."""
        k.check_columns(columns.ts, columns.room, columns.device, columns.code, columns.value)
        ids = columns.ids
        if ids is None or len(columns) == 0:
            return None
        return self._seen_ids.check(columns.device, columns.ts, ids)

    def push_checked(self, columns: EventColumns, new: Redeliveries) -> Step:
        """``push_batch`` of a batch whose redeliveries ``check_redeliveries`` found."""
        n = len(columns)
        if n == 0:
            return self._take()
        self._sync_registry()
        seq = np.arange(self._seq, self._seq + n, dtype=np.int64)
        self._log.add(self._seq, columns)
        self._seq += n
        keep = self._redeliveries(columns, new)
        if keep is None:  # the usual case: every event new, nothing copied
            self._decide_batch(columns, seq)
        else:
            kept = np.flatnonzero(keep)
            self._decide_batch(columns.take(kept), seq[kept])
        return self._take()

    # -- the event clock ------------------------------------------------------------------

    def _redeliveries(self, columns: EventColumns, keep: Redeliveries) -> Redeliveries:
        """Counts and audits the redeliveries (``keep`` False) of ``columns``; ``keep``."""
        ids = columns.ids
        if keep is None or ids is None:
            return None
        repeated = np.flatnonzero(~keep)
        self.duplicates += len(repeated)
        if self.audit:
            for i in repeated.tolist():
                event_id = ids[i]
                assert event_id is not None  # noqa: S101 - only events with an id repeat
                self._step.audit.append(
                    AuditRecord(
                        ts=float(columns.ts[i]),
                        decision="ignored",
                        reason=reasons.redelivery(event_id),
                        event=records.event_of(columns, i, self.registry),
                    )
                )
        return keep

    def _decide_batch(self, new: EventColumns, new_seq: I64) -> None:
        """Everything ``push`` of each event of ``new`` would decide, in the reference's order
        within each room."""
        lateness = self.lateness
        nk = len(new)
        if nk == 0:
            return
        if nk == 1:  # push: the same with scalars, cheaper than numpy on one row
            ts0 = float(new.ts[0])
            max_ts = max(self._max_ts, ts0)
            before = max(self._clock, self._max_ts - lateness)
            clock_before = np.array([before])
            late = np.array([ts0 < before])
            watermark = np.array([max_ts - lateness])
        else:
            peak = np.maximum.accumulate(np.concatenate([[self._max_ts], new.ts]))
            max_ts = float(peak[-1])
            clock_before = np.maximum(self._clock, peak[:-1] - lateness)
            late = new.ts < clock_before
            watermark = peak[1:] - lateness  # after each push
        clock_after = max(self._clock, float(watermark[-1]))
        if not self.audit:  # ids and payloads serve the audit records only (refs: the log)
            new = EventColumns(new.ts, new.room, new.device, new.code, new.value, new.confidence)
        # everything undecided: the buffer (in time order) first, then the batch
        both = self._buf.joined(new)
        both_seq = np.concatenate([self._buf_seq, new_seq]) if len(self._buf) else new_seq
        nb = len(self._buf)
        order, plan_t, plan_late, plan_round, released_at, decided = self._plan(
            both.ts, nb, late, watermark, clock_before
        )
        n_late = int(np.count_nonzero(late))
        self.late_events += n_late
        self._max_ts = max_ts
        if decided:  # the night tables, for every time decided now (not again per call cut)
            self._cover(float(plan_t[:decided].min()), float(plan_t[:decided].max()))

        # resident calls are paged on arrival: cut the plan before each press
        start = 0
        presses = np.flatnonzero(new.code == k.E_CALL_PRESSED)
        if n_late and len(presses):
            presses = presses[~late[presses]]
        if len(presses):  # each room's events, by position: one pass, not one per press
            by_room, room_start = group_by_room(both.room, len(self._policies))
            waiting = Waiting(by_room, room_start, released_at, late)
        cuts = np.searchsorted(plan_round[:decided], presses, side="left").tolist()
        for a, cut in zip(presses.tolist(), cuts, strict=True):
            self._run(
                both, both_seq, order, plan_t=plan_t, plan_late=plan_late, start=start, stop=cut
            )
            start = cut
            self._page_call_on_arrival(
                new,
                new_seq,
                a,
                clock=float(clock_before[a]),
                both=both,
                both_seq=both_seq,
                waiting=waiting,
            )
        self._run(
            both, both_seq, order, plan_t=plan_t, plan_late=plan_late, start=start, stop=decided
        )
        self._fire_all(clock_after, both, both_seq)
        self._clock = clock_after
        undecided = order[decided:]  # in time order: the buffer stays sorted
        self._buf = both.kept(undecided)
        self._buf_seq = both_seq[undecided]
        self._prune_log()

    def _plan(
        self,
        ts: F64,
        n_buf: int,
        late: npt.NDArray[np.bool_],
        watermark: F64,
        clock_before: F64,
    ) -> tuple[I64, F64, npt.NDArray[np.bool_], I64, I64, int]:
        """``kernel._plan`` into arrays kept from batch to batch (views of their first rows:
        valid until the next batch's plan)."""
        n = ts.shape[0]
        if n < PLAN_SCRATCH_MIN:  # small (live micro-batches, push): fresh arrays cost less
            return k._plan(ts, n_buf, late, watermark, clock_before)
        work = self._plan_work
        if work is None or work[1].shape[0] < n:
            rows = max(n, 2 * work[1].shape[0]) if work is not None else n
            ints = np.empty((4, rows), dtype=np.int64)
            work = self._plan_work = (
                ints,
                np.empty(rows, dtype=np.float64),
                np.zeros(rows, dtype=np.bool_),
            )
        ints, times, flags = work
        idx, rel, order, rounds = ints[0], ints[1], ints[2], ints[3]
        decided = k._plan_into(
            ts, n_buf, late, watermark, clock_before, idx, rel, order, times, flags, rounds
        )
        return order[:n], times[:n], flags[:n], rounds[:n], rel[:n], int(decided)

    def _advance(self, watermark: float) -> None:
        if watermark > -math.inf and len(self._buf):
            both, both_seq = self._buf, self._buf_seq
            ready = np.flatnonzero(both.ts <= watermark)
            order = ready[np.lexsort((both_seq[ready], both.ts[ready]))]
            plan_t = both.ts[order].copy()
            plan_late = np.zeros(len(order), dtype=np.bool_)
            if len(order):
                self._cover(float(plan_t.min()), float(plan_t.max()))
            self._run(
                both, both_seq, order, plan_t=plan_t, plan_late=plan_late, start=0, stop=len(order)
            )
            rest = np.flatnonzero(both.ts > watermark)
            self._fire_all(watermark, both, both_seq)
            self._buf = both.kept(rest)
            self._buf_seq = both_seq[rest]
        elif watermark > -math.inf:
            self._fire_all(watermark, self._buf, self._buf_seq)
        self._clock = max(self._clock, watermark)
        self._prune_log()

    # -- running the kernel ---------------------------------------------------------------

    def _state(self) -> k.State:
        """The kernel's view of the state arrays (made again only when an array was replaced)."""
        arrays = (
            self._ri,
            self._rf,
            self._di,
            self._df,
            self._rp,
            self._nodes,
            self._out_i,
            self._out_f,
            self._ev_out,
            self._cnt,
            self._nights.flips,
            self._nights.offsets,
            self._scratch,
        )
        ids = tuple(map(id, arrays))  # the cached state holds the arrays: ids are not reused
        made = self._state_made
        if made is None or ids != self._state_ids:
            self._state_ids = ids
            made = self._state_made = k.make_state(*arrays)
        return made

    def _cover(self, lo: float, hi: float) -> None:
        if math.isfinite(lo) and math.isfinite(hi):
            self._nights.cover(lo, hi)

    def _run(
        self,
        both: EventColumns,
        both_seq: I64,
        order: I64,
        *,
        plan_t: F64,
        plan_late: npt.NDArray[np.bool_],
        start: int,
        stop: int,
    ) -> None:
        """The kernel on ``order[start:stop]`` (the columns were checked by ``push_batch``,
        the night tables cover the plan's times)."""
        if stop <= start:
            return
        times = plan_t[start:stop]
        plan_e = order[start:stop]
        lates = plan_late[start:stop]
        i = 0
        while i < len(plan_e):
            i = int(
                k._run(
                    self._state(),
                    both.ts,
                    both.room,
                    both.device,
                    both.code,
                    both.value,
                    both_seq,
                    plan_e,
                    times,
                    lates,
                    i,
                )
            )
            self._collect(both, both_seq, lates, plan_e)
            if i < len(plan_e):
                self._make_room()

    def _fire_all(self, watermark: float, both: EventColumns, both_seq: I64) -> None:
        if not math.isfinite(watermark):
            return
        n_rooms = len(self._policies)
        self._cover(watermark, watermark)
        r = 0
        while r < n_rooms:
            r = int(k._fire_all(self._state(), n_rooms, watermark, r))
            self._collect(both, both_seq, None, None)
            if r < n_rooms:
                self._make_room()

    def _make_room(self) -> None:
        """Grow the node pool and the outputs so that the kernel can take its next item."""
        free = int(self._cnt[k.C_FREE_N])
        live = self._nodes.shape[0] - free
        if free < 2 * live + k.OUT_RESERVE:
            self._grow_nodes(2 * (3 * live + k.OUT_RESERVE))
        need_ev = int(self._cnt[k.C_NEV]) + 2 * live + k.OUT_RESERVE
        if self._ev_out.shape[0] < need_ev:
            self._ev_out = _grow(self._ev_out, 2 * need_ev, 0)
        need_out = int(self._cnt[k.C_NOUT]) + k.OUT_RESERVE
        if self._out_i.shape[0] < need_out:
            self._out_i = _grow(self._out_i, 2 * need_out, 0)
            self._out_f = _grow(self._out_f, 2 * need_out, 0.0)

    def _grow_nodes(self, rows: int) -> None:
        old = self._nodes.shape[0]
        if old >= rows:
            return
        self._nodes = _grow(self._nodes, rows, 0)
        new = self._nodes.shape[0]
        self._nodes[old:, 0] = -1
        self._nodes[old:, 1] = np.arange(old + 1, new + 1, dtype=np.int64)
        self._nodes[new - 1, 1] = self._cnt[k.C_FREE_HEAD]
        self._cnt[k.C_FREE_HEAD] = old
        self._cnt[k.C_FREE_N] += new - old

    def _sync_registry(self) -> None:
        """State rows for every room and device the registry knows."""
        registry = self.registry
        for site, room in registry.room_keys[len(self._policies) :]:
            r = len(self._policies)
            policy = self.policy.room(site, room)
            self._policies.append(policy)
            self._ri = _grow(self._ri, r + 1, 0)
            self._rf = _grow(self._rf, r + 1, 0.0)
            self._rp = _grow(self._rp, r + 1, 0.0)
            self._ri[r] = 0
            self._ri[r, [k.RI_OPT_IN_BED, k.RI_MAT_IN_BED, k.RI_FIRST_DEV]] = -1
            for col in [k.RI_AC_LIST] + [k.RI_PEND_LIST + 3 * p for p in range(k.N_PEND)]:
                self._ri[r, col : col + 2] = -1
            self._rf[r] = 0.0
            for col in (k.RF_STAFF_SEEN, k.RF_LAST_MOTION, k.RF_AC_LAST, k.RF_CLOCK):
                self._rf[r, col] = -math.inf
            self._rf[r, k.RF_AC_START] = math.nan
            self._rf[r, k.RF_NEXT_DUE] = math.inf
            self._rp[r] = _parameters(policy, self._nights.table(policy))
        for d in range(self._n_devices, len(registry.device_keys)):
            r = registry.device_room[d]
            self._di = _grow(self._di, d + 1, 0)
            self._df = _grow(self._df, d + 1, 0.0)
            self._di[d] = 0
            self._di[d, k.DI_ROOM] = r
            self._di[d, k.DI_KIND] = KINDS.index(registry.device_keys[d][2])
            self._di[d, k.DI_NEXT] = self._ri[r, k.RI_FIRST_DEV]
            self._di[d, k.DI_OBST_LIST : k.DI_OBST_LIST + 2] = -1
            self._ri[r, k.RI_FIRST_DEV] = d
            self._df[d] = 0.0
            self._df[d, k.DF_LAST_ALARM] = math.nan
        self._n_devices = len(registry.device_keys)

    def _prune_log(self, *, force: bool = False) -> None:
        log = self._log
        batches, events = self._prune_at
        if not force and len(log) < batches and log.events < events:
            return
        keep = self._seq
        if len(self._buf_seq):
            keep = min(keep, int(self._buf_seq.min()))
        log.prune(k.live_seqs(self._nodes, self._cnt), keep)
        # amortised: not again at the next push
        self._prune_at = (max(LOG_BATCHES, 2 * len(log)), max(LOG_EVENTS, 2 * log.events))

    # -- resident calls on arrival ----------------------------------------------------------

    def _page_call_on_arrival(
        self,
        new: EventColumns,
        new_seq: I64,
        a: int,
        *,
        clock: float,
        both: EventColumns,
        both_seq: I64,
        waiting: Waiting,
    ) -> None:
        r = int(new.room[a])
        # the reference fired the room's timers up to the last watermark before this press
        self._make_room()
        state = self._state()
        k.fire_room(state, r, clock)
        self._collect(both, both_seq, None, None)
        seq = int(new_seq[a])
        args = (state, r, len(both) - len(new) + a, a, seq, clock, *waiting)
        if DISABLED:  # numpy warns of the -inf clock before any watermark; compiled, nothing does
            with np.errstate(invalid="ignore"):
                paged = page_on_arrival(*args, both.ts, both.code, both_seq)
        else:
            paged = page_on_arrival(*args, both.ts, both.code, both_seq)
        if not paged:
            return
        policy = self._policies[r]
        ts = float(new.ts[a])
        incident = incident_id(policy, "call", ts)
        self._step.incidents.append(
            Opened(incident, "call", policy.site, policy.room, ts, (self._log.ref(seq),), seq=seq)
        )
        if self.audit and self._audits(policy):
            self._step.audit.append(
                AuditRecord(
                    ts=ts,
                    decision="paged",
                    reason=reasons.CALL_PAGED_ON_ARRIVAL,
                    event=records.event_of(new, a, self.registry, seq),
                    site=policy.site,
                    room=policy.room,
                    incident=incident,
                )
            )

    # -- decision records into pages and audit records ------------------------------------------

    def _collect(
        self,
        both: EventColumns,
        both_seq: I64,
        lates: npt.NDArray[np.bool_] | None,
        plan_e: I64 | None,
    ) -> None:
        """The kernel's decision records into incident changes (every record that opens,
        resolves or adds evidence to an incident) and, as asked, audit records."""
        n = int(self._cnt[k.C_NOUT])
        if n == 0:
            return
        out_i, out_f = self._out_i[:n], self._out_f[:n]
        if self.audit and self.audit_rooms is not None:
            # the records of the rooms audited and those of incidents; the others, most of
            # them, never become Python objects
            audited = np.array([self._audits(policy) for policy in self._policies], dtype=bool)
            rows = np.flatnonzero((out_i[:, k.O_KIND] >= 0) | audited[out_i[:, k.O_ROOM]])
            out_i, out_f = out_i[rows], out_f[rows]
        late_items: set[int] = set()
        if lates is not None and plan_e is not None and lates.any():
            late_items = set(plan_e[lates].tolist())
        step = self._step
        for row, frow in zip(out_i.tolist(), out_f.tolist(), strict=True):
            item, r, decision = row[k.O_ITEM], row[k.O_ROOM], row[k.O_DECISION]
            policy = self._policies[r]
            t = frow[k.OF_TS]
            incident = None
            text = None
            if row[k.O_KIND] >= 0:
                incident = records.incident_of(policy, row, frow[k.OF_OPENED], self.registry)
                if row[k.O_PAGE]:
                    step.incidents.append(self._opened(policy, row, incident, t, both_seq))
                elif decision == k.D_RESOLVED:
                    text = records.reason_text(policy, row, frow, self.registry)
                    step.incidents.append(Resolved(incident, t, text))
                elif decision == k.D_EVIDENCE:
                    step.incidents.append(Evidence(incident, t))
            if not self.audit or not self._audits(policy):
                continue
            if text is None:
                text = records.reason_text(policy, row, frow, self.registry)
            event = None
            if item >= 0:
                event = records.event_of(both, item, self.registry, int(both_seq[item]))
                if item in late_items:
                    late_items.discard(item)
                    text = reasons.late(text, self.lateness)
            step.audit.append(
                AuditRecord(
                    ts=t,
                    decision=records.DECISIONS[decision],
                    reason=text,
                    event=event,
                    timer=records.timer_text(policy, row[k.O_TIMER]),
                    site=policy.site,
                    room=policy.room,
                    incident=incident,
                )
            )
        self._cnt[k.C_NOUT] = 0
        self._cnt[k.C_NEV] = 0

    def _opened(
        self, policy: RoomPolicy, row: list[int], incident: str, t: float, both_seq: I64
    ) -> Opened:
        """The incident a paging decision record opens."""
        start, length = row[k.O_EV_START], row[k.O_EV_LEN]
        refs = tuple(self._log.ref(s) for s in self._ev_out[start : start + length].tolist())
        kind = INCIDENT_KINDS[row[k.O_KIND]]
        device = fault = None
        if kind == "device_fault":
            device, fault = records.device_fault(row, self.registry)
        item = row[k.O_ITEM]
        seq = int(both_seq[item]) if item >= 0 else None
        return Opened(incident, kind, policy.site, policy.room, t, refs, device, fault, seq)


def _parameters(p: RoomPolicy, night: int) -> F64:
    row = np.zeros(k.N_RP, dtype=np.float64)
    row[k.RP_GRACE : k.RP_IDLE_CLOSE + 1] = [getattr(p, name) for name in k.RP_POLICY_FIELDS]
    row[k.RP_WANDERS] = 1.0 if p.wanders else 0.0
    row[k.RP_HIGH_RISK] = 1.0 if p.fall_risk == "high" else 0.0
    row[k.RP_NIGHT] = night
    return row
