"""Event time: arrival order within the lateness bound never changes a decision."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.contract import VOCABULARY, Event
from sensorhub.core.classifier import Classifier
from sensorhub.rules.model import RuleFile
from sensorhub.rules.policy import Policy
from tests.scenario import NIGHT, RULES

ROOMS = ("normal", "high", "wander", "wander-nocam", "high-nocam")
#: the events a random stream is made of, weighted towards the interesting ones
CHOICES = [(kind, event) for kind, events in VOCABULARY.items() for event in events] + [
    ("optical", "heartbeat"),
    ("bed", "battery_low"),
    ("optical", "fall"),
    ("optical", "in_bed"),
    ("optical", "out_of_bed"),
    ("call", "pressed"),
]


def _policy() -> Policy:
    default = (Path(__file__).parents[2] / "rules" / "default.yaml").read_text()
    base = RuleFile.model_validate(yaml.safe_load(default))
    return Policy(RuleFile.model_validate(yaml.safe_load(RULES)), base=base)


def _stream(seed: int, n: int, site: str = "zon") -> list[Event]:
    rng = random.Random(seed)
    t = NIGHT
    events = []
    for i in range(n):
        t += rng.expovariate(1 / 8)
        kind, name = rng.choice(CHOICES)
        room = rng.choice(ROOMS)
        value = rng.uniform(50, 90) if name == "sound" else None
        events.append(
            Event(
                ts=round(t, 3),
                site=site,
                room=room,
                kind=kind,
                device=f"{room}-{kind}",
                event=name,
                id=f"e{i}",
                value=value,
            )
        )
    return events


def _pages(events: list[Event], arrival: list[float]) -> list[tuple[Any, ...]]:
    classifier = Classifier(_policy())
    pages = []
    for _, event in sorted(zip(arrival, events, strict=True), key=lambda pair: pair[0]):
        copy = Event(**{f: getattr(event, f) for f in event.__slots__})  # type: ignore[attr-defined]
        pages += classifier.push(copy).opened
    pages += classifier.drain().opened
    return sorted((p.room, p.kind, p.ts, p.incident) for p in pages)


def _compare(in_order: list[tuple[Any, ...]], late: list[tuple[Any, ...]]) -> None:
    """Every page is the same, except that a call is paged on arrival: its page carries the
    press that arrived first, which may be a later press of the same incident (by at most the
    lateness bound)."""
    assert [p for p in late if p[1] != "call"] == [p for p in in_order if p[1] != "call"]
    calls_in_order = [p for p in in_order if p[1] == "call"]
    calls_late = [p for p in late if p[1] == "call"]
    assert [p[0] for p in calls_late] == [p[0] for p in calls_in_order]
    for early, delayed in zip(calls_in_order, calls_late, strict=True):
        assert 0 <= delayed[2] - early[2] < 10


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), jitter_seed=st.integers(0, 99))
def test_events_up_to_10_s_late_give_the_same_pages_as_in_order(
    seed: int, n: int, jitter_seed: int
) -> None:
    events = _stream(seed, n)
    in_order = _pages(events, [e.ts for e in events])
    rng = random.Random(jitter_seed)
    _compare(in_order, _pages(events, [e.ts + rng.uniform(0, 9.99) for e in events]))


def test_the_same_arrival_order_gives_identical_pages() -> None:
    """Replay and serve see the same arrival order: then every page is identical, calls too."""
    events = _stream(7, 2000)
    rng = random.Random(1)
    arrival = [e.ts + rng.uniform(0, 9.99) for e in events]
    assert _pages(events, arrival) == _pages(events, arrival)
