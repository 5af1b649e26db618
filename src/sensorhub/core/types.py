"""What the core hands back: typed incidents for routing, and one audit record per decision.

The core decides *that* a room (or a device) needs someone; it never makes a page. Routing
(``sensorhub.routing``) turns an :class:`Opened` incident into pages for its recipients, keeps
escalating it, and stops when it is :class:`Resolved` or acknowledged. The audit records say
why, for people; nothing downstream decides by reading them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sensorhub.contract import Event, IncidentKind

Decision = Literal[
    "paged",  # this event or timer decided a page
    "pending",  # evidence that starts a confirmation window or grace timer
    "evidence",  # added to an incident already open (a duplicate, not paged again)
    "suppressed",  # would have been an alarm, and why it is not
    "resolved",  # closed an open incident or cancelled a pending one
    "state",  # changed what the service knows of the room, nothing to page
    "ignored",  # nothing to do with it
]


@dataclass(slots=True)
class AuditRecord:
    """Why an input event (or a timer) was or was not passed on."""

    ts: float
    decision: Decision
    reason: str
    event: Event | None = None
    timer: str | None = None
    site: str | None = None
    room: str | None = None
    incident: str | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"ts": self.ts, "decision": self.decision, "reason": self.reason}
        if self.event is not None:
            ev = self.event
            record["event"] = {
                **ev.raw,
                "ts": ev.ts,
                "site": ev.site,
                "room": ev.room,
                "kind": ev.kind,
                "device": ev.device,
                "event": ev.event,
            }
        if self.timer is not None:
            record["timer"] = self.timer
            record["site"] = self.site
            record["room"] = self.room
        if self.incident is not None:
            record["incident"] = self.incident
        return record


@dataclass(frozen=True, slots=True)
class Opened:
    """An incident became actionable at event time ``ts``: someone has to go (routing pages it).

    ``events`` are the ids (or refs) of its evidence; a device fault names its ``device`` and
    ``fault`` (``fault``, ``battery_low``, ``obstructed``, ``silent``). ``seq`` is the arrival
    number of the event that decided it (None: a timer decided it), for the latency metric."""

    incident: str
    kind: IncidentKind
    site: str
    room: str
    ts: float
    events: tuple[str, ...]
    device: str | None = None
    fault: str | None = None
    seq: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Evidence:
    """More evidence of an open incident at ``ts`` (not paged again; it may release one a
    silence held back)."""

    incident: str
    ts: float


@dataclass(frozen=True, slots=True)
class Resolved:
    """The incident is over at ``ts`` (staff arrived, the call was cancelled, the resident is
    back in bed, the device is heard again): no more escalation."""

    incident: str
    ts: float
    reason: str


#: What the core says of an incident.
IncidentChange = Opened | Evidence | Resolved


@dataclass(frozen=True, slots=True)
class RoomReload:
    """A room whose parameters new rules changed (``changed``: ``name old -> new``), and its
    decisions that were pending then (``pending``: name and due time). They keep the due times
    the old rules gave them; what the room decides from then on follows the new rules."""

    site: str
    room: str
    changed: tuple[str, ...]
    pending: tuple[tuple[str, float], ...]


@dataclass(slots=True)
class Step:
    """The outcome of feeding the core: what became of incidents, in the order decided within
    each room, and the audit trail of each decision."""

    incidents: list[IncidentChange] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)

    @property
    def opened(self) -> list[Opened]:
        """The incidents opened: one first page each, once routed."""
        return [change for change in self.incidents if isinstance(change, Opened)]

    def extend(self, other: Step) -> None:
        self.incidents.extend(other.incidents)
        self.audit.extend(other.audit)


class JournalEntry(NamedTuple):
    """What the classifier was given since its last snapshot: a message, or a clock tick.

    ``topic`` and ``payload`` are the message as it came from the broker (the payload as text:
    only messages that decoded are journalled), ``at`` when it was received. For the clock
    (``is_tick``) the topic is empty, the payload says ``tick`` (``at`` is the wall time it was
    ticked with) or ``drain`` (everything buffered was decided).

    A tuple, made for every message ``serve`` takes: a third of the cost of a frozen
    dataclass, and written as the JSON array ``[topic, payload, at]`` as it is.
    """

    topic: str
    payload: str
    at: float

    @property
    def is_tick(self) -> bool:
        return not self.topic
