"""What the core hands back: pages and one audit record per decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sensorhub.contract import Event, Page

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
    page_id: str | None = None

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
        if self.page_id is not None:
            record["page_id"] = self.page_id
        return record


@dataclass(slots=True)
class Step:
    """The outcome of feeding the core: pages to send, and the audit trail of each decision."""

    pages: list[Page] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)

    def extend(self, other: Step) -> None:
        self.pages.extend(other.pages)
        self.audit.extend(other.audit)
