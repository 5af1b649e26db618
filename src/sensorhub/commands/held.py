"""Rounds the store could not take: held in memory, in order, written when it takes them again.

``serve`` writes every round to its store before the round's MQTT messages are acknowledged to
the broker. When that write fails (a full disk, a read-only file, PostgreSQL gone), the round is
not dropped: :class:`HeldSteps` keeps it, and every later round behind it, in memory in the order
they were decided, and tries the store again every ``STORE_RETRY`` seconds; when the oldest is
written the next follows, and the caller acknowledges each round's messages once it is written.
The outage begins and ends in one log line each, not a traceback per round; meanwhile the
service's status says offline (so the fallback relay pages unfiltered) and the metric
``sensorhub_store_writable`` is 0.

Pages decided meanwhile are published before they are written: :class:`HeldDeliveries` keeps
which of them the broker acknowledged, so that once written they are confirmed in the outbox like
any other page (and a later restart does not send them again).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sensorhub.contract import Page
from sensorhub.core.types import JournalEntry
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.metrics import ServiceMetrics
from sensorhub.io.mqtt import STATUS_TOPIC, MqttConnection
from sensorhub.routing.acks import AckRecord
from sensorhub.store import Store, StoreError

logger = logging.getLogger(__name__)

#: How often a store that failed is tried again (s).
STORE_RETRY: Final = 2.0
#: Journal entries and pages held at most; beyond, ``serve`` decides nothing more (its messages
#: wait unacknowledged at the broker) until the store takes what is held.
HOLD_LIMIT: Final = 1_000_000


@dataclass(slots=True)
class Step:
    """One write of a round (the arguments of :meth:`Store.commit_step`), and the MQTT messages
    it decided: they are acknowledged to the broker once it is written."""

    pages: Sequence[tuple[Page, str]] = ()
    states: Mapping[str, Mapping[str, Any] | str | None] = field(default_factory=dict)
    audit: Sequence[Mapping[str, Any]] = ()
    incidents: Mapping[str, str | None] | None = None
    acks: Sequence[AckRecord] = ()
    journal: Sequence[JournalEntry] = ()
    clear_journal: bool = False
    confirmed: Sequence[int] = ()
    messages: list[InboundMessage] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.pages) + len(self.journal) + len(self.audit) + 1

    def commit(self, store: Store) -> list[int]:
        return store.commit_step(
            self.pages,
            self.states,
            self.audit,
            incidents=self.incidents,
            acks=self.acks,
            journal=self.journal,
            clear_journal=self.clear_journal,
            confirmed=self.confirmed,
        )


class HeldSteps:
    """Writes steps to ``store`` in order, holding them while it cannot; says offline on
    ``connection`` (and in ``metrics``) meanwhile."""

    def __init__(
        self,
        store: Store,
        connection: MqttConnection,
        metrics: ServiceMetrics,
        *,
        retry: float = STORE_RETRY,
        limit: int = HOLD_LIMIT,
    ) -> None:
        self.store = store
        self.connection = connection
        self.metrics = metrics
        self._retry = retry
        self.limit = limit
        self._held: deque[Step] = deque()
        self._size = 0
        self._down_since = 0.0
        self._retry_due = 0.0
        self._written_while_down = 0
        self._read_failure_told = False
        #: why the store could not be written, the last time it could not
        self.error = ""

    @property
    def holding(self) -> int:
        """Steps held, not yet written (0: the store takes writes)."""
        return len(self._held)

    @property
    def full(self) -> bool:
        """Whether as much is held as ``limit`` allows: decide nothing more until written."""
        return self._size >= self.limit

    def write(self, step: Step) -> list[int] | None:
        """Write ``step``: its outbox ids, or None if it is held (behind others, or the store
        failed now)."""
        if not self._held:
            try:
                return step.commit(self.store)
            except StoreError as error:
                self._down_since = time.monotonic()
                self._retry_due = self._down_since + self._retry
                self._written_while_down = 0
                self._hold(step)
                self._down(error)
                return None
        self._hold(step)
        return None

    def retry(
        self, *, now: float | None = None, force: bool = False
    ) -> list[tuple[Step, list[int]]]:
        """Write what is held if it is time to try again (or ``force``): the steps written, in
        order, with their outbox ids. Stops at the first that fails, to try again later."""
        now = time.monotonic() if now is None else now
        if not self._held or (now < self._retry_due and not force):
            return []
        written: list[tuple[Step, list[int]]] = []
        while self._held:
            step = self._held[0]
            try:
                ids = step.commit(self.store)
            except StoreError as error:
                self._retry_due = time.monotonic() + self._retry
                logger.debug("the store still cannot be written: %s", error)
                break
            self._held.popleft()
            self._size -= step.size
            self._written_while_down += 1
            written.append((step, ids))
        if not self._held:
            self._read_failure_told = False
            self._up()
        return written

    def _down(self, error: StoreError) -> None:
        logger.error(
            "STORE DOWN: %s; status offline on %s so the fallback relay pages unfiltered; "
            "sensorhub goes on deciding and paging, holds what it cannot write in memory in "
            "order and tries the store every %g s",
            error,
            STATUS_TOPIC,
            self._retry,
        )
        self.connection.set_status(online=False, reason="store cannot be written")
        self.metrics.store_writable.set(0)
        self.error = str(error)

    def _up(self) -> None:
        logger.warning(
            "STORE BACK: %s takes writes again after %.0f s; the %d round(s) held meanwhile are "
            "written, status online",
            self.store.url,
            time.monotonic() - self._down_since,
            self._written_while_down,
        )
        self.connection.set_status(online=True)
        self.metrics.store_writable.set(1)

    def read_failed(self, error: StoreError, what: str) -> None:
        """A read of the store failed (``what``): said once, until the store works again."""
        if not self._read_failure_told:
            self._read_failure_told = True
            logger.warning("could not read %s from the store (tried again later): %s", what, error)

    def _hold(self, step: Step) -> None:
        was_full = self.full
        self._held.append(step)
        self._size += step.size
        if self.full and not was_full:
            logger.error(
                "holding %d round(s) the store could not take, the most sensorhub keeps in "
                "memory: it decides nothing more until the store takes them (events wait, not "
                "acknowledged, at the broker; the fallback relay pages unfiltered meanwhile)",
                len(self._held),
            )


class HeldDeliveries:
    """Pages published before they were written to the outbox (while the store was down): which
    the broker acknowledged, and their outbox ids once written; ``take()`` gives the ids both
    are known of, to confirm in the store."""

    def __init__(self) -> None:
        self._acknowledged: deque[str] = deque()  # page ids, appended on the network thread
        self._delivered: set[str] = set()
        self._ids: dict[str, int] = {}

    def delivered(self, page_id: str) -> None:
        """The broker acknowledged the page ``page_id`` (any thread)."""
        self._acknowledged.append(page_id)

    def written(self, page_id: str, outbox_id: int) -> None:
        self._ids[page_id] = outbox_id

    def take(self) -> list[int]:
        while self._acknowledged:
            self._delivered.add(self._acknowledged.popleft())
        ready = self._delivered & self._ids.keys()
        self._delivered -= ready
        return [self._ids.pop(page_id) for page_id in ready]
