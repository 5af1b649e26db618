"""Classify live sensor events from an MQTT broker and publish a page for each actionable incident.

Subscribes to PREFIX/# (QoS 1: care/<site>/<room>/<kind>/<device>), classifies every event with
the rule file's policy, routes each incident to its recipients and publishes the pages (QoS 1)
to sensorhub/pages/<site>/<recipient>, and as ESPA 4.4.4 calls to the site's paging systems.
Unanswered pages are re-sent and escalated by the rule file's escalation steps until staff
acknowledge (sensorhub/ack/<site>, or the pager) or arrive in the room. Bad messages go to
sensorhub/deadletter with the reason; the service goes on. Its state (online/offline) is kept
retained on sensorhub/status. Stop it with Ctrl-C or SIGTERM.

Open incidents, pending escalations, acknowledgements, silences (sensorhub mute) and the pages
not yet confirmed delivered are kept in the store (--store): a restart, even after kill -9,
loses no page, sends no second first page and resumes each escalation at its time.

The broker keeps our session while sensorhub is away (a fixed --client-id and a persistent
session): events sent meanwhile are delivered when it is back. Run one sensorhub per client id.

Without --broker, sensorhub starts a private Mosquitto on a free port of 127.0.0.1 and logs its
address: handy to try things out, not for a site.

The password is never given on the command line or in the rule file: set it in the environment
variable SENSORHUB_MQTT_PASSWORD, or put it in a file readable only by the service
(--password-file).

Clock: with --clock wall (the default, for live sites) incidents decided by a timer (a fall not
contradicted within 10 s, a bed exit, ...) are paged when the wall clock minus --lateness has
passed the timer, so they lag by --lateness; resident calls are paged on arrival. --clock event
uses only the events' own time, as replay does: for replaying recordings over MQTT and tests.

Examples:
  sensorhub serve --broker mqtts://broker.site.local --username sensorhub \\
      --cafile /etc/sensorhub/site-ca.pem --rules /etc/sensorhub/site.yaml \\
      --metrics-port 9464 --pages /var/log/sensorhub/pages.jsonl
      (with SENSORHUB_MQTT_PASSWORD set in the service's environment)
  sensorhub serve --rules rules/example-site.yaml       # try it on a private broker
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import logging
import math
import pickle
import queue
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final, Literal

from prometheus_client import REGISTRY, CollectorRegistry

from sensorhub.codec.payload import dead_letter, decode_mqtt
from sensorhub.contract import (
    DEADLETTER_TOPIC,
    DEFAULT_PREFIX,
    MAX_LATENESS,
    DeadLetter,
    Event,
    Page,
    check_prefix,
)
from sensorhub.core.columns import EventColumns
from sensorhub.core.fast import FastClassifier
from sensorhub.core.types import Step
from sensorhub.core.warm import warm_up
from sensorhub.io.metrics import ServiceMetrics, serve_metrics
from sensorhub.io.mqtt import (
    InboundMessage,
    Inbox,
    MqttConnection,
    MqttSettings,
    MqttSettingsError,
)
from sensorhub.io.mqtt_cli import add_broker_arguments, mqtt_settings
from sensorhub.io.paging import EspaChannel
from sensorhub.routing.router import ACK_TOPIC, Ack, Router, parse_ack
from sensorhub.routing.silences import SILENCES_STATE, Silences, when
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.rules.policy import Policy
from sensorhub.store import (
    DEFAULT_STORE_URL,
    MQTT_CHANNEL,
    STORE_ENV,
    AckRecord,
    JournalEntry,
    Store,
    StoreError,
    open_store,
    store_url_default,
)
from sensorhub.testing.broker import BrokerError, PrivateBroker

logger = logging.getLogger(__name__)

Clock = Literal["wall", "event"]

#: How often the wall clock is given to the classifier (s).
TICK_INTERVAL: Final = 0.1
#: How long the main loop waits for a message before it looks at the clock again (s).
POLL_INTERVAL: Final = 0.1
#: Default of --idle-flush (s).
IDLE_FLUSH: Final = 5.0
#: How long to wait for the first connection before saying so (s); it keeps trying after.
CONNECT_NOTICE_AFTER: Final = 10.0
#: Messages decided per round of the loop at most; a round is one transaction in the store.
MAX_BATCH: Final = 2000
#: The classifier's state is saved this often (s of wall time) while events come in, or after
#: this many journal entries; a restart replays the journal since (200,000 entries in about a
#: second; writing a snapshot holds the loop up for 10-50 ms, every 10 s at 20,000 msgs/s).
SNAPSHOT_INTERVAL: Final = 30.0
SNAPSHOT_JOURNAL: Final = 200_000
#: How often the store is asked whether ``sensorhub mute``/``unmute`` changed the silences (s).
SILENCES_POLL: Final = 1.0
#: Confirmed pages are forgotten this long after their confirmation, checked this often (s).
KEEP_CONFIRMED: Final = 7 * 24 * 3600.0
PRUNE_INTERVAL: Final = 24 * 3600.0
#: Names of the states in the store (``router``: the router's incidents, as an older sensorhub
#: kept them; now one row each).
ROUTER_STATE: Final = "router"
CLASSIFIER_STATE: Final = "classifier"
#: Journal payloads of the clock: a tick, and the end of a burst (idle flush).
TICK: Final = "tick"
DRAIN: Final = "drain"
#: Received-at times kept for events not yet decided; more would mean the classifier forgets
#: to account for events, and the oldest are dropped (only the latency metric suffers).
MAX_TRACKED: Final = 100_000


class ServiceError(RuntimeError):
    """The service cannot start as configured; the message says what to change."""


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Everything about a ``Service`` but the policy and the broker."""

    prefix: str = DEFAULT_PREFIX
    clock: Clock = "wall"
    lateness: float = MAX_LATENESS
    #: event clock: decide everything buffered when no message came for this long (s)
    idle_flush: float = IDLE_FLUSH
    pages_path: Path | None = None
    audit_path: Path | None = None
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    #: where open incidents, escalations, the outbox and the audit are kept
    store_url: str = field(default_factory=store_url_default)

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        if self.clock not in ("wall", "event"):
            raise ValueError(f"clock must be wall or event, not {self.clock!r}")
        if self.lateness < 0:
            raise ValueError("lateness must not be negative")
        if self.idle_flush <= 0:
            raise ValueError("idle flush must be a positive number of seconds")


