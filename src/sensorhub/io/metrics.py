"""Prometheus metrics of ``sensorhub serve``.

The registry is a parameter: only the composition root (``service.run``) uses the global one, so
tests and several services in one process each get their own. What the classifier counts itself
(the alarms a conventional system would have sounded) is read at scrape time by a collector, not
copied per event.

| metric | type | meaning |
|---|---|---|
| ``sensorhub_events_total{kind}`` | counter | valid sensor events received, by sensor kind |
| ``sensorhub_deadletters_total`` | counter | messages that were bad input (or that the classifier failed on), sent to ``sensorhub/deadletter`` |
| ``sensorhub_acks_refused_total{reason}`` | counter | acknowledgements that stopped nothing (also dead letters), by why: ``not_staff``, ``not_open``, ``bad_time``, ``malformed`` |
| ``sensorhub_pages_total{kind,audience}`` | counter | pages published, by incident kind and audience (care, technical) |
| ``sensorhub_reactions_total{kind}`` | counter | reactions: first care pages of an incident (escalation 0) |
| ``sensorhub_decision_latency_seconds`` | histogram | wall time from receiving the deciding event to publishing its page |
| ``sensorhub_raw_alarms_total`` | counter | alarms a conventional system would have sounded |
| ``sensorhub_reduction_ratio`` | gauge | 1 - reactions / raw alarms (0 before the first raw alarm) |
| ``sensorhub_store_writable`` | gauge | 1 while the store takes the rounds' writes, 0 while it cannot (the status is then offline) |
| ``sensorhub_deadletters_dropped_total`` | counter | bad messages dropped without a dead letter: a flood filled the lane of bad input (``io.triage``) |
| ``sensorhub_store_held_rounds`` | gauge | rounds decided (and paged) but not yet written to the store: held in memory until it can be written |
"""  # noqa: E501 - a table reads best unbroken

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sensorhub.contract import KINDS, Page, reduction
from sensorhub.routing.acks import REFUSAL_CODES

#: Decision latency buckets (s): fine below 10 ms where a call decided on arrival lands, up to
#: the 10-30 s that event-time waiting (lateness, confirmation windows) can add.
LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
)


class _ClassifierCollector(Collector):
    """Reads the classifier's own count of raw alarms when Prometheus scrapes, and the reduction
    from it and the ``reactions`` counter (its samples summed over all kinds)."""

    def __init__(self, raw_alarms: Callable[[], int], reactions: Counter) -> None:
        self._raw_alarms = raw_alarms
        self._reactions = reactions

    def collect(self) -> Iterable[Metric]:
        raw = self._raw_alarms()
        reactions = sum(
            sample.value
            for family in self._reactions.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        yield CounterMetricFamily(
            "sensorhub_raw_alarms",
            "Alarms a conventional system would have sounded (one per device and alarm event, "
            "re-armed after 60 s).",
            value=raw,
        )
        yield GaugeMetricFamily(
            "sensorhub_reduction_ratio",
            "Share of conventional alarms nobody had to answer: 1 - reactions / raw alarms "
            "(0 before the first raw alarm).",
            value=reduction(int(reactions), raw),
        )


class _DroppedCollector(Collector):
    """Reads, when Prometheus scrapes, how many bad messages a flood made serve drop without a
    dead letter (the inbox counts them on the network thread)."""

    def __init__(self, dropped: Callable[[], int]) -> None:
        self._dropped = dropped

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "sensorhub_deadletters_dropped",
            "Bad messages dropped without a dead letter: a flood of bad input filled the lane "
            "that holds them while good input goes first.",
            value=self._dropped(),
        )


class ServiceMetrics:
    """The service's metrics, registered in ``registry``.

    ``raw_alarms`` is called at scrape time (from the HTTP server's thread) and must return the
    classifier's running count; reading an int attribute is safe for that.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        raw_alarms: Callable[[], int] = lambda: 0,
        dropped: Callable[[], int] = lambda: 0,
    ) -> None:
        self.registry = registry
        self.events = Counter(
            "sensorhub_events",
            "Valid sensor events received, by sensor kind.",
            ["kind"],
            registry=registry,
        )
        self.deadletters = Counter(
            "sensorhub_deadletters",
            "Messages published to sensorhub/deadletter: bad input, or a message the classifier "
            "failed on.",
            registry=registry,
        )
        self.acks_refused = Counter(
            "sensorhub_acks_refused",
            "Acknowledgements that stopped nothing and were dead-lettered, by why: not_staff "
            "(by is none of the site's staff), not_open (unknown, other site's or closed "
            "incident), bad_time (ts before the incident or too far ahead), malformed.",
            ["reason"],
            registry=registry,
        )
        for code in REFUSAL_CODES:  # each reason shows, at 0, before the first refusal
            self.acks_refused.labels(reason=code)
        self.pages = Counter(
            "sensorhub_pages",
            "Pages published, by incident kind and audience.",
            ["kind", "audience"],
            registry=registry,
        )
        self.reactions = Counter(
            "sensorhub_reactions",
            "Reactions: first care pages of an incident (escalation 0).",
            ["kind"],
            registry=registry,
        )
        self.decision_latency = Histogram(
            "sensorhub_decision_latency_seconds",
            "Wall time from receiving the event that decided a page to publishing the page.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.store_writable = Gauge(
            "sensorhub_store_writable",
            "1 while the store takes the rounds' writes; 0 while it cannot, and sensorhub holds "
            "them in memory (its status is offline meanwhile).",
            registry=registry,
        )
        self.store_writable.set(1)
        self.store_held_rounds = Gauge(
            "sensorhub_store_held_rounds",
            "Rounds decided and paged but not yet written to the store, held in memory in order.",
            registry=registry,
        )
        registry.register(_ClassifierCollector(raw_alarms, self.reactions))
        registry.register(_DroppedCollector(dropped))
        # one child per kind, looked up once: labels() takes a lock and builds a key per call
        self._event_counts = {kind: self.events.labels(kind=kind) for kind in KINDS}

    def event(self, kind: str, count: int = 1) -> None:
        self._event_counts[kind].inc(count)

    def deadletter(self) -> None:
        self.deadletters.inc()

    def ack_refused(self, reason: str, count: int = 1) -> None:
        self.acks_refused.labels(reason=reason).inc(count)

    def page(self, page: Page, latency: float | None = None) -> None:
        """A page was published; ``latency`` if an event (not a timer) decided it."""
        self.pages.labels(kind=page.kind, audience=page.audience).inc()
        if page.is_reaction:
            self.reactions.labels(kind=page.kind).inc()
        if latency is not None:
            self.decision_latency.observe(max(latency, 0.0))
