"""Rule-file models of the care policy's parameters, and of the room and resident that set them.

A rule file layers parameters: the shipped defaults, then the file's ``defaults``, then a site,
a room and the room's resident. Every parameter may be set at every level; the most specific
one wins. See ``rules/default.yaml`` for the reference care policy's values, and rules/README.md
for what each parameter means and its bounds.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from sensorhub.contract import NAME_RE
from sensorhub.rules.common import Duration, LocalWindow, Strict, bad_name, time_zone
from sensorhub.rules.staff import Escalation


class NightWindow(LocalWindow):
    """The night, in the site's local time; it may run past midnight."""

    what: ClassVar[str] = "the night window"

    start: str = Field(description="Local time the night starts, HH:MM (24 h).")
    end: str = Field(description="Local time the night ends, HH:MM (24 h).")

    @staticmethod
    def minutes(clock: str) -> int:
        hours, minutes = clock.split(":")
        return int(hours) * 60 + int(minutes)


class Recipients(Strict):
    """Who gets the pages of a site (pager or group names)."""

    care: str = Field(min_length=1, max_length=64, description="Pager or group for care pages.")
    technical: str = Field(
        min_length=1, max_length=64, description="Pager or group for technical pages."
    )

    @field_validator("care", "technical")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(bad_name(value))
        return value


class Parameters(Strict):
    """Parameters of the care policy. Unset fields inherit from the level above."""

    timezone: str | None = Field(
        None, description="IANA time zone of the site, e.g. Europe/Amsterdam."
    )
    night: NightWindow | None = Field(None, description="Night window in local time.")
    language: Literal["en", "nl"] | None = Field(None, description="Language of pager texts.")
    recipients: Recipients | None = Field(
        None,
        description="Who gets care and technical pages when no staff route says otherwise; "
        "also the whole team that escalation `to: team` reaches.",
    )
    escalation: Escalation | None = Field(
        None,
        description="Re-notification and escalation of unacknowledged pages, per priority.",
    )
    fall_risk: Literal["low", "normal", "high"] | None = Field(
        None, description="high: every bed exit at night is paged."
    )
    wanders: bool | None = Field(None, description="true: leaving the room at night is paged.")
    bathroom_grace: Duration | None = Field(
        None, ge=60, le=4 * 3600, description="How long a resident may be out of bed at night."
    )
    acoustic_threshold: float | None = Field(
        None, ge=30, le=130, description="Sound level in dB(A) that counts as loud."
    )
    acoustic_duration: Duration | None = Field(
        None, ge=5, le=600, description="How long loud sound must last to be paged."
    )
    acoustic_gap: Duration | None = Field(
        None, ge=1, le=60, description="Largest gap between loud reports of one sustained sound."
    )
    fall_confirm: Duration | None = Field(
        None, ge=0, le=14, description="How long a fall may be contradicted before it is paged."
    )
    bed_exit_confirm: Duration | None = Field(
        None,
        ge=0,
        le=9,
        description="Where only a bed mat sees the bed: how long it must stay vacated to count as "
        "leaving the bed (a resident turning over lifts the mat for a moment).",
    )
    wandering_confirm: Duration | None = Field(
        None,
        ge=0,
        le=29,
        description="After a door opens, how long to look for the room being left empty.",
    )
    staff_recent: Duration | None = Field(
        None, ge=0, le=600, description="How long an optical sighting of staff counts as present."
    )
    staff_timeout: Duration | None = Field(
        None,
        ge=60,
        le=4 * 3600,
        description="A staff_in with no staff_out stops counting after this long.",
    )
    obstructed_after: Duration | None = Field(
        None, ge=0, le=3600, description="How long a camera may be obstructed before it is a fault."
    )
    silent_after: Duration | None = Field(
        None, ge=60, le=24 * 3600, description="A device silent this long is a fault."
    )
    incident_idle_close: Duration | None = Field(
        None,
        ge=60,
        le=24 * 3600,
        description="An open incident with no new evidence for this long is closed.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else time_zone(value)


class ResidentRules(Parameters):
    """The resident of a room: fall risk, wandering and grace are usually set here."""

    name: str | None = Field(None, max_length=128, description="A label for technicians only.")


class RoomRules(Parameters):
    """One room of a site."""

    resident: ResidentRules | None = Field(None, description="The room's resident.")
    devices: list[str] | None = Field(
        None,
        description="The room's devices, by name as in the sensors' topics; when given, a "
        "message from any other device of the room is dead-lettered (unset: devices are "
        "learned as they report).",
    )

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            if not NAME_RE.fullmatch(name):
                raise ValueError(bad_name(name, "device"))
        if value is not None and len(set(value)) != len(value):
            twice = sorted({name for name in value if value.count(name) > 1})
            raise ValueError(f"device {twice[0]!r} is named twice: name each device once")
        return value
