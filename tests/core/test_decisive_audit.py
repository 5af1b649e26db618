"""``FastClassifier(audit="decisive")``, what ``serve`` runs without ``--audit``: the same pages
as with the full audit trail, and of its records exactly those a router acts on (paged,
evidence, resolved) plus the redeliveries, the same as in the full trail."""

from __future__ import annotations

import pytest

from sensorhub.core.fast import FastClassifier
from sensorhub.core.types import AuditRecord
from tests.core.test_event_time import _policy
from tests.core.test_kernel import _arrival, _audit_key, _batches, _feed, _page_key, _stream

DECISIVE = {"paged", "evidence", "resolved"}


def _kept(record: AuditRecord) -> bool:
    return record.decision in DECISIVE or (record.room is None and record.decision == "ignored")


@pytest.mark.parametrize("seed", range(6))
def test_the_decisive_audit_is_the_full_audit_filtered_with_the_same_pages(seed: int) -> None:
    policy = _policy()
    arrivals = _arrival(_stream(seed, 1500), seed)
    batches = _batches(len(arrivals), seed)
    full = _feed(FastClassifier(policy), arrivals, batches=batches)
    decisive = _feed(FastClassifier(policy, audit="decisive"), arrivals, batches=batches)
    assert list(map(_page_key, decisive.pages)) == list(map(_page_key, full.pages))
    wanted = [_audit_key(r) for r in full.audit if _kept(r)]
    assert [_audit_key(r) for r in decisive.audit] == wanted
    assert any(r.decision == "resolved" for r in decisive.audit)
    assert any(not _kept(r) for r in full.audit)  # some left out: the filter was tested
