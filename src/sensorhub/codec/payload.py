"""Bytes in, validated events out: the codec of contract section 1.

``decode_mqtt`` takes one MQTT message, ``decode_line`` one line of a recording; both return a
:class:`~sensorhub.contract.Event` or, for bad input, a :class:`~sensorhub.contract.DeadLetter`
whose ``error`` tells a technician what is wrong and what to do. Neither ever raises.

The per-message path is kept short because it runs for every sensor event of every site:

- an MQTT payload of the ordinary shape (the contract's fields only, each of its type) is
  decoded and type-checked in one msgspec call (``_Ordinary``) and then only checked for its
  range, event name and place (``_ordinary``): what that takes, the checks below accept with the
  same values; everything else goes their way, which says what is wrong;
- the JSON is parsed once by pydantic-core's parser (``from_json``, several times faster than
  ``json.loads``), and the resulting dict is validated by a strict pydantic schema
  (``_Payload``), whose validator is called directly; the dict itself becomes ``Event.raw``;
- topics (and the site/room/kind/device of recording lines) are parsed once and cached;
- vocabulary checks are lookups in frozensets;
- all message writing happens only once something is known to be wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, NotRequired

import msgspec
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config
from pydantic_core import from_json
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from sensorhub.codec.privacy import EVENT_FIELDS, dead_letter_head
from sensorhub.codec.show import show_text, show_value, type_name
from sensorhub.contract import (
    DEAD_LETTER_HEAD,
    DEFAULT_PREFIX,
    MAX_PAYLOAD,
    NAME_RE,
    TS_MAX,
    TS_MIN,
    VOCABULARY,
    DeadLetter,
    Event,
    allowed_events,
)

__all__ = ["dead_letter", "decode_line", "decode_mqtt"]

logger = logging.getLogger(__name__)


# --- the payload schema ---------------------------------------------------------------------


# A TypedDict rather than a BaseModel: validating into a plain dict measured about 0.3 us
# faster per message, and the fields are read once, right away.
@with_config(ConfigDict(strict=True, allow_inf_nan=False))
class _Payload(TypedDict):
    """The known fields of an event payload (contract section 1); unknown ones are ignored here
    and kept in ``Event.raw``."""

    # The RFC 3339 form and the range of ts are checked after this schema, by event_time,
    # which writes the technician's message.
    ts: Annotated[
        float | str,
        Field(
            description="Event time: Unix seconds (fractions allowed) or an RFC 3339 string with "
            "an offset, in [2000-01-01, 2100-01-01)."
        ),
    ]
    event: Annotated[str, Field(description="What was seen, from the vocabulary of the kind.")]
    id: NotRequired[
        Annotated[
            str | None,
            Field(min_length=1, max_length=128, description="Unique per device; optional."),
        ]
    ]
    confidence: NotRequired[
        Annotated[
            float | None,
            Field(ge=0.0, le=1.0, description="The sensor's own confidence; 1.0 if absent."),
        ]
    ]
    value: NotRequired[
        Annotated[float | None, Field(description="A measurement, e.g. dB(A) or battery %.")]
    ]
    site: NotRequired[Annotated[str | None, Field(description="Must equal the topic's.")]]
    room: NotRequired[Annotated[str | None, Field(description="Must equal the topic's.")]]
    kind: NotRequired[Annotated[str | None, Field(description="Must equal the topic's.")]]
    device: NotRequired[Annotated[str | None, Field(description="Must equal the topic's.")]]


#: The compiled validator itself: calling it directly skips TypeAdapter's Python wrapper.
_validate_payload: Final = TypeAdapter(_Payload).validator.validate_python

_KNOWN_FIELDS: Final = EVENT_FIELDS  # the same names (tests/codec/test_privacy.py)


class _Ordinary(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The usual payload, typed as ``_Payload`` types it, for msgspec to decode and check in one
    call (a third of the per-message cost of parsing, then validating the dict). Anything it
    refuses (an RFC 3339 ``ts``, an unknown field, a bad type, ...) goes the whole way."""

    ts: float
    event: str
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    value: float | None = None
    site: str | None = None
    room: str | None = None
    kind: str | None = None
    device: str | None = None


_DECODE_ORDINARY: Final = msgspec.json.Decoder(_Ordinary).decode
#: ``Event.raw`` of an ordinary payload: the same dict as ``from_json`` makes, a little sooner.
_DECODE_RAW: Final = msgspec.json.Decoder().decode
_LOCATION_FIELDS: Final = ("site", "room", "kind", "device")
_LOCATION_SET: Final = frozenset(_LOCATION_FIELDS)
_NUMBER_FIELDS: Final = frozenset({"ts", "confidence", "value"})


