"""Keys indented under the wrong parent, said once as what probably happened.

Under ``sites:`` every key is a site's name and under ``rooms:`` a room's, so a key indented one
step too little or too far is not unknown there: it is read as a name. ``rooms:`` indented as
far as the site's name makes a site called "rooms", and each of its twenty rooms then became an
unknown key of that site, twenty mistakes that each listed every key a site may have. Rooms
written straight under a site (``rooms:`` forgotten) did the same. :func:`misplaced` finds
these before the file is validated, reports one mistake per slip at the line of the key, and
takes the key out of the data, so that what it holds adds no mistakes of its own. So no site or
room may be named like a key of the level above it: a "room" called ``resident`` or ``staff``
is that key indented wrongly far more often than a room.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from sensorhub.contract import NAME_RE
from sensorhub.rules.model import ResidentRules, RoomRules, RuleFile, SiteRules

__all__ = ["misplaced"]

Place = tuple[str, ...]


def misplaced(data: Any, lines: Mapping[Place, int]) -> list[tuple[Place, str]]:
    """(place, message) for each key read as a site or room name that is a key of the level
    above, and for rooms written straight under a site; each is removed from ``data``."""
    found: list[tuple[Place, str]] = []
    sites = data.get("sites") if isinstance(data, dict) else None
    if not isinstance(sites, dict):
        return found
    found += _names_that_are_keys(sites, ("sites",), lines)
    for name, site in sites.items():
        if not isinstance(site, dict):
            continue
        rooms = site.get("rooms")
        if isinstance(rooms, dict):
            found += _names_that_are_keys(rooms, ("sites", name, "rooms"), lines)
        found += _rooms_under_the_site(site, ("sites", name), lines)
    return found


def _fits(model: type[BaseModel], value: Any) -> bool:
    """Whether ``value`` could be a ``model``: a mapping (or nothing) of its keys only."""
    return value is None or (isinstance(value, dict) and set(value) <= set(model.model_fields))


def _names_that_are_keys(
    names: dict[str, Any], place: Place, lines: Mapping[Place, int]
) -> list[tuple[Place, str]]:
    site_names = place == ("sites",)
    what = "site" if site_names else "room"
    found: list[tuple[Place, str]] = []
    before: str | None = None
    above = {*SiteRules.model_fields, *(RuleFile if site_names else RoomRules).model_fields}
    for name in list(names):
        if name not in above:
            before = name
            continue
        top = site_names and name in RuleFile.model_fields
        read = f"{name!r} is read as a {what} name here; it looks like a key"
        if top:
            where = " of the file indented too far: start it at the left margin, as version:"
        elif site_names:
            where = (
                f" of site {before!r} (line {lines.get((*place, before), 1)}) indented too "
                "little: indent it as far as that site's other keys"
                if before is not None
                else " of a site: indent it under the site's name, as far as its other keys"
            )
        elif name in RoomRules.model_fields and before is not None:
            where = (
                f" of room {before!r} (line {lines.get((*place, before), 1)}) indented too "
                "little: indent it as far as that room's other keys"
            )
        else:
            where = (
                f" of site {place[1]!r} indented too far: indent it as far as rooms: "
                f"(line {lines.get(place, 1)})"
            )
        found.append(((*place, name), read + where))
        del names[name]
    return found


def _rooms_under_the_site(
    site: dict[str, Any], place: Place, lines: Mapping[Place, int]
) -> list[tuple[Place, str]]:
    keys = list(SiteRules.model_fields)
    lower = {*RoomRules.model_fields, *ResidentRules.model_fields}  # said where they belong
    rooms = [
        name
        for name, value in site.items()
        if name not in SiteRules.model_fields
        and name not in lower
        and NAME_RE.fullmatch(name)
        and not difflib.get_close_matches(name, keys, n=1)
        and _fits(RoomRules, value)
    ]
    if not rooms:
        return []
    for name in rooms:
        del site[name]
    shown = ", ".join(repr(name) for name in rooms[:3])
    more = f" and {len(rooms) - 3} more" if len(rooms) > 3 else ""
    first = "it is" if len(rooms) == 1 else "they are"
    return [
        (
            (*place, rooms[0]),
            f"{shown}{more} {'looks' if len(rooms) == 1 else 'look'} like "
            f"room{'s' if len(rooms) > 1 else ''} written straight under site {place[-1]!r}, "
            f"where {first} no key of a site: put "
            f"{'it' if len(rooms) == 1 else 'them'} under the site's rooms:, indented one "
            "step further",
        )
    ]