class Service:
    """The live service: MQTT in, classifier, router, durable store, pages out.

    ``run_forever(stop)`` runs until ``stop`` is set (from a signal handler or a test's thread).
    Nothing that arrives from the broker can end it: bad input is dead-lettered, and an event
    the classifier fails on is logged and dead-lettered too.

    Each round of the loop takes what has arrived (at most ``MAX_BATCH`` messages), decides its
    events in one ``push_batch`` of the compiled classifier (``FastClassifier``; should that
    fail, one by one, so that only the event it fails on is dead-lettered), and writes the round
    to the store in one transaction *before* anything leaves: the pages (outbox), the router's
    state, the audit, acknowledgements and the journal of what the classifier was given. Only
    then are the pages published and the messages acknowledged to the broker. A ``kill -9`` at
    any point therefore loses nothing: on the next start the classifier is restored from its
    last snapshot plus the journal, the router from its state (pending escalations keep their
    due times), unconfirmed pages are sent again, and messages that were not yet written down
    are sent again by the broker.
    """

    def __init__(
        self,
        policy: Policy,
        mqtt: MqttSettings,
        options: ServiceOptions | None = None,
        *,
        registry: CollectorRegistry | None = None,
        store: Store | None = None,
    ) -> None:
        self.options = options or ServiceOptions()
        self.policy = policy
        self._owns_store = store is None
        self.store = store if store is not None else open_store(self.options.store_url)
        self.classifier = FastClassifier(policy, lateness=self.options.lateness, audit=self._audit)
        self.silences = Silences()
        self.router = Router(policy, silences=self.silences)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = ServiceMetrics(self.registry, raw_alarms=lambda: self.classifier.raw_alarms)
        self.inbox = Inbox()
        self.connection = MqttConnection(
            mqtt,
            [f"{self.options.prefix}/#", f"{ACK_TOPIC}/+"],
            self.inbox,
            manual_ack=True,
        )
        #: Event.seq of events pushed but not yet decided -> when their message was received
        self._received_at: dict[int, float] = {}
        self._retained_topics: set[str] = set()
        self._pages_out: IO[str] | None = None
        self._audit_out: IO[str] | None = None
        self.metrics_port: int | None = None
        # outbox ids the broker has acknowledged, confirmed in the store in the next round
        self._delivered: deque[int] = deque()
        # acknowledgements from the paging systems (their threads), applied in the next round
        self._paging_acks: queue.Queue[Ack] = queue.Queue()
        self.channels = [
            EspaChannel(
                system.name,
                system.config,
                self.store,
                site=system.site,
                on_ack=self._paging_acks.put,
            )
            for system in policy.paging_systems().values()
        ]
        self._policy_digest = _digest(policy)
        self._event_now = -math.inf  # the latest event time seen: the event clock's "now"
        self._journalled = 0  # journal entries since the last snapshot
        # clock entries of rounds that had nothing to write, for the next round that has
        self._clock_entries: list[JournalEntry] = []
        self._snapshot_due = time.monotonic() + SNAPSHOT_INTERVAL
        self._silences_state: dict[str, Any] | None = None
        self._silences_due = 0.0
        self._prune_due = time.monotonic() + PRUNE_INTERVAL

    # -- running -------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        with ExitStack() as resources:
            if self._owns_store:
                resources.callback(self.store.close)
            opts = self.options
            if opts.pages_path is not None:
                self._pages_out = resources.enter_context(_append(opts.pages_path))
            if opts.audit_path is not None:
                self._audit_out = resources.enter_context(_append(opts.audit_path))
            if opts.metrics_port is not None:
                try:
                    server = serve_metrics(self.registry, opts.metrics_port, opts.metrics_addr)
                except OSError as error:
                    raise ServiceError(
                        f"cannot serve metrics on {opts.metrics_addr}:{opts.metrics_port}: "
                        f"{error.strerror or error} (choose another --metrics-port)"
                    ) from error
                resources.callback(server.server_close)
                resources.callback(server.shutdown)
                self.metrics_port = int(server.server_port)
                logger.info("metrics on http://%s:%d/metrics", opts.metrics_addr, self.metrics_port)
            self._compile()
            self._resume()
            self.connection.start()
            for channel in self.channels:
                channel.start()
                resources.callback(channel.stop)
            resources.callback(self._stopped)
            # What is made so far (the modules of numba, pydantic, paho ..., the compiled core,
            # the rules) stays for good: out of the garbage collector's sight, a full collection
            # no longer walks it, which took 85-240 ms in the middle of a burst while a call's
            # page waited.
            gc.freeze()
            logger.info(
                "sensorhub serve: listening on %s/# and %s/+ (clock %s, lateness %g s%s), store %s",
                opts.prefix,
                ACK_TOPIC,
                opts.clock,
                opts.lateness,
                f", idle flush {opts.idle_flush:g} s" if opts.clock == "event" else "",
                self.store.url,
            )
            self._loop(stop)

    def _loop(self, stop: threading.Event) -> None:
        opts = self.options
        started = last_message = next_tick = time.monotonic()
        connect_noticed = idle_flushed = False
        while not stop.is_set():
            messages = self._take_messages()
            now = time.monotonic()
            work = _Round()
            for message in messages:
                self._guarded(self._handle, message, work)
            self._guarded(self._classify, work)
            while not self._paging_acks.empty():
                self._guarded(self._apply_ack, self._paging_acks.get_nowait(), time.time(), work)
            if messages:
                last_message, idle_flushed = now, False
            if opts.clock == "wall":
                if now >= next_tick:
                    next_tick = now + TICK_INTERVAL
                    self._guarded(self._tick, work)
            elif not idle_flushed and now - last_message >= opts.idle_flush:
                idle_flushed = True
                self._guarded(self._idle_flush, now - last_message, work)
            self._guarded(self._finish_round, work, messages)
            if not connect_noticed and now - started >= CONNECT_NOTICE_AFTER:
                connect_noticed = True
                if not self.connection.connected:
                    logger.warning(
                        "not connected to the MQTT broker %s after %.0f s; still trying",
                        self.connection.settings.url,
                        CONNECT_NOTICE_AFTER,
                    )

    def _take_messages(self) -> list[InboundMessage]:
        """What has arrived, at most MAX_BATCH; waits POLL_INTERVAL for the first one."""
        return self.inbox.take(MAX_BATCH, POLL_INTERVAL)

    def _stopped(self) -> None:
        buffered = self.classifier.buffered
        if buffered:
            logger.info(
                "stopping with %d event(s) not yet decided in event-time order (inside the "
                "lateness window%s): they are kept in the store and decided after the restart",
                buffered,
                " or waiting for the idle flush" if self.options.clock == "event" else "",
            )
        else:
            logger.info("stopping: no events were waiting to be decided")
        try:
            self._commit(_Round(), snapshot=True)
        except StoreError as error:
            logger.error("could not save the classifier's state on stopping: %s", error)  # noqa: TRY400
        self.connection.stop()
        self._confirm_delivered()

    def _guarded(self, action: Callable[..., None], *args: object) -> None:
        """Run one step of the loop; a bug in it is logged, and the service goes on."""
        try:
            action(*args)
        except Exception:
            logger.exception("sensorhub failed on one step and goes on; please report this")

    def _compile(self) -> None:
        """Have numba compile the classifier (or load its cache) before the first event."""
        logger.info(
            "loading the compiled classifier (about a minute the first time after an install)"
        )
        took = warm_up(self.policy)
        logger.info("the compiled classifier is ready (%.1f s)", took)

    @property
    def _audit(self) -> bool | Literal["decisive"]:
        """The classifier's audit records: all of them for an ``--audit`` file, else those the
        router acts on."""
        return True if self.options.audit_path is not None else "decisive"

    # -- a restart ------------------------------------------------------------------------------

    def _resume(self) -> None:
        """Take up where the last run left off: classifier, router, silences, the outbox."""
        store = self.store
        legacy = store.load_state(ROUTER_STATE)
        if legacy is None:
            incidents = store.incidents()
            self.router.restore_incidents(incidents)
            known = bool(incidents)
        else:  # a store of an older sensorhub, with all incidents in one state: one row each
            self.router.restore(legacy)
            store.commit_step(
                [], {ROUTER_STATE: None}, [], incidents=self.router.take_changes(everything=True)
            )
            known = True
        self._reload_silences(time.monotonic())
        saved = store.load_state(CLASSIFIER_STATE)
        if saved is not None:
            restored = None
            if saved.get("rules") == self._policy_digest:
                restored = pickle.loads(base64.b64decode(saved["pickle"]))  # noqa: S301 - our own file
            if isinstance(restored, FastClassifier):
                self.classifier = restored
                restored.set_audit(self._audit)  # as this run asks, whatever the last one made
                event_now = saved.get("event_now")
                self._event_now = -math.inf if event_now is None else float(event_now)
            elif restored is not None:
                logger.warning(
                    "the saved classifier is of an older sensorhub: the classifier starts "
                    "afresh (open incidents stay with the router, which sends no second first "
                    "page for them)"
                )
            else:
                logger.warning(
                    "the rules changed since the last run: the classifier starts afresh (open "
                    "incidents stay with the router, which sends no second first page for them)"
                )
        journal = store.journal()
        self._replay(journal)
        self._journalled = len(journal)
        pending = store.pending(MQTT_CHANNEL)
        for outbox_id, page in pending:
            self._publish(outbox_id, page)
        if known or saved is not None or journal or pending:
            steps = self.router.pending()
            logger.info(
                "resumed from the store %s: %d event(s) waiting to be decided, %d incident "
                "escalation step(s) pending (next due %s), %d unconfirmed page(s) sent again",
                store.url,
                self.classifier.buffered,
                len(steps),
                when(steps[0].due) if steps else "never",
                len(pending),
            )

    def _replay(self, journal: list[JournalEntry]) -> None:
        """Give the classifier the journalled inputs again (what it decided is in the store):
        the messages between two clock entries in batches, as ``_classify`` gave them (a batch
        decides as its events one by one would, in a fraction of the time)."""
        classifier = self.classifier
        events: list[Event] = []

        def push() -> None:
            if events:
                self._event_now = max(self._event_now, *(event.ts for event in events))
                classifier.push_batch(EventColumns.from_events(events, classifier.registry))
                events.clear()

        for entry in journal:
            if entry.is_tick:
                push()
                if entry.payload == DRAIN:
                    classifier.drain()
                else:
                    classifier.tick(entry.at)
                continue
            item = decode_mqtt(
                entry.topic, entry.payload.encode("utf-8"), entry.at, self.options.prefix
            )
            if isinstance(item, Event):
                events.append(item)
                if len(events) >= MAX_BATCH:
                    push()
        push()

    # -- one message ---------------------------------------------------------------------------

    def _handle(self, message: InboundMessage, work: _Round) -> None:
        if message.retained:
            if message.topic not in self._retained_topics:
                self._retained_topics.add(message.topic)
                logger.warning(
                    "ignoring a retained message on %s: it is the broker's stored copy, not a "
                    "new event (sensors must publish events without the retain flag)",
                    message.topic,
                )
            return
        if message.topic.startswith(ACK_TOPIC + "/"):
            self._acknowledgement(message, work)
            return
        item = decode_mqtt(message.topic, message.payload, message.received_at, self.options.prefix)
        if isinstance(item, DeadLetter):
            self._dead_letter(item)
            return
        work.events.append((item, message))

    def _classify(self, work: _Round) -> None:
        """Decide the round's events in one batch; if the classifier fails on it, one by one."""
        events = work.events
        if not events:
            return
        for kind, count in Counter(event.kind for event, _ in events).items():
            self.metrics.event(kind, count)
        classifier = self.classifier
        first = classifier.next_seq
        try:
            columns = EventColumns.from_events([event for event, _ in events], classifier.registry)
            step = classifier.push_batch(columns)
        except Exception:
            logger.exception(
                "the classifier failed on a batch of %d events; deciding them one by one",
                len(events),
            )
        else:
            self._decided(events, first, work)
            work.steps.append(step)
            return
        for event, message in events:
            seq = classifier.next_seq
            try:
                step = classifier.push(event)
            except Exception as error:
                logger.exception(
                    "the classifier failed on the event on %s; it is dead-lettered", message.topic
                )
                self._dead_letter(
                    dead_letter(
                        message.topic,
                        message.payload,
                        f"internal error while classifying: {type(error).__name__}: {error} "
                        "(a sensorhub bug: report it with this message)",
                        message.received_at,
                    )
                )
                continue
            self._decided([(event, message)], seq, work)
            work.steps.append(step)

    def _decided(
        self, events: list[tuple[Event, InboundMessage]], first: int, work: _Round
    ) -> None:
        """The classifier took ``events`` (numbered from ``first`` on): journal them, note when
        they came."""
        work.journal.extend(
            JournalEntry(message.topic, message.payload.decode("utf-8"), message.received_at)
            for _, message in events
        )
        self._event_now = max(self._event_now, *(event.ts for event, _ in events))
        received = self._received_at
        for seq, (_, message) in enumerate(events, start=first):
            received[seq] = message.received_at
        for _ in range(len(received) - MAX_TRACKED):
            del received[next(iter(received))]

    def _acknowledgement(self, message: InboundMessage, work: _Round) -> None:
        ack = parse_ack(message.topic, message.payload)
        if isinstance(ack, str):
            self._dead_letter(dead_letter(message.topic, message.payload, ack, message.received_at))
            return
        self._apply_ack(ack, message.received_at, work)

    def _apply_ack(self, ack: Ack, received_at: float, work: _Round) -> None:
        """Staff answered (over MQTT or a paging system): stop the incident's escalation."""
        at = ack.ts if ack.ts is not None else self._now(received_at)
        entries = self.router.acknowledge(ack.incident, ack.by, at, site=ack.site)
        work.audit.extend(entry.to_json() for entry in entries)
        if any(entry.decision == "acknowledged" for entry in entries):
            work.acks.append(AckRecord(ack.incident, ack.by, at))
            logger.info("incident %s acknowledged by %s", ack.incident, ack.by)

    def _dead_letter(self, letter: DeadLetter) -> None:
        logger.warning("dead letter from %s: %s", letter.topic, letter.error)
        self.connection.publish(DEADLETTER_TOPIC, letter.model_dump_json().encode("utf-8"), qos=1)
        self.metrics.deadletter()

    def _tick(self, work: _Round) -> None:
        now = time.time()
        step = self.classifier.tick(now)
        # journalled even if it decided nothing to say: its timers fired, its clock moved on
        # (what comes later than the lateness behind it is late), and a restart must agree
        work.journal.append(JournalEntry("", TICK, now))
        if step.pages or step.audit:
            work.steps.append(step)

    def _idle_flush(self, idle: float, work: _Round) -> None:
        buffered = self.classifier.buffered
        step = self.classifier.drain()
        if buffered or step.pages:
            logger.info(
                "no message for %.1f s: decided the %d buffered events (%d pages)",
                idle,
                buffered,
                len(step.pages),
            )
        work.journal.append(JournalEntry("", DRAIN, time.time()))  # as a tick's
        if step.pages or step.audit:
            work.steps.append(step)

    def _now(self, wall: float) -> float:
        """The router's clock: the wall clock, or with --clock event the latest event time."""
        if self.options.clock == "wall" or self._event_now == -math.inf:
            return wall
        return self._event_now

    # -- the round's outcome --------------------------------------------------------------------

    def _finish_round(self, work: _Round, messages: list[InboundMessage]) -> None:
        wall = time.time()
        now = self._now(wall)
        self._reload_silences(time.monotonic())
        deciding: dict[str, Event] = {}
        for step in work.steps:
            for record in step.audit:
                if record.decision == "paged" and record.event is not None and record.incident:
                    deciding[record.incident] = record.event
            work.pages.extend(self.router.feed(step, now))
        work.pages.extend(self.router.tick(now))
        routing = self.router.take_audit()
        work.audit.extend(entry.to_json() for entry in routing)
        work.audit.extend(entry.to_json() for entry in self.silences.take_audit())
        outbox = self._commit(work, snapshot=False)
        for (page, channel), outbox_id in outbox:
            if channel != MQTT_CHANNEL:
                self._channel(channel).send(outbox_id, page)
                continue
            self._publish(outbox_id, page)
            event = deciding.get(page.incident) if page.escalation == 0 else None
            received = self._received_at.get(event.seq) if event is not None else None
            self.metrics.page(page, None if received is None else time.time() - received)
        self.connection.ack(messages)
        self._write_files(work)
        # the classifier's state is megabytes to write: saved once the round's pages are out
        if self._journalled >= SNAPSHOT_JOURNAL or (
            self._journalled > 0 and time.monotonic() >= self._snapshot_due
        ):
            self._commit(_Round(), snapshot=True)
        if time.monotonic() >= self._prune_due:
            self._prune_due = time.monotonic() + PRUNE_INTERVAL
            forgotten = self.store.prune(wall - KEEP_CONFIRMED)
            logger.info("store: forgot %d page(s) confirmed over 7 days ago", forgotten)

    def _commit(self, work: _Round, *, snapshot: bool) -> list[tuple[tuple[Page, str], int]]:
        """Write the round to the store in one transaction: ``((page, channel), outbox id)``.

        Every page goes out over MQTT; a page to a recipient with a call address at a paging
        system of the page's site goes there too.
        """
        delivered = self._take_delivered()
        states: dict[str, dict[str, Any]] = {}
        incidents = self.router.take_changes()
        if snapshot:
            states[CLASSIFIER_STATE] = {
                "rules": self._policy_digest,
                "event_now": self._event_now if self._event_now != -math.inf else None,
                "pickle": base64.b64encode(pickle.dumps(self.classifier)).decode("ascii"),
            }
        journal = [] if snapshot else [*self._clock_entries, *work.journal]
        self._clock_entries = []
        if not (work.pages or work.audit or work.acks or states or incidents or delivered) and all(
            entry.is_tick for entry in journal
        ):
            # The clock alone is not worth a transaction (ten a second on the wall clock):
            # it waits for the next round that writes something, a run of ticks as its
            # last (what the run fired, the last fires alike). Lost in a crash, it is as
            # if the clock had not come so far: the first tick after the restart catches up.
            for entry in journal:
                carried = self._clock_entries
                if carried and entry.payload == TICK == carried[-1].payload:
                    carried[-1] = entry
                else:
                    carried.append(entry)
            return []
        outbox = [
            (page, channel)
            for page in work.pages
            for channel in (
                MQTT_CHANNEL,
                *(espa.channel for espa in self.channels if espa.accepts(page)),
            )
        ]
        ids = self.store.commit_step(
            outbox,
            states,
            work.audit,
            incidents=incidents,
            acks=work.acks,
            journal=journal,
            clear_journal=snapshot,
            confirmed=delivered,
        )
        if snapshot:
            self._journalled = 0
            self._snapshot_due = time.monotonic() + SNAPSHOT_INTERVAL
        else:
            self._journalled += len(journal)
        return list(zip(outbox, ids, strict=True))

    def _channel(self, name: str) -> EspaChannel:
        return next(espa for espa in self.channels if espa.channel == name)

    def _publish(self, outbox_id: int, page: Page) -> None:
        body = page.model_dump_json().encode("utf-8")
        self.connection.publish(
            page.topic, body, qos=1, on_delivered=lambda: self._delivered.append(outbox_id)
        )
        logger.info(
            "page %s: room %s/%s kind %s priority %s to %s (escalation %d)",
            page.page_id,
            page.site,
            page.room,
            page.kind,
            page.priority,
            page.recipient,
            page.escalation,
        )

    def _take_delivered(self) -> list[int]:
        delivered: list[int] = []
        while self._delivered:
            delivered.append(self._delivered.popleft())
        return delivered

    def _confirm_delivered(self) -> None:
        delivered = self._take_delivered()
        if delivered:
            try:
                self.store.commit_step([], {}, [], confirmed=delivered)
            except StoreError as error:
                logger.warning("could not confirm %d delivered page(s): %s", len(delivered), error)

    def _reload_silences(self, monotonic: float) -> None:
        """Take up silences set or lifted by ``sensorhub mute``/``unmute`` since last looked."""
        if monotonic < self._silences_due:
            return
        self._silences_due = monotonic + SILENCES_POLL
        state = self.store.load_state(SILENCES_STATE)
        if state is not None and state != self._silences_state:
            self.silences.restore(state)
            self._silences_state = state

    def _write_files(self, work: _Round) -> None:
        for step in work.steps:
            for record in step.audit:
                if record.event is not None:
                    # decided (a page it starts a timer for is decided by the timer, not by it)
                    self._received_at.pop(record.event.seq, None)
                if self._audit_out is not None:
                    self._audit_out.write(json.dumps(record.to_json(), default=str) + "\n")
        if self._audit_out is not None:
            for entry in work.audit:
                self._audit_out.write(json.dumps(entry) + "\n")
            self._audit_out.flush()
        if self._pages_out is not None and work.pages:
            for page in work.pages:
                self._pages_out.write(page.model_dump_json() + "\n")
            self._pages_out.flush()


