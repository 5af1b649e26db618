"""The board's words in English and Dutch, chosen by the site's ``language`` (as pager texts)."""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Ward board",
        "sites": "Sites",
        "open": "open",
        "room": "Room",
        "what": "What",
        "priority": "Priority",
        "age": "Open for",
        "paged": "Paged",
        "acked": "Acknowledged",
        "none_open": "No open incidents.",
        "not_acked": "not yet",
        "repeat": "repeat",
        "service": "Service",
        "unknown": "not heard yet",
        "live": "live",
        "lost": "connection lost, retrying",
        "no_sites": "No site has had a page yet.",
        "fall": "fall",
        "call": "call",
        "bed_exit": "out of bed",
        "absent_too_long": "absent too long",
        "wandering": "wandering",
        "acoustic": "sound",
        "device_fault": "device fault",
    },
    "nl": {
        "title": "Afdelingsbord",
        "sites": "Locaties",
        "open": "open",
        "room": "Kamer",
        "what": "Wat",
        "priority": "Prioriteit",
        "age": "Open sinds",
        "paged": "Opgeroepen",
        "acked": "Bevestigd",
        "none_open": "Geen open meldingen.",
        "not_acked": "nog niet",
        "repeat": "herhaling",
        "service": "Dienst",
        "unknown": "nog niet gehoord",
        "live": "live",
        "lost": "verbinding verbroken, opnieuw",
        "no_sites": "Nog geen locatie heeft een oproep gehad.",
        "fall": "val",
        "call": "oproep",
        "bed_exit": "uit bed",
        "absent_too_long": "te lang weg",
        "wandering": "dwalen",
        "acoustic": "geluid",
        "device_fault": "storing apparaat",
    },
}


def age(seconds: float) -> str:
    """``seconds`` as a short age: ``45 s``, ``3 min``, ``2 h 05``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
