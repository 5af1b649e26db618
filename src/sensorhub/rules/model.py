"""Rule-file models: what a technician may write, with bounds and a description on every field.

A rule file layers parameters: the shipped defaults, then the file's ``defaults``, then a site,
a room and the room's resident. Every parameter may be set at every level; the most specific
one wins. See ``rules/default.yaml`` for the reference care policy's values.

A site may also describe its ``staff`` (pagers, groups, wings, shifts, routes); ``escalation``
is a parameter like the others, layered per priority. Once a site has ``staff``, every pager or
group it names must be defined there: the validators below report each unknown name at its own
place in the file (so at its own line), with a did-you-mean. See docs/routing.md.

A site may name its ESPA 4.4.4 paging systems under ``paging`` (:class:`EspaConfig` each, see
docs/espa.md); every recipient a paging system gives a call address must be a pager or group
of the site's staff (or, for a site without ``staff``, one of its recipients: checked in
``sensorhub.rules.policy.reference_errors``, which sees the shipped defaults too).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from sensorhub.contract import INCIDENT_KINDS, NAME_RE, IncidentKind, Priority
from sensorhub.rules.paging import EspaConfig

_T = TypeVar("_T")

_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)
_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a string such as ``90s``, ``15m``, ``1h30m``."""
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if value.strip() == "" or match is None or not any(match.groups()):
            raise ValueError(
                f"{value!r} is not a duration: write seconds as a number, or e.g. 90s, 15m, 1h30m"
            )
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    if isinstance(value, bool):
        # pydantic reports ValueError (not TypeError) raised in a validator as a field error
        raise ValueError(  # noqa: TRY004
            "a duration is a number of seconds or a string such as 15m, not a yes/no"
        )
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NightWindow(_Strict):
    """The night, in the site's local time; it may run past midnight."""

    start: str = Field(description="Local time the night starts, HH:MM (24 h).")
    end: str = Field(description="Local time the night ends, HH:MM (24 h).")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK_RE.match(value):
            raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. 22:00")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> NightWindow:
        if self.start == self.end:
            raise ValueError("the night window starts and ends at the same time: it would be empty")
        return self

    @staticmethod
    def minutes(clock: str) -> int:
        hours, minutes = clock.split(":")
        return int(hours) * 60 + int(minutes)


class Recipients(_Strict):
    """Who gets the pages of a site (pager or group names)."""

    care: str = Field(min_length=1, max_length=64, description="Pager or group for care pages.")
    technical: str = Field(
        min_length=1, max_length=64, description="Pager or group for technical pages."
    )

    @field_validator("care", "technical")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} cannot be part of an MQTT topic: use letters, digits, '_', '.', '-'"
            )
        return value


# -- staff, routes and escalation (routing) ---------------------------------------------------

#: Escalation targets that are not pager or group names: the recipients of the incident's
#: first page, and the site's whole team for the page's audience (``recipients``).
SAME: Final = "same"
TEAM: Final = "team"
RESERVED_TARGETS: Final = (SAME, TEAM)
#: Bounds of an escalation step's ``after`` (seconds after the first page) and step count.
STEP_AFTER_MIN: Final = 10.0
STEP_AFTER_MAX: Final = 12 * 3600.0
MAX_STEPS: Final = 10
_ESPA_ADDRESS_RE = re.compile(r"[0-9]{1,16}")
_PRIORITIES: Final[tuple[Priority, ...]] = ("critical", "high", "normal", "low")
_KINDS: Final[tuple[IncidentKind, ...]] = INCIDENT_KINDS


