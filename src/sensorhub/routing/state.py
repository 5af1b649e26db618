"""The router's state, as the durable store keeps it: each incident it knows, with its
pending escalation steps and the acknowledgements waiting for the clock (JSON by msgspec)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from sensorhub.contract import Page

IncidentStatus = Literal["open", "acknowledged", "resolved", "held"]


# msgspec structs: made and changed on every page of a replay, where a pydantic model's
# validation and attribute hooks cost several times the routing itself


class PendingState(msgspec.Struct, forbid_unknown_fields=True):
    escalation: Annotated[int, msgspec.Meta(ge=1)]
    due: float
    to: Annotated[list[str], msgspec.Meta(min_length=1)]


class AckState(msgspec.Struct, forbid_unknown_fields=True):
    """An acknowledgement received ahead of the router's clock: in effect at ``at``."""

    at: float
    by: str


class IncidentState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One incident the router knows: its first page as decided, and where it stands."""

    page: Page  # the classifier's first page: the template of every page of the incident
    status: IncidentStatus = "open"
    recipients: list[str] = msgspec.field(default_factory=list)  # who got the first page
    paged_at: float | None = None  # ts of the first pages sent (None while held)
    steps: list[PendingState] = msgspec.field(default_factory=list)  # pending, by due time
    held_until: float | None = None  # a held technical page is released when the silence ends
    closed_at: float | None = None
    closed_by: str | None = None
    closed_reason: str | None = None
    #: received, not yet in effect, by time
    acks: list[AckState] = msgspec.field(default_factory=list)
    forget_at: float


class RouterSnapshot(msgspec.Struct, forbid_unknown_fields=True):
    version: Literal[1] = 1
    incidents: list[IncidentState] = msgspec.field(default_factory=list)


def encode_page(value: object) -> object:
    """msgspec's hook for the first page (a pydantic model)."""
    if isinstance(value, Page):
        return value.model_dump(mode="json")
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def decode_page(kind: type, value: object) -> object:
    if kind is Page:
        return Page.model_validate(value)
    raise NotImplementedError(f"cannot decode {kind.__name__}")
