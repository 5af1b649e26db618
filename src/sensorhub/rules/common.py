"""What the rule-file models share: strictness, durations, times of day, name lists, mistakes.

The models themselves are in :mod:`sensorhub.rules.parameters` (the care policy's parameters),
:mod:`sensorhub.rules.staff` (staff, routes and escalation) and :mod:`sensorhub.rules.sites`
(sites and the whole file); :mod:`sensorhub.rules.model` gathers them.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, ClassVar, Final, Self, TypeVar
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
from sensorhub.durations import parse_duration

#: The page priorities, most urgent first, and the incident kinds.
PRIORITIES: Final[tuple[Priority, ...]] = ("critical", "high", "normal", "low")
KINDS: Final[tuple[IncidentKind, ...]] = INCIDENT_KINDS

_T = TypeVar("_T")
_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def priorities() -> tuple[Priority, ...]:
    """The page priorities, most urgent first."""
    return PRIORITIES


def duration_value(value: Any) -> Any:
    """The BeforeValidator of :data:`Duration`: a string or number through the one parser.

    Anything else (a list, a mapping, nothing) is left to pydantic, whose "is a number" the
    loader words for a person.
    """
    if isinstance(value, str | int | float):  # a yes/no is an int: the parser refuses it
        return parse_duration(value)
    return value


#: A duration in a rule file: seconds, written as sensorhub.durations reads them.
Duration = Annotated[float, BeforeValidator(duration_value)]


class Strict(BaseModel):
    """A rule-file mapping: unknown keys are mistakes, and a loaded file does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Problems:
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


def time_of_day(value: str) -> str:
    """A local time of day, ``HH:MM`` (24 h)."""
    if not _CLOCK_RE.match(value):
        raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. 22:00")
    return value


class LocalWindow(Strict):
    """From one local time of day to another (the night, a shift); it may run past midnight."""

    #: What the window is, for the mistake of an empty one.
    what: ClassVar[str] = "the window"

    start: str = Field(description="Local time the window starts, HH:MM (24 h).")
    end: str = Field(description="Local time the window ends, HH:MM (24 h).")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return time_of_day(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError(f"{self.what} starts and ends at the same time: it would be empty")
        return self


def time_zone(value: str) -> str:
    """An IANA time zone name that this machine knows."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a known time zone: use an IANA name such as Europe/Amsterdam"
        ) from None
    return value


def bad_name(name: str, what: str = "", used_as: str = "an MQTT topic") -> str:
    """The mistake of ``name``, which does not match :data:`sensorhub.contract.NAME_RE`."""
    return (
        f"{what + ' name ' if what else ''}{name!r} cannot be part of {used_as}: "
        "use 1-64 letters, digits, '_', '.', '-'"
    )


def topic_names(named: dict[str, _T], what: str) -> dict[str, _T]:
    """Site and room names become MQTT topic levels: check them."""
    for name in named:
        if not NAME_RE.fullmatch(name):
            raise ValueError(bad_name(name, what))
    return named


def one_or_many(what: str, example: str, allowed: tuple[str, ...] = ()) -> Any:
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
