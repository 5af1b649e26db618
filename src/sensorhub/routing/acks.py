"""An acknowledgement as routing keeps it and the store writes it: who answered which incident,
and when. A module of its own, so that the store (and ``sensorhub silences``, which opens it)
does not import the router, and with it the rule files' models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args


@dataclass(frozen=True, slots=True)
class AckRecord:
    """``by`` acknowledged ``incident`` at ``at`` (Unix seconds)."""

    incident: str
    by: str
    at: float


#: Why an acknowledgement stopped nothing, for the metrics: ``not_staff`` (its ``by`` is none of
#: the site's staff), ``not_open`` (an unknown incident, another site's, one already closed),
#: ``bad_time`` (its ``ts`` before the incident or too far ahead), ``malformed`` (unreadable).
RefusalCode = Literal["not_staff", "not_open", "bad_time", "malformed"]
REFUSAL_CODES: Final[tuple[RefusalCode, ...]] = get_args(RefusalCode)
#: How far an acknowledgement's ``ts`` may lie before the incident's first page, or (on the wall
#: clock) ahead of its receipt, for clocks that are not quite together (sensors, pager gateways,
#: sensorhub): a little more than that is refused.
ACK_SKEW: Final = 60.0


@dataclass(frozen=True, slots=True)
class AckRefusal:
    """An acknowledgement that stops nothing: ``reason`` for its dead letter, ``code`` to count."""

    code: RefusalCode
    reason: str

    def __str__(self) -> str:
        return self.reason
