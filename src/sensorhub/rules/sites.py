"""Rule-file models of a site (care home) and of the whole file, and the names they must define.

A site has rooms (each with a resident), may describe its ``staff`` (see
:mod:`sensorhub.rules.staff`) and may name its ESPA 4.4.4 paging systems under ``paging``
(:class:`~sensorhub.rules.paging.EspaConfig` each, see docs/espa.md). Every recipient a paging
system gives a call address must be a pager or group of the site's staff (or, for a site
without ``staff``, one of its recipients: checked in ``sensorhub.rules.policy.reference_errors``,
which sees the shipped defaults too).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Final, Literal

from pydantic import Field, field_validator, model_validator

from sensorhub.codec.privacy import EVENT_FIELDS
from sensorhub.contract import NAME_RE
from sensorhub.rules.common import (
    PRIORITIES,
    Duration,
    Problems,
    Strict,
    bad_name,
    topic_names,
)
from sensorhub.rules.paging import EspaConfig
from sensorhub.rules.parameters import Parameters, RoomRules
from sensorhub.rules.sources import SourceRules
from sensorhub.rules.staff import RESERVED_TARGETS, Staff, unknown_name

#: How long a site's history is kept when its rules do not say (``retention``): 30 days.
DEFAULT_RETENTION: Final = 30 * 86400.0


def check_kept_fields(names: list[str]) -> list[str]:
    """``keep_fields``: names of payload fields, each once, none of them the contract's."""
    seen: set[str] = set()
    for name in names:
        if not NAME_RE.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a field name sensorhub keeps: use 1-64 letters, digits, "
                "'_', '.' or '-'"
            )
        if name in EVENT_FIELDS:
            raise ValueError(
                f"{name!r} is a field of the contract, always kept: leave it out of keep_fields"
            )
        if name in seen:
            raise ValueError(f"{name!r} is listed twice: name each field once")
        seen.add(name)
    return names


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

    sources: dict[str, SourceRules] = Field(
        default_factory=dict,
        description="Sources of foreign sensor payloads (Zigbee2MQTT, ...) by name (unique in "
        "the file): which topics, which devices in which rooms (see docs/sources.md).",
    )
    keep_fields: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Payload fields outside the contract that this site's audit, journal "
        "and dead letters may keep, by name (a blob is never kept): see docs/privacy.md.",
    )
    retention: Duration | None = Field(
        None,
        ge=3600,
        le=3650 * 86400,
        description="How long serve keeps this site's history (audit, acknowledgements, sent "
        "pages); 30 days if not set.",
    )

    @field_validator("keep_fields")
    @classmethod
    def _kept_names(cls, names: list[str]) -> list[str]:
        return check_kept_fields(names)

    @field_validator("rooms")
    @classmethod
    def _room_names(cls, rooms: dict[str, RoomRules]) -> dict[str, RoomRules]:
        return topic_names(rooms, "room")

    def levels(self) -> Iterator[tuple[tuple[str, ...], Parameters]]:
        """The site, each room and each resident, with their place under the site."""
        yield (), self
        for name, room in self.rooms.items():
            yield ("rooms", name), room
            if room.resident is not None:
                yield ("rooms", name, "resident"), room.resident

    @model_validator(mode="after")
    def _paging_references(self) -> SiteRules:
        problems = Problems()
        for name, system in self.paging.items():
            if not NAME_RE.fullmatch(name):
                problems.add(
                    ("paging", name),
                    bad_name(name, "paging system", "an outbox channel"),
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
    def _rooms_in_wings(self) -> SiteRules:
        """Once a site has wings, each of its rooms is in one (or named by a route itself):
        routes by wing never page a room in none."""
        if self.staff is None or not self.staff.wings:
            return self
        staff = self.staff
        placed = {room for rooms in staff.wings.values() for room in rooms}
        placed.update(room for route in staff.routes.values() for room in route.rooms or ())
        problems = Problems()
        for room in self.rooms:
            if room not in placed:
                problems.add(
                    ("rooms", room),
                    f"room {room!r} is in no wing, though the site has wings ("
                    + ", ".join(staff.wings)
                    + "): no route by wing pages it, so its pages go to a route for all rooms "
                    "or to recipients; add it to its wing under staff.wings",
                    room,
                )
        problems.raise_if_any("SiteRules")
        return self

    @model_validator(mode="after")
    def _source_devices(self) -> SiteRules:
        """Each source's name can be a topic level, each device is in one of the site's rooms,
        and no two foreign devices become the same contract device."""
        problems = Problems()
        taken: dict[tuple[str, str, str], str] = {}  # room, kind, device -> source.device
        for name, source in self.sources.items():
            if not NAME_RE.fullmatch(name):
                problems.add(("sources", name), bad_name(name, "source", "an event id"), name)
            for own, device in source.devices.items():
                place = ("sources", name, "devices", own)
                if device.room not in self.rooms:
                    problems.add(
                        (*place, "room"), unknown_room(device.room, self.rooms), device.room
                    )
                key = (device.room, device.kind, device.device or own)
                if key in taken:
                    problems.add(
                        place,
                        f"{own!r} would be the same device as {taken[key]} ({'/'.join(key)}): "
                        "give one of them its own device: NAME",
                        own,
                    )
                else:
                    taken[key] = f"sources.{name}.devices.{own}"
        problems.raise_if_any("SiteRules")
        return self

    @model_validator(mode="after")
    def _staff_references(self) -> SiteRules:
        staff = self.staff
        if staff is None:
            return self
        problems = Problems()
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


class RuleFile(Strict):
    """A whole rule file."""

    version: Literal[1] = Field(1, description="Rule-file format version.")
    defaults: Parameters = Field(default_factory=Parameters, description="Defaults for all sites.")
    sites: dict[str, SiteRules] = Field(default_factory=dict, description="Sites by name.")

    @field_validator("sites")
    @classmethod
    def _site_names(cls, sites: dict[str, SiteRules]) -> dict[str, SiteRules]:
        return topic_names(sites, "site")

    @model_validator(mode="after")
    def _paging_names(self) -> RuleFile:
        """A paging system's name is its outbox channel ``espa:<name>``: unique in the file."""
        problems = Problems()
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
    def _source_names(self) -> RuleFile:
        """A source's name is in its events' ids, and a device of one base topic is one
        device: both unique in the file."""
        problems = Problems()
        first: dict[str, str] = {}
        owners: dict[tuple[str, str], str] = {}  # base topic, device's own name -> where
        for site_name, site in self.sites.items():
            for name, source in site.sources.items():
                place = ("sites", site_name, "sources", name)
                if name in first:
                    problems.add(
                        place,
                        f"source {name!r} is also defined under sites.{first[name]}.sources: "
                        "give each source its own name (it is part of its events' ids)",
                        name,
                    )
                    continue
                first[name] = site_name
                for own in source.devices:
                    key = (source.topic_base, own)
                    if key in owners:
                        problems.add(
                            (*place, "devices", own),
                            f"device {own!r} of {source.topic_base}/ is also listed under "
                            f"{owners[key]}: list each device once",
                            own,
                        )
                    else:
                        owners[key] = f"sites.{site_name}.sources.{name}.devices"
        problems.raise_if_any("RuleFile")
        return self

    @model_validator(mode="after")
    def _inherited_references(self) -> RuleFile:
        """Names in ``defaults`` that a site with staff inherits must be defined in its staff."""
        problems = Problems()
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


def unknown_room(room: str, rooms: dict[str, RoomRules]) -> str:
    """The mistake of naming ``room``, which the site does not define."""
    close = difflib.get_close_matches(room, list(rooms), n=1)
    if close:
        return f"room {room!r} is not one of this site's rooms: did you mean {close[0]!r}?"
    return f"room {room!r} is not one of this site's rooms: define it under rooms"


def named_targets(level: Parameters) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """Every pager or group name a level writes: (place, name, whether same/team may stand)."""
    if level.recipients is not None:
        yield ("recipients", "care"), level.recipients.care, False
        yield ("recipients", "technical"), level.recipients.technical, False
    if level.escalation is not None:
        for priority in PRIORITIES:
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
        for priority in PRIORITIES
        if level.escalation is not None and level.escalation.steps(priority) is not None
    }
    for loc, name, reserved in named_targets(defaults):
        if loc[0] == "recipients" and recipients:
            continue
        if loc[0] == "escalation" and loc[1] in overridden:
            continue
        yield loc, name, reserved