def _one_or_many(what: str, example: str, allowed: tuple[str, ...] = ()) -> Any:
    """A BeforeValidator: one name or a list of names; bare numbers (room 101) are names.

    With ``allowed``, each name must be one of them (said here, with the field's name: the
    loader would name the list position instead).
    """

    def convert(value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        names: list[str] = []
        for item in items:
            if isinstance(item, bool) or item is None or not isinstance(item, str | int):
                shown = "empty" if item is None else repr(item)
                raise ValueError(
                    f"{what}: write a name or a list of names, e.g. {example}; "
                    f"{shown} is not a name"
                    + (" (put it in quotes)" if isinstance(item, bool | float) else "")
                )
            if allowed and item not in allowed:
                close = difflib.get_close_matches(str(item), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"{item!r} is not allowed{hint}: {what} are "
                    + ", ".join(allowed[:-1])
                    + f" or {allowed[-1]}"
                )
            names.append(str(item))
        return names

    return BeforeValidator(convert)


def _step_after(value: Any) -> Any:
    """``after`` of an escalation step: a duration within its bounds, said as a duration."""
    seconds = parse_duration(value)
    if (
        isinstance(seconds, int | float)
        and not isinstance(seconds, bool)
        and not STEP_AFTER_MIN <= seconds <= STEP_AFTER_MAX
    ):
        shown = repr(value) if isinstance(value, str) else f"{seconds:g}s"
        raise ValueError(f"after must be between 10s and 12h, not {shown}")
    return seconds


def _window_clock(value: str) -> str:
    if not _CLOCK_RE.match(value):
        raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. 22:00")
    return value


class Pager(_Strict):
    """One pager (or phone, or app) of a site's staff."""

    address: str | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="ESPA 4.4.4 call address of the pager (1-16 digits); leave it out for a "
        "pager reached over MQTT only.",
    )
    language: Literal["en", "nl"] | None = Field(
        None, description="Language of the texts this pager shows; the site's language if unset."
    )

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # address: 3101 written bare
        if isinstance(value, str) and not _ESPA_ADDRESS_RE.fullmatch(value):
            raise ValueError(
                f'{value!r} is not an ESPA call address: write 1-16 digits, e.g. "3101"'
            )
        return value


