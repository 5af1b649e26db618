"""Compiling rule files: every room resolved once into a flat, fully set ``RoomPolicy``."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sensorhub.contract import Audience, Priority
from sensorhub.rules.coverage import handset_errors
from sensorhub.rules.model import (
    RESERVED_TARGETS,
    NightWindow,
    Parameters,
    Recipients,
    RuleFile,
    SiteRules,
    Staff,
    inherited_targets,
    priorities,
)
from sensorhub.rules.paging import PagingSystem
from sensorhub.rules.sites import DEFAULT_RETENTION
from sensorhub.sources.spec import SourceSpec

_PARAMETER_FIELDS = tuple(Parameters.model_fields)
#: Parameters the defaults may leave unset: no escalation unless a rule file asks for it.
_OPTIONAL_FIELDS = frozenset({"escalation"})

#: A language of pager texts.
Language = Literal["en", "nl"]


@dataclass(frozen=True, slots=True)
class Escalate:
    """One escalation step: ``after`` seconds after the first page, page ``to``."""

    after: float
    to: tuple[str, ...]  # "same", "team", or pager and group names


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """The escalation steps of each priority, resolved for one room."""

    critical: tuple[Escalate, ...] = ()
    high: tuple[Escalate, ...] = ()
    normal: tuple[Escalate, ...] = ()
    low: tuple[Escalate, ...] = ()

    def steps(self, priority: Priority) -> tuple[Escalate, ...]:
        steps: tuple[Escalate, ...] = getattr(self, priority)
        return steps


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    """All parameters of one room, resolved from defaults, site, room and resident."""

    site: str
    room: str
    timezone: str
    night_start: int  # minutes after local midnight
    night_end: int
    language: Language
    care_recipient: str
    technical_recipient: str
    fall_risk: Literal["low", "normal", "high"]
    wanders: bool
    bathroom_grace: float
    acoustic_threshold: float
    acoustic_duration: float
    acoustic_gap: float
    fall_confirm: float
    bed_exit_confirm: float
    wandering_confirm: float
    staff_recent: float
    staff_timeout: float
    obstructed_after: float
    silent_after: float
    incident_idle_close: float
    escalation: EscalationPlan = field(default_factory=EscalationPlan)

    def recipient(self, audience: Audience) -> str:
        """The site's whole team for ``audience``: the fallback recipient and ``to: team``."""
        return self.technical_recipient if audience == "technical" else self.care_recipient

    def is_night(self, ts: float) -> bool:
        """Whether event time ``ts`` falls in the night window, in the site's local time."""
        return _in_window(_local_minute(ts, self.timezone), self.night_start, self.night_end)


#: What a room's pages say and who gets them: routing's, not the classifier's.
ROUTING_FIELDS = frozenset({"language", "care_recipient", "technical_recipient", "escalation"})


def room_differences(old: RoomPolicy, new: RoomPolicy) -> list[str]:
    """What differs between two policies of a room in what the classifier decides by, one
    ``name old -> new`` each."""
    return [
        f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}"
        for name in RoomPolicy.__dataclass_fields__
        if name not in ROUTING_FIELDS and getattr(old, name) != getattr(new, name)
    ]


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_minute(ts: float, timezone: str) -> int:
    local = datetime.fromtimestamp(ts, _zone(timezone))
    return local.hour * 60 + local.minute


def _in_window(minute: int, start: int, end: int) -> bool:
    """Whether ``minute`` of the day lies in [start, end); a window may wrap midnight."""
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


# -- staff: who gets which page -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PagerInfo:
    """A pager of a site's staff."""

    name: str
    address: str | None  # ESPA 4.4.4 call address; None: reached over MQTT only
    language: Language | None  # None: the site's language


