"""The live service behind ``sensorhub serve`` (its command line and help: ``serve_cli.py``).

``Service`` takes MQTT messages in rounds, has the engine decide them, writes each round to the
store before anything leaves, and publishes the pages over MQTT and to the paging systems; it
resumes from the store after a restart and reads its rules again on a reload.
"""

from __future__ import annotations

import gc
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from prometheus_client import CollectorRegistry

from sensorhub.codec.acks import AckIn
from sensorhub.commands.held import HeldDeliveries, HeldSteps, Step
from sensorhub.commands.retention import HISTORY_INTERVAL, prune_history
from sensorhub.commands.serve_health import service_health
from sensorhub.commands.shadow import SHADOW_STATE, Shadow
from sensorhub.contract import (
    ACK_TOPIC,
    DEADLETTER_TOPIC,
    DEFAULT_PREFIX,
    MAX_LATENESS,
    Ack,
    DeadLetter,
    Page,
    check_prefix,
)
from sensorhub.core.types import JournalEntry
from sensorhub.core.warm import warm_up
from sensorhub.engine import TICK, Clock, Engine, ReloadAudit, Round
from sensorhub.io.health import serve_http
from sensorhub.io.homeassistant import HomeAssistant, check_discovery_prefix
from sensorhub.io.inbox import InboundMessage, Inbox
from sensorhub.io.metrics import ServiceMetrics
from sensorhub.io.mqtt import MqttConnection, MqttSettings
from sensorhub.io.paging import EspaChannel
from sensorhub.io.throttle import LogThrottle
from sensorhub.io.triage import FloodReport, hopeless
from sensorhub.routing.silences import SILENCES_STATE, when
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.rules.policy import Policy
from sensorhub.store import (
    CLASSIFIER_STATE,
    ESPA_PREFIX,
    MQTT_CHANNEL,
    RELOAD_STATE,
    Store,
    StoreError,
    open_store,
    store_url_default,
)
from sensorhub.store.devices import DEVICES_STATE, Inventory
from sensorhub.text import escaped

logger = logging.getLogger(__name__)

#: Event clock: decide everything buffered when no message came for this long (s), by default.
IDLE_FLUSH: Final = 5.0
#: How often the wall clock is given to the classifier (s).
TICK_INTERVAL: Final = 0.1
#: How long the main loop waits for a message before it looks at the clock again (s).
POLL_INTERVAL: Final = 0.1
#: How long to wait for the first connection before saying so (s); it keeps trying after.
CONNECT_NOTICE_AFTER: Final = 10.0
#: Messages decided per round of the loop at most; a round is one transaction in the store.
MAX_BATCH: Final = 2000
#: The classifier's state is saved this often (s of wall time) while events come in, or after
#: this many journal entries; a restart replays the journal since (200,000 entries in about a
#: second; writing a snapshot holds the loop up for 10-50 ms, every 10 s at 20,000 msgs/s).
SNAPSHOT_INTERVAL: Final = 30.0
SNAPSHOT_JOURNAL: Final = 200_000
#: How often the store is asked whether ``sensorhub mute``/``unmute`` changed the silences, or
#: ``sensorhub reload`` asked for the rules to be read again (s).
SILENCES_POLL: Final = 1.0
#: Confirmed pages are forgotten this long after their confirmation, checked this often (s).
KEEP_CONFIRMED: Final = 7 * 24 * 3600.0
PRUNE_INTERVAL: Final = 24 * 3600.0


