"""The reference classifier: the care policy of docs/contract.md section 4, in plain Python.

It is the slow, obviously correct twin of the compiled core: one object per room, one method
per kind of sensor, a timer heap for confirmation windows and grace periods. It does no I/O and
reads no clock: events and time come in; incidents (opened, evidence, resolved) and audit records
go out (``Step``). Routing makes the pages.

Event time
----------
Events arrive in any order up to ``lateness`` seconds late. They wait in a reorder buffer and
are decided in event-time order once the *watermark* passes them: the latest event time seen
minus ``lateness`` (``push``), or the wall clock minus ``lateness`` (``tick``), whichever is
later. Timers fire when the watermark passes them too, so a late contradiction still counts.
Resident calls are never filtered, so they are paged the moment they arrive; the in-order pass
later only files them under their incident. An event later than the watermark cannot be placed
any more; it is decided on arrival, at the watermark, and the audit says so.

Layout
------
``Classifier`` here has the event clock's buffer, the care policy (one handler per kind of
sensor) and its timers. What it builds on is in modules of their own, each class the base of
the next: ``clock.EventClock`` (``tick``, ``drain``, the ``Step`` handed over, as in the
compiled twin), ``bookkeeping.Bookkeeping`` (rooms, timers, the audit trail, the life of an
incident) and ``devices.DeviceHealth`` (silent, faulted and obstructed devices). The state it
keeps is in ``state.py`` (its classes imported here by name: snapshots made when they lived
here still load), the constants both twins share in ``care.py``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Final

from sensorhub.contract import MAX_LATENESS, Event, IncidentKind
from sensorhub.core import reasons
from sensorhub.core.care import (
    CONVENTIONAL_ALARMS,
    CONVENTIONAL_LOUD_ONLY,
    CONVENTIONAL_REARM,
    CONVENTIONAL_WANDERERS_ONLY,
)
from sensorhub.core.clock import DEDUP_WINDOW
from sensorhub.core.devices import DeviceHealth
from sensorhub.core.state import DeviceState, Incident, Pending, RoomState
from sensorhub.core.types import Evidence, RoomReload, Step
from sensorhub.rules.policy import Policy, RoomPolicy, room_differences

#: Events that mean staff are in the room.
STAFF_ARRIVAL_EVENTS: Final = frozenset(
    {("presence", "staff_in"), ("optical", "staff_present"), ("optical", "multiple_persons")}
)
#: Optical events that show the resident up and about: they contradict a fall.
UPRIGHT_POSTURES: Final = frozenset(
    {"in_bed", "sitting_on_edge", "out_of_bed", "in_bathroom", "left_room"}
)
#: Optical events that show the resident in the room (a wanderer is back).
IN_ROOM_POSTURES: Final = frozenset(
    {"in_bed", "sitting_on_edge", "out_of_bed", "in_bathroom", "entered_room", "fall", "on_floor"}
)


class Classifier(DeviceHealth):
    """Feeds events in arrival order, decides in event-time order.

    - ``push(event)``: an event arrives. Returns what the event clock now allows to decide
      (the watermark is the latest event time seen minus ``lateness``). Resident calls are
      paged at once, on arrival.
    - ``tick(now)``: the wall clock says it is ``now``; the watermark moves to ``now - lateness``
      if that is later. ``serve`` calls it periodically on the wall clock.
    - ``drain()``: end of input; decides every buffered event, and lets time run on
      ``END_OF_INPUT_RUN_ON`` seconds past the latest event so confirmation windows close.
    - ``raw_alarms``: how many alarms a conventional system would have sounded so far.

    It pickles: ``pickle.loads(pickle.dumps(c))`` (its policy, buffer and timers included)
    decides from there on exactly as ``c`` would, so a service can keep a snapshot and go on
    from it after a crash.
    """

    def __init__(self, policy: Policy, *, lateness: float = MAX_LATENESS) -> None:
        super().__init__(lateness)
        self.policy = policy
        self.raw_alarms = 0
        self._rooms: dict[tuple[str, str], RoomState] = {}
        self._devices: dict[tuple[str, str, str, str], DeviceState] = {}
        self._buffer: list[tuple[float, int, Event]] = []
        self._timers: list[tuple[float, int, str, tuple[str, ...], int]] = []
        # counters as plain ints (not itertools.count): the classifier pickles as it is
        self._next_seq = 0
        self._next_token = 1
        self._seen_ids: dict[tuple[str, str, str, str, str], float] = {}
        self._seen_prune_at = float("-inf")
        self._last_alarm: dict[tuple[str, str, str, str], float] = {}

    @property
    def buffered(self) -> int:
        """Events received but not yet decided."""
        return len(self._buffer)

    # -- driving ---------------------------------------------------------------------------

    def push(self, event: Event) -> Step:
        event.seq = self._count()
        if event.id is not None:
            key = (event.site, event.room, event.kind, event.device, event.id)
            if key in self._seen_ids:
                self.duplicates += 1
                self._audit(
                    event.ts,
                    "ignored",
                    reasons.redelivery(event.id),
                    event=event,
                )
                return self._take()
            self._seen_ids[key] = event.ts
            self._prune_seen(event.ts)
        if event.ts < self._clock:
            self.late_events += 1
            self._decide(event, self._clock, late=True)
        else:
            if event.kind == "call" and event.event == "pressed":
                self._page_call_on_arrival(event)
            heapq.heappush(self._buffer, (event.ts, event.seq, event))
            self._max_ts = max(self._max_ts, event.ts)
            self._advance(self._max_ts - self.lateness)
        return self._take()

    def set_policy(self, policy: Policy) -> list[RoomReload]:
        """Decide by ``policy`` from now on (a rules reload). Rooms whose parameters did not
        change keep everything; the others keep their pending decisions with the due times
        they have, and are returned with them."""
        reloaded: list[RoomReload] = []
        due = {token: at for at, _, _, _, token in self._timers}
        for (site, name), room in self._rooms.items():
            new = policy.room(site, name)
            changed = room_differences(room.policy, new)
            room.policy = new
            if not changed:
                continue
            pending = tuple(
                (pend.kind, due[pend.token])
                for pend in sorted(room.pending.values(), key=lambda pend: pend.token)
                if pend.token in due
            )
            reloaded.append(RoomReload(site, name, tuple(changed), pending))
        self.policy = policy
        return reloaded

    def _advance(self, watermark: float) -> None:
        buffer, timers = self._buffer, self._timers
        while True:
            next_event = buffer[0][0] if buffer else float("inf")
            next_timer = timers[0][0] if timers else float("inf")
            if min(next_event, next_timer) > watermark:
                break
            if next_event <= next_timer:
                ts, _, event = heapq.heappop(buffer)
                self._clock = max(self._clock, ts)
                self._decide(event, self._clock, late=False)
            else:
                due, _, name, key, token = heapq.heappop(timers)
                self._clock = max(self._clock, due)
                self._fire(name, key, token, due)
        self._clock = max(self._clock, watermark)

    def _prune_seen(self, ts: float) -> None:
        if ts - self._seen_prune_at < DEDUP_WINDOW:
            return
        self._seen_prune_at = ts
        horizon = ts - DEDUP_WINDOW
        self._seen_ids = {k: t for k, t in self._seen_ids.items() if t >= horizon}

    # -- deciding one event ----------------------------------------------------------------

    def _decide(self, event: Event, t: float, *, late: bool) -> None:
        room = self._room(event.site, event.room)
        n_audit = len(self._step.audit)
        self._count_conventional(event, room)
        self._device_seen(event, room, t)
        handler = _HANDLERS.get(event.kind)
        if event.event in ("heartbeat", "battery_low", "fault"):
            self._device_health(event, room, t)
        elif handler is not None:
            handler(self, event, room, t)
        if len(self._step.audit) == n_audit:
            self._audit(t, "state", reasons.state(event.kind, event.event), event=event, room=room)
        if late:
            record = self._step.audit[n_audit]
            record.reason = reasons.late(record.reason, self.lateness)

    def _count_conventional(self, event: Event, room: RoomState) -> None:
        alarms = CONVENTIONAL_ALARMS.get(event.kind)
        if alarms is None or event.event not in alarms:
            return
        if event.kind in CONVENTIONAL_WANDERERS_ONLY and not room.policy.wanders:
            return
        if event.kind in CONVENTIONAL_LOUD_ONLY and (
            event.value is None or event.value < room.policy.acoustic_threshold
        ):
            return
        key = (event.site, event.room, event.kind, event.device)
        last = self._last_alarm.get(key)
        if last is not None and abs(event.ts - last) < CONVENTIONAL_REARM:
            return
        self._last_alarm[key] = event.ts
        self.raw_alarms += 1

    # staff ------------------------------------------------------------------------------

    def _staff_arrived(self, room: RoomState, t: float, event: Event) -> None:
        """Staff arrive: open incidents are resolved, pending ones cancelled."""
        self._resolve(room, tuple(room.open), t, reasons.STAFF_ARRIVED, event)
        for name in list(room.pending):
            self._cancel(room, name, t, reasons.STAFF_ARRIVED, event)
        room.acoustic_start = None

    def _on_presence(self, event: Event, room: RoomState, t: float) -> None:
        if event.event == "staff_in":
            arriving = not self._staff_present(room, t)
            room.staff_in[event.device] = t
            if arriving:
                self._staff_arrived(room, t, event)
        else:
            room.staff_in.pop(event.device, None)

    # optical ----------------------------------------------------------------------------

    def _on_optical(self, event: Event, room: RoomState, t: float) -> None:
        name = event.event
        seen, _ = room.optical.get(event.device, (t, False))
        if name == "obstructed":
            room.optical[event.device] = (seen, True)
            self._obstructed(event, room, t)
            return
        room.optical[event.device] = (seen, False)
        self._unobstructed(event, room, t)
        if name in ("staff_present", "multiple_persons"):
            arriving = not self._staff_present(room, t)
            room.staff_seen = t
            if arriving:
                self._staff_arrived(room, t, event)
            return
        # the resident's posture: who is where
        if name in UPRIGHT_POSTURES and "fall" in room.pending:
            self._cancel(room, "fall", t, reasons.contradicted(name), event)
        if name in ("fall", "on_floor"):
            self._fall_evidence(event, room, t)
        if name in IN_ROOM_POSTURES:
            self._resolve(room, ("wandering",), t, reasons.seen_in_room(name), event)
        if name == "left_room" or (name == "no_person" and "door" in room.pending):
            self._wandering_evidence(event, room, t)
        if name in ("in_bed", "sitting_on_edge"):
            was_in_bed = room.optical_in_bed
            room.optical_in_bed = True
            if name == "in_bed":
                self._back_in_bed(event, room, t)
            elif was_in_bed is False:
                self._audit(t, "state", reasons.SITTING_ON_EDGE, event=event, room=room)
        elif name in ("out_of_bed", "in_bathroom", "left_room"):
            was_in_bed = room.optical_in_bed
            room.optical_in_bed = False
            if (name == "out_of_bed" and was_in_bed is not False) or was_in_bed is True:
                self._bed_exit(room, t, t, [event.ref], event=event)
        elif name in ("no_person", "fall", "on_floor", "entered_room"):
            room.optical_in_bed = False

    def _fall_evidence(self, event: Event, room: RoomState, t: float) -> None:
        pending = room.pending.get("fall")
        if pending is not None:
            pending.evidence.append(event.ref)
            self._audit(t, "pending", reasons.FALL_MORE_EVIDENCE, event=event, room=room)
            return
        if self._staff_present(room, t):
            self._audit(t, "suppressed", reasons.fall_staff(event.event), event=event, room=room)
            return
        token = self._schedule(t + room.policy.fall_confirm, "fall", (event.site, event.room))
        room.pending["fall"] = Pending("fall", t, [event.ref], token)
        self._audit(
            t,
            "pending",
            reasons.fall_pending(event.event, room.policy),
            event=event,
            room=room,
        )

    # bed -------------------------------------------------------------------------------

    def _on_bed(self, event: Event, room: RoomState, t: float) -> None:
        vacated = event.event == "vacated"
        was_in_bed = room.mat_in_bed
        room.mat_in_bed = not vacated
        if self._optical_working(room, t):
            self._audit(
                t,
                "ignored",
                reasons.BED_MAT_IGNORED,
                event=event,
                room=room,
            )
            return
        if not vacated:
            self._cancel(room, "bed_mat", t, reasons.TURNING_OVER, event)
            self._back_in_bed(event, room, t)
            return
        if was_in_bed is False:
            return
        confirm = room.policy.bed_exit_confirm
        if confirm <= 0:
            self._bed_exit(room, t, t, [event.ref], event=event)
            return
        token = self._schedule(t + confirm, "bed_mat", (event.site, event.room))
        room.pending["bed_mat"] = Pending("bed_mat", t, [event.ref], token)
        self._audit(
            t,
            "pending",
            reasons.bed_pending(room.policy),
            event=event,
            room=room,
        )

    def _bed_exit(
        self,
        room: RoomState,
        since: float,
        t: float,
        evidence: list[str],
        *,
        event: Event | None = None,
        timer: str | None = None,
    ) -> None:
        """The resident left the bed at ``since`` (decided at ``t``)."""
        p = room.policy
        if not p.is_night(since):
            self._audit(
                t,
                "suppressed",
                reasons.EXIT_OUTSIDE_NIGHT,
                event=event,
                timer=timer,
                room=room,
            )
            return
        if p.fall_risk == "high":
            self._raise(
                room,
                "bed_exit",
                t,
                evidence,
                event=event,
                timer=timer,
                why=reasons.WHY_BED_EXIT,
            )
            return
        if "absent" in room.pending:
            room.pending["absent"].evidence.extend(evidence)
            self._audit(
                t,
                "pending",
                reasons.EXIT_AGAIN,
                event=event,
                timer=timer,
                room=room,
            )
            return
        if self._staff_present(room, t):
            self._audit(
                t,
                "suppressed",
                reasons.EXIT_STAFF,
                event=event,
                timer=timer,
                room=room,
            )
            return
        token = self._schedule(since + p.bathroom_grace, "absent", (p.site, p.room))
        room.pending["absent"] = Pending("absent", since, list(evidence), token)
        self._audit(
            t,
            "pending",
            reasons.exit_pending(p),
            event=event,
            timer=timer,
            room=room,
        )

    def _back_in_bed(self, event: Event, room: RoomState, t: float) -> None:
        self._cancel(room, "absent", t, reasons.BACK_WITHIN_GRACE, event)
        kinds: tuple[IncidentKind, ...] = ("bed_exit", "absent_too_long", "wandering")
        self._resolve(room, kinds, t, reasons.BACK_IN_BED, event)
        if event.kind == "optical":
            self._resolve(room, ("fall",), t, reasons.SEEN_BACK_IN_BED, event)

    # door and motion ---------------------------------------------------------------------

    def _on_door(self, event: Event, room: RoomState, t: float) -> None:
        p = room.policy
        if event.event != "open" or not p.wanders:
            return
        if not p.is_night(t):
            self._audit(t, "suppressed", reasons.DOOR_OUTSIDE_NIGHT, event=event, room=room)
            return
        if self._staff_present(room, t):
            self._audit(t, "suppressed", reasons.DOOR_STAFF, event=event, room=room)
            return
        if "door" in room.pending:
            room.pending["door"].evidence.append(event.ref)
            return
        token = self._schedule(t + p.wandering_confirm, "door", (p.site, p.room))
        room.pending["door"] = Pending("door", t, [event.ref], token)
        self._audit(
            t,
            "pending",
            reasons.door_pending(p),
            event=event,
            room=room,
        )

    def _on_motion(self, event: Event, room: RoomState, t: float) -> None:
        room.has_motion_sensor = True
        if event.event == "motion":
            room.last_motion = t

    def _wandering_evidence(
        self,
        event: Event | None,
        room: RoomState,
        t: float,
        evidence: list[str] | None = None,
        *,
        timer: str | None = None,
        left: float | None = None,
    ) -> None:
        """The resident left the room at ``left`` (default ``t``), or when the door opened if
        it was open: paged if that was at night."""
        p = room.policy
        door = room.pending.pop("door", None)
        left = t if left is None else left
        if door is not None:
            left = min(left, door.since)
        refs = (door.evidence if door else []) + (evidence or [])
        if event is not None:
            refs.append(event.ref)
        if not p.wanders:
            return
        if not p.is_night(left):
            self._audit(
                t,
                "suppressed",
                reasons.LEFT_ROOM_OUTSIDE_NIGHT,
                event=event,
                timer=timer,
                room=room,
            )
            return
        self._raise(
            room,
            "wandering",
            t,
            refs,
            event=event,
            timer=timer,
            why=reasons.WHY_WANDER,
        )

    # acoustic ----------------------------------------------------------------------------

    def _on_acoustic(self, event: Event, room: RoomState, t: float) -> None:
        p = room.policy
        loud = (
            event.event == "sound"
            and event.value is not None
            and (event.value >= p.acoustic_threshold)
        )
        if not loud:
            room.acoustic_start = None
            return
        if room.acoustic_start is None or t - room.acoustic_last > p.acoustic_gap:
            room.acoustic_start = t
            room.acoustic_evidence = []
        room.acoustic_last = t
        room.acoustic_evidence.append(event.ref)
        lasted = t - room.acoustic_start
        if lasted >= p.acoustic_duration:
            self._raise(
                room,
                "acoustic",
                t,
                room.acoustic_evidence,
                event=event,
                why=reasons.why_acoustic(lasted, p),
            )
        else:
            self._audit(
                t,
                "pending",
                reasons.loud_pending(lasted, p),
                event=event,
                room=room,
            )

    # call ------------------------------------------------------------------------------

    def _call_open_on_arrival(self, room: RoomState, ts: float) -> bool:
        """Whether a call pressed at ``ts`` joins an open call, judged on arrival.

        The in-order state is rolled forward over the room's buffered events up to ``ts``,
        without changing it; when in doubt the call is paged (a duplicate page beats a missed
        call)."""
        p = room.policy
        incident = room.open.get("call")
        is_open = incident is not None
        last = incident.last_evidence if incident is not None else float("-inf")
        present = self._staff_present(room, self._clock)
        before = sorted(
            (other.ts, other.seq, other.kind, other.event)
            for _, _, other in self._buffer
            if (other.site, other.room) == (p.site, p.room) and other.ts <= ts
        )
        for other_ts, _, kind, name in before:
            if is_open and other_ts - last > p.incident_idle_close:
                is_open = False
            if (kind, name) == ("call", "cancelled"):
                is_open = False
            elif (kind, name) == ("call", "pressed"):
                is_open, last = True, other_ts
            elif (kind, name) == ("presence", "staff_out"):
                present = False
            elif (kind, name) in STAFF_ARRIVAL_EVENTS:
                if not present:
                    is_open = False  # staff arrive: they resolve the open call
                present = True
        return is_open and ts - last <= p.incident_idle_close

    def _page_call_on_arrival(self, event: Event) -> None:
        room = self._room(event.site, event.room)
        if room.fast_call is not None or self._call_open_on_arrival(room, event.ts):
            return
        incident = Incident(
            self._incident_id(room, "call", event.ts), "call", event.ts, event.ts, [event.ref]
        )
        room.fast_call = (incident, event.ref)
        self._open(room, incident, event.ts, event)
        self._audit(
            event.ts,
            "paged",
            reasons.CALL_PAGED_ON_ARRIVAL,
            event=event,
            room=room,
            incident=incident,
        )

    def _on_call(self, event: Event, room: RoomState, t: float) -> None:
        if event.event == "cancelled":
            self._resolve(room, ("call",), t, reasons.CALL_CANCELLED, event)
            return
        fast = room.fast_call
        if self._is_open(room, "call", t) is None and fast is not None:
            incident, _ = fast
            room.fast_call = None
            incident.last_evidence = t
            if event.ref not in incident.evidence:
                incident.evidence.append(event.ref)
            room.open["call"] = incident
            self._step.incidents.append(Evidence(incident.id, t))
            self._audit(
                t,
                "evidence",
                reasons.CALL_ALREADY_PAGED,
                event=event,
                room=room,
                incident=incident,
            )
            return
        if fast is not None and fast[1] == event.ref:
            room.fast_call = None  # it was paged on arrival but turned out a repeat
        self._raise(room, "call", t, [event.ref], event=event, why=reasons.WHY_CALL)

    # -- timers --------------------------------------------------------------------------

    def _fire(self, name: str, key: tuple[str, ...], token: int, t: float) -> None:
        if name in ("silent", "obstructed"):
            self._fire_device(name, key, token, t)
            return
        room = self._room(key[0], key[1])
        pending = room.pending.get(name)
        if pending is None or pending.token != token:
            return  # cancelled or replaced
        del room.pending[name]
        raised = _RAISED_BY_TIMER.get(name)
        if raised is not None:  # a fall confirmed, a grace period run out
            kind, timer, why = raised
            self._raise(room, kind, t, pending.evidence, timer=timer, why=why(room.policy))
        elif name == "bed_mat":
            self._bed_exit(room, pending.since, t, pending.evidence, timer=reasons.TIMER_BED_MAT)
        elif name == "door":
            self._door_window_closed(room, t, pending)

    def _door_window_closed(self, room: RoomState, t: float, pending: Pending) -> None:
        timer = reasons.TIMER_DOOR
        if self._optical_working(room, t):
            self._audit(
                t,
                "resolved",
                reasons.DOOR_SEEN,
                timer=timer,
                room=room,
            )
            return
        if room.mat_in_bed:
            self._audit(t, "resolved", reasons.DOOR_IN_BED, timer=timer, room=room)
            return
        if room.has_motion_sensor and room.last_motion > pending.since + 1:
            self._audit(
                t,
                "resolved",
                reasons.DOOR_MOTION,
                timer=timer,
                room=room,
            )
            return
        self._wandering_evidence(None, room, t, pending.evidence, timer=timer, left=pending.since)


#: pending name -> the incident its timer raises, the timer's name and why
_RAISED_BY_TIMER: Final[dict[str, tuple[IncidentKind, str, Callable[[RoomPolicy], str]]]] = {
    "fall": ("fall", reasons.TIMER_FALL, reasons.why_fall),
    "absent": ("absent_too_long", reasons.TIMER_ABSENT, reasons.why_absent),
}

_HANDLERS = {
    "optical": Classifier._on_optical,
    "bed": Classifier._on_bed,
    "door": Classifier._on_door,
    "motion": Classifier._on_motion,
    "call": Classifier._on_call,
    "presence": Classifier._on_presence,
    "acoustic": Classifier._on_acoustic,
}
