"""A classifier pickled mid-stream and restored decides on exactly as the original would.

The live service snapshots its classifier into a durable store and restores it after a crash:
the snapshot is taken with events in the reorder buffer, confirmation windows and silence
timers running and incidents open, and the restored classifier must page and audit the rest
of the stream exactly as an uninterrupted one.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from sensorhub.codec.columns import EventColumns
from sensorhub.contract import Event
from sensorhub.core import kernel
from sensorhub.core.classifier import Classifier
from sensorhub.core.fast import FastClassifier
from tests.core.test_event_time import _policy
from tests.core.test_kernel import _arrival, _audit_key, _copy, _page_key, _stream

Classifiers = Classifier | FastClassifier


def _make(cls: type[Classifiers], audit: bool) -> Classifiers:
    if cls is FastClassifier:
        return FastClassifier(_policy(), audit=audit)
    return Classifier(_policy())


def _push(classifier: Classifiers, events: list[Event], batch: int) -> list[Any]:
    """Pages and audit records of ``events``, pushed one by one (``batch`` 1) or in batches."""
    steps = []
    if batch == 1 or not isinstance(classifier, FastClassifier):
        steps = [classifier.push(_copy(e)) for e in events]
    else:
        for i in range(0, len(events), batch):
            chunk = [_copy(e) for e in events[i : i + batch]]
            columns = EventColumns.from_events(chunk, classifier.registry)
            steps.append(classifier.push_batch(columns))
    return steps


def _outcome(steps: list[Any]) -> tuple[list[Any], list[Any]]:
    pages = [_page_key(p) for s in steps for p in s.opened]
    audit = [_audit_key(a) for s in steps for a in s.audit]
    return pages, audit


def _cut(arrivals: list[Event]) -> int:
    """The first point past the middle where events wait in the buffer and a confirmation
    window or grace period runs (judged by the reference)."""
    reference = Classifier(_policy())
    for n, event in enumerate(arrivals):
        reference.push(_copy(event))
        pending = any(room.pending for room in reference._rooms.values())
        if n >= len(arrivals) // 2 and reference.buffered and pending:
            return n + 1
    raise AssertionError("no point with a buffer and a pending window")


def _timers_running(classifier: Classifiers) -> bool:
    if isinstance(classifier, Classifier):
        return bool(classifier._timers)
    pending = classifier._ri[:, kernel.RI_PEND_ON : kernel.RI_PEND_ON + kernel.N_PEND]
    return bool(np.any(pending == 1) and np.any(classifier._di[:, kernel.DI_SILENT_ON] == 1))


@pytest.mark.parametrize("cls", [Classifier, FastClassifier])
@pytest.mark.parametrize(("seed", "batch"), [(1, 1), (2, 1), (3, 40), (4, 400)])
def test_a_classifier_restored_from_a_pickle_decides_as_the_original(
    cls: type[Classifiers], seed: int, batch: int
) -> None:
    arrivals = _arrival(_stream(seed, 2400), seed)
    cut = _cut(arrivals)
    whole = _make(cls, audit=True)  # the same batches, with no snapshot between
    expected = _outcome(
        [
            *_push(whole, arrivals[:cut], batch),
            *_push(whole, arrivals[cut:], batch),
            whole.tick(arrivals[-1].ts),
            whole.drain(),
        ]
    )

    first = _make(cls, audit=True)
    before = _push(first, arrivals[:cut], batch)
    assert first.buffered > 0, "the snapshot is taken with events waiting in the buffer"
    assert _timers_running(first), "the snapshot is taken with timers running"
    restored = pickle.loads(pickle.dumps(first))  # noqa: S301 - our own snapshot
    after = _push(restored, arrivals[cut:], batch)
    got = _outcome([*before, *after, restored.tick(arrivals[-1].ts), restored.drain()])
    assert got == expected
    assert expected[0], "the stream pages something"
    assert (restored.raw_alarms, restored.late_events, restored.duplicates) == (
        whole.raw_alarms,
        whole.late_events,
        whole.duplicates,
    )


def test_the_original_goes_on_unchanged_after_being_pickled() -> None:
    """Pickling takes nothing from the original: it goes on as if nothing happened."""
    arrivals = _arrival(_stream(7, 1500), 7)
    whole = FastClassifier(_policy())
    expected = _outcome(
        [*_push(whole, arrivals[:700], 50), *_push(whole, arrivals[700:], 50), whole.drain()]
    )
    original = FastClassifier(_policy())
    before = _push(original, arrivals[:700], 50)
    pickle.dumps(original)
    after = _push(original, arrivals[700:], 50)
    assert _outcome([*before, *after, original.drain()]) == expected


def test_a_fast_classifier_without_audit_pickles_and_pages_the_same() -> None:
    arrivals = _arrival(_stream(8, 2000), 8)
    whole = FastClassifier(_policy(), audit=False)
    expected = _outcome(
        [*_push(whole, arrivals[:1100], 100), *_push(whole, arrivals[1100:], 100), whole.drain()]
    )
    first = FastClassifier(_policy(), audit=False)
    before = _push(first, arrivals[:1100], 100)
    restored = pickle.loads(pickle.dumps(first))  # noqa: S301 - our own snapshot
    got = _outcome([*before, *_push(restored, arrivals[1100:], 100), restored.drain()])
    assert got == expected
    assert expected[0]


def test_a_pickle_keeps_of_the_kernels_outputs_only_their_shapes() -> None:
    """They are written by a call and emptied after it: between calls a snapshot (what serve
    writes every 200,000 messages) need not carry them; the restored arrays are as large."""
    classifier = FastClassifier(_policy())
    _push(classifier, _arrival(_stream(9, 600), 9), 60)
    restored = pickle.loads(pickle.dumps(classifier))  # noqa: S301 - our own snapshot
    for name in ("_out_i", "_out_f", "_ev_out"):
        assert classifier.__getstate__()[name] == getattr(classifier, name).shape
        assert getattr(restored, name).shape == getattr(classifier, name).shape
        assert getattr(restored, name).dtype == getattr(classifier, name).dtype