# --- where an event comes from: topics and recording lines, parsed once -----------------------


@dataclass(frozen=True, slots=True)
class _Where:
    site: str
    room: str
    kind: str
    device: str
    allowed: frozenset[str]


#: Events allowed per kind, as sets for the per-message lookup.
_ALLOWED: Final = {kind: frozenset(allowed_events(kind)) for kind in VOCABULARY}
_KINDS_TEXT: Final = ", ".join(VOCABULARY)
_NAME_RULE: Final = "use 1-64 letters, digits, '_', '.' or '-'"

#: Bounded caches: a flood of distinct bad topics costs memory up to this many entries, then
#: the cache starts again empty.
_CACHE_MAX: Final = 16_384
_topic_cache: dict[str, dict[str, _Where | str]] = {}
_line_cache: dict[tuple[str, str, str, str], _Where | tuple[str, ...]] = {}


def _where_of_topic(topic: str, prefix: str) -> _Where | str:
    """The parsed topic, or the reason it is wrong. Cached per prefix and topic."""
    cache = _topic_cache.get(prefix)
    if cache is None:
        cache = _topic_cache[prefix] = {}
    where = cache.get(topic)
    if where is None:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        where = cache[topic] = _parse_topic(topic, prefix)
    return where


def _parse_topic(topic: str, prefix: str) -> _Where | str:
    form = f"{prefix}/<site>/<room>/<kind>/<device>"
    shown = show_text(topic)
    if not topic.startswith(prefix + "/"):
        return f"topic {shown} does not start with '{prefix}/': publish sensor events to {form}"
    levels = topic[len(prefix) + 1 :].split("/")
    if len(levels) != 4:
        return (
            f"topic {shown} does not have the form {form} "
            f"({len(levels)} levels after '{prefix}/', 4 expected)"
        )
    site, room, kind, device = levels
    for name, level in (("site", site), ("room", room), ("device", device)):
        if NAME_RE.fullmatch(level) is None:
            return f"topic {shown}: {name} {show_text(level)} is not a valid name: {_NAME_RULE}"
    allowed = _ALLOWED.get(kind)
    if allowed is None:
        return (
            f"topic {shown}: kind {show_text(kind)} is not a sensor kind "
            f"(expected one of: {_KINDS_TEXT})"
        )
    return _Where(site, room, kind, device, allowed)


def _where_of_line(site: str, room: str, kind: str, device: str) -> _Where | tuple[str, ...]:
    """The location a recording line names, or what is wrong with it. Cached."""
    key = (site, room, kind, device)
    where = _line_cache.get(key)
    if where is None:
        if len(_line_cache) >= _CACHE_MAX:
            _line_cache.clear()
        where = _line_cache[key] = _parse_line_location(site, room, kind, device)
    return where


def _parse_line_location(site: str, room: str, kind: str, device: str) -> _Where | tuple[str, ...]:
    problems = [
        f"field '{name}': {show_text(text)} is not a valid name: {_NAME_RULE}"
        for name, text in (("site", site), ("room", room), ("device", device))
        if NAME_RE.fullmatch(text) is None
    ]
    allowed = _ALLOWED.get(kind)
    if allowed is None:
        problems.append(
            f"field 'kind': {show_text(kind)} is not a sensor kind (expected one of: {_KINDS_TEXT})"
        )
    if problems or allowed is None:
        return tuple(problems)
    return _Where(site, room, kind, device, allowed)


def _line_topic(raw: object) -> str:
    """The topic a recording line's event would have had, or "" if it names no valid place."""
    if not isinstance(raw, dict):
        return ""
    levels = [DEFAULT_PREFIX]
    for field in _LOCATION_FIELDS:
        name = raw.get(field)
        if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
            return ""
        levels.append(name)
    return "/".join(levels)


# --- event time -----------------------------------------------------------------------------

_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)
_NUMBER: Final = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")
#: Python datetimes reach from year 1 to 9999; outside that a time is not shown as a date.
_DATETIME_MIN: Final = -62_135_596_800.0
_DATETIME_MAX: Final = 253_402_300_800.0