class ServiceError(RuntimeError):
    """The service cannot start as configured; the message says what to change."""


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Everything about a ``Service`` but the policy and the broker."""

    #: the rule file, read again on a reload (None: the shipped rules)
    rules_path: Path | None = None
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
    #: Home Assistant's discovery prefix (``--homeassistant``), None: no discovery
    homeassistant: str | None = None
    #: candidate rules decided beside the live ones, paging nobody (``--shadow``), and where
    #: their pages are written as JSONL too (``--shadow-pages``)
    shadow_path: Path | None = None
    shadow_pages_path: Path | None = None

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        if self.homeassistant is not None:
            check_discovery_prefix(self.homeassistant, self.prefix)
        if self.clock not in ("wall", "event"):
            raise ValueError(f"clock must be wall or event, not {self.clock!r}")
        if self.lateness < 0:
            raise ValueError("lateness must not be negative")
        if self.idle_flush <= 0:
            raise ValueError("idle flush must be a positive number of seconds")


class Service:
    """The live service: MQTT in, the engine, the durable store, pages out.

    A thin shell around :class:`~sensorhub.engine.Engine`: it takes what has arrived (at most
    ``MAX_BATCH`` messages), has the engine decide the round, and writes the round to the store
    in one transaction *before* anything leaves: the pages (outbox), the router's changed
    incidents, the routing audit, acknowledgements and the journal of what the classifier was
    given. Only then are the pages published and the messages acknowledged to the broker. A
    ``kill -9`` at any point therefore loses nothing: on the next start the engine resumes from
    the classifier's last snapshot plus the journal and the router's incidents (pending
    escalations keep their due times), unconfirmed pages are sent again, and messages that were
    not yet written down are sent again by the broker.

    ``run_forever(stop)`` runs until ``stop`` is set (from a signal handler or a test's thread).
    Nothing that arrives from the broker can end it: bad input is dead-lettered, and an event
    the classifier fails on is logged and dead-lettered too. ``request_reload()`` (SIGHUP, or
    ``sensorhub reload`` through the store) has it read its rule file again between rounds.
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
        self._owns_store = store is None
        self.store = store if store is not None else open_store(self.options.store_url)
        self.engine = Engine(
            policy,
            prefix=self.options.prefix,
            lateness=self.options.lateness,
            clock=self.options.clock,
            audit=self.options.audit_path is not None,
        )
        self.registry = registry if registry is not None else CollectorRegistry()
        # bad input that can only be dead letters waits in a lane of its own (io/triage.py)
        self.inbox = Inbox(hopeless(self.options.prefix))
        self.metrics = ServiceMetrics(
            self.registry,
            raw_alarms=lambda: self.engine.raw_alarms,
            dropped=lambda: self.inbox.dropped,
        )
        ha = self.options.homeassistant
        self.homeassistant = None if ha is None else HomeAssistant(ha)
        self.connection = MqttConnection(
            mqtt if self.homeassistant is None else self.homeassistant.settings(mqtt),
            [f"{self.options.prefix}/#", f"{ACK_TOPIC}/+", *self.engine.sources.filters]
            + ([] if self.homeassistant is None else self.homeassistant.subscriptions),
            self.inbox,
            manual_ack=True,
        )
        self.shadow = (
            None
            if self.options.shadow_path is None
            else Shadow(
                self.options.shadow_path,
                self.connection,
                self.registry,
                prefix=self.options.prefix,
                lateness=self.options.lateness,
                clock=self.options.clock,
            )
        )
        # rounds the store could not take, written in order when it can again (held.py)
        self.held = HeldSteps(self.store, self.connection, self.metrics)
        self._held_deliveries = HeldDeliveries()
        self._retained_topics: set[str] = set()
        self._dead_letter_log = LogThrottle(
            logger, f"see {DEADLETTER_TOPIC} and the metric sensorhub_deadletters_total"
        )
        self._flood = FloodReport(logger, lambda: self.inbox.dropped)
        self._pages_out: IO[str] | None = None
        self._audit_out: IO[str] | None = None
        self.metrics_port: int | None = None
        # outbox ids the broker has acknowledged, confirmed in the store in the next round
        self._delivered: deque[int] = deque()
        # acknowledgements from the paging systems (their threads), applied in the next round
        self._paging_acks: queue.Queue[AckIn] = queue.Queue()
        self.channels = self._channels(policy)
        self._journalled = 0  # journal entries since the last snapshot
        self.inventory = Inventory()  # when each device was heard (saved with the snapshot)
        # clock entries of rounds that had nothing to write, for the next round that has
        self._clock_entries: list[JournalEntry] = []
        self._snapshot_due = time.monotonic() + SNAPSHOT_INTERVAL
        self._silences_state: dict[str, Any] | None = None
        self._silences_due = 0.0
        self._prune_due = time.monotonic() + PRUNE_INTERVAL
        self._history_due = 0.0  # the history past each site's retention: at start
        self._reload = threading.Event()
        self._reload_request: float | None = None  # the last ``sensorhub reload`` taken up
        self._reload_due = 0.0
        self.health = service_health(self)  # /healthz and /readyz on the metrics port

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    def _channels(self, policy: Policy) -> list[EspaChannel]:
        def on_ack(name: str) -> Callable[[Ack], None]:
            def received(ack: Ack) -> None:  # on the paging system's thread
                topic = f"{ESPA_PREFIX}{name}"
                self._paging_acks.put(AckIn(ack, 0, topic, b"", time.time()))

            return received

        return [
            EspaChannel(
                system.name, system.config, self.store, site=system.site, on_ack=on_ack(system.name)
            )
            for system in policy.paging_systems().values()
        ]

    def request_reload(self) -> None:
        """Read the rule file again before the next round (safe from a signal handler)."""
        self._reload.set()

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
            if self.shadow is not None and opts.shadow_pages_path is not None:
                self.shadow.pages = resources.enter_context(_append(opts.shadow_pages_path))
            if opts.metrics_port is not None:
                try:
                    server = serve_http(
                        self.registry, self.health, opts.metrics_port, opts.metrics_addr
                    )
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
            if self.homeassistant is not None:
                incidents = self.engine.router.snapshot()["incidents"]
                self.homeassistant.start(self.connection, self.policy, incidents)
            self.connection.start()
            resources.callback(self._stop_channels)
            for channel in self.channels:
                channel.start()
            resources.callback(self._stopped)
            # What is made so far (the modules of numba, pydantic, paho ..., the compiled core,
            # the rules) stays for good: out of the garbage collector's sight, a full collection
            # no longer walks it, which took 85-240 ms in the middle of a burst while a call's
            # page waited.
            gc.freeze()
            logger.info(
                "sensorhub serve: listening on %s/#%s and %s/+ (clock %s, lateness %g s%s), "
                "store %s",
                opts.prefix,
                "".join(f", {topic}" for topic in self.engine.sources.filters),
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
            self.health.turned()
            self._guarded(self._retry_store)
            self.metrics.store_held_rounds.set(self.held.holding)
            if self.held.full:  # decides nothing more until the store takes what is held
                stop.wait(POLL_INTERVAL)
                continue
            messages = self.inbox.take(MAX_BATCH, POLL_INTERVAL)
            now = time.monotonic()
            self._guarded(self._between_rounds, now)
            if messages:
                last_message, idle_flushed = now, False
            tick: float | None = None
            if opts.clock == "wall" and now >= next_tick:
                next_tick = now + TICK_INTERVAL
                tick = time.time()
            drain = False
            if opts.clock == "event" and not idle_flushed and now - last_message >= opts.idle_flush:
                idle_flushed = drain = True
            acks: list[AckIn] = []
            while not self._paging_acks.empty():
                acks.append(self._paging_acks.get_nowait())
            self._guarded(self._round, messages, tick, drain, acks)
            if not connect_noticed and now - started >= CONNECT_NOTICE_AFTER:
                connect_noticed = True
                if not self.connection.connected:
                    logger.warning(
                        "not connected to the MQTT broker %s after %.0f s; still trying",
                        self.connection.settings.url,
                        CONNECT_NOTICE_AFTER,
                    )

    def _between_rounds(self, monotonic: float) -> None:
        """What changed outside: silences (``sensorhub mute``), a reload asked for (SIGHUP, or
        ``sensorhub reload`` through the store); the history older than each site's retention
        forgotten (at start, then every hour). The store is not looked at while it cannot be
        written: it may be gone."""
        self._dead_letter_log.flush(monotonic)
        self._flood.flush()
        if not self.held.holding:
            try:
                self._look_at_store(monotonic)
            except StoreError as error:
                self.held.read_failed(error, "the silences, reload requests and history")
        if self._reload.is_set():
            self._reload.clear()
            self.reload_rules()

    def _look_at_store(self, monotonic: float) -> None:
        if monotonic >= self._history_due:
            self._history_due = monotonic + HISTORY_INTERVAL
            prune_history(self.store, self.policy, self._audit_out, self.options.audit_path)
        self._reload_silences(monotonic)
        if monotonic >= self._reload_due:
            self._reload_due = monotonic + SILENCES_POLL
            request = self.store.load_state(RELOAD_STATE)
            asked = None if request is None else request.get("requested_at")
            if isinstance(asked, int | float) and asked != self._reload_request:
                self._reload_request = float(asked)
                self._reload.set()

    def _stopped(self) -> None:
        buffered = self.engine.classifier.buffered
        if buffered:
            logger.info(
                "stopping with %d event(s) not yet decided in event-time order (inside the "
                "lateness window%s): they are kept in the store and decided after the restart",
                buffered,
                " or waiting for the idle flush" if self.options.clock == "event" else "",
            )
        else:
            logger.info("stopping: no events were waiting to be decided")
        self._retry_store(force=True)
        if self.held.holding:
            logger.error(
                "stopping with %d round(s) the store could not take: their pages were sent, "
                "their events not acknowledged, so the broker sends them to the next start",
                self.held.holding,
            )
        else:
            self._save_snapshot()
        self.connection.stop()
        self._confirm_delivered()

    def _stop_channels(self) -> None:
        for channel in self.channels:
            channel.stop()

    def _retry_store(self, *, force: bool = False) -> None:
        """Write the rounds held while the store could not be written, if it is time to try."""
        for step, ids in self.held.retry(force=force):
            for (page, channel), outbox_id in zip(step.pages, ids, strict=True):
                if channel == MQTT_CHANNEL:  # published already, when it was decided
                    self._held_deliveries.written(page.page_id, outbox_id)
                else:
                    self._channel(channel).send(outbox_id, page)
            self.connection.ack(step.messages)

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

    # -- a restart and a reload -----------------------------------------------------------------

    def _resume(self) -> None:
        """Take up where the last run left off: classifier, router, silences, the outbox."""
        store = self.store
        self._reload_silences(time.monotonic())
        request = store.load_state(RELOAD_STATE)
        if request is not None and isinstance(request.get("requested_at"), int | float):
            self._reload_request = float(request["requested_at"])  # asked of an earlier run
        saved = store.load_state(CLASSIFIER_STATE)
        journal = store.journal()
        incidents = store.incidents()
        resumed = self.engine.resume(saved, journal, incidents)
        self.inventory = Inventory.restore(store.load_state(DEVICES_STATE))
        self.inventory.take_journal(journal)
        if self.shadow is not None:
            self.shadow.resume(store.load_state(SHADOW_STATE), journal)
        if saved is not None and not resumed.classifier:
            logger.warning(
                "the saved classifier is not taken up (%s): the classifier starts afresh (open "
                "incidents stay with the router, which sends no second first page for them)",
                resumed.why_not,
            )
        self._write_reloaded(resumed.reloaded, "since the last run")
        self._journalled = len(journal)
        pending = store.pending(MQTT_CHANNEL)
        for outbox_id, page in pending:
            self._publish(outbox_id, page)
        if incidents or saved is not None or journal or pending:
            steps = self.engine.router.pending()
            logger.info(
                "resumed from the store %s: %d event(s) waiting to be decided, %d incident "
                "escalation step(s) pending (next due %s), %d unconfirmed page(s) sent again",
                store.url,
                self.engine.classifier.buffered,
                len(steps),
                when(steps[0].due) if steps else "never",
                len(pending),
            )

    def reload_rules(self) -> bool:
        """Read the rule file again; keep the old rules if it has mistakes. True if reloaded."""
        path = self.options.rules_path
        where = str(path) if path is not None else "the shipped rules"
        filters = self.engine.sources.filters
        try:
            policy = load_policy(path)
            reloaded = self.engine.reload(policy)
        except (RuleFileError, ValueError) as error:
            logger.error(  # noqa: TRY400 - the errors are the message, not a traceback
                "reload refused: %s has mistakes, the rules in force stay:\n%s", where, error
            )
            self._answer_reload(False, str(error).splitlines())
            return False
        if self.engine.sources.filters != filters:
            logger.warning("the sources' topics changed: restart serve to subscribe to them")
        self._write_reloaded(reloaded, "on reload")
        if self.shadow is not None:
            self.shadow.reload()
        if self.homeassistant is not None:
            self.homeassistant.reload(policy)
        systems = {s.name: (s.site, s.config) for s in policy.paging_systems().values()}
        if systems != {c.name: (c.site, c.config) for c in self.channels}:
            self._stop_channels()
            self.channels = self._channels(policy)
            for channel in self.channels:
                channel.start()
        logger.info(
            "reloaded the rules from %s (%s): %d room(s) changed, everything open kept",
            where,
            policy.fingerprint[:12],
            len(reloaded),
        )
        self._answer_reload(True, [f"{len(reloaded)} room(s) changed"])
        return True

    def _answer_reload(self, ok: bool, lines: list[str]) -> None:
        if self._reload_request is None:
            return
        answer = {"requested_at": self._reload_request, "done": ok, "lines": lines}
        try:
            self.store.commit_step([], {RELOAD_STATE: answer}, [])
        except StoreError as error:
            logger.warning("could not answer the reload request in the store: %s", error)

    def _write_reloaded(self, reloaded: list[ReloadAudit], when_: str) -> None:
        if not reloaded:
            return
        entries = [entry.to_json() for entry in reloaded]
        for entry in entries:
            logger.info(
                "rules changed %s for %s/%s: %s",
                when_,
                entry["site"],
                entry["room"],
                entry["reason"],
            )
        self.held.write(Step(audit=entries))
        if self._audit_out is not None:
            self._audit_out.write("".join(json.dumps(entry) + "\n" for entry in entries))
            self._audit_out.flush()

    # -- one round -----------------------------------------------------------------------------

    def _round(
        self, messages: list[InboundMessage], tick: float | None, drain: bool, acks: list[AckIn]
    ) -> None:
        buffered = self.engine.classifier.buffered if drain else 0
        if self.homeassistant is not None:  # its birth message is not for the engine
            messages = self.homeassistant.received(messages)
        work = self.engine.round(messages, tick=tick, drain=drain, acks=acks)
        if self.shadow is not None:
            self.shadow.round(messages, tick, drain, acks, work.pages)
        if drain and (buffered or work.pages):
            logger.info(
                "no message for %.1f s: decided the %d buffered events (%d pages)",
                self.options.idle_flush,
                buffered,
                len(work.pages),
            )
        for topic, source in work.retained:
            if topic not in self._retained_topics:
                self._retained_topics.add(topic)
                why = self.engine.sources.retained_note(source)
                logger.warning("ignoring a retained message on %s: %s", topic, why)
        for letter in work.dead_letters:
            self._dead_letter(letter)
        for kind, count in work.events.items():
            self.metrics.event(kind, count)
        for ack in work.acks:
            logger.info("incident %s acknowledged by %s", ack.incident, ack.by)
        for reason, count in work.refused.items():
            self.metrics.ack_refused(reason, count)
        outbox = self._commit(work, messages)
        # held (the store cannot be written): the pages go out over MQTT all the same, the
        # paging systems' calls once written, the messages are acknowledged once written
        sent = [(p, MQTT_CHANNEL, None) for p in work.pages] if outbox is None else outbox
        for page, channel, outbox_id in sent:
            if channel != MQTT_CHANNEL and outbox_id is not None:
                self._channel(channel).send(outbox_id, page)
                continue
            self._publish(outbox_id, page)
            received = work.received.get(page.incident) if page.escalation == 0 else None
            self.metrics.page(page, None if received is None else time.time() - received)
        if outbox is not None:
            self.connection.ack(messages)
        self.inventory.take_journal(work.journal)
        if self.homeassistant is not None:
            self.homeassistant.round(work.incidents, work.pages)
        self._write_files(work)
        if self.held.holding:  # no snapshot nor pruning before what is held is written
            return
        # the classifier's state is megabytes to write: saved once the round's pages are out
        if self._journalled >= SNAPSHOT_JOURNAL or (
            self._journalled > 0 and time.monotonic() >= self._snapshot_due
        ):
            self._save_snapshot()
        if time.monotonic() >= self._prune_due:
            self._prune_due = time.monotonic() + PRUNE_INTERVAL
            forgotten = self.store.prune(time.time() - KEEP_CONFIRMED)
            logger.info("store: forgot %d page(s) confirmed over 7 days ago", forgotten)

    def _commit(
        self, work: Round, messages: list[InboundMessage] | None = None
    ) -> list[tuple[Page, str, int]] | None:
        """Write the round to the store in one transaction: ``(page, channel, outbox id)``, or
        None if the store could not take it and it is held (``messages`` then acknowledged once
        it is written).

        Every page goes out over MQTT; a page to a recipient with a call address at a paging
        system of the page's site goes there too.
        """
        delivered = self._take_delivered()
        journal = [*self._clock_entries, *work.journal]
        self._clock_entries = []
        if not (work.writes or delivered) and all(entry.is_tick for entry in journal):
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
        self._journalled += len(journal)
        audit = [entry.to_json() for entry in work.routing]
        step = Step(outbox, {}, audit, work.incidents, work.acks, journal, False, delivered)
        step.messages = messages or []
        ids = self.held.write(step)
        if ids is None:
            return None
        return [(page, channel, id_) for (page, channel), id_ in zip(outbox, ids, strict=True)]

    def _save_snapshot(self) -> None:
        """The classifier's state, and the journal since the last one emptied, together."""
        journal, self._clock_entries = self._clock_entries, []
        state = {
            CLASSIFIER_STATE: self.engine.snapshot(),
            SHADOW_STATE: None,
            DEVICES_STATE: self.inventory.snapshot(),
        }
        if self.shadow is not None:  # else an old one must not meet a later journal
            state[SHADOW_STATE] = self.shadow.snapshot()
        self.held.write(Step((), state, (), None, (), journal, True, self._take_delivered()))
        self._journalled = 0
        self._snapshot_due = time.monotonic() + SNAPSHOT_INTERVAL

    def _channel(self, name: str) -> EspaChannel:
        return next(espa for espa in self.channels if espa.channel == name)

    def _publish(self, outbox_id: int | None, page: Page) -> None:
        """Publish ``page``, its outbox entry to be confirmed once the broker has it (an entry
        not yet written, ``outbox_id`` None, once it is written)."""
        body = page.model_dump_json().encode("utf-8")
        self.connection.publish(
            page.topic,
            body,
            qos=1,
            on_delivered=(
                (lambda: self._held_deliveries.delivered(page.page_id))
                if outbox_id is None
                else (lambda: self._delivered.append(outbox_id))
            ),
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

    def _dead_letter(self, letter: DeadLetter) -> None:
        self._dead_letter_log.warning(
            "dead letter from %s: %s", escaped(letter.topic), escaped(letter.error)
        )
        # QoS 0: at QoS 1 a flood of dead letters filled paho's window of messages in flight,
        # and the pages of the round queued behind them (a call's page came seconds late)
        self.connection.publish(DEADLETTER_TOPIC, letter.model_dump_json().encode("utf-8"), qos=0)
        self.metrics.deadletter()

    def _take_delivered(self) -> list[int]:
        delivered = self._held_deliveries.take()
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
            self.engine.silences.restore(state)
            if self.shadow is not None:
                self.shadow.restore_silences(state)
            self._silences_state = state

    def _write_files(self, work: Round) -> None:
        if self._audit_out is not None:
            records = [json.dumps(record.to_json(), default=str) for record in work.audit]
            records += [json.dumps(entry.to_json()) for entry in work.routing]
            if records:
                self._audit_out.write("".join(record + "\n" for record in records))
                self._audit_out.flush()
        if self._pages_out is not None and work.pages:
            self._pages_out.write("".join(page.model_dump_json() + "\n" for page in work.pages))
            self._pages_out.flush()


@contextmanager
def _append(path: Path) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        yield stream