@dataclass(slots=True)
class _Round:
    """What one round of the loop decided, to be written to the store together."""

    #: the round's events (and their messages), decided together (``Service._classify``)
    events: list[tuple[Event, InboundMessage]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    acks: list[AckRecord] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)


def _digest(policy: Policy) -> str:
    """Tells whether a saved classifier was made for the same rules."""
    return hashlib.sha256(pickle.dumps(policy)).hexdigest()


@contextmanager
def _append(path: Path) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        yield stream


# -- the command ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_broker_arguments(
        parser,
        broker_help="mqtt://host[:port] or mqtts://host[:port] (TLS); default: start a private "
        "Mosquitto on 127.0.0.1 and log its address",
        client_id_default=f"sensorhub-{socket.gethostname()}",
        client_id_help="MQTT client id; keep it fixed so the broker keeps the events sent while "
        "sensorhub is away (default: sensorhub-<hostname>)",
    )
    classify = parser.add_argument_group("classification")
    classify.add_argument(
        "--rules", type=Path, metavar="FILE", help="rule file (default: the shipped policy)"
    )
    classify.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"topic prefix of sensor events (default {DEFAULT_PREFIX}: "
        f"{DEFAULT_PREFIX}/<site>/<room>/<kind>/<device>)",
    )
    classify.add_argument(
        "--clock",
        choices=["wall", "event"],
        default="wall",
        help="wall: decide on the wall clock (live sites, default); event: only on the "
        "events' own time, as replay does",
    )
    classify.add_argument(
        "--lateness",
        type=float,
        default=MAX_LATENESS,
        metavar="SECONDS",
        help=f"how late an event may arrive and still be decided in order; pages decided by "
        f"a timer lag by this much (default {MAX_LATENESS:g})",
    )
    classify.add_argument(
        "--idle-flush",
        type=float,
        default=IDLE_FLUSH,
        metavar="SECONDS",
        help=f"event clock only: when no message arrives for this long, decide everything "
        f"buffered, as replay does at the end of a file (default {IDLE_FLUSH:g})",
    )
    keep = parser.add_argument_group("durable state")
    keep.add_argument(
        "--store",
        metavar="URL",
        default=store_url_default(),
        help="where open incidents, pending escalations, acknowledgements, silences, the outbox "
        f"of unconfirmed pages and the audit are kept across restarts: sqlite:///path.db (one "
        f"file) or postgresql://user@host:port/db (default ${STORE_ENV} if set, else "
        f"{DEFAULT_STORE_URL}: sensorhub.db in the working directory)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--pages", type=Path, metavar="FILE", help="also append every page to FILE (JSONL)"
    )
    out.add_argument(
        "--audit",
        type=Path,
        metavar="FILE",
        help="append the decision on every event and timer, and why, to FILE (JSONL)",
    )
    out.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (default: off)",
    )
    out.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="address for the metrics server (default 127.0.0.1; 0.0.0.0 for all)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.rules)
    except RuleFileError as error:
        print(f"sensorhub serve: the rule file has mistakes:\n{error}", file=sys.stderr)
        return 2
    try:
        options = ServiceOptions(
            prefix=args.prefix,
            clock=args.clock,
            lateness=args.lateness,
            idle_flush=args.idle_flush,
            pages_path=args.pages,
            audit_path=args.audit,
            metrics_port=args.metrics_port,
            metrics_addr=args.metrics_addr,
            store_url=args.store,
        )
    except ValueError as error:
        print(f"sensorhub serve: {error}", file=sys.stderr)
        return 2
    with ExitStack() as resources:
        url = args.broker
        if url is None:
            try:
                broker = resources.enter_context(PrivateBroker())
            except BrokerError as error:
                print(f"sensorhub serve: {error}", file=sys.stderr)
                return 2
            url = broker.url
            logger.warning(
                "no --broker given: started a private Mosquitto at %s (127.0.0.1 only). "
                "Publish events there, e.g. mosquitto_pub -h %s -p %d -q 1 "
                '-t %s/SITE/ROOM/call/BUTTON -m \'{"ts": %d, "event": "pressed"}\'',
                url,
                broker.host,
                broker.port,
                options.prefix,
                int(time.time()),
            )
        try:
            settings = mqtt_settings(args, url)
        except MqttSettingsError as error:
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
        try:
            store = resources.enter_context(open_store(options.store_url))
        except StoreError as error:
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
        try:
            service = Service(policy, settings, options, registry=REGISTRY, store=store)
        except OSError as error:  # paho reads the TLS files when the client is made
            print(f"sensorhub serve: cannot set up TLS: {error}", file=sys.stderr)
            return 2
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            logger.info("received %s: stopping", signal.Signals(signum).name)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(signum, on_signal)
            resources.callback(signal.signal, signum, previous)
        try:
            service.run_forever(stop)
        except ServiceError as error:
            print(f"sensorhub serve: {error}", file=sys.stderr)
            return 2
    return 0
