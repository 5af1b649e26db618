"""The reference classifier's bookkeeping: rooms, timers, the audit trail, incidents.

``Bookkeeping`` is what every rule of the reference ``Classifier`` calls: the state of a room,
a timer scheduled, an audit record, and the life of a care incident: raised (paged, or said why
not), more evidence, resolved, a pending decision cancelled. What an event or a timer means is
decided by the rules: the devices' in ``devices.py``, the care policy's in ``classifier.py``.
The compiled twin keeps the same in ``kernel/records.py``, ``kernel/rooms.py`` and
``kernel/incidents.py``.
"""

from __future__ import annotations

import heapq

from sensorhub.contract import Event, IncidentKind
from sensorhub.core import reasons
from sensorhub.core.care import SEVERITY, incident_id
from sensorhub.core.clock import EventClock
from sensorhub.core.state import DeviceState, Incident, RoomState
from sensorhub.core.types import AuditRecord, Decision, Evidence, Opened, Resolved
from sensorhub.rules.policy import Policy


class Bookkeeping(EventClock):
    """Rooms, timers, audit records and incidents, for the rules of ``Classifier`` (its
    constructor makes the state below)."""

    policy: Policy
    _rooms: dict[tuple[str, str], RoomState]
    _devices: dict[tuple[str, str, str, str], DeviceState]
    #: (due, sequence number, name, key, token): the pending decisions' and devices' timers
    _timers: list[tuple[float, int, str, tuple[str, ...], int]]
    _next_seq: int
    _next_token: int

    # -- rooms and timers ----------------------------------------------------------------------

    def _room(self, site: str, room: str) -> RoomState:
        state = self._rooms.get((site, room))
        if state is None:
            state = self._rooms[(site, room)] = RoomState(self.policy.room(site, room))
        return state

    def _count(self) -> int:
        """The next arrival and timer sequence number."""
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def _schedule(self, due: float, name: str, key: tuple[str, ...]) -> int:
        token = self._next_token
        self._next_token += 1
        heapq.heappush(self._timers, (due, self._count(), name, key, token))
        return token

    def _staff_present(self, room: RoomState, t: float) -> bool:
        p = room.policy
        if t - room.staff_seen <= p.staff_recent:
            return True
        return any(t - since <= p.staff_timeout for since in room.staff_in.values())

    def _optical_working(self, room: RoomState, t: float) -> bool:
        silent_after = room.policy.silent_after
        return any(not blind and t - seen <= silent_after for seen, blind in room.optical.values())

    def _audit(
        self,
        ts: float,
        decision: Decision,
        reason: str,
        *,
        event: Event | None = None,
        timer: str | None = None,
        room: RoomState | None = None,
        incident: Incident | None = None,
    ) -> None:
        self._step.audit.append(
            AuditRecord(
                ts=ts,
                decision=decision,
                reason=reason,
                event=event,
                timer=timer,
                site=room.policy.site if room else None,
                room=room.policy.room if room else None,
                incident=incident.id if incident else None,
            )
        )

    # -- incidents ----------------------------------------------------------------------------

    def _incident_id(self, room: RoomState, kind: str, t: float) -> str:
        return incident_id(room.policy, kind, t)

    def _is_open(self, room: RoomState, kind: IncidentKind, t: float) -> Incident | None:
        incident = room.open.get(kind)
        if incident is None:
            return None
        if t - incident.last_evidence > room.policy.incident_idle_close:
            del room.open[kind]
            return None
        return incident

    def _open(self, room: RoomState, incident: Incident, t: float, event: Event | None) -> None:
        """``incident`` is actionable at ``t`` (decided by ``event``, or a timer): routing
        pages it."""
        self._step.incidents.append(
            Opened(
                incident.id,
                incident.kind,
                room.policy.site,
                room.policy.room,
                t,
                tuple(incident.evidence),
                incident.device,
                incident.reason,
                None if event is None else event.seq,
            )
        )

    def _raise(
        self,
        room: RoomState,
        kind: IncidentKind,
        t: float,
        evidence: list[str],
        *,
        event: Event | None = None,
        timer: str | None = None,
        why: str,
    ) -> None:
        """Evidence for a care incident is actionable now: page it, or say why not."""

        def say(decision: Decision, reason: str, incident: Incident | None = None) -> None:
            self._audit(t, decision, reason, event=event, timer=timer, room=room, incident=incident)

        if kind != "call" and self._staff_present(room, t):
            say("suppressed", reasons.raise_staff(why))
            return
        existing = self._is_open(room, kind, t)
        if existing is not None:
            existing.last_evidence = t
            existing.evidence.extend(e for e in evidence if e not in existing.evidence)
            self._step.incidents.append(Evidence(existing.id, t))
            say("evidence", reasons.raise_duplicate(why, kind), existing)
            return
        if kind != "call":
            for other_kind, other in list(room.open.items()):
                if other_kind == "call" or self._is_open(room, other_kind, t) is None:
                    continue
                if SEVERITY[other_kind] >= SEVERITY[kind]:
                    other.last_evidence = t
                    say("suppressed", reasons.raise_covered(why, other_kind), other)
                    return
        incident = Incident(self._incident_id(room, kind, t), kind, t, t, list(evidence))
        room.open[kind] = incident
        self._open(room, incident, t, event)
        say("paged", reasons.raise_paged(why, kind), incident)

    def _resolve(
        self, room: RoomState, kinds: tuple[IncidentKind, ...], t: float, why: str, event: Event
    ) -> None:
        for kind in kinds:
            incident = room.open.pop(kind, None)
            if incident is not None:
                reason = reasons.resolved(kind, why)
                self._step.incidents.append(Resolved(incident.id, t, reason))
                self._audit(t, "resolved", reason, event=event, room=room, incident=incident)

    def _cancel(self, room: RoomState, name: str, t: float, why: str, event: Event) -> bool:
        pending = room.pending.pop(name, None)
        if pending is None:
            return False
        self._audit(t, "resolved", reasons.cancelled(name, why), event=event, room=room)
        return True