class Schedule(_Strict):
    """A shift: who is on duty between two local times of day (it may run past midnight)."""

    start: str = Field(description="Local time the shift starts, HH:MM (24 h).")
    end: str = Field(description="Local time the shift ends, HH:MM (24 h).")
    on_duty: Annotated[
        list[str], _one_or_many("on_duty", "[nachtdienst-oost, nachtdienst-west]")
    ] = Field(min_length=1, max_length=64, description="Groups and pagers on duty in this shift.")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return _window_clock(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Schedule:
        if self.start == self.end:
            raise ValueError("the shift starts and ends at the same time: it would be empty")
        return self


class Route(_Strict):
    """Which pages go to whom: the first route (in file order) that fits a page and has
    someone on duty decides its recipients."""

    audience: Literal["care", "technical"] = Field(
        "care", description="care pages, or technical pages (device faults); care if unset."
    )
    priorities: (
        Annotated[list[Priority], _one_or_many("priorities", "[critical, high]", _PRIORITIES)]
        | None
    ) = Field(None, min_length=1, max_length=4, description="Only pages of these priorities.")
    kinds: Annotated[list[IncidentKind], _one_or_many("kinds", "[fall, call]", _KINDS)] | None = (
        Field(None, min_length=1, max_length=7, description="Only incidents of these kinds.")
    )
    wings: Annotated[list[str], _one_or_many("wings", "[oost, west]")] | None = Field(
        None, min_length=1, max_length=64, description="Only rooms of these wings."
    )
    rooms: Annotated[list[str], _one_or_many("rooms", "[101, 102]")] | None = Field(
        None, min_length=1, max_length=1024, description="Only these rooms."
    )
    to: Annotated[list[str], _one_or_many("to", "[nachtdienst-oost, dagdienst]")] = Field(
        min_length=1,
        max_length=64,
        description="Groups or pagers that get the page; those off duty by their schedule are "
        "left out, and if nobody is left the next route is tried.",
    )

    @model_validator(mode="after")
    def _audience_fits_kinds(self) -> Route:
        if self.kinds is None:
            return self
        problems = _Problems()
        for index, kind in enumerate(self.kinds):
            technical = kind == "device_fault"
            if technical != (self.audience == "technical"):
                problems.add(
                    ("kinds", index),
                    f"{kind} pages are {'technical' if technical else 'care'} pages: this route "
                    f"is for audience {self.audience}"
                    + ("" if technical else " (technical pages never go to care staff)"),
                    kind,
                )
        problems.raise_if_any("Route")
        return self


class Staff(_Strict):
    """The staff of a site: pagers, groups, wings, shifts and routes.

    Once a site describes its staff, every pager or group it names anywhere (routes, shifts,
    ``recipients``, escalation) must be defined here.
    """

    pagers: dict[str, Pager] = Field(
        default_factory=dict, description="Pagers by name: ESPA call address and language."
    )
    groups: dict[
        str, Annotated[list[str], _one_or_many("a group lists its members", "[oost-1, oost-2]")]
    ] = Field(
        default_factory=dict,
        description="Groups by name: their pagers (or other groups), e.g. per wing or shift.",
    )
    wings: dict[str, Annotated[list[str], _one_or_many("a wing lists its rooms", "[101, 102]")]] = (
        Field(default_factory=dict, description="Wings (or floors) by name: their rooms.")
    )
    schedules: dict[str, Schedule] = Field(
        default_factory=dict,
        description="Shifts by name, in the site's local time. A group or pager that no shift "
        "names is always on duty.",
    )
    routes: dict[str, Route] = Field(
        default_factory=dict, description="Routes by name, tried in file order."
    )

    @property
    def names(self) -> set[str]:
        """Every pager and group name."""
        return set(self.pagers) | set(self.groups)

    def members(self, name: str) -> tuple[str, ...]:
        """The pagers that ``name`` (a pager or a group, nested groups too) reaches."""
        seen: set[str] = set()
        found: list[str] = []

        def visit(current: str) -> None:
            if current in seen:
                return
            seen.add(current)
            if current in self.pagers:
                found.append(current)
            for member in self.groups.get(current, ()):
                visit(member)

        visit(name)
        return tuple(found)

    @model_validator(mode="after")
    def _references(self) -> Staff:
        problems = _Problems()
        for section in ("pagers", "groups", "wings", "schedules", "routes"):
            for name in getattr(self, section):
                if not NAME_RE.fullmatch(name):
                    problems.add(
                        (section, name),
                        f"{name!r} cannot be part of an MQTT topic: "
                        "use 1-64 letters, digits, '_', '.', '-'",
                        name,
                    )
        for name in self.pagers.keys() & self.groups.keys():
            problems.add(
                ("groups", name),
                f"{name!r} is both a pager and a group: give them different names",
                name,
            )
        for section in ("pagers", "groups"):
            for name in getattr(self, section):
                if name in RESERVED_TARGETS:
                    problems.add(
                        (section, name),
                        f"{name!r} is a reserved word of escalation steps: choose another name",
                        name,
                    )
        for group, members in self.groups.items():
            for index, member in enumerate(members):
                if member not in self.names:
                    problems.add(("groups", group, index), unknown_name(member, self), member)
        for group in self.groups:
            cycle = self._cycle(group)
            if cycle:
                problems.add(
                    ("groups", group),
                    "groups contain each other in a circle (" + " -> ".join(cycle) + "): "
                    "list pagers in one of them instead",
                    group,
                )
                break
        for wing, rooms in self.wings.items():
            for index, room in enumerate(rooms):
                if not NAME_RE.fullmatch(room):
                    problems.add(
                        ("wings", wing, index),
                        f"room name {room!r} cannot be part of an MQTT topic: "
                        "use 1-64 letters, digits, '_', '.', '-'",
                        room,
                    )
        for shift, schedule in self.schedules.items():
            for index, name in enumerate(schedule.on_duty):
                if name not in self.names:
                    problems.add(
                        ("schedules", shift, "on_duty", index), unknown_name(name, self), name
                    )
        for route_name, route in self.routes.items():
            for index, name in enumerate(route.to):
                if name not in self.names:
                    problems.add(
                        ("routes", route_name, "to", index), unknown_name(name, self), name
                    )
            for index, wing in enumerate(route.wings or ()):
                if wing not in self.wings:
                    problems.add(
                        ("routes", route_name, "wings", index),
                        _did_you_mean("wing", wing, self.wings, "staff.wings"),
                        wing,
                    )
        problems.raise_if_any("Staff")
        return self

    def _cycle(self, start: str) -> list[str]:
        path: list[str] = []

        def visit(name: str) -> list[str]:
            if name in path:
                return [*path[path.index(name) :], name]
            path.append(name)
            for member in self.groups.get(name, ()):
                found = visit(member)
                if found:
                    return found
            path.pop()
            return []

        return visit(start)


class EscalationStep(_Strict):
    """Re-send or escalate an unacknowledged page ``after`` this long after the first page."""

    after: Annotated[float, BeforeValidator(_step_after)] = Field(
        ge=STEP_AFTER_MIN,
        le=STEP_AFTER_MAX,
        description="How long after the first page (not after the step before), 10s-12h.",
    )
    to: Annotated[list[str], _one_or_many("to", "[same, nachtdienst]")] = Field(
        min_length=1,
        max_length=16,
        description="same (who got the first page), team (the site's recipients for the "
        "page's audience), or groups and pagers.",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # steps live in a list, where the loader cannot name the keys allowed: say it here
        if isinstance(data, dict):
            problems = _Problems()
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), list(cls.model_fields), n=1)
                    hint = (
                        f"did you mean {close[0]!r}?"
                        if close
                        else "a step is {after: ..., to: ...}"
                    )
                    problems.add((str(key),), f"unknown key {key!r}: {hint}", key)
            problems.raise_if_any("EscalationStep")
        elif not isinstance(data, EscalationStep):
            # pydantic reports ValueError (not TypeError) raised in a validator as a field error
            raise ValueError(  # noqa: TRY004
                "an escalation step is written {after: 60s, to: same}, "
                f"not {'a list' if isinstance(data, list) else repr(data)}"
            )
        return data


