"""Data minimisation in the codec: what a blob is, and what a dead letter keeps of a payload
(contract v1.1 section 1, docs/privacy.md)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from sensorhub.codec import payload as codec
from sensorhub.codec.payload import dead_letter, decode_mqtt
from sensorhub.codec.privacy import BLOB_TEXT, EVENT_FIELDS, TEXT_MAX, is_blob, kept_fields
from sensorhub.contract import DEAD_LETTER_MAX, DeadLetter

TOPIC = "care/zon/12/optical/cam"
#: 15 KB of a JPEG, as a camera sends a snapshot
SNAPSHOT = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 44).decode("ascii")


def test_the_event_fields_are_those_the_payload_schema_checks() -> None:
    assert frozenset(codec._Payload.__annotations__) == EVENT_FIELDS


@pytest.mark.parametrize(
    "value",
    [
        SNAPSHOT,
        "data:image/jpeg;base64,/9j/4AAQ",  # a data URI, however short
        "DATA:text/plain,hello",
        "ab12" * (BLOB_TEXT // 4),  # hex
        "TWFuIGlz9w\n" * 40,  # MIME base64 with line breaks
        "a" * (TEXT_MAX + 1),  # any text this long
        list(range(200)),  # a list over BLOB_TEXT bytes as JSON
        {"frame": "x" * BLOB_TEXT},
        ["data:,x"],  # a small list holding a blob
    ],
    ids=lambda v: type(v).__name__ + str(len(str(v))),
)
def test_images_and_blobs_are_blobs(value: object) -> None:
    assert is_blob(value)


@pytest.mark.parametrize(
    "value",
    [
        "slept well, up once at 03:10 for the toilet " * 10,  # prose: spaces and punctuation
        "ab12" * (BLOB_TEXT // 4 - 1),  # 252 hex digits: an id, not a blob
        "x" * TEXT_MAX,  # one letter again and again: no encoded bytes
        "zone-B",
        12.5,
        2**70,
        True,
        None,
        ["a", "b"],
        {"zone": "B", "level": 3},
    ],
    ids=lambda v: type(v).__name__ + str(len(str(v))),
)
def test_texts_numbers_and_small_values_are_not_blobs(value: object) -> None:
    assert not is_blob(value)


def test_kept_fields_keeps_the_contract_and_allow_listed_texts_only() -> None:
    raw = {
        "ts": 1.0,
        "event": "fall",
        "note": "on the floor by the bed",
        "snapshot_jpeg": SNAPSHOT,
        "resident_name": "Mevr. A.",
        "frame": "data:image/png;base64,AAAA",
    }
    assert kept_fields(raw, {"note", "frame"}) == {
        "ts": 1.0,
        "event": "fall",
        "note": "on the floor by the bed",
    }
    assert kept_fields({"ts": 1.0, "count": 2**70, "n": 3}, {"count", "n"}) == {"ts": 1.0, "n": 3}
    ordinary = {"ts": 1.0, "event": "fall", "id": "e1"}
    assert kept_fields(ordinary) is ordinary  # nothing dropped: the same dict


def snapshot_payload(**fields: object) -> bytes:
    return json.dumps(
        {
            "ts": 1761355800.5,
            "event": "fall",
            "resident_name": "Mevr. A.",
            "snapshot_jpeg": SNAPSHOT,
        }
        | fields
    ).encode()


def test_a_refused_object_is_dead_lettered_with_the_contract_fields_only() -> None:
    """The camera's snapshot and the resident's name are not in the dead letter's head: the
    object is kept re-serialised without them, and the reason names what was left out."""
    payload = snapshot_payload(confidence=85)  # refused: a percentage
    letter = decode_mqtt(TOPIC, payload, 0.0)
    assert isinstance(letter, DeadLetter)
    assert json.loads(letter.payload) == {"ts": 1761355800.5, "event": "fall", "confidence": 85}
    assert "Mevr" not in letter.model_dump_json()
    assert SNAPSHOT[:40] not in letter.model_dump_json()
    assert "confidence" in letter.error
    assert "'resident_name', 'snapshot_jpeg'" in letter.error
    # the length and hash are still the whole payload's, as the contract says
    assert letter.length == len(payload)
    assert letter.sha256 == hashlib.sha256(payload).hexdigest()


def test_a_blob_in_a_contract_field_of_a_dead_letter_is_not_kept() -> None:
    letter = decode_mqtt(TOPIC, json.dumps({"ts": 1761355800.5, "event": SNAPSHOT}).encode(), 0.0)
    assert isinstance(letter, DeadLetter)
    assert json.loads(letter.payload) == {"ts": 1761355800.5}
    assert "'event'" in letter.error


def test_a_dead_letter_of_only_contract_fields_keeps_the_payload_as_it_came() -> None:
    payload = b'{"ts": 1761355800.5, "event": "dance"}'
    letter = decode_mqtt(TOPIC, payload, 0.0)
    assert isinstance(letter, DeadLetter)
    assert letter.payload == payload.decode()


def test_an_image_is_not_kept_in_a_dead_letter() -> None:
    jpeg = base64.b64decode(SNAPSHOT)
    letter = decode_mqtt(TOPIC, jpeg, 0.0)
    assert isinstance(letter, DeadLetter)
    assert letter.payload == ""
    assert "image" in letter.error
    assert letter.length == len(jpeg)


def test_data_uris_and_base64_runs_are_cut_out_of_a_text_head() -> None:
    text = b"snapshot: " + SNAPSHOT[:300].encode() + b" at data:image/png;base64,iVBORw0KGgo= end"
    letter = dead_letter(TOPIC, text, "not JSON", 0.0)
    assert letter.payload == "snapshot: <300 characters not kept> at <34 characters not kept> end"
    assert len(letter.model_dump_json()) <= DEAD_LETTER_MAX


def test_broken_json_with_a_snapshot_keeps_no_blob() -> None:
    """An object that does not parse cannot be re-serialised; the snapshot is still cut."""
    payload = snapshot_payload()[:-2]
    letter = decode_mqtt(TOPIC, payload, 0.0)
    assert isinstance(letter, DeadLetter)
    assert SNAPSHOT[:40] not in letter.payload
    assert "not JSON" in letter.error


def test_a_refused_acknowledgement_keeps_its_own_fields() -> None:
    payload = json.dumps({"incident": "zon/12/fall/1", "by": "pager-7", "photo": SNAPSHOT})
    letter = dead_letter("sensorhub/ack/zon", payload.encode(), "not open", 0.0)
    assert json.loads(letter.payload) == {"incident": "zon/12/fall/1", "by": "pager-7"}


def test_an_object_over_64_kib_is_not_parsed_for_its_dead_letter_nor_kept() -> None:
    """Refused before it is parsed (contract section 1): what of it is the contract's is not
    known, so nothing of it is kept."""
    payload = json.dumps({"ts": 1.7e9, "event": "pressed", "resident_name": "x" * 70_000}).encode()
    letter = decode_mqtt(TOPIC, payload, 0.0)
    assert isinstance(letter, DeadLetter)
    assert letter.payload == ""
    assert "more than the 65536 allowed" in letter.error
    assert "not kept" in letter.error
    assert letter.length == len(payload)


def test_only_the_head_of_a_text_is_scrubbed() -> None:
    """A megabyte of text costs the same as its head: only what a dead letter keeps is looked
    at (and what a run it ends with needs)."""
    text = b"." * 1000 + SNAPSHOT.encode() * 200
    letter = dead_letter(TOPIC, text, "not JSON", 0.0)
    assert letter.payload == ("." * 1000 + f"<{1280 - 1000} characters not kept>")[:1024]
