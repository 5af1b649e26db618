"""Check rule files before they go live, and say what is wrong where.

  sensorhub rules check rules/zonnebloem.yaml

Each FILE is read, checked against the rule-file format (see rules/README.md) and compiled over
the shipped defaults, exactly as `sensorhub serve` and `sensorhub replay` will load it. Every
mistake is printed on its own line as

  FILE:LINE: KEY: what is wrong and what to write instead

followed by a summary line for the file. A correct file prints

  FILE: OK (N sites, M rooms[, D devices of sensor sources])

Settings that are allowed but look like a slip (a night shorter than 4 h, a bathroom grace
longer than 1 h, a route with hours when nobody it names is on duty, a group that no shift names
although its members are on duty only in shifts) are printed as warnings, in the same form; they
do not fail the check.

exit status:
  0  every file is correct (warnings or not)
  1  a file has mistakes: fix each line printed, then check again
  2  a file could not be read (missing, a directory, no permission)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from sensorhub.durations import format_duration
from sensorhub.rules.coverage import DAY, duty_minutes, spans
from sensorhub.rules.loader import (
    KeyPath,
    ParsedRuleFile,
    RuleError,
    RuleFileError,
    compile_policy,
    default_rules_path,
    load_rule_file,
    parse_rule_file,
)
from sensorhub.rules.model import NightWindow, Parameters, RuleFile, Staff
from sensorhub.rules.paging import EspaConfig
from sensorhub.text import escaped

#: A night shorter than this is probably a typo (22:00-02:00 for 22:00-07:00).
SHORT_NIGHT_MINUTES = 4 * 60
#: A bathroom grace longer than this leaves a resident on the floor unnoticed for too long.
LONG_GRACE_SECONDS = 3600.0

OK, MISTAKES, UNREADABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", metavar="FILE", type=Path, nargs="+", help="rule file(s) to check")


def run(args: argparse.Namespace) -> int:
    return max(check_file(path) for path in args.files)


def check_file(path: Path) -> int:
    """Check one file, print what is wrong (or OK), and return its exit status."""
    try:
        parsed = parse_rule_file(path)
        _compile(parsed)
    except RuleFileError as error:
        for line in error.errors:
            print(line)
        if error.unreadable:
            return UNREADABLE
        count = len(error.errors)
        print(f"{escaped(str(path))}: {count} mistake{'s' if count != 1 else ''}, not loaded")
        return MISTAKES
    warnings = list(_warnings(parsed))
    for warning in warnings:
        print(warning)
    sites = len(parsed.rules.sites)
    rooms = sum(len(site.rooms) for site in parsed.rules.sites.values())
    summary = f"{escaped(str(path))}: OK ({sites} site{'s' if sites != 1 else ''}, {rooms} room"
    summary += f"{'s' if rooms != 1 else ''}"
    devices = sum(
        len(source.devices)
        for site in parsed.rules.sites.values()
        for source in site.sources.values()
    )
    if devices:
        summary += f", {devices} device{'s' if devices != 1 else ''} of sensor sources"
    summary += ")"
    if warnings:
        summary += f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
    print(summary)
    return OK


def _compile(parsed: ParsedRuleFile) -> None:
    """Compile the file as the service will, resolving every room it names."""
    policy = compile_policy(parsed, load_rule_file(default_rules_path()))
    for site_name, site in parsed.rules.sites.items():
        for room_name in site.rooms:
            policy.room(site_name, room_name)


def _levels(rules: RuleFile) -> Iterator[tuple[KeyPath, Parameters]]:
    yield ("defaults",), rules.defaults
    for site_name, site in rules.sites.items():
        yield ("sites", site_name), site
        for room_name, room in site.rooms.items():
            yield ("sites", site_name, "rooms", room_name), room
            if room.resident is not None:
                yield ("sites", site_name, "rooms", room_name, "resident"), room.resident


def _warnings(parsed: ParsedRuleFile) -> Iterator[RuleError]:
    def warn(keys: KeyPath, message: str) -> RuleError:
        return RuleError(parsed.file, parsed.line_of(keys), ".".join(keys), f"warning: {message}")

    for path, level in _levels(parsed.rules):
        night = level.night
        if night is not None:
            start, end = NightWindow.minutes(night.start), NightWindow.minutes(night.end)
            length = (end - start) % (24 * 60)
            if length < SHORT_NIGHT_MINUTES:
                yield warn(
                    (*path, "night"),
                    f"the night {night.start}-{night.end} lasts only "
                    f"{format_duration(length * 60)}; bed exits and wandering are paged only at "
                    "night: is that meant?",
                )
        grace = level.bathroom_grace
        if grace is not None and grace > LONG_GRACE_SECONDS:
            yield warn(
                (*path, "bathroom_grace"),
                f"a resident may be out of bed for {format_duration(grace)} at night before "
                "anyone is paged: is that meant?",
            )
    for site_name, site in parsed.rules.sites.items():
        if site.staff is not None:
            for keys, message in _staff_warnings(site.staff):
                yield warn(("sites", site_name, "staff", *keys), message)
        for keys, message in _paging_warnings(site.staff, site.paging):
            yield warn(("sites", site_name, "paging", *keys), message)
        for name, source in site.sources.items():
            if not source.devices:
                yield warn(
                    ("sites", site_name, "sources", name),
                    f"source {name!r} lists no devices: nothing under {source.topic_base}/ "
                    "becomes an event; list them under devices",
                )


def _paging_warnings(
    staff: Staff | None, paging: dict[str, EspaConfig]
) -> Iterator[tuple[KeyPath, str]]:
    """A paging system that calls nobody; a pager given another call address under paging than
    under staff.pagers."""
    for name, system in paging.items():
        if not system.pagers:
            yield (
                (name,),
                f"paging system {name!r} names no pagers, so no page goes to it: add "
                "pagers: {<pager or group>: <call address>}",
            )
        for recipient, address in system.pagers.items():
            pager = staff.pagers.get(recipient) if staff is not None else None
            if pager is not None and pager.address is not None and pager.address != address:
                yield (
                    (name, "pagers", recipient),
                    f"pager {recipient!r} has call address {pager.address!r} under staff.pagers "
                    f"but {address!r} here: paging system {name!r} calls {address!r}; is that "
                    "meant?",
                )


def _staff_warnings(staff: Staff) -> Iterator[tuple[KeyPath, str]]:
    for group, members in staff.groups.items():
        if duty_minutes(staff, group) is not None:
            continue
        scheduled = [m for m in members if duty_minutes(staff, m) is not None]
        if scheduled:
            yield (
                ("groups", group),
                f"no schedule names {group!r}, so it is on duty around the clock, though "
                f"{scheduled[0]!r} in it is on duty only in its shift: add {group!r} to that "
                "shift's on_duty?",
            )
    for route_name, route in staff.routes.items():
        covered: set[int] = set()
        for name in route.to:
            minutes = duty_minutes(staff, name)
            if minutes is None:
                break
            covered |= minutes
        else:
            gaps = set(range(DAY)) - covered
            if gaps:
                yield (
                    ("routes", route_name, "to"),
                    f"at {' and '.join(spans(gaps))} nobody route {route_name!r} names is on "
                    "duty: its pages then go to the next route that fits, or to recipients",
                )
