"""The one definition of docs/contract.md: vocabulary, topics and the wire models.

Everything that crosses the service boundary is described here: the event payload (section 1),
the page (section 2), the dead letter. Other modules import these names; none of them restate
the vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Default topic prefix of sensor events: ``care/<site>/<room>/<kind>/<device>``.
DEFAULT_PREFIX: Final = "care"
#: Where bad input is published.
DEADLETTER_TOPIC: Final = "sensorhub/deadletter"
#: Pages go to ``sensorhub/pages/<site>/<recipient>``.
PAGES_TOPIC: Final = "sensorhub/pages"
#: Acknowledgements arrive on ``sensorhub/ack/<site>``.
ACK_TOPIC: Final = "sensorhub/ack"
#: Largest payload accepted, in bytes.
MAX_PAYLOAD: Final = 64 * 1024
#: Event times must lie in [TS_MIN, TS_MAX): 2000-01-01 and 2100-01-01 UTC.
TS_MIN: Final = 946_684_800.0
TS_MAX: Final = 4_102_444_800.0
#: How late (in event time) an event may arrive and still be placed in order.
MAX_LATENESS: Final = 10.0

NAME_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")

HEALTH_EVENTS: Final = ("heartbeat", "battery_low", "fault")

#: Events of each sensor kind (section 1), not counting the device-health events.
VOCABULARY: Final[dict[str, tuple[str, ...]]] = {
    "optical": (
        "in_bed",
        "sitting_on_edge",
        "out_of_bed",
        "in_bathroom",
        "left_room",
        "entered_room",
        "fall",
        "on_floor",
        "staff_present",
        "multiple_persons",
        "no_person",
        "obstructed",
    ),
    "bed": ("occupied", "vacated"),
    "door": ("open", "closed"),
    "motion": ("motion", "no_motion"),
    "call": ("pressed", "cancelled"),
    "presence": ("staff_in", "staff_out"),
    "acoustic": ("sound", "quiet"),
}

KINDS: Final = tuple(VOCABULARY)

#: Every (kind, event) pair gets a small integer code; the numba core works on these.
EVENT_CODES: Final[dict[tuple[str, str], int]] = {}
for _kind, _events in VOCABULARY.items():
    for _event in (*_events, *HEALTH_EVENTS):
        EVENT_CODES[(_kind, _event)] = len(EVENT_CODES)


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can be the topic prefix of sensor events, else ValueError saying why."""
    levels = prefix.split("/")
    if not prefix or any(not level or level in ("+", "#") for level in levels):
        raise ValueError(
            f"topic prefix {prefix!r} must be one or more topic levels without wildcards, e.g. care"
        )
    return prefix


def allowed_events(kind: str) -> tuple[str, ...]:
    """The events a sensor of ``kind`` may send, health events included."""
    return (*VOCABULARY[kind], *HEALTH_EVENTS)


IncidentKind = Literal[
    "fall", "call", "bed_exit", "absent_too_long", "wandering", "acoustic", "device_fault"
]
INCIDENT_KINDS: Final[tuple[IncidentKind, ...]] = (
    "fall",
    "call",
    "bed_exit",
    "absent_too_long",
    "wandering",
    "acoustic",
    "device_fault",
)
Priority = Literal["critical", "high", "normal", "low"]
Audience = Literal["care", "technical"]


@dataclass(slots=True)
class Event:
    """One validated sensor event, as the core sees it.

    ``raw`` is the payload object as received, unknown fields included, for the audit record.
    ``seq`` is the arrival order, which breaks ties between events of the same ``ts``.
    """

    ts: float
    site: str
    room: str
    kind: str
    device: str
    event: str
    id: str | None = None
    confidence: float = 1.0
    value: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    seq: int = 0

    @property
    def topic_suffix(self) -> str:
        return f"{self.site}/{self.room}/{self.kind}/{self.device}"

    @property
    def ref(self) -> str:
        """The event's id, or for an event without one a stable name made of where and when."""
        if self.id is not None:
            return self.id
        return f"{self.topic_suffix}@{self.ts:.3f}"


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement (section 2): ``by`` answered the pages of ``incident`` of ``site``.
    ``ts``: when (Unix seconds); None: when it was received."""

    site: str
    incident: str
    by: str
    ts: float | None = None


class Page(BaseModel):
    """A page (section 2): one request to a member of staff to react."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page_id: str = Field(description="Unique id of this page.")
    incident: str = Field(description="Id shared by all pages about one reason to go to one room.")
    site: str
    room: str
    kind: IncidentKind = Field(description="What happened.")
    priority: Priority
    audience: Audience = Field(description="care pages go to care staff, technical to technicians.")
    ts: float = Field(description="Event time at which the page was decided (Unix seconds).")
    escalation: int = Field(ge=0, description="0 for the first notification of an incident.")
    recipient: str = Field(description="Pager or group that gets it.")
    text: str = Field(description="Short text for a pager display.")
    events: list[str] = Field(description="Ids of the events that are the evidence.")

    @property
    def topic(self) -> str:
        return f"{PAGES_TOPIC}/{self.site}/{self.recipient}"

    @property
    def is_reaction(self) -> bool:
        """A reaction is a care page with escalation 0 (section 2)."""
        return self.audience == "care" and self.escalation == 0


def reduction(reactions: int, raw_alarms: int) -> float:
    """1 - reactions / raw alarms: the share of conventional alarms nobody had to answer.

    ``reactions`` counts pages with :attr:`Page.is_reaction`; 0.0 before the first raw alarm.
    """
    return 1.0 - reactions / raw_alarms if raw_alarms else 0.0


#: A dead letter keeps at most this many bytes of its payload (section 1) ...
DEAD_LETTER_HEAD: Final = 1024
#: ... and is never larger than this, as JSON.
DEAD_LETTER_MAX: Final = 4096


class DeadLetter(BaseModel):
    """Bad input, as published to ``sensorhub/deadletter`` (section 1): the head of the payload
    (``payload``, at most ``DEAD_LETTER_HEAD`` bytes), with the whole payload's ``length`` and
    ``sha256``."""

    model_config = ConfigDict(extra="allow")

    topic: str
    payload: str
    encoding: Literal["utf-8", "base64"]
    length: int
    sha256: str
    error: str
    received_at: float
