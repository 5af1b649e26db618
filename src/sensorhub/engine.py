"""One engine that ``serve``, ``replay`` and the tests all drive: input and the clock in, what
to do out. No I/O: nothing here reads a clock, a file, a socket or a metric.

A round takes what came in and returns a :class:`Round`:

- **in**: MQTT messages (:meth:`Engine.round`: topic, payload and when each was received,
  events and acknowledgements mixed as they came) or a recording's decoded batch
  (:meth:`Engine.feed`: events as columns, acknowledgements at their place among them), and
  the clock (a wall-clock tick, or the end of input);
- **out**: the pages for the outbox, the journal of what the classifier took (a restart gives it
  back, :meth:`Engine.resume`), the audit records of the classifier and of routing, the
  acknowledgements that took effect, the router's changed incidents, and dead letters.

Inside, the classifier (``core``) decides incidents in event time and the router (``routing``)
makes their pages, on the same clock: the classifier's event clock (the watermark). The router
applies each incident change, acknowledgement and escalation step at its own event time, so
the pages, escalations included, do not depend on how the input was cut into rounds: a
recording replayed and the same recording published to ``serve --clock event`` give the same
pages. An acknowledgement is placed where it came in the stream: the events before it are
decided first, and it takes effect at its time (``ts``, or with none the latest event time on
the event clock, the time of receipt on the wall clock), never before the event clock.
"""

from __future__ import annotations

import base64
import difflib
import json
import logging
import math
import pickle
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import numpy as np

from sensorhub import __version__
from sensorhub.codec.acks import AckIn, parse_ack
from sensorhub.codec.columns import EventColumns, Redeliveries
from sensorhub.codec.payload import dead_letter, decode_mqtt
from sensorhub.codec.privacy import EVENT_FIELDS, kept_fields
from sensorhub.contract import (
    ACK_TOPIC,
    DEFAULT_PREFIX,
    MAX_LATENESS,
    Ack,
    DeadLetter,
    Event,
    Page,
)
from sensorhub.core.classifier import Classifier
from sensorhub.core.fast import FastClassifier
from sensorhub.core.types import AuditRecord, IncidentChange, JournalEntry, RoomReload, Step
from sensorhub.jit import project_stamp
from sensorhub.routing.acks import ACK_SKEW, AckRecord, AckRefusal, RefusalCode
from sensorhub.routing.router import Router, RoutingAudit
from sensorhub.routing.silences import SilenceAudit, Silences, when
from sensorhub.rules.policy import Policy
from sensorhub.sources.mapper import STATE_TOPIC, Mapped, SourceMap

logger = logging.getLogger(__name__)

Clock = Literal["wall", "event"]
ClassifierName = Literal["fast", "reference"]
CLASSIFIERS: Final = ("fast", "reference")

#: Journal payloads of the clock: a tick, and the end of input (everything buffered decided).
TICK: Final = "tick"
DRAIN: Final = "drain"
#: Events a batch of the journal gives the classifier at most, when a restart gives it back.
RESUME_BATCH: Final = 2000
#: When the events that opened incidents were received, kept for this many events at most
#: (for the latency of their first pages; an older one is dropped, only the metric suffers).
MAX_TRACKED: Final = 100_000
#: The format of :meth:`Engine.snapshot`; a snapshot of another format is not taken up.
SNAPSHOT_FORMAT: Final = 2


class Inbound(Protocol):
    """An MQTT message as ``serve`` received it."""

    topic: str
    payload: bytes
    received_at: float
    retained: bool


@dataclass(slots=True)
class Round:
    """What one round decided, to be written to the store together, then sent."""

    #: the routed pages, in time order
    pages: list[Page] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    #: what the classifier took, for a restart (events as they came, and the clock)
    journal: list[JournalEntry] = field(default_factory=list)
    #: the classifier's audit records (all of them with ``audit=True``, else none)
    audit: list[AuditRecord] = field(default_factory=list)
    #: what routing and the silences decided
    routing: list[RoutingAudit | SilenceAudit] = field(default_factory=list)
    acks: list[AckRecord] = field(default_factory=list)
    #: the router's incidents changed by the round (JSON text, None: forgotten)
    incidents: dict[str, str | None] = field(default_factory=dict)
    #: events taken, by kind
    events: Counter[str] = field(default_factory=Counter)
    #: incident -> when the event that opened it was received (its first pages' latency)
    received: dict[str, float] = field(default_factory=dict)
    #: retained messages not taken (a retained message is no new event): their topics, and the
    #: source each came from (None: a native event)
    retained: list[tuple[str, str | None]] = field(default_factory=list)
    #: acknowledgements that stopped nothing (dead-lettered), by why
    refused: Counter[RefusalCode] = field(default_factory=Counter)

    @property
    def writes(self) -> bool:
        """Whether the round has anything for the store beyond its journal."""
        return bool(self.pages or self.routing or self.acks or self.incidents)