Steps = Annotated[
    list[EscalationStep],
    Field(max_length=MAX_STEPS, description="Steps in order of `after`; [] for none."),
]


class Escalation(_Strict):
    """Escalation per priority. A priority left out keeps the steps of the level above."""

    critical: Steps | None = Field(None, description="Steps for critical pages (falls).")
    high: Steps | None = Field(
        None, description="Steps for high pages (calls, bed exits, wandering)."
    )
    normal: Steps | None = Field(
        None, description="Steps for normal pages (out of bed too long, sustained sound)."
    )
    low: Steps | None = Field(None, description="Steps for low pages (device faults).")

    def steps(self, priority: Priority) -> list[EscalationStep] | None:
        steps: list[EscalationStep] | None = getattr(self, priority)
        return steps

    @model_validator(mode="after")
    def _in_order(self) -> Escalation:
        problems = _Problems()
        for priority in _PRIORITIES:
            steps = self.steps(priority) or []
            for index in range(1, len(steps)):
                before, step = steps[index - 1], steps[index]
                if step.after <= before.after:
                    problems.add(
                        (priority, index, "after"),
                        f"step {index + 1} comes {step.after:g} s after the first page, not "
                        f"later than step {index} ({before.after:g} s): each step's `after` "
                        "counts from the first page, so they must grow",
                        step.after,
                    )
        problems.raise_if_any("Escalation")
        return self


class _Problems:
    """Several mistakes found by one validator, each at its own place (so at its own line)."""

    def __init__(self) -> None:
        self.items: list[InitErrorDetails] = []

    def add(self, loc: tuple[str | int, ...], message: str, value: Any) -> None:
        self.items.append(
            InitErrorDetails(
                type=PydanticCustomError("value_error", "{error}", {"error": message}),
                loc=loc,
                input=value,
            )
        )

    def raise_if_any(self, title: str) -> None:
        if self.items:
            raise ValidationError.from_exception_data(title, self.items)


def _did_you_mean(what: str, name: str, known: Iterable[str], where: str) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"{what} {name!r} is not defined under {where}: did you mean {close[0]!r}?"
    if names:
        return f"{what} {name!r} is not defined under {where}: the {what}s are " + ", ".join(names)
    return f"{what} {name!r} is not defined: define it under {where}"