def event_time(ts: float | str, problems: list[str]) -> float | None:
    """``ts`` as Unix seconds, or None after appending what is wrong with it."""
    if type(ts) is str:
        shown = show_text(ts)
        match = _RFC3339.fullmatch(ts)
        if match is None:
            if _NUMBER.fullmatch(ts):
                problems.append(
                    f"field 'ts': {shown} is a string, not a number: "
                    "send Unix seconds without quotes"
                )
            else:
                problems.append(
                    f"field 'ts': {shown} is not an RFC 3339 time: send e.g. "
                    "'2026-10-25T02:30:00+01:00', or Unix seconds as a number"
                )
            return None
        year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
        if zulu is None and sign is None:
            problems.append(f"field 'ts': {shown} has no UTC offset: add Z or +01:00")
            return None
        try:
            # RFC 3339 allows a leap second (:60); Unix time counts it as the next second.
            leap = int(second) == 60
            seconds = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                59 if leap else int(second),
                tzinfo=UTC,
            ).timestamp()
        except ValueError as exc:
            problems.append(f"field 'ts': {shown} is not a valid time ({exc})")
            return None
        offset = 0
        if sign is not None:
            if int(off_h) > 23 or int(off_m) > 59:
                problems.append(
                    f"field 'ts': {shown} has the offset {sign}{off_h}:{off_m}, which is not "
                    "a valid UTC offset: use -23:59 to +23:59"
                )
                return None
            offset = (int(off_h) * 60 + int(off_m)) * 60
            if sign == "-":
                offset = -offset
        seconds = seconds - offset + leap
        if fraction is not None:
            seconds += float(fraction)
    else:
        seconds = float(ts)
        shown = show_value(ts)
    if TS_MIN <= seconds < TS_MAX:
        return seconds
    when = ""
    if type(ts) is not str and _DATETIME_MIN <= seconds < _DATETIME_MAX:
        when = f" ({datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%SZ})"
    bound = "before 2000-01-01" if seconds < TS_MIN else "not before 2100-01-01"
    problems.append(f"field 'ts': {shown}{when} is {bound}: check the sensor's clock")
    return None


# --- the checks -------------------------------------------------------------------------------


def _check(raw: dict[str, Any], where: _Where | None) -> Event | str:
    """The event in a decoded payload object, or why it is bad input.

    ``where`` is the parsed topic for MQTT, None for a recording line (which names its place).
    """
    problems: list[str] = []
    try:
        fields: dict[str, Any] = _validate_payload(raw)
    except ValidationError as exc:
        fields = _describe_invalid(exc, raw, problems)

    if where is None:
        where = _line_location(fields, raw, problems)
    elif not _LOCATION_SET.isdisjoint(fields):
        _compare_with_topic(fields, where, problems)

    ts = fields.get("ts")
    if ts is not None and (type(ts) is not float or not TS_MIN <= ts < TS_MAX):
        ts = event_time(raw["ts"], problems)  # as sent, so the message shows it as sent

    event = fields.get("event")
    if event is not None and where is not None and event not in where.allowed:
        problems.append(
            f"field 'event': {show_text(event)} is not an event of kind '{where.kind}' "
            f"(expected one of: {', '.join(allowed_events(where.kind))})"
        )

    if len(fields) != len(raw) and not _plainly_finite(raw):  # unknown fields: JSON, finite
        problems.extend(_non_finite_unknown(raw))

    if problems or where is None or ts is None or event is None:
        return "; ".join(problems) or "payload is not a valid event"
    confidence = fields.get("confidence")
    return Event(
        ts,
        where.site,
        where.room,
        where.kind,
        where.device,
        event,
        fields.get("id"),
        1.0 if confidence is None else confidence,
        fields.get("value"),
        raw,
    )


def _line_location(
    fields: dict[str, Any], raw: dict[str, Any], problems: list[str]
) -> _Where | None:
    names: list[str] = []
    for name in _LOCATION_FIELDS:
        given = fields.get(name)
        if given is None:
            if raw.get(name) is None:  # else it is ill-typed, and that is reported already
                problems.append(
                    f"field '{name}' is missing: every line of a recording must give "
                    "site, room, kind and device"
                )
            continue
        names.append(given)
    if len(names) != 4:
        return None
    where = _where_of_line(*names)
    if isinstance(where, tuple):
        problems.extend(where)
        return None
    return where


def _compare_with_topic(fields: dict[str, Any], where: _Where, problems: list[str]) -> None:
    for name, expected in (
        ("site", where.site),
        ("room", where.room),
        ("kind", where.kind),
        ("device", where.device),
    ):
        given = fields.get(name)
        if given is not None and given != expected:
            problems.append(
                f"field '{name}' is {show_text(given)} but the topic says "
                f"{show_text(expected)}: make the sensor's payload and topic agree"
            )


