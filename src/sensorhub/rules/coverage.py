"""Whether the night's falls reach a handset: the groups on duty at night and the paging systems.

A page goes to a paging system only under its own recipient's name (``paging.<name>.pagers``),
never through the members of a group: a site that names a paging system but leaves out a group
that its routes page at night has falls that reach nobody's handset, only MQTT, and nothing
said so. :func:`handset_errors` plays the routes as the router does (first route that fits a
fall and has someone on duty, else the room's ``recipients.care``), minute by minute through
each room's night, and reports every name that gets falls then but that no paging system of its
site calls, at the line that gives it the falls. A name whose pagers have
no ``address`` and none of which a paging system calls is reached over MQTT only, on purpose.

:func:`duty_minutes` and :func:`spans` are the shift arithmetic that ``rules check``'s warnings
share.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from sensorhub.rules.model import NightWindow, Parameters, RuleFile, SiteRules, Staff

__all__ = ["DAY", "duty_minutes", "handset_errors", "spans"]

#: Minutes in a day.
DAY: Final = 24 * 60

Errors = list[tuple[tuple[str, ...], str]]


def duty_minutes(staff: Staff, name: str) -> set[int] | None:
    """The minutes of the day ``name`` is on duty; None if no shift names it (always)."""
    minutes: set[int] | None = None
    for schedule in staff.schedules.values():
        if name not in schedule.on_duty:
            continue
        minutes = minutes or set()
        minutes.update(_window(schedule.start, schedule.end))
    return minutes


def spans(minutes: set[int]) -> list[str]:
    """Minutes of the day as HH:MM-HH:MM spans (one running past midnight stays one)."""
    found: list[tuple[int, int]] = []
    for minute in sorted(minutes):
        if found and found[-1][1] == minute:
            found[-1] = (found[-1][0], minute + 1)
        else:
            found.append((minute, minute + 1))
    if len(found) > 1 and found[0][0] == 0 and found[-1][1] == DAY:
        found = [(found[-1][0], found[0][1]), *found[1:-1]]
    return [f"{a // 60:02d}:{a % 60:02d}-{b // 60 % 24:02d}:{b % 60:02d}" for a, b in found]


def handset_errors(rules: RuleFile, base: RuleFile | None) -> Errors:
    """Names that get falls at night but that no paging system of their site calls."""
    errors: Errors = []
    for site_name, site in rules.sites.items():
        if site.paging and site.staff is not None:
            errors += _site_errors(site_name, site, site.staff, rules, base)
    return errors


def _window(start: str, end: str) -> range | tuple[int, ...]:
    first, last = NightWindow.minutes(start), NightWindow.minutes(end)
    return range(first, last) if first < last else (*range(first, DAY), *range(last))


def _night(*levels: Parameters | None) -> tuple[str, str] | None:
    """The night of the most specific level that sets one (the shipped defaults always do)."""
    night = next((level.night for level in reversed(levels) if level and level.night), None)
    return None if night is None else (night.start, night.end)


def _site_errors(
    site_name: str, site: SiteRules, staff: Staff, rules: RuleFile, base: RuleFile | None
) -> Errors:
    called = {name for system in site.paging.values() for name in system.pagers}
    duty = {name: duty_minutes(staff, name) for route in staff.routes.values() for name in route.to}
    # who gets a fall, minute by minute of each room's night: the rooms that the same routes
    # fit, with the same night and the same recipients when no route has anyone on duty, are
    # one case
    falls = _fall_rooms(staff)
    routes = {
        name: [_by_route(site_name, staff, name, index) for index in range(len(route.to))]
        for name, route in staff.routes.items()
    }
    cases: dict[tuple[tuple[str, ...], tuple[str, str] | None, _Receiver | None], list[str]] = {}
    for room in _rooms(site, staff):
        fitting = tuple(name for name, rooms in falls.items() if rooms is None or room in rooms)
        levels = [base.defaults if base else None, rules.defaults, site]
        if room in site.rooms:
            levels += [site.rooms[room], site.rooms[room].resident]
        # a room nobody names falls back to the site's recipients only for a sensor nobody
        # configured: not a reason to refuse the file
        fallback = _fallback(site_name, site, room, rules) if room else None
        cases.setdefault((fitting, _night(*levels), fallback), []).append(room)
    paged: dict[_Receiver, set[int]] = {}  # who gets falls -> the night minutes they do
    fallen: dict[_Receiver, set[str]] = {}  # recipients.care -> the rooms whose falls it gets
    for (fitting, night, fallback), rooms in cases.items():
        for minute in _window(*night) if night else ():
            receivers = _routed(routes, fitting, duty, minute)
            if not receivers and fallback is not None:
                receivers = [fallback]
                fallen.setdefault(fallback, set()).update(rooms)
            for who in receivers:
                paged.setdefault(who, set()).add(minute)
    return [
        (
            who.place,
            _unreached(
                site, staff, who, minutes=minutes, called=called, rooms=fallen.get(who, set())
            ),
        )
        for who, minutes in paged.items()
        if who.name not in called and _has_handset(staff, who.name, called)
    ]


def _routed(
    routes: dict[str, list[_Receiver]],
    fitting: tuple[str, ...],
    duty: dict[str, set[int] | None],
    minute: int,
) -> list[_Receiver]:
    """Who gets a fall at ``minute`` by the first of the ``fitting`` routes with anyone on duty."""
    for route_name in fitting:
        on = [who for who in routes[route_name] if _on_duty(duty[who.name], minute)]
        if on:
            return on
    return []


@dataclass(frozen=True, slots=True)
class _Receiver:
    """A name that gets falls, where the file names it for them, and how it gets them."""

    place: tuple[str, ...]
    name: str
    what: str  # "the falls of wing west"; "" for recipients.care, of the rooms that fall back
    how: str  # "by route 'west'"


def _by_route(site_name: str, staff: Staff, route_name: str, index: int) -> _Receiver:
    route = staff.routes[route_name]
    where = (
        "wing " + ", ".join(route.wings)
        if route.wings
        else "room " + ", ".join(route.rooms)
        if route.rooms
        else "every room"
    )
    return _Receiver(
        ("sites", site_name, "staff", "routes", route_name, "to", str(index)),
        route.to[index],
        f"the falls of {where}",
        f"by route {route_name!r}",
    )


def _fallback(site_name: str, site: SiteRules, room: str, rules: RuleFile) -> _Receiver | None:
    """Who gets a fall in ``room`` when no route has anyone on duty: its recipients.care, if
    this file sets them (a name of the shipped rules is checked by reference_errors)."""
    levels: list[tuple[tuple[str, ...], Parameters | None]] = [
        (("defaults",), rules.defaults),
        (("sites", site_name), site),
    ]
    if room in site.rooms:
        place: tuple[str, ...] = ("sites", site_name, "rooms", room)
        levels.append((place, site.rooms[room]))
        levels.append(((*place, "resident"), site.rooms[room].resident))
    for place, level in reversed(levels):
        if level is not None and level.recipients is not None:
            return _Receiver(
                (*place, "recipients", "care"),
                level.recipients.care,
                "",
                "as recipients.care, when no route has anyone on duty",
            )
    return None


def _on_duty(minutes: set[int] | None, minute: int) -> bool:
    return minutes is None or minute in minutes


def _rooms(site: SiteRules, staff: Staff) -> Iterator[str]:
    """Every room the site or its routes name, and one that nobody names ("")."""
    named = dict.fromkeys(site.rooms)
    for wing in staff.wings.values():
        named.update(dict.fromkeys(wing))
    for route in staff.routes.values():
        named.update(dict.fromkeys(route.rooms or ()))
    yield from named
    yield ""


def _fall_rooms(staff: Staff) -> dict[str, frozenset[str] | None]:
    """The care routes that take falls, each with its rooms (None: every room)."""
    found: dict[str, frozenset[str] | None] = {}
    for name, route in staff.routes.items():
        if route.audience != "care" or (route.kinds is not None and "fall" not in route.kinds):
            continue
        if route.priorities is not None and "critical" not in route.priorities:
            continue
        if route.rooms is None and route.wings is None:
            found[name] = None
        else:
            wings = (room for wing in route.wings or () for room in staff.wings[wing])
            found[name] = frozenset((*(route.rooms or ()), *wings))
    return found


def _has_handset(staff: Staff, name: str, called: set[str]) -> bool:
    """Whether ``name`` has a pager with a call address, or one that a paging system calls."""
    return any(
        pager in called or staff.pagers[pager].address is not None for pager in staff.members(name)
    )


def _unreached(
    site: SiteRules,
    staff: Staff,
    who: _Receiver,
    *,
    minutes: set[int],
    called: set[str],
    rooms: set[str],
) -> str:
    system = next(iter(site.paging))
    shown = sorted(rooms)
    what = who.what or (
        f"the falls of room{'s' if len(shown) > 1 else ''} {', '.join(shown[:3])}"
        + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    )
    message = (
        f"{who.name!r} gets {what} at night ({' and '.join(spans(minutes))}) {who.how}, "
        "but no paging system of the site calls it, so those falls reach no handset: add it "
        f'to paging.{system}.pagers with its call address in quotes, e.g. {who.name}: "3100"'
    )
    members = [pager for pager in staff.members(who.name) if pager in called]
    if members and who.name not in members:
        message += (
            f" ({' and '.join(members)} in it {'is' if len(members) == 1 else 'are'} there, but "
            "that is not enough: a page to a group goes out under the group's name)"
        )
    return message