def unknown_name(name: str, staff: Staff, *, reserved: bool = False) -> str:
    """The mistake of naming ``name``, which is neither a pager nor a group of ``staff``."""
    candidates = {**dict.fromkeys(staff.groups, "group"), **dict.fromkeys(staff.pagers, "pager")}
    if reserved:
        candidates.update(dict.fromkeys(RESERVED_TARGETS, "word"))
    close = difflib.get_close_matches(name, list(candidates), n=1)
    if close:
        kind = candidates[close[0]]
        if kind == "word":
            return f"{name!r} is not a pager or group: did you mean {close[0]!r}?"
        where = "staff.groups" if kind == "group" else "staff.pagers"
        return f"{kind} {name!r} is not defined under {where}: did you mean {close[0]!r}?"
    return (
        f"{name!r} is neither a pager (staff.pagers) nor a group (staff.groups) of this site: "
        "define it there"
    )


class Parameters(_Strict):
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
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone: use an IANA name such as Europe/Amsterdam"
            ) from None
        return value


class ResidentRules(Parameters):
    """The resident of a room: fall risk, wandering and grace are usually set here."""

    name: str | None = Field(None, max_length=128, description="A label for technicians only.")


class RoomRules(Parameters):
    """One room of a site."""

    resident: ResidentRules | None = Field(None, description="The room's resident.")


class SiteRules(Parameters):
    """One site (care home)."""

    rooms: dict[str, RoomRules] = Field(default_factory=dict, description="Rooms by name.")
    staff: Staff | None = Field(
        None,
        description="The site's pagers, groups, wings, shifts and routes. Once given, every "
        "pager or group the site names (recipients, escalation) must be defined in it.",
    )
    paging: dict[str, EspaConfig] = Field(
        default_factory=dict,
        description="ESPA 4.4.4 paging systems by name (unique in the file): where each is "
        "(host and port, or device) and the call address of each pager or group it reaches.",
    )

    @field_validator("rooms")
    @classmethod
    def _room_names(cls, rooms: dict[str, RoomRules]) -> dict[str, RoomRules]:
        return _topic_names(rooms, "room")

    def levels(self) -> Iterator[tuple[tuple[str, ...], Parameters]]:
        """The site, each room and each resident, with their place under the site."""
        yield (), self
        for name, room in self.rooms.items():
            yield ("rooms", name), room
            if room.resident is not None:
                yield ("rooms", name, "resident"), room.resident

    @model_validator(mode="after")
    def _paging_references(self) -> SiteRules:
        problems = _Problems()
        for name, system in self.paging.items():
            if not NAME_RE.fullmatch(name):
                problems.add(
                    ("paging", name),
                    f"paging system name {name!r} cannot be part of an outbox channel: "
                    "use 1-64 letters, digits, '_', '.', '-'",
                    name,
                )
            if self.staff is None:
                continue  # checked against the recipients, shipped defaults included (policy)
            for recipient in system.pagers:
                if recipient not in self.staff.names:
                    problems.add(
                        ("paging", name, "pagers", recipient),
                        unknown_name(recipient, self.staff),
                        recipient,
                    )
        problems.raise_if_any("SiteRules")
        return self

    @model_validator(mode="after")
    def _staff_references(self) -> SiteRules:
        staff = self.staff
        if staff is None:
            return self
        problems = _Problems()
        for path, level in self.levels():
            for loc, name, reserved in named_targets(level):
                if name not in staff.names and not (reserved and name in RESERVED_TARGETS):
                    problems.add((*path, *loc), unknown_name(name, staff, reserved=reserved), name)
        # technical pages never go to care staff: no pager may be reached both ways
        care: dict[str, str] = {}  # pager -> the care name that reaches it
        technical: list[tuple[tuple[str | int, ...], str]] = []
        for route_name, route in staff.routes.items():
            for index, name in enumerate(route.to):
                if route.audience == "care":
                    care.update(dict.fromkeys(staff.members(name), name))
                else:
                    technical.append((("staff", "routes", route_name, "to", index), name))
        for path, level in self.levels():
            if level.recipients is not None:
                care.update(
                    dict.fromkeys(staff.members(level.recipients.care), level.recipients.care)
                )
                technical.append(((*path, "recipients", "technical"), level.recipients.technical))
        for loc, name in technical:
            shared = [pager for pager in staff.members(name) if pager in care]
            if shared:
                problems.add(
                    loc,
                    f"{name!r} gets technical pages, but pager {shared[0]!r} in it also gets care "
                    f"pages (through {care[shared[0]]!r}): technical pages never go to care "
                    "staff, so keep technicians and care staff in separate groups",
                    name,
                )
        problems.raise_if_any("SiteRules")
        return self