def _plainly_finite(raw: dict[str, Any]) -> bool:
    """True if no value is a non-finite number or a container (which may hold one).

    The cheap first look (measured ~0.4 us for six fields; walking every unknown field costs
    about twice that); only a payload that fails it is walked by _non_finite_unknown.
    """
    for value in raw.values():
        kind = type(value)
        if kind is float:
            if value - value != 0.0:  # inf - inf and nan - nan are nan
                return False
        elif kind is dict or kind is list:
            return False
    return True


def _non_finite_unknown(raw: dict[str, Any]) -> list[str]:
    """Unknown fields holding NaN or an infinity (which JSON cannot carry) anywhere inside."""
    problems = []
    for name, value in raw.items():
        if name in _KNOWN_FIELDS:
            continue
        stack = [value]
        while stack:  # not recursive: the nesting depth is the sender's choice
            item = stack.pop()
            if type(item) is float:
                if not math.isfinite(item):
                    problems.append(
                        f"field {show_text(name)} holds {show_value(item)}, which is not a "
                        "finite number: send finite numbers only"
                    )
                    break
            elif type(item) is dict:
                stack.extend(item.values())
            elif type(item) is list:
                stack.extend(item)
    return problems


_MISSING: Final = {
    "ts": "field 'ts' is missing: add the time the sensor saw the event "
    "(Unix seconds, or an RFC 3339 string with an offset)",
    "event": 'field \'event\' is missing: add what the sensor saw, e.g. "event": "heartbeat"',
}
#: Per field: what it must be, and what to do.
_WANTED: Final = {
    "ts": (
        "a time",
        "send Unix seconds as a number (1761355800.5) "
        "or an RFC 3339 string with an offset ('2026-10-25T02:30:00+01:00')",
    ),
    "event": ("a string", "send the event's name in quotes"),
    "id": ("a string", "send the id in quotes (1-128 characters), or leave it out"),
    "confidence": ("a number", "send a number from 0 to 1, or leave it out"),
    "value": ("a number", "send the measurement as a number, or leave it out"),
}
_WANTED_NAME: Final = ("a string", "send it in quotes")


def _describe_invalid(
    exc: ValidationError, raw: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    """Appends one sentence per bad field; returns the known fields that are fine."""
    kinds: dict[str, set[str]] = {}
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        kinds.setdefault(str(error["loc"][0]), set()).add(error["type"])
    for name, types in kinds.items():
        problems.append(_field_problem(name, types, raw.get(name)))
    return {
        name: value
        for name, value in raw.items()
        if name in _KNOWN_FIELDS and name not in kinds and value is not None
    }


def _field_problem(name: str, types: set[str], value: object) -> str:
    if "missing" in types:
        return _MISSING.get(name, f"field '{name}' is missing")
    shown = show_value(value)
    if "finite_number" in types:
        return f"field '{name}': {shown} is not a finite number: send a real number"
    if "string_too_short" in types:
        return f"field '{name}' is empty: send 1-128 characters, or leave it out"
    if "string_too_long" in types and isinstance(value, str):
        return (
            f"field '{name}': {shown} is {len(value)} characters long, more than the 128 "
            "allowed: shorten it"
        )
    if types & {"greater_than_equal", "less_than_equal"}:
        return (
            f"field '{name}': {shown} is outside 0 to 1: send the confidence as a fraction "
            "(0.85, not 85%)"
        )
    if name in _NUMBER_FIELDS:
        if type(value) is str and _NUMBER.fullmatch(value):
            return f"field '{name}': {shown} is a string, not a number: send it without quotes"
        if type(value) is int:  # ints are numbers; one pydantic rejects is too big for a float
            return f"field '{name}': {shown} is too large a number: {_WANTED[name][1]}"
    wanted, advice = _WANTED.get(name, _WANTED_NAME)
    if value is None:
        return f"field '{name}' is null, not {wanted}: {advice}"
    return f"field '{name}': {shown} is {type_name(value)}, not {wanted}: {advice}"


# --- bytes to JSON ------------------------------------------------------------------------------

_BOM: Final = b"\xef\xbb\xbf"


def _too_large(size: int) -> str:
    return (
        f"payload is {size} bytes, more than the {MAX_PAYLOAD} allowed: send one event per message"
    )


def _parse_slowly(payload: bytes) -> dict[str, Any] | str:
    """Called after the fast parse failed: the object, or why there is none.

    Tolerates a leading UTF-8 byte order mark (RFC 8259 lets a parser ignore it), and tells
    non-UTF-8 bytes, an empty payload and bad JSON apart.
    """
    if payload.startswith(_BOM):
        try:
            return _object_or_reason(from_json(payload[len(_BOM) :]))
        except ValueError:
            pass
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"payload is not UTF-8 text ({exc.reason} at byte {exc.start}): "
            "configure the sensor to send JSON in UTF-8"
        )
    if not payload.strip():
        return "payload is empty: send one JSON object per message"
    try:
        return _object_or_reason(from_json(payload))
    except ValueError as exc:
        return f"not JSON: {exc}: send one JSON object per message"