@dataclass(frozen=True, slots=True)
class ReloadAudit:
    """New rules changed a room's parameters: what became of its pending decisions."""

    ts: float
    reload: RoomReload

    def to_json(self) -> dict[str, Any]:
        reload = self.reload
        pending = (
            ", ".join(f"{name} (due {when(due)})" for name, due in reload.pending)
            + (" keeps its due time" if len(reload.pending) == 1 else " keep their due times")
            + " from the old rules"
            if reload.pending
            else "no decision was pending"
        )
        return {
            "ts": self.ts,
            "decision": "reloaded",
            "reason": f"the rules changed for this room ({'; '.join(reload.changed)}): "
            f"{pending}; what it decides from now on follows the new rules",
            "site": reload.site,
            "room": reload.room,
        }


@dataclass(frozen=True, slots=True)
class Resumed:
    """What :meth:`Engine.resume` took up."""

    classifier: bool  # the classifier's state (else it starts afresh)
    why_not: str | None  # why it was not taken up
    journal: int  # journal entries given back
    #: rooms whose parameters differ from those the snapshot was made under
    reloaded: list[ReloadAudit] = field(default_factory=list)


class Engine:
    """The classifier, the router and the silences, driven one round at a time.

    ``clock``: ``event`` decides on the events' own time only (replay, and ``serve --clock
    event``); ``wall`` also moves the event clock with the wall time of :meth:`round`'s
    ``tick`` (minus the lateness). ``audit``: whether the classifier makes an audit record of
    every decision (``--audit``). ``classifier``: ``fast`` (the compiled core) or
    ``reference`` (its pure-Python twin). ``routing_audit``: whether routing audits what it
    routes and escalates (``serve`` keeps it in its store; ``replay`` only with ``--audit``).
    ``durable``: whether a round says which of the router's incidents it changed, for a store
    (``serve``; ``replay`` keeps nothing).
    """

    def __init__(
        self,
        policy: Policy,
        *,
        prefix: str = DEFAULT_PREFIX,
        lateness: float = MAX_LATENESS,
        clock: Clock = "event",
        audit: bool = False,
        classifier: ClassifierName = "fast",
        silences: Silences | None = None,
        routing_audit: bool = True,
        durable: bool = True,
    ) -> None:
        if clock not in ("wall", "event"):
            raise ValueError(f"clock must be wall or event, not {clock!r}")
        if classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, not {classifier!r}")
        self.policy = policy
        self.prefix = prefix
        self.durable = durable
        self.clock_kind: Clock = clock
        self.audit = audit
        self.classifier: FastClassifier | Classifier = (
            FastClassifier(policy, lateness=lateness, audit=audit)
            if classifier == "fast"
            else Classifier(policy, lateness=lateness)
        )
        self.silences = silences if silences is not None else Silences()
        self.router = Router(policy, silences=self.silences, audit=routing_audit)
        self._received: dict[int, float] = {}
        self.sources = SourceMap(policy.sources)
        _check_sources(self.sources, prefix)

    @property
    def lateness(self) -> float:
        return self.classifier.lateness

    @property
    def raw_alarms(self) -> int:
        """How many alarms a conventional system would have sounded so far."""
        return self.classifier.raw_alarms

    # -- serve: a round of MQTT messages -------------------------------------------------------

    def round(
        self,
        messages: Sequence[Inbound],
        *,
        tick: float | None = None,
        drain: bool = False,
        acks: Sequence[AckIn] = (),
    ) -> Round:
        """Decide ``messages`` (in the order they came), then the acknowledgements of the
        paging systems (``acks``, after the messages whatever their ``position``), then the
        clock: a wall-clock ``tick`` (its time), or the end of input (``drain``: everything
        buffered decided, time running on 30 s)."""
        out = Round()
        events: list[Event] = []
        taken: list[Inbound] = []
        ack_in: list[AckIn] = []
        sources = self.sources
        for message in messages:
            mapped = (
                sources.map(message.topic, message.payload, message.received_at, message.retained)
                if sources
                else None
            )
            if mapped is not None:
                self._take_mapped(mapped, message, events, taken, out)
            elif message.retained:
                out.retained.append((message.topic, None))
            elif message.topic.startswith(ACK_TOPIC + "/"):
                parsed = parse_ack(message.topic, message.payload)
                if isinstance(parsed, str):
                    out.refused["malformed"] += 1
                    out.dead_letters.append(
                        dead_letter(message.topic, message.payload, parsed, message.received_at)
                    )
                else:
                    ack_in.append(
                        AckIn(
                            parsed,
                            len(events),
                            message.topic,
                            message.payload,
                            message.received_at,
                        )
                    )
            else:
                item = decode_mqtt(message.topic, message.payload, message.received_at, self.prefix)
                if isinstance(item, Event) and (why := self._undeclared(item)) is not None:
                    item = dead_letter(message.topic, message.payload, why, message.received_at)
                if isinstance(item, DeadLetter):
                    out.dead_letters.append(item)
                else:
                    events.append(item)
                    taken.append(self._minimised(item, message))
        self._in_order(
            len(events), ack_in, lambda a, b: self._decide(events[a:b], taken[a:b], out), out
        )
        for ack in acks:
            self._acknowledge(ack, out)
        if tick is not None:
            self._step(self.classifier.tick(tick), out)
            out.journal.append(JournalEntry("", TICK, tick))
        if drain:
            self._step(self.classifier.drain(), out)
            out.journal.append(JournalEntry("", DRAIN, 0.0))
        self._route([], out)
        return self._finish(out)

    def _take_mapped(
        self,
        mapped: Mapped,
        message: Inbound,
        events: list[Event],
        taken: list[Inbound],
        out: Round,
    ) -> None:
        """A message of a source, mapped: its events taken as native ones (journalled as
        such: contract fields only), its dead letters, its changes to the table of last
        states journalled (a restart takes them up)."""
        if mapped.retained:
            out.retained.append((message.topic, mapped.source))
        out.dead_letters.extend(mapped.dead_letters)
        for event in mapped.events:
            why = self._undeclared(event)
            if why is not None:
                out.dead_letters.append(
                    dead_letter(message.topic, message.payload, why, message.received_at)
                )
                continue
            events.append(event)
            payload = json.dumps(event.raw, separators=(",", ":")).encode("utf-8")
            topic = f"{self.prefix}/{event.topic_suffix}"
            taken.append(_Kept(topic, payload, message.received_at, False))
        out.journal.extend(
            JournalEntry(STATE_TOPIC, json.dumps(change), message.received_at)
            for change in mapped.changes
        )

    def _undeclared(self, event: Event) -> str | None:
        """Why ``event`` is not taken, if its room declares its devices (``devices:`` in the
        rule file) and not this one: a typo in a sensor's configuration shows at once, and a
        made-up device name never becomes a device to watch."""
        declared = self.policy.declared_devices.get((event.site, event.room))
        if declared is None or event.device in declared:
            return None
        close = difflib.get_close_matches(event.device, sorted(declared), n=1)
        hint = f": did you mean {close[0]!r}?" if close else ""
        return (
            f"device {event.device!r} is not one of the devices the rule file declares for room "
            f"{event.room!r} of site {event.site!r} ({', '.join(sorted(declared))}){hint}"
        )

    def _in_order(
        self,
        count: int,
        acks: Sequence[AckIn],
        decide: Callable[[int, int], None],
        out: Round,
    ) -> None:
        """Decide events ``0..count`` (``decide(start, stop)``) in batches cut at the
        acknowledgements, each acknowledgement after the events before it."""
        start = 0
        for ack in acks:
            if ack.position > start:
                decide(start, ack.position)
                start = ack.position
            self._acknowledge(ack, out)
        if count > start:
            decide(start, count)

    def _decide(self, events: list[Event], taken: list[Inbound], out: Round) -> None:
        """Decide a batch of events; if the classifier fails on it, one by one, so that only
        the event it fails on is dead-lettered."""
        out.events.update(event.kind for event in events)
        try:
            self._note_received(events, taken)
            step = self._push(events)
        except Exception:
            logger.exception(
                "the classifier failed on a batch of %d events; deciding them one by one",
                len(events),
            )
        else:
            out.journal.extend(_journalled(taken))
            self._step(step, out)
            return
        for event, message in zip(events, taken, strict=True):
            try:
                self._note_received([event], [message])
                step = self._push([event])
            except Exception as error:
                logger.exception(
                    "the classifier failed on the event on %s; it is dead-lettered", message.topic
                )
                out.dead_letters.append(
                    dead_letter(
                        message.topic,
                        message.payload,
                        f"internal error while classifying: {type(error).__name__}: {error} "
                        "(a sensorhub bug: report it with this message)",
                        message.received_at,
                    )
                )
                continue
            out.journal.extend(_journalled([message]))
            self._step(step, out)

    def _push(self, events: list[Event]) -> Step:
        classifier = self.classifier
        if isinstance(classifier, FastClassifier):
            return classifier.push_batch(EventColumns.from_events(events, classifier.registry))
        step = Step()
        for event in events:
            step.extend(classifier.push(event))
        return step

    def _note_received(self, events: list[Event], taken: list[Inbound]) -> None:
        if not isinstance(self.classifier, FastClassifier):
            return  # the reference numbers its timers too: no latency figures for it
        received = self._received
        first = self.classifier.next_seq
        for seq, message in enumerate(taken, start=first):
            received[seq] = message.received_at
        for _ in range(len(received) - MAX_TRACKED):
            del received[next(iter(received))]

    # -- replay: a recording's batches ---------------------------------------------------------

    def feed(
        self,
        columns: EventColumns,
        new: Redeliveries = None,
        acks: Sequence[AckIn] = (),
    ) -> Round:
        """A decoded batch of a recording, for the compiled classifier: ``columns`` in arrival
        order (against its registry), ``new`` as its ``check_redeliveries`` found them, the
        acknowledgements among them at their ``position``."""
        classifier = self.classifier
        if not isinstance(classifier, FastClassifier):
            raise TypeError("feed() takes columns: the reference classifier takes feed_events()")
        out = Round()
        if columns.raw is not None:  # the payloads, for the audit: only what may be kept
            columns.raw = [self._kept(raw, raw.get("site")) for raw in columns.raw]

        def decide(start: int, stop: int) -> None:
            part, part_new = columns, new
            if stop - start < len(columns):  # cut at an acknowledgement
                part = columns.take(np.arange(start, stop, dtype=np.int64))
                part_new = None if new is None else new[start:stop]
            self._step(classifier.push_checked(part, part_new), out)

        self._in_order(len(columns), acks, decide, out)
        self._route([], out)
        return self._finish(out)

    def feed_events(self, events: list[Event], acks: Sequence[AckIn] = ()) -> Round:
        """A decoded batch of a recording as events (either classifier)."""
        out = Round()
        for event in events:
            event.raw = self._kept(event.raw, event.site)
        self._in_order(
            len(events), acks, lambda a, b: self._step(self._push(events[a:b]), out), out
        )
        self._route([], out)
        return self._finish(out)

    def end(self) -> Round:
        """The end of the input: everything buffered decided, time running on 30 s past the
        latest event (confirmation windows close; grace periods do not run out)."""
        out = Round()
        self._step(self.classifier.drain(), out)
        return self._finish(out)

    # -- data minimisation (contract section 1, docs/privacy.md) ----------------------------------

    def _kept(self, raw: dict[str, Any], site: object) -> dict[str, Any]:
        """``raw`` with only the fields the contract and ``site``'s ``keep_fields`` let it keep
        (``raw`` itself, the usual case, if they are all of the contract's)."""
        if EVENT_FIELDS.issuperset(raw):
            return raw
        return kept_fields(raw, self.policy.keep_fields(site) if isinstance(site, str) else ())

    def _minimised(self, event: Event, message: Inbound) -> Inbound:
        """``message`` as it may be journalled: an event that had fields dropped gets them
        dropped from its payload too (re-serialised; it decodes to the same event)."""
        kept = self._kept(event.raw, event.site)
        if kept is event.raw:
            return message
        event.raw = kept
        payload = json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return _Kept(message.topic, payload, message.received_at, message.retained)

    # -- the work ------------------------------------------------------------------------------

    def _step(self, step: Step, out: Round) -> None:
        """The classifier's step: its audit, and its incidents routed on its clock."""
        out.audit.extend(step.audit)
        self._route(step.incidents, out)
        received = self._received
        if received:
            for opened in step.opened:
                if opened.seq is not None and opened.seq in received:
                    out.received[opened.incident] = received.pop(opened.seq)

    def _route(self, changes: Sequence[IncidentChange], out: Round) -> None:
        out.pages.extend(self.router.run(changes, self.classifier.clock))

    def _acknowledge(self, ack_in: AckIn, out: Round) -> None:
        ack = ack_in.ack
        at = self._ack_time(ack, ack_in.received_at)
        refused = (
            at
            if isinstance(at, AckRefusal)
            else self.router.acknowledge(ack.incident, ack.by, at, site=ack.site)
        )
        if refused is not None:
            extra = {} if ack_in.source is None else {"source": ack_in.source}
            out.refused[refused.code] += 1
            out.dead_letters.append(
                dead_letter(
                    ack_in.topic, ack_in.payload, refused.reason, ack_in.received_at, **extra
                )
            )

    def _ack_time(self, ack: Ack, received_at: float) -> float | AckRefusal:
        """When an acknowledgement takes effect: its ``ts``; with none, the latest event time
        (event clock) or when it was received (wall clock). On the wall clock, never later
        than it was received, and refused if its ``ts`` is over ``ACK_SKEW`` ahead of that."""
        if self.clock_kind == "wall":
            if ack.ts is not None and ack.ts > received_at + ACK_SKEW:
                return AckRefusal(
                    "bad_time",
                    f"acknowledgement by {ack.by} given at {when(ack.ts)}, "
                    f"{ack.ts - received_at:.0f} s after sensorhub received it at "
                    f"{when(received_at)}: check the clock of the pager gateway, or leave out "
                    "'ts'",
                )
            return received_at if ack.ts is None else min(ack.ts, received_at)
        if ack.ts is not None:
            return ack.ts
        latest = self.classifier.max_ts
        return latest if math.isfinite(latest) else self.classifier.clock

    def _finish(self, out: Round) -> Round:
        out.routing.extend(self.router.take_audit())
        out.routing.extend(self.silences.take_audit())
        out.acks.extend(self.router.take_acks())
        if self.durable:
            out.incidents.update(self.router.take_changes())
        else:
            self.router.forget_changes()
        return out

    # -- state that outlives a process ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The classifier's state, for :meth:`resume` in another process: versioned, with the
        rules' fingerprint, the classifier pickled (it is never compared, only loaded again by
        the same build of sensorhub, ``code`` the digest of its classifier's sources: see
        docs/store.md)."""
        return {
            "format": SNAPSHOT_FORMAT,
            "sensorhub": __version__,
            "code": project_stamp(),
            "rules": self.policy.fingerprint,
            "classifier": base64.b64encode(pickle.dumps(self.classifier)).decode("ascii"),
            "sources": self.sources.state_rows(),
        }

    def resume(
        self,
        snapshot: Mapping[str, Any] | None,
        journal: Sequence[JournalEntry],
        incidents: Sequence[Mapping[str, Any]],
    ) -> Resumed:
        """Take up where the last process left off: the router's incidents, the classifier
        from its snapshot (if it is of this sensorhub), then the journal given back to it (what
        it decided then is in the store already, so its output is dropped). A snapshot made
        under other rules is taken up too: the rooms whose parameters changed decide from now
        on by the new ones (:meth:`reload` says what became of their pending decisions)."""
        self.router.restore_incidents(incidents)
        if snapshot is not None:  # the last states of the sources' devices, as they were
            self.sources.restore(snapshot.get("sources", ()))
        why_not: str | None = None
        reloaded: list[ReloadAudit] = []
        if snapshot is not None:
            restored = _unpickled(snapshot)
            if isinstance(restored, str):
                why_not = restored
            elif type(restored) is not type(self.classifier):
                why_not = "it was made by the other classifier"
            else:
                if isinstance(restored, FastClassifier):
                    restored.set_audit(self.audit)  # as this run asks, whatever the last made
                self.classifier = restored
                if snapshot.get("rules") != self.policy.fingerprint:
                    reloaded = self._reloaded(restored.set_policy(self.policy))
        self._give_back(journal)
        # what the last process decided is in the store: nothing of this is said again
        self.router.advance(self.classifier.clock)
        self._finish(Round())
        taken = snapshot is not None and why_not is None
        return Resumed(taken, why_not, len(journal), reloaded)

    def reload(self, policy: Policy) -> list[ReloadAudit]:
        """Decide by ``policy`` from now on, keeping everything: open incidents, pending
        escalations, acknowledgements, silences, and the pending decisions of every room
        (those of a room whose parameters changed keep their due times, as the audit says), and
        the last states of the sources' devices. ValueError (nothing changed) if a source of
        ``policy`` overlaps the native events' topics."""
        sources = self.sources.renewed(policy.sources)
        _check_sources(sources, self.prefix)  # before anything changes
        reloaded = self._reloaded(self.classifier.set_policy(policy))
        self.policy = policy
        self.router.policy = policy
        self.sources = sources
        return reloaded

    def _reloaded(self, rooms: list[RoomReload]) -> list[ReloadAudit]:
        at = self.classifier.clock
        return [ReloadAudit(at if math.isfinite(at) else 0.0, room) for room in rooms]

    def _give_back(self, journal: Sequence[JournalEntry]) -> None:
        """The journalled inputs to the classifier again: the messages between two clock
        entries in batches (a batch decides as its events one by one would)."""
        classifier = self.classifier
        events: list[Event] = []

        def push() -> None:
            if events:
                self._push(events)
                events.clear()

        for entry in journal:
            if entry.is_tick:
                push()
                if entry.payload == DRAIN:
                    classifier.drain()
                else:
                    classifier.tick(entry.at)
                continue
            if entry.topic == STATE_TOPIC:
                self.sources.restore([json.loads(entry.payload)])
                continue
            item = decode_mqtt(entry.topic, entry.payload.encode("utf-8"), entry.at, self.prefix)
            if isinstance(item, Event):
                events.append(item)
                if len(events) >= RESUME_BATCH:
                    push()
        push()