class RuleFile(_Strict):
    """A whole rule file."""

    version: Literal[1] = Field(1, description="Rule-file format version.")
    defaults: Parameters = Field(default_factory=Parameters, description="Defaults for all sites.")
    sites: dict[str, SiteRules] = Field(default_factory=dict, description="Sites by name.")

    @field_validator("sites")
    @classmethod
    def _site_names(cls, sites: dict[str, SiteRules]) -> dict[str, SiteRules]:
        return _topic_names(sites, "site")

    @model_validator(mode="after")
    def _paging_names(self) -> RuleFile:
        """A paging system's name is its outbox channel ``espa:<name>``: unique in the file."""
        problems = _Problems()
        first: dict[str, str] = {}
        for site_name, site in self.sites.items():
            for name in site.paging:
                if name in first:
                    problems.add(
                        ("sites", site_name, "paging", name),
                        f"paging system {name!r} is also defined under sites.{first[name]}.paging: "
                        "give each paging system its own name (it names its queue of pages)",
                        name,
                    )
                else:
                    first[name] = site_name
        problems.raise_if_any("RuleFile")
        return self

    @model_validator(mode="after")
    def _inherited_references(self) -> RuleFile:
        """Names in ``defaults`` that a site with staff inherits must be defined in its staff."""
        problems = _Problems()
        for site_name, site in self.sites.items():
            if site.staff is None:
                continue
            for loc, name, reserved in inherited_targets(self.defaults, site):
                if name not in site.staff.names and not (reserved and name in RESERVED_TARGETS):
                    problems.add(
                        ("defaults", *loc),
                        f"site {site_name!r} inherits this, but "
                        + unknown_name(name, site.staff, reserved=reserved)
                        + f" (under sites.{site_name}.staff)",
                        name,
                    )
        problems.raise_if_any("RuleFile")
        return self


def named_targets(level: Parameters) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """Every pager or group name a level writes: (place, name, whether same/team may stand)."""
    if level.recipients is not None:
        yield ("recipients", "care"), level.recipients.care, False
        yield ("recipients", "technical"), level.recipients.technical, False
    if level.escalation is not None:
        for priority in _PRIORITIES:
            for index, step in enumerate(level.escalation.steps(priority) or ()):
                for position, name in enumerate(step.to):
                    yield ("escalation", priority, index, "to", position), name, True


def inherited_targets(
    defaults: Parameters, *levels: Parameters
) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """The names ``defaults`` writes that stay in force under ``levels`` (which do not set
    ``recipients``, or the escalation of that priority, themselves)."""
    recipients = any(level.recipients is not None for level in levels)
    overridden = {
        priority
        for level in levels
        for priority in _PRIORITIES
        if level.escalation is not None and level.escalation.steps(priority) is not None
    }
    for loc, name, reserved in named_targets(defaults):
        if loc[0] == "recipients" and recipients:
            continue
        if loc[0] == "escalation" and loc[1] in overridden:
            continue
        yield loc, name, reserved


def priorities() -> tuple[Priority, ...]:
    """The page priorities, most urgent first."""
    return _PRIORITIES


def _topic_names(named: dict[str, _T], what: str) -> dict[str, _T]:
    """Site and room names become MQTT topic levels: check them."""
    for name in named:
        if not NAME_RE.fullmatch(name):
            raise ValueError(
                f"{what} name {name!r} cannot be part of an MQTT topic: "
                "use 1-64 letters, digits, '_', '.', '-'"
            )
    return named
