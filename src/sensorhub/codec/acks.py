"""Acknowledgements in: an MQTT message on ``sensorhub/ack/<site>``, or a line of a recording.

Staff acknowledge an incident with ``{"incident": <the page's incident>, "by": <pager, group or
name>}`` (optionally ``"ts"``, Unix seconds) on ``sensorhub/ack/<site>``; a recording holds the
same as a line ``{"ts": ..., "site": ..., "ack": {"incident": ..., "by": ...}}`` among its events
(contract section 3), which ``replay`` honours where ``serve`` would have got it. Both give an
:class:`~sensorhub.contract.Ack`, or a sentence for the dead letter saying what is wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

from sensorhub.codec.payload import dead_letter, event_time
from sensorhub.contract import ACK_TOPIC, MAX_PAYLOAD, NAME_RE, TS_MAX, TS_MIN, Ack, DeadLetter

#: The acknowledgement payload, as shown in error messages.
ACK_EXAMPLE: Final = (
    '{"incident": "<incident of the page>", "by": "<pager or name>", "ts": <Unix seconds>}'
)
#: A recording's acknowledgement line, as shown in error messages.
ACK_LINE_EXAMPLE: Final = (
    '{"ts": <Unix seconds>, "site": "<site>", "ack": {"incident": "<incident>", "by": "<name>"}}'
)


@dataclass(frozen=True, slots=True)
class AckIn:
    """An acknowledgement as it came: ``position`` events of its batch came before it.
    ``topic``, ``payload`` and ``source`` (a recording's ``file:line``) say where from, for
    its dead letter if it stops nothing."""

    ack: Ack
    position: int
    topic: str
    payload: bytes
    received_at: float
    source: str | None = None


def parse_ack(topic: str, payload: bytes) -> Ack | str:
    """The acknowledgement in an MQTT message, or a sentence saying what is wrong with it.

    Topic ``sensorhub/ack/<site>``; payload one JSON object (UTF-8) with ``incident`` (the
    ``incident`` of the page answered), ``by`` (pager or person) and optionally ``ts`` (Unix
    seconds). Unknown fields are ignored; ``site``, if given, must equal the topic's.
    """
    prefix = ACK_TOPIC + "/"
    if not topic.startswith(prefix):
        return f"topic {topic!r} is not an acknowledgement topic: publish to {prefix}<site>"
    site = topic[len(prefix) :]
    if not NAME_RE.fullmatch(site):
        return (
            f"topic {topic!r}: {site!r} is not a site name: publish to {prefix}<site>, the site "
            "as in the sensors' topics"
        )
    if len(payload) > MAX_PAYLOAD:
        return f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}: send {ACK_EXAMPLE}"
    data = _json_object(payload, "payload", ACK_EXAMPLE)
    if isinstance(data, str):
        return data
    ts = data.get("ts")
    if ts is not None and (
        isinstance(ts, bool)
        or not isinstance(ts, int | float)
        or not math.isfinite(ts)
        or not TS_MIN <= ts < TS_MAX
    ):
        return (
            f"field 'ts' is {ts!r}: send the time of the acknowledgement as Unix seconds "
            "(a number between 2000 and 2100), or leave it out"
        )
    if "site" in data and data["site"] != site:
        return (
            f"field 'site' is {data['site']!r}, but the topic is of site {site!r}: make them equal"
        )
    return _ack(data, site, None if ts is None else float(ts), ACK_EXAMPLE)


def is_ack_line(line: bytes) -> bool:
    """Whether a recording's line is meant as an acknowledgement (it has an ``"ack"`` key)."""
    return b'"ack"' in line


def recorded_ack(line: bytes, position: int, received_at: float, source: str) -> AckIn | DeadLetter:
    """A recording's acknowledgement line, ``position`` events into its batch, or its dead
    letter."""
    parsed = parse_ack_line(line)
    if isinstance(parsed, str):
        return dead_letter("", line, parsed, received_at, source=source)
    return AckIn(parsed, position, f"{ACK_TOPIC}/{parsed.site}", line, received_at, source)


def parse_ack_line(line: bytes) -> Ack | str:
    """The acknowledgement of a recording's line ``{"ts", "site", "ack": {"incident", "by"}}``,
    or a sentence saying what is wrong with it."""
    if len(line) > MAX_PAYLOAD:
        return f"line of {len(line)} bytes is over {MAX_PAYLOAD}: write {ACK_LINE_EXAMPLE}"
    data = _json_object(line, "line", ACK_LINE_EXAMPLE)
    if isinstance(data, str):
        return data
    unknown = sorted(set(data) - {"ts", "site", "ack"})
    if unknown:
        return (
            f"an acknowledgement line has only ts, site and ack, not {', '.join(unknown)}: "
            f"write {ACK_LINE_EXAMPLE}"
        )
    site = data.get("site")
    if not isinstance(site, str) or not NAME_RE.fullmatch(site):
        return f"field 'site' is missing or not a site name: write {ACK_LINE_EXAMPLE}"
    ts = data.get("ts")
    problems: list[str] = []
    at = event_time(ts, problems) if isinstance(ts, int | float | str) else None
    if isinstance(ts, bool) or at is None:
        reason = problems[0] if problems else "field 'ts' is missing or not a time"
        return f"{reason}: write {ACK_LINE_EXAMPLE}"
    ack = data.get("ack")
    if not isinstance(ack, dict):
        return f"field 'ack' is not an object: write {ACK_LINE_EXAMPLE}"
    return _ack(ack, site, at, ACK_LINE_EXAMPLE)


def _json_object(payload: bytes, what: str, example: str) -> dict[str, Any] | str:
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return f"{what} is not UTF-8 text: send {example}"
    except json.JSONDecodeError as error:
        return f"{what} is not JSON ({error.msg} at character {error.pos}): send {example}"
    if not isinstance(data, dict):
        return f"{what} is JSON but not an object: send {example}"
    return data


def _ack(data: dict[str, Any], site: str, ts: float | None, example: str) -> Ack | str:
    incident = data.get("incident")
    if not isinstance(incident, str) or not 1 <= len(incident) <= 256:
        return (
            "field 'incident' is missing or not a string of 1-256 characters: copy the "
            f"'incident' of the page being answered; send {example}"
        )
    by = data.get("by")
    if not isinstance(by, str) or not 1 <= len(by.strip()) <= 128 or not by.isprintable():
        return (
            "field 'by' is missing or not a name of 1-128 printable characters: say which "
            f"pager or person answered; send {example}"
        )
    return Ack(site, incident, by.strip(), ts)