@dataclass(slots=True)
class _Kept:
    """A message whose payload had fields dropped (:meth:`Engine._minimised`)."""

    topic: str
    payload: bytes
    received_at: float
    retained: bool


def _check_sources(sources: SourceMap, prefix: str) -> None:
    """A source's topics must not be the native events' (``prefix``): they would be taken
    for a source's, and a native event would be dead-lettered as an unknown device."""
    for source in sources.sources:
        base = source.spec.base
        if base == prefix or base.startswith(prefix + "/") or prefix.startswith(base + "/"):
            raise ValueError(
                f"source {source.spec.name!r} has the base topic {base!r}, which overlaps the "
                f"prefix of native events {prefix!r}: give one of them another topic"
            )


def _journalled(taken: Sequence[Inbound]) -> list[JournalEntry]:
    return [
        JournalEntry(message.topic, message.payload.decode("utf-8"), message.received_at)
        for message in taken
    ]


def _unpickled(snapshot: Mapping[str, Any]) -> FastClassifier | Classifier | str:
    """The classifier of a snapshot, or why it is not taken up."""
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        return "it was saved by an older sensorhub"
    if snapshot.get("sensorhub") != __version__:
        return f"it was saved by sensorhub {snapshot.get('sensorhub')}, this is {__version__}"
    if snapshot.get("code") != project_stamp():
        return "it was saved by another build of this sensorhub version (its classifier changed)"
    try:
        restored = pickle.loads(base64.b64decode(snapshot["classifier"]))  # noqa: S301 - our own
    except Exception as error:  # noqa: BLE001 - any damage: start afresh, and say why
        return f"it could not be read ({type(error).__name__}: {error})"
    if not isinstance(restored, FastClassifier | Classifier):
        return "it holds no classifier"
    return restored
