"""A simulated ward night published natively, and the same night with its door contacts, motion
sensors, call buttons and bed mats published as Zigbee2MQTT devices (and, in a ward with radar
rooms, its care radars as Milesight VS373 trigger reports), each through a real Mosquitto to
``sensorhub serve --clock event`` in a process of its own: the same reactions (kind, room and
first-page time) and, as the times are read from ``last_seen`` to the millisecond the recording
keeps (and the radars' to the second they keep), the very same pages, escalations and device
faults included."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simulators.publish import Entry, publish_recording
from simulators.ward import Ward, simulate_night
from simulators.ward.zigbee import ForeignMessage, rule_file, sources_section, zigbee_entries

from sensorhub.testing.broker import PrivateBroker
from tests.conftest import Names, TestClient

from .conftest import ServeProcess

#: The demo's night (the site's name is part of the simulation's seed): a bed exit (no camera:
#: the bed mat), wandering, an absence and calls; its own pages topic on the session's broker.
#: A tenth of the events late (the demo: 1 %), so that now and then a Zigbee device's event is
#: late behind its own next one.
SITE, SEED, LATE = "zonnehof", 1, 0.1
#: No new page for this long after the night is published: serve has decided everything.
QUIET = 5.0


def _pages(client: TestClient) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in client.matching(lambda m: True)]


def _serve_night(
    entries: list[Entry],
    rules: Path,
    store: str,
    hash_seed: int,
    *,
    serve_process: Callable[..., ServeProcess],
    mqtt_client: Callable[..., TestClient],
    mosquitto: PrivateBroker,
    names: Names,
) -> list[dict[str, Any]]:
    """The pages serve sends for ``entries``, published as fast as the broker takes them."""
    process = serve_process(rules, store_url=store)
    at = process.command.index("--lateness")  # the service's default, as the demo runs it
    del process.command[at : at + 2]
    client = mqtt_client([names.pages])
    process.start(seed=hash_seed)
    published = publish_recording(entries, mosquitto.url, prefix=names.prefix)
    assert published.sent == len(entries)
    seen, since = -1, time.monotonic()
    deadline = since + 120
    while time.monotonic() - since < QUIET:
        assert time.monotonic() < deadline, "serve did not go quiet within 120 s"
        count = len(client.matching(lambda m: True))
        if count != seen:
            seen, since = count, time.monotonic()
        time.sleep(0.2)
    process.stop_by("SIGTERM")
    client.close()
    return _pages(client)


def _reactions(pages: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """Care pages with escalation 0: the reactions (contract section 2)."""
    return sorted(
        (p["kind"], p["room"], p["ts"])
        for p in pages
        if p["audience"] == "care" and p["escalation"] == 0
    )


def _key(page: dict[str, Any]) -> tuple[Any, ...]:
    """What a page says, but its id and the ids of its evidence (a mapped event's id is the
    digest of its Zigbee2MQTT message, not the native event's id)."""
    return tuple(sorted((k, v) for k, v in page.items() if k not in ("page_id", "events")))


@pytest.mark.mqtt
@pytest.mark.parametrize("radars", [False, True], ids=["cameras", "radars"])
def test_a_ward_published_as_zigbee2mqtt_gets_the_reactions_it_gets_published_natively(
    *,
    radars: bool,
    tmp_path: Path,
    names: Names,
    mosquitto: PrivateBroker,
    serve_process: Callable[..., ServeProcess],
    mqtt_client: Callable[..., TestClient],
) -> None:
    ward = Ward.typical(8, site=SITE, radars=radars)
    names = dataclasses.replace(names, site=SITE)
    night = simulate_night(ward, SEED, late_fraction=LATE, malformed_fraction=0.002)
    # base topics of this test's own
    base, radar_base = f"z2m-{names.prefix}", f"vs373-{names.prefix}"
    rules = tmp_path / "rules.yaml"
    # one rule file for both: only the form the sensors publish in differs
    sources = sources_section(ward, base, radar_base)
    rules.write_text(rule_file(ward) + sources, encoding="utf-8")
    native: list[Entry] = list(night.recording)
    foreign = zigbee_entries(night.recording, base, radar_base=radar_base, timezone=ward.timezone)
    zigbee: list[Entry] = list(foreign)
    assert sum(isinstance(e, ForeignMessage) for e in zigbee) > 2000
    reports = [
        e for e in zigbee if isinstance(e, ForeignMessage) and e.topic.startswith(radar_base)
    ]
    assert len(reports) > 300 if radars else not reports

    run = {
        "serve_process": serve_process,
        "mqtt_client": mqtt_client,
        "mosquitto": mosquitto,
        "names": names,
    }
    natively = _serve_night(native, rules, f"sqlite:///{tmp_path / 'native.db'}", 11, **run)
    as_zigbee = _serve_night(zigbee, rules, f"sqlite:///{tmp_path / 'zigbee.db'}", 4242, **run)

    reactions = _reactions(natively)
    assert _reactions(as_zigbee) == reactions
    # the night has reactions that Zigbee2MQTT devices alone decide: calls, and the bed mat
    # (no camera) of room 105 and the door of a room without one
    kinds = {(kind, room) for kind, room, _ in reactions}
    assert ("call", "101") in kinds
    assert ("bed_exit", "105") in kinds
    assert ("absent_too_long", "104") in kinds
    if radars:  # and what the radars decide: a fall and a bed exit, wandering with the door
        assert {("fall", "101"), ("bed_exit", "101"), ("wandering", "103")} <= kinds
    # and the same pages altogether: re-notifications, escalations, device faults
    assert sorted(map(_key, as_zigbee)) == sorted(map(_key, natively))