@dataclass(frozen=True, slots=True)
class Shift:
    """A schedule: the names on duty between two local times of day."""

    name: str
    start: int  # minutes after local midnight
    end: int
    on_duty: frozenset[str]

    def active(self, minute: int) -> bool:
        return _in_window(minute, self.start, self.end)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A route with its wings resolved to rooms. ``None`` filters match everything."""

    name: str
    audience: Audience
    priorities: frozenset[str] | None
    kinds: frozenset[str] | None
    rooms: frozenset[str] | None
    to: tuple[str, ...]

    def fits(self, room: str, audience: Audience, priority: Priority, kind: str) -> bool:
        return (
            self.audience == audience
            and (self.priorities is None or priority in self.priorities)
            and (self.kinds is None or kind in self.kinds)
            and (self.rooms is None or room in self.rooms)
        )


@dataclass(frozen=True, slots=True)
class Routed:
    """The recipients a route chose for a page, and why."""

    route: CompiledRoute
    recipients: tuple[str, ...]
    off_duty: tuple[str, ...]  # named by the route but off duty at the time


@dataclass(frozen=True, slots=True, eq=False)
class SiteStaff:
    """The compiled ``staff`` of one site. ``described`` is false for a site without one: then
    it has no pagers, groups, shifts or routes and every page goes to ``recipients``."""

    site: str
    timezone: str
    described: bool
    pagers: Mapping[str, PagerInfo]
    groups: Mapping[str, tuple[str, ...]]  # group -> its pagers, nested groups flattened
    shifts: tuple[Shift, ...]
    routes: tuple[CompiledRoute, ...]

    def members(self, name: str) -> tuple[str, ...]:
        """The pagers a pager or group name reaches (none for a name the staff lacks)."""
        if name in self.pagers:
            return (name,)
        return self.groups.get(name, ())

    def language_of(self, name: str, site_language: Language) -> Language:
        """The language of pages to pager or group ``name``: the one all its pagers read (a
        pager without its own reads ``site_language``); where they differ, ``site_language``,
        which the site's staff share."""
        languages = {self.pagers[member].language or site_language for member in self.members(name)}
        return languages.pop() if len(languages) == 1 else site_language

    def is_scheduled(self, name: str) -> bool:
        """Whether any shift names ``name``; a name no shift names is always on duty."""
        return any(name in shift.on_duty for shift in self.shifts)

    def on_duty(self, name: str, ts: float) -> bool:
        """Whether ``name`` is on duty at ``ts`` (site local time, daylight saving included)."""
        if not self.is_scheduled(name):
            return True
        minute = _local_minute(ts, self.timezone)
        return any(name in shift.on_duty and shift.active(minute) for shift in self.shifts)

    def route(
        self, room: str, audience: Audience, priority: Priority, kind: str, ts: float
    ) -> Routed | None:
        """The first route that fits the page and has someone on duty at ``ts``, or None."""
        for candidate in self.routes:
            if not candidate.fits(room, audience, priority, kind):
                continue
            on = tuple(name for name in candidate.to if self.on_duty(name, ts))
            if on:
                off = tuple(name for name in candidate.to if name not in on)
                return Routed(candidate, on, off)
        return None

    @property
    def technical_names(self) -> frozenset[str]:
        """The names that technical routes page."""
        return frozenset(
            name for route in self.routes if route.audience == "technical" for name in route.to
        )

    def pager_by_address(self, address: str) -> PagerInfo | None:
        """The pager with ESPA call address ``address`` (to read acknowledgements)."""
        for pager in self.pagers.values():
            if pager.address == address:
                return pager
        return None


def _compile_staff(site: str, timezone: str, staff: Staff | None) -> SiteStaff:
    if staff is None:
        return SiteStaff(site, timezone, False, {}, {}, (), ())
    pagers = {
        name: PagerInfo(name, pager.address, pager.language) for name, pager in staff.pagers.items()
    }
    groups = {name: staff.members(name) for name in staff.groups}
    shifts = tuple(
        Shift(
            name,
            NightWindow.minutes(schedule.start),
            NightWindow.minutes(schedule.end),
            frozenset(schedule.on_duty),
        )
        for name, schedule in staff.schedules.items()
    )
    routes = []
    for name, route in staff.routes.items():
        rooms: set[str] | None = None
        if route.rooms is not None or route.wings is not None:
            rooms = set(route.rooms or ())
            for wing in route.wings or ():
                rooms.update(staff.wings[wing])
        routes.append(
            CompiledRoute(
                name,
                route.audience,
                None if route.priorities is None else frozenset(route.priorities),
                None if route.kinds is None else frozenset(route.kinds),
                None if rooms is None else frozenset(rooms),
                tuple(route.to),
            )
        )
    return SiteStaff(site, timezone, True, pagers, groups, shifts, tuple(routes))


def _escalation_plan(layers: list[Parameters | None]) -> EscalationPlan:
    """Escalation merged per priority: the most specific level that sets a priority wins."""
    plan: dict[str, tuple[Escalate, ...]] = {}
    for layer in layers:
        if layer is None or layer.escalation is None:
            continue
        for priority in priorities():
            steps = layer.escalation.steps(priority)
            if steps is not None:
                plan[priority] = tuple(Escalate(step.after, tuple(step.to)) for step in steps)
    return EscalationPlan(**plan)


