"""Rule-file models of a site's staff, routes and escalation: who gets which page, and when again.

A site may describe its ``staff`` (pagers, groups, wings, shifts, routes); ``escalation`` is a
parameter like the others (see :mod:`sensorhub.rules.parameters`), layered per priority. Once a
site has ``staff``, every pager or group it names must be defined there: the validators here
and in :mod:`sensorhub.rules.sites` report each unknown name at its own place in the file (so
at its own line), with a did-you-mean. See docs/routing.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from sensorhub.contract import NAME_RE, IncidentKind, Priority
from sensorhub.durations import format_duration
from sensorhub.rules.common import (
    KINDS,
    PRIORITIES,
    LocalWindow,
    Problems,
    Strict,
    bad_name,
    duration_value,
    one_or_many,
)
from sensorhub.rules.paging import CallAddress

#: Escalation targets that are not pager or group names: the recipients of the incident's
#: first page, and the site's whole team for the page's audience (``recipients``).
SAME: Final = "same"
TEAM: Final = "team"
RESERVED_TARGETS: Final = (SAME, TEAM)
#: Bounds of an escalation step's ``after`` (seconds after the first page) and step count.
STEP_AFTER_MIN: Final = 10.0
STEP_AFTER_MAX: Final = 12 * 3600.0
MAX_STEPS: Final = 10


def _step_after(value: Any) -> Any:
    """``after`` of an escalation step: a duration within its bounds, said as a duration."""
    seconds = duration_value(value)
    if isinstance(seconds, float) and not STEP_AFTER_MIN <= seconds <= STEP_AFTER_MAX:
        shown = repr(value) if isinstance(value, str) else format_duration(seconds)
        raise ValueError(
            f"after must be between {format_duration(STEP_AFTER_MIN)} and "
            f"{format_duration(STEP_AFTER_MAX)}, not {shown}"
        )
    return seconds


class Pager(Strict):
    """One pager (or phone, or app) of a site's staff."""

    address: CallAddress | None = Field(
        None,
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
            return str(value)  # address: 3101 written bare (the loader refuses 0410)
        return value


class Schedule(LocalWindow):
    """A shift: who is on duty between two local times of day (it may run past midnight)."""

    what: ClassVar[str] = "the shift"

    start: str = Field(description="Local time the shift starts, HH:MM (24 h).")
    end: str = Field(description="Local time the shift ends, HH:MM (24 h).")
    on_duty: Annotated[
        list[str], one_or_many("on_duty", "[nachtdienst-oost, nachtdienst-west]")
    ] = Field(min_length=1, max_length=64, description="Groups and pagers on duty in this shift.")


class Route(Strict):
    """Which pages go to whom: the first route (in file order) that fits a page and has
    someone on duty decides its recipients."""

    audience: Literal["care", "technical"] = Field(
        "care", description="care pages, or technical pages (device faults); care if unset."
    )
    priorities: (
        Annotated[list[Priority], one_or_many("priorities", "[critical, high]", PRIORITIES)] | None
    ) = Field(None, min_length=1, max_length=4, description="Only pages of these priorities.")
    kinds: Annotated[list[IncidentKind], one_or_many("kinds", "[fall, call]", KINDS)] | None = (
        Field(None, min_length=1, max_length=7, description="Only incidents of these kinds.")
    )
    wings: Annotated[list[str], one_or_many("wings", "[oost, west]")] | None = Field(
        None, min_length=1, max_length=64, description="Only rooms of these wings."
    )
    rooms: Annotated[list[str], one_or_many("rooms", "[101, 102]")] | None = Field(
        None, min_length=1, max_length=1024, description="Only these rooms."
    )
    to: Annotated[list[str], one_or_many("to", "[nachtdienst-oost, dagdienst]")] = Field(
        min_length=1,
        max_length=64,
        description="Groups or pagers that get the page; those off duty by their schedule are "
        "left out, and if nobody is left the next route is tried.",
    )

    @model_validator(mode="after")
    def _audience_fits_kinds(self) -> Route:
        if self.kinds is None:
            return self
        problems = Problems()
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


class Staff(Strict):
    """The staff of a site: pagers, groups, wings, shifts and routes.

    Once a site describes its staff, every pager or group it names anywhere (routes, shifts,
    ``recipients``, escalation) must be defined here.
    """

    pagers: dict[str, Pager] = Field(
        default_factory=dict, description="Pagers by name: ESPA call address and language."
    )
    groups: dict[
        str, Annotated[list[str], one_or_many("a group lists its members", "[oost-1, oost-2]")]
    ] = Field(
        default_factory=dict,
        description="Groups by name: their pagers (or other groups), e.g. per wing or shift.",
    )
    wings: dict[str, Annotated[list[str], one_or_many("a wing lists its rooms", "[101, 102]")]] = (
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
        problems = Problems()
        for section in ("pagers", "groups", "wings", "schedules", "routes"):
            for name in getattr(self, section):
                if not NAME_RE.fullmatch(name):
                    problems.add(
                        (section, name),
                        bad_name(name),
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
        wing_of: dict[str, str] = {}
        for wing, rooms in self.wings.items():
            for index, room in enumerate(rooms):
                if not NAME_RE.fullmatch(room):
                    problems.add(
                        ("wings", wing, index),
                        bad_name(room, "room"),
                        room,
                    )
                elif room in wing_of:
                    problems.add(
                        ("wings", wing, index),
                        f"room {room!r} is in wing {wing_of[room]!r} too: the first route that "
                        "names either wing gets all its pages, the other wing's staff none; "
                        "keep each room in one wing",
                        room,
                    )
                else:
                    wing_of[room] = wing
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


class EscalationStep(Strict):
    """Re-send or escalate an unacknowledged page ``after`` this long after the first page."""

    after: Annotated[float, BeforeValidator(_step_after)] = Field(
        ge=STEP_AFTER_MIN,
        le=STEP_AFTER_MAX,
        description="How long after the first page (not after the step before), 10s-12h.",
    )
    to: Annotated[list[str], one_or_many("to", "[same, nachtdienst]")] = Field(
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
            problems = Problems()
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


class Escalation(Strict):
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
        problems = Problems()
        for priority in PRIORITIES:
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
