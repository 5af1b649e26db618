"""Without an audit trail (``serve`` and ``replay`` without ``--audit``) the compiled core keeps
only the kernel's records of incidents: it opens, resolves and adds evidence to the same
incidents, in the same order, as with the whole trail, and makes no audit record."""

from __future__ import annotations

import pytest

from sensorhub.core.fast import FastClassifier
from sensorhub.core.types import Evidence, Opened, Resolved
from tests.core.test_event_time import _policy
from tests.core.test_kernel import _arrival, _batches, _change_key, _feed, _stream


@pytest.mark.parametrize("seed", range(6))
def test_without_audit_the_incidents_are_those_of_the_whole_trail(seed: int) -> None:
    policy = _policy()
    arrivals = _arrival(_stream(seed, 1500), seed)
    batches = _batches(len(arrivals), seed)
    full = _feed(FastClassifier(policy), arrivals, batches=batches)
    bare = _feed(FastClassifier(policy, audit=False), arrivals, batches=batches)
    assert [_change_key(c) for c in bare.changes] == [_change_key(c) for c in full.changes]
    assert bare.audit == []
    kinds = {type(change) for change in full.changes}
    assert kinds == {Opened, Evidence, Resolved}  # every kind of change was there to keep