def reference_errors(rules: RuleFile, base: RuleFile | None) -> list[tuple[tuple[str, ...], str]]:
    """Names a site with staff takes from the shipped rules (``base``) but does not define.

    The rule file's own names are checked when it loads; only what comes from ``base`` (e.g.
    ``recipients: {care: night-team, ...}`` of rules/default.yaml) is left to check here.
    Returns (key path, message) pairs, one per site and key. The recipients of the paging
    systems of a site without staff are checked here too (:func:`paging_errors`), and so are
    the names that get falls at night but that no paging system calls (which needs the night of
    the shipped rules: :func:`sensorhub.rules.coverage.handset_errors`).
    """
    errors = paging_errors(rules, base) + handset_errors(rules, base)
    if base is None:
        return errors
    for site_name, site in rules.sites.items():
        if site.staff is None:
            continue
        missing: dict[str, list[str]] = {}
        for loc, name, reserved in inherited_targets(base.defaults, rules.defaults, site):
            if name in site.staff.names or (reserved and name in RESERVED_TARGETS):
                continue
            written = ".".join(str(part) for part in loc)
            close = difflib.get_close_matches(name, sorted(site.staff.names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            missing.setdefault(str(loc[0]), []).append(f"{written} {name!r}{hint}")
        for key, names in missing.items():
            fix = (
                "recipients: {care: <care group>, technical: <technicians>}"
                if key == "recipients"
                else "its own escalation"
            )
            errors.append(
                (
                    ("sites", site_name, key),
                    f"the site describes its staff but sets no {key}, so it takes "
                    + ", ".join(names)
                    + f" from the shipped rules, which its staff does not define: give the site "
                    f"{fix}",
                )
            )
    return errors


def site_recipients(rules: RuleFile, base: RuleFile | None, site: SiteRules) -> list[str]:
    """The recipients a site's pages can go to by ``recipients`` (site, rooms, residents, and
    what the site inherits from the file's and the shipped defaults), in file order."""
    inherited = next(
        (
            level.recipients
            for level in (site, rules.defaults, base.defaults if base else None)
            if level is not None and level.recipients is not None
        ),
        None,
    )
    names: dict[str, None] = {}
    if inherited is not None:
        names.update(dict.fromkeys((inherited.care, inherited.technical)))
    for _, level in site.levels():
        if level.recipients is not None:
            names.update(dict.fromkeys((level.recipients.care, level.recipients.technical)))
    return list(names)


def paging_errors(rules: RuleFile, base: RuleFile | None) -> list[tuple[tuple[str, ...], str]]:
    """Pagers of a paging system of a site without ``staff`` that are none of its recipients.

    (A site with staff is checked against its staff when the file loads.)
    """
    errors: list[tuple[tuple[str, ...], str]] = []
    for site_name, site in rules.sites.items():
        if site.staff is not None:
            continue
        known = site_recipients(rules, base, site)
        for name, system in site.paging.items():
            for recipient in system.pagers:
                if recipient in known:
                    continue
                close = difflib.get_close_matches(recipient, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                errors.append(
                    (
                        ("sites", site_name, "paging", name, "pagers", recipient),
                        f"{recipient!r} gets no pages of site {site_name!r}: {hint}its pages go "
                        "to its recipients (" + ", ".join(repr(n) for n in known) + "). To page "
                        "pagers and groups by name, describe them under the site's staff",
                    )
                )
    return errors


class Policy:
    """A compiled rule file: ``room(site, room)`` gives the resolved parameters of any room.

    Rooms the file does not name get the defaults of their site (or of the file), so a sensor
    in a room nobody configured is still classified.
    """

    def __init__(self, rules: RuleFile, base: RuleFile | None = None) -> None:
        self.rules = rules
        self.base = base
        self._layers_default = _merge_layers(
            [base.defaults if base is not None else None, rules.defaults]
        )
        missing = [
            name
            for name in _PARAMETER_FIELDS
            if name not in _OPTIONAL_FIELDS and self._layers_default.get(name) is None
        ]
        if missing:
            raise ValueError(
                "the defaults do not set " + ", ".join(missing) + ": start from rules/default.yaml"
            )
        problems = reference_errors(rules, base)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(key)}: {message}" for key, message in problems))
        self._defaults = [base.defaults if base is not None else None, rules.defaults]
        self._cache: dict[tuple[str, str], RoomPolicy] = {}
        self._staff: dict[str, SiteStaff] = {}
        self._acknowledgers: dict[str, frozenset[str]] = {}
        self._kept: dict[str, frozenset[str]] = {}
        self._paging = {
            name: PagingSystem(name, site_name, config)
            for site_name, site in rules.sites.items()
            for name, config in site.paging.items()
        }

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the rules (the shipped defaults and the file) as canonical JSON: equal
        for equal rules in every process, whatever its hash seed (``serve`` compares it with
        the one its saved state was made under)."""
        return canonical_digest(
            {
                "base": None if self.base is None else self.base.model_dump(),
                "rules": self.rules.model_dump(),
            }
        )

    @cached_property
    def sources(self) -> tuple[SourceSpec, ...]:
        """The sources of foreign sensor payloads of every site, compiled (docs/sources.md)."""
        return tuple(
            source.spec(name, site_name, site.rooms, self.staff(site_name).timezone)
            for site_name, site in self.rules.sites.items()
            for name, source in site.sources.items()
        )

    @cached_property
    def declared_devices(self) -> dict[tuple[str, str], frozenset[str]]:
        """(site, room) -> the devices the rule file declares for the room (``devices:``);
        a room without the key is absent (its devices are learned as they report)."""
        return {
            (site_name, room_name): frozenset(room.devices)
            for site_name, site in self.rules.sites.items()
            for room_name, room in site.rooms.items()
            if room.devices is not None
        }

    def paging_systems(self) -> dict[str, PagingSystem]:
        """The ESPA 4.4.4 paging systems of every site, by name (unique in the rule file)."""
        return dict(self._paging)

    def room(self, site: str, room: str) -> RoomPolicy:
        key = (site, room)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._resolve(site, room)
        return cached

    def staff(self, site: str) -> SiteStaff:
        """The compiled staff of ``site`` (pagers, groups, shifts, routes), in its time zone."""
        cached = self._staff.get(site)
        if cached is None:
            site_rules = self.rules.sites.get(site)
            values = dict(self._layers_default)
            values.update(_merge_layers([site_rules]))
            cached = self._staff[site] = _compile_staff(
                site, values["timezone"], site_rules.staff if site_rules else None
            )
        return cached

    def acknowledgers(self, site: str) -> frozenset[str]:
        """Who may acknowledge ``site``'s incidents: the pagers and groups of its ``staff``, or
        for a site without ``staff`` its recipients (those of the site, its rooms and
        residents, and what it inherits from the defaults)."""
        cached = self._acknowledgers.get(site)
        if cached is None:
            staff = self.staff(site)
            if staff.described:
                cached = frozenset(staff.pagers) | frozenset(staff.groups)
            else:
                site_rules = self.rules.sites.get(site) or SiteRules()
                cached = frozenset(site_recipients(self.rules, self.base, site_rules))
            self._acknowledgers[site] = cached
        return cached

    def keep_fields(self, site: str) -> frozenset[str]:
        """The payload fields outside the contract that ``site`` keeps (its ``keep_fields``)."""
        kept = self._kept.get(site)
        if kept is None:
            site_rules = self.rules.sites.get(site)
            kept = self._kept[site] = frozenset(site_rules.keep_fields if site_rules else ())
        return kept

    def retention(self, site: str) -> float:
        """How long ``site``'s history is kept, in seconds (its ``retention``, 30 days if the
        site is not in the rules)."""
        site_rules = self.rules.sites.get(site)
        if site_rules is None or site_rules.retention is None:
            return DEFAULT_RETENTION
        return site_rules.retention

    def shortest_retention(self) -> float:
        """The shortest ``retention`` of any site (of the default, for the sites not named)."""
        return min(
            (DEFAULT_RETENTION, *(s.retention for s in self.rules.sites.values() if s.retention))
        )

    def _resolve(self, site: str, room: str) -> RoomPolicy:
        site_rules = self.rules.sites.get(site)
        room_rules = site_rules.rooms.get(room) if site_rules else None
        resident = room_rules.resident if room_rules else None
        values = dict(self._layers_default)
        values.update(_merge_layers([site_rules, room_rules, resident]))
        night: NightWindow = values["night"]
        recipients: Recipients = values["recipients"]
        return RoomPolicy(
            site=site,
            room=room,
            timezone=values["timezone"],
            night_start=NightWindow.minutes(night.start),
            night_end=NightWindow.minutes(night.end),
            language=values["language"],
            care_recipient=recipients.care,
            technical_recipient=recipients.technical,
            fall_risk=values["fall_risk"],
            wanders=values["wanders"],
            bathroom_grace=values["bathroom_grace"],
            acoustic_threshold=values["acoustic_threshold"],
            acoustic_duration=values["acoustic_duration"],
            acoustic_gap=values["acoustic_gap"],
            fall_confirm=values["fall_confirm"],
            bed_exit_confirm=values["bed_exit_confirm"],
            wandering_confirm=values["wandering_confirm"],
            staff_recent=values["staff_recent"],
            staff_timeout=values["staff_timeout"],
            obstructed_after=values["obstructed_after"],
            silent_after=values["silent_after"],
            incident_idle_close=values["incident_idle_close"],
            escalation=_escalation_plan([*self._defaults, site_rules, room_rules, resident]),
        )


def _merge_layers(layers: list[Parameters | None]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        for name in _PARAMETER_FIELDS:
            value = getattr(layer, name)
            if value is not None:
                values[name] = value
    return values


def canonical_digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (keys sorted, sets sorted): the same in every
    process, whatever its hash seed, unlike ``pickle`` or ``hash()``."""
    text = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(
            (_canonical(item) for item in value),
            key=lambda item: json.dumps(item, sort_keys=True, default=str),
        )
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value
