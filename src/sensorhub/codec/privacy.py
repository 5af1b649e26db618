"""Data minimisation (contract v1.1, section 1): what of a payload sensorhub may keep.

Fields outside the contract are dropped before anything is stored or published (the audit, the
journal, dead letters), unless a site allow-lists them by name (``keep_fields`` in its rules);
a value that looks like an image or a blob is never kept, allow-listed or not. docs/privacy.md
says the same for users.

**A blob** (:func:`is_blob`) is

- a string that begins with ``data:`` (a data URI), or is over ``TEXT_MAX`` characters, or is
  ``BLOB_TEXT`` characters or more of base64, base64url or hex alone (line breaks aside: MIME
  base64 has them; prose has spaces and punctuation) that mix at least two of upper case,
  lower case and digits (as encoded bytes do; ``xxxx...`` is not taken for one);
- a list or an object over ``BLOB_TEXT`` bytes as compact JSON, or holding a blob.

Numbers, booleans and null are never blobs (but an allow-listed field's integer beyond 64 bits
is not kept: no measurement has over 19 digits). The functions here are pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Final

from pydantic_core import from_json

from sensorhub.codec.show import show_text
from sensorhub.contract import DEAD_LETTER_HEAD, MAX_PAYLOAD

__all__ = [
    "BLOB_TEXT",
    "EVENT_FIELDS",
    "TEXT_MAX",
    "dead_letter_head",
    "is_blob",
    "kept_fields",
    "kept_payload",
    "scrub_text",
]

_BOM: Final = b"\xef\xbb\xbf"
#: The fields of an event payload (contract section 1): always kept.
EVENT_FIELDS: Final = frozenset(
    ("ts", "event", "id", "confidence", "value", "site", "room", "kind", "device")
)
#: A string of base64 or hex this long or longer is a blob; so is a list or object this long
#: as compact JSON.
BLOB_TEXT: Final = 256
#: A string longer than this is a blob whatever it holds: sensorhub keeps states and texts,
#: not documents.
TEXT_MAX: Final = 1024

_ENCODED: Final = re.compile(r"[A-Za-z0-9+/=_\-\r\n]+")
#: Runs of base64/hex and data URIs inside a text that is not a JSON object (a dead letter's head).
_ENCODED_RUN: Final = re.compile(r"[A-Za-z0-9+/=_\-]{%d,}" % BLOB_TEXT)  # noqa: UP031 - a regex
_UPPER: Final = re.compile(r"[A-Z]")
_LOWER: Final = re.compile(r"[a-z]")
_DIGIT: Final = re.compile(r"[0-9]")
_DATA_URI: Final = re.compile(r"data:[^\s\"',;]*[;,][^\s\"']*", re.IGNORECASE)


def is_blob(value: object) -> bool:
    """Whether ``value`` (a JSON value) looks like an image or a blob (see the module's text)."""
    if isinstance(value, str):
        return (
            len(value) > TEXT_MAX
            or value[:5].lower() == "data:"
            or (len(value) >= BLOB_TEXT and _ENCODED.fullmatch(value) is not None and _mixed(value))
        )
    if isinstance(value, list | dict):
        try:
            if len(json.dumps(value, separators=(",", ":"), default=str)) > BLOB_TEXT:
                return True
        except ValueError:  # a number of over 4,300 digits
            return True
        items = value.values() if isinstance(value, dict) else value
        return any(is_blob(item) for item in items)
    return False


def _mixed(text: str) -> bool:
    """Whether ``text`` mixes at least two of upper case, lower case and digits, as encoded
    bytes do (a run of one letter, or of digits alone, is not taken for a blob)."""
    return sum(pattern.search(text) is not None for pattern in (_UPPER, _LOWER, _DIGIT)) >= 2


def _huge(value: object) -> bool:
    return type(value) is int and value.bit_length() > 64


def kept_fields(raw: dict[str, Any], keep: Collection[str] = ()) -> dict[str, Any]:
    """``raw`` with only the contract's fields and those named in ``keep`` whose values are
    not blobs. ``raw`` itself (the same object) if nothing is dropped."""
    if EVENT_FIELDS.issuperset(raw):
        return raw  # the usual payload: the contract's fields only
    kept = {
        name: value
        for name, value in raw.items()
        if name in EVENT_FIELDS or (name in keep and not is_blob(value) and not _huge(value))
    }
    return raw if len(kept) == len(raw) else kept


def kept_payload(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """For a dead letter: the fields of ``raw`` that are the contract's (an event's or an
    acknowledgement's), none of them a blob (a dead letter may hold any value in any field),
    and the names of the others. A site's ``keep_fields`` do not apply: a dead letter is read
    by technicians to fix a sensor, and may come from no known site."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in raw.items():
        if (name in EVENT_FIELDS or name in _ACK_FIELDS) and not is_blob(value):
            kept[name] = value
        else:
            dropped.append(name)
    return kept, dropped


#: The fields of an acknowledgement (contract section 2) and of a recording's acknowledgement
#: line (section 3), which are dead-lettered by the same function as events.
_ACK_FIELDS: Final = frozenset(("incident", "by", "ack"))


#: Of a payload that is not a JSON object of the contract's size, what is scrubbed of blobs: a
#: dead letter's head, and enough beyond it to see that a run it ends with is a long one.
_SCRUB_MAX: Final = DEAD_LETTER_HEAD + BLOB_TEXT
#: How images begin: JPEG, PNG, GIF, WebP (RIFF....WEBP), HEIF/AVIF/MP4 (....ftyp).
_IMAGE: Final = re.compile(rb"\xff\xd8\xff|\x89PNG|GIF8|RIFF....WEBP|....ftyp", re.DOTALL)


def dead_letter_head(payload: bytes) -> tuple[bytes, str]:
    """What a dead letter may keep of ``payload`` (its head is cut from this), and what to add
    to the reason about what it left out."""
    if _IMAGE.match(payload):
        return b"", " (the payload looks like an image: not kept)"
    start = payload[len(_BOM) :] if payload.startswith(_BOM) else payload
    if start[:_SCRUB_MAX].lstrip()[:1] == b"{":
        if len(payload) > MAX_PAYLOAD:  # refused unparsed (contract section 1), so not kept
            return b"", " (payload not kept: too large to leave out what is not the contract's)"
        try:
            parsed = from_json(start)
        except ValueError:
            parsed = None
        if type(parsed) is dict:
            kept, dropped = kept_payload(parsed)
            if not dropped:
                return payload, ""
            names = ", ".join(show_text(name) for name in dropped[:_NAMES_SHOWN])
            more = f" and {len(dropped) - _NAMES_SHOWN} more" if len(dropped) > _NAMES_SHOWN else ""
            note = f" (kept without fields outside the contract or blobs: {names}{more})"
            try:
                return json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode(), note
            except ValueError:  # a number of over 4,300 digits: nothing of it is kept
                return b"", note
    sample = payload[:_SCRUB_MAX]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(payload) <= _SCRUB_MAX or exc.start < len(sample) - 3:
            return payload, ""  # binary, and no image: its head as base64 (contract section 1)
        text = sample[: exc.start].decode("utf-8")  # a character cut in two at the end
    scrubbed, count = scrub_text(text)
    if not count:
        return payload, ""
    return scrubbed.encode("utf-8"), " (data URIs and runs of base64 or hex in it not kept)"


_NAMES_SHOWN: Final = 10


def scrub_text(text: str) -> tuple[str, int]:
    """``text`` (the head of a payload that is no JSON object) with every data URI and every
    run of ``BLOB_TEXT`` or more base64/hex characters cut out, and how many were."""
    count = 0

    def cut(match: re.Match[str]) -> str:
        nonlocal count
        run = match.group(0)
        if run[:5].lower() != "data:" and not _mixed(run):
            return run
        count += 1
        return f"<{len(run)} characters not kept>"

    text = _DATA_URI.sub(cut, text)
    return _ENCODED_RUN.sub(cut, text), count