def parse_object(payload: bytes) -> dict[str, Any] | str:
    """``payload`` as one JSON object, or why it is none (for payloads of other shapes than
    section 1's, such as the foreign ones of :mod:`sensorhub.sources`)."""
    if len(payload) > MAX_PAYLOAD:
        return _too_large(len(payload))
    try:
        parsed = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return _parse_slowly(payload)
    return _object_or_reason(parsed)


def _object_or_reason(parsed: object) -> dict[str, Any] | str:
    if isinstance(parsed, dict):
        return parsed
    return _not_an_object(parsed)


def _not_an_object(parsed: object) -> str:
    if isinstance(parsed, list):
        what = "a JSON array"
    elif isinstance(parsed, str):
        what = "a JSON string"
    elif isinstance(parsed, bool) or parsed is None:
        what = f"the JSON value {show_value(parsed)}"
    else:
        what = "a JSON number"
    return (
        f"payload is {what}, not a JSON object: send one object such as "
        '{"ts": 1761355800.5, "event": "heartbeat"}'
    )


def _ordinary(payload: bytes, where: _Where) -> Event | None:
    """The event of an ordinary payload on ``where``'s topic, as ``_decode`` makes it; None for
    any other payload (``_decode`` decides it)."""
    try:
        fields = _DECODE_ORDINARY(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if (
        not TS_MIN <= fields.ts < TS_MAX  # msgspec refuses numbers beyond a float's range
        or fields.event not in where.allowed
        or (fields.site is not None and fields.site != where.site)
        or (fields.room is not None and fields.room != where.room)
        or (fields.kind is not None and fields.kind != where.kind)
        or (fields.device is not None and fields.device != where.device)
    ):
        return None
    confidence = fields.confidence
    return Event(
        fields.ts,
        where.site,
        where.room,
        where.kind,
        where.device,
        fields.event,
        fields.id,
        1.0 if confidence is None else confidence,
        fields.value,
        _DECODE_RAW(payload),
    )


def _decode(payload: bytes, where: _Where | None) -> tuple[Event | str, object]:
    """The event in ``payload`` or why it is bad input, and the payload as parsed (or None)."""
    if len(payload) > MAX_PAYLOAD:  # before parsing: the size limit protects the parser too
        return _too_large(len(payload)), None
    try:
        raw = from_json(payload)
    except ValueError:
        raw = _parse_slowly(payload)
        if isinstance(raw, str):
            return raw, None
    else:
        if type(raw) is not dict:
            return _not_an_object(raw), raw
    return _check(raw, where), raw


# --- the public API --------------------------------------------------------------------------


def dead_letter(
    topic: str, payload: bytes, error: str, received_at: float, **extra: object
) -> DeadLetter:
    """Bad input as published to ``sensorhub/deadletter``: at most the first
    ``DEAD_LETTER_HEAD`` bytes of the payload, with the whole payload's length and SHA-256, so
    that no dead letter is larger than ``DEAD_LETTER_MAX`` (contract section 1).

    The head is kept as text if it is UTF-8 (a character cut in two at its end left out), else
    as base64 (``encoding`` says which). The texts around it (the topic, the reason, ``extra``
    fields such as ``source``, added as given) are shortened where they are long, with "…".

    Nothing outside the contract is kept (:mod:`sensorhub.codec.privacy`): a payload that is a
    JSON object is kept as that object with the contract's fields only, none of them a blob,
    re-serialised (the reason names the fields left out); an image (JPEG, PNG, GIF, WebP,
    HEIF) is not kept at all; of any other payload, data URIs and long runs of base64 or hex
    are cut out of the head.
    """
    head, note = dead_letter_head(payload)
    text, encoding = _head_text(head[:DEAD_LETTER_HEAD], cut=len(head) > DEAD_LETTER_HEAD)
    return DeadLetter(
        topic=_clip(topic, _TOPIC_MAX, "…"),
        payload=text,
        encoding=encoding,
        length=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        error=_clip(error + note, _ERROR_MAX, "…"),
        received_at=received_at,
        **{
            name: _clip(value, _EXTRA_MAX, "…") if isinstance(value, str) else value
            for name, value in extra.items()
        },
    )


# what each text of a dead letter may take of its DEAD_LETTER_MAX bytes, as JSON: with the
# field names, the length, the hash and the time (under 200 bytes) they stay under 3,700
_PAYLOAD_MAX: Final = 1800  # a head of 1,024 bytes: 1,024 as it is, 1,368 as base64
_TOPIC_MAX: Final = 400
_ERROR_MAX: Final = 1000
_EXTRA_MAX: Final = 200  # per field; the codec adds one (``source``)


def _head_text(head: bytes, *, cut: bool) -> tuple[str, Literal["utf-8", "base64"]]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # the head ends inside a character the payload goes on with: leave that one out
        if not (cut and exc.reason == "unexpected end of data" and exc.start >= len(head) - 3):
            return base64.b64encode(head).decode("ascii"), "base64"
        text = head[: exc.start].decode("utf-8")
    return _clip(text, _PAYLOAD_MAX, ""), "utf-8"


def _clip(text: str, limit: int, mark: str) -> str:
    """``text``, or its longest beginning that takes at most ``limit`` bytes as a JSON string
    (quotes aside) with ``mark`` after it: found by halving, each size measured in C (a
    character at a time in Python took 100 us for a head of control bytes)."""
    if len(text) * 6 <= limit or _json_size(text) <= limit:  # 6: the most a byte escapes to
        return text
    room = limit - _json_size(mark)
    short, long = 0, min(len(text), room)  # the cut lies in [short, long]
    while short < long:
        middle = (short + long + 1) // 2
        if _json_size(text[:middle]) <= room:
            short = middle
        else:
            long = middle - 1
    return text[:short] + mark


def _json_size(text: str) -> int:
    """The bytes ``text`` takes as a JSON string, quotes aside."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def decode_mqtt(
    topic: str, payload: bytes, received_at: float, prefix: str = DEFAULT_PREFIX
) -> Event | DeadLetter:
    """One MQTT message on ``<prefix>/<site>/<room>/<kind>/<device>`` as an event or dead letter.

    ``site``, ``room``, ``kind`` and ``device`` come from the topic; if the payload gives them
    too, they must be equal. Never raises.
    """
    try:
        where = _where_of_topic(topic, prefix)
        if isinstance(where, str):
            return dead_letter(topic, payload, where, received_at)
        if len(payload) <= MAX_PAYLOAD:
            event = _ordinary(payload, where)
            if event is not None:
                return event
        result, _ = _decode(payload, where)
    except Exception as exc:  # noqa: BLE001 - a bug in this module must not stop the service
        # (contract 1: bad input never crashes it); the message is dead-lettered and logged.
        return _internal_error(topic, payload, received_at, exc)
    if isinstance(result, str):
        return dead_letter(topic, payload, result, received_at)
    return result


def decode_line(line: bytes, received_at: float, source: str) -> Event | DeadLetter:
    """One line of a recording (JSONL) as an event or dead letter.

    The line must give ``site``, ``room``, ``kind`` and ``device``. ``source`` (e.g.
    ``"night.jsonl:17"``) is added to a dead letter as the field ``source``; its ``topic`` is the
    topic the event would have had, or "" if the line names no valid place. A trailing line
    break is not part of the payload. Never raises.
    """
    if line.endswith(b"\n"):
        line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    try:
        result, raw = _decode(line, None)
    except Exception as exc:  # noqa: BLE001 - a bug in this module must not stop a replay
        # (contract 3: bad lines go to the dead-letter output, not into an exception).
        return _internal_error("", line, received_at, exc, source=source)
    if isinstance(result, str):
        return dead_letter(_line_topic(raw), line, result, received_at, source=source)
    return result


def _internal_error(
    topic: str, payload: bytes, received_at: float, exc: Exception, **extra: object
) -> DeadLetter:
    logger.error("codec failed on a message on topic %r", topic, exc_info=exc)
    return dead_letter(
        topic,
        payload,
        f"sensorhub could not check this message ({type(exc).__name__}: {exc}): "
        "report this to the sensorhub maintainers with the payload",
        received_at,
        **extra,
    )
