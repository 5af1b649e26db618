"""Values shown to a technician in a dead letter's reason: as the sender wrote them (roughly),
shortened if long, and what kind of JSON value they are."""

from __future__ import annotations

import math
from typing import Final

__all__ = ["show_text", "show_value", "type_name"]

_SHOW_MAX: Final = 60


def show_text(text: str) -> str:
    """A string as quoted in a message, shortened if long."""
    if len(text) > _SHOW_MAX:
        return repr(text[:_SHOW_MAX]) + f"... ({len(text)} characters)"
    return repr(text)


def show_value(value: object) -> str:
    """A JSON value as the sender wrote it (roughly), shortened if long."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return show_text(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 64:  # str() of a huge int is slow, and limited to 4300 digits
            return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def type_name(value: object) -> str:
    """What kind of JSON value ``value`` is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
