"""What a repeated page says it is: a re-sent or escalated page carries its call number and
how long the incident has been open ("Kamer 16: VAL (2e oproep, 1 min)"), so a nurse can tell
a repeat from a new fall. The age is event time (page time minus the first page's), never the
wall clock, so serve and replay write the same text."""

from __future__ import annotations

from typing import Final

#: The repeat suffix by language: ``{call}`` is the call number as an ordinal, ``{age}`` the
#: incident's age.
SUFFIXES: Final[dict[str, str]] = {"en": " ({call} call, {age})", "nl": " ({call} oproep, {age})"}


def ordinal(number: int, language: str) -> str:
    """``2`` as ``2nd`` (English) or ``2e`` (Dutch)."""
    if language == "nl":
        return f"{number}e"
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def age(seconds: float) -> str:
    """An incident's age as a pager shows it: whole seconds below a minute, then whole
    minutes, then hours and minutes (the same in English and Dutch)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def repeat_text(text: str, escalation: int, opened: float, ts: float, language: str) -> str:
    """``text`` of an incident's page ``escalation`` sent at ``ts`` (first page at ``opened``):
    unchanged for the first page (escalation 0), else with the call number and age."""
    if escalation == 0:
        return text
    suffix = SUFFIXES.get(language, SUFFIXES["en"])
    return text + suffix.format(call=ordinal(escalation + 1, language), age=age(ts - opened))
