"""One foreign message to contract events: the mapping, the repeats dropped, the ids.

:class:`SourceMap` holds the compiled sources of a policy and the table of last states (per
source, device and slot: what the device's field last said). A message on a source's topic
becomes zero or more events (a repeat of an unchanged state is none), and a dead letter for
each field it cannot map, naming the source, the device and the field; the fields it maps are
taken all the same (nothing that could be read is lost).

Everything a mapping decides follows from the message (topic, payload, when it was received)
and the table of last states; the table is part of the engine's snapshot and each change to it
is journalled (:data:`STATE_TOPIC`), so that a restart decides as the process before would
have. An event's ``id`` is a digest of the source, the topic, the payload and the event's
``ts``: a redelivery of the same message (same ``ts``) is processed once, and the same payload
at another time (a button pressed twice) is a new event (docs/sources.md).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sensorhub.codec.payload import dead_letter, event_time, parse_object
from sensorhub.codec.show import show_value
from sensorhub.contract import TS_MAX, TS_MIN, DeadLetter, Event
from sensorhub.sources.presets import (
    ANY_KIND,
    DEVICE_FIELD,
    IN_PAYLOAD,
    PRESETS,
    RETAINED_ADVICE,
    read_json,
)
from sensorhub.sources.spec import NO_EVENT, DeviceSpec, FieldRule, SourceSpec, TsSpec, value_key

#: The journal's topic of a change to the table of last states (payload: ``[source, device,
#: slot, value]`` as JSON); nothing is published on it.
STATE_TOPIC: Final = "sensorhub/sources/state"
#: The availability topic level under a device's topic.
_AVAILABILITY: Final = "/availability"
#: Devices found by a names pattern that a source remembers at most (more are matched again).
MAX_NAMED: Final = 10_000
#: The slot of a device's availability in the table of last states.
AVAILABILITY_SLOT: Final = "availability"

#: A key of the table of last states: source, device (its name at the source), slot.
StateKey = tuple[str, str, str]


@dataclass(slots=True)
class Mapped:
    """What one message of a source became: its events (in the order of the source's field
    rules), dead letters, and the changes it made to the table of last states."""

    source: str
    events: list[Event] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: a retained state, not taken (a state the broker kept is no new event)
    retained: bool = False


@dataclass(frozen=True, slots=True)
class _Device:
    spec: DeviceSpec
    rules: tuple[FieldRule, ...]


class _Source:
    """A source compiled for the per-message path: its devices with their field rules."""

    __slots__ = (
        "available",
        "devices",
        "ignored_first",
        "ignored_suffixes",
        "name_of",
        "named",
        "prefix",
        "read",
        "rules",
        "serials",
        "spec",
        "title",
    )

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.prefix = spec.base + "/"
        preset = PRESETS.get(spec.preset)
        self.title = spec.preset if preset is None else preset.title
        self.read = read_json if preset is None else preset.reader
        self.name_of = None if preset is None else preset.name_of
        self.available = None if preset is None else preset.available
        self.serials = preset is not None and preset.serials
        zones = {} if preset is None else preset.zones
        shared = spec.rules.get(ANY_KIND, ())
        self.rules = {kind: (*rules, *shared) for kind, rules in spec.rules.items()}
        self.devices = {
            name: _Device(
                device,
                (
                    *self.rules.get(device.kind, shared),
                    *(zones[role](zone) for zone, role in device.zones if role in zones),
                ),
            )
            for name, device in spec.devices.items()
        }
        #: devices found by ``spec.names`` (looked up like the table from then on)
        self.named: dict[str, _Device] = {}
        self.ignored_first = frozenset(spec.ignored_first)
        self.ignored_suffixes = frozenset(spec.ignored_suffixes)

    def device(self, name: str) -> _Device | None:
        """The device of name ``name``: in the table, or by the names pattern."""
        device = self.devices.get(name) or self.named.get(name)
        if device is not None or self.spec.names is None:
            return device
        found = self.spec.names.match(name)
        if found is None:
            return None
        device = _Device(found, self.rules.get(found.kind, self.rules.get(ANY_KIND, ())))
        if len(self.named) < MAX_NAMED:
            self.named[name] = device
        return device

    def where(self, device: str, what: str = "device") -> str:
        return f"source {self.spec.name!r} ({self.title}), {what} {device!r}"


class SourceMap:
    """The sources of a policy, and the table of last states of their devices."""

    def __init__(self, specs: Sequence[SourceSpec] = ()) -> None:
        self.sources = [_Source(spec) for spec in specs]
        self._by_first: dict[str, list[_Source]] = {}
        for source in sorted(self.sources, key=lambda source: -len(source.prefix)):
            self._by_first.setdefault(source.spec.base.split("/", 1)[0], []).append(source)
        self.state: dict[StateKey, str] = {}

    def __bool__(self) -> bool:
        return bool(self.sources)

    def retained_note(self, source: str | None) -> str:
        """Why a retained message of ``source`` (None: a native event on the prefix) is not
        taken, and what to do about it, in the words of the family of devices it came from."""
        found = next((s for s in self.sources if s.spec.name == source), None)
        if found is None:
            return (
                "it is the broker's stored copy, not a new event (sensors must publish events "
                "without the retain flag)"
            )
        preset = PRESETS.get(found.spec.preset)
        advice = RETAINED_ADVICE if preset is None else preset.retained
        return (
            f"it is the broker's stored copy of a state of source {found.spec.name!r} "
            f"({found.title}), not a new event; the next change is taken ({advice})"
        )

    @property
    def filters(self) -> list[str]:
        """The MQTT topic filters that serve subscribes to for these sources."""
        return sorted({f"{source.spec.base}/#" for source in self.sources})

    def renewed(self, specs: Sequence[SourceSpec]) -> SourceMap:
        """The sources of new rules, with this table of last states."""
        renewed = SourceMap(specs)
        renewed.state = self.state
        return renewed

    # -- the table of last states, across processes -----------------------------------------

    def state_rows(self) -> list[list[str]]:
        """The table of last states, canonical (sorted), for a snapshot."""
        return sorted([*key, value] for key, value in self.state.items())

    def restore(self, rows: Iterable[Sequence[str]]) -> None:
        """Take up rows of :meth:`state_rows`, or journalled changes, in order."""
        for source, device, slot, value in rows:
            self.state[(source, device, slot)] = value

    # -- one message -----------------------------------------------------------------------

    def map(self, topic: str, payload: bytes, received_at: float, retained: bool) -> Mapped | None:
        """The events ``payload`` on ``topic`` makes, or None if ``topic`` is no source's.

        Sources may share a base topic (one Zigbee2MQTT for two sites, each listing its own
        devices): the device is looked for in each, the longest base first."""
        candidates = self._by_first.get(topic.split("/", 1)[0])
        if candidates is None:
            return None
        first: tuple[_Source, str] | None = None
        available: Mapped | None = None
        for source in candidates:
            if not topic.startswith(source.prefix):
                continue
            rest = topic[len(source.prefix) :]
            if rest == source.available:  # every device's, of each source of this base
                available = available or Mapped(source.spec.name)
                self._all_available(source, topic, payload, received_at, available)
                continue
            name = rest if source.name_of is None else source.name_of(rest)
            if name is None:  # a topic of the source that is no device's state
                return Mapped(source.spec.name)
            parsed: dict[str, Any] | None = None
            if name == IN_PAYLOAD:  # the payload names the device (Frigate's events)
                read = source.read(rest, payload)
                if isinstance(read, str):  # no device to name: the topic
                    out = Mapped(source.spec.name)
                    why = f"{source.where(rest, 'topic')}: {read}"
                    out.dead_letters.append(
                        dead_letter(topic, payload, why, received_at, source=source.spec.name)
                    )
                    return out
                parsed, name = read, read.pop(DEVICE_FIELD)
            device = source.device(name)
            if device is None and source.serials and parsed is None:
                # radars on one topic: the report names its radar (its serial number)
                report = source.read(rest, payload)
                serial = report.pop(DEVICE_FIELD, None) if isinstance(report, dict) else None
                if isinstance(report, dict) and isinstance(serial, str):
                    parsed, name, device = report, serial, source.device(serial)
            first = first or (source, name)
            if device is not None:
                out = Mapped(source.spec.name)
                if retained:  # a state kept by the broker may be hours old: no event now
                    out.retained = True
                else:
                    job = _Job(source, name, device, topic, payload, received_at, out)
                    self._state(job, rest, parsed)
                return out
            if rest.endswith(_AVAILABILITY) and source.spec.availability:
                name = rest[: -len(_AVAILABILITY)]
                device = source.device(name)
                if device is not None:  # retained too: the broker keeps it current
                    out = Mapped(source.spec.name)
                    self._availability(_Job(source, name, device, topic, payload, received_at, out))
                    return out
        if available is not None:
            return available
        if first is None:
            return None
        return self._unknown(*first, topic, payload, received_at, retained=retained)

    @staticmethod
    def _unknown(
        source: _Source,
        name: str,
        topic: str,
        payload: bytes,
        received_at: float,
        *,
        retained: bool,
    ) -> Mapped:
        """A message under ``source``'s base of no device it (or a source of the same base)
        lists: the bridge's own, a command, or device ``name`` missing from the table."""
        spec = source.spec
        out = Mapped(spec.name)
        rest = topic[len(source.prefix) :]
        first, *levels = rest.split("/")
        if first in source.ignored_first or not source.ignored_suffixes.isdisjoint(levels):
            return out  # the bridge's own, or a level under a device's topic (set/state)
        if source.name_of is None:
            name = name.removesuffix(_AVAILABILITY)
        if spec.unknown_devices == "deadletter" and not retained:
            out.dead_letters.append(
                dead_letter(
                    topic,
                    payload,
                    f"{source.where(name)}: not in sources.{spec.name}.devices"
                    + (
                        ""
                        if spec.names is None
                        else ", nor a name of names.pattern with a room of the site and a kind"
                    )
                    + ": add it there with its room and kind (or set unknown_devices: ignore)",
                    received_at,
                    source=spec.name,
                )
            )
        return out

    def _all_available(
        self, source: _Source, topic: str, payload: bytes, received_at: float, out: Mapped
    ) -> None:
        """The availability of the whole source (Frigate's ``available``): each of its listed
        devices' (retained too: the broker keeps it current); one dead letter if it is bad."""
        for name, device in source.devices.items():
            self._availability(_Job(source, name, device, topic, payload, received_at, out))
            if out.dead_letters:  # the payload is the same for all
                return

    def _state(self, job: _Job, rest: str, read: dict[str, Any] | None = None) -> None:
        parsed = job.source.read(rest, job.payload) if read is None else read
        if isinstance(parsed, str):
            job.refuse(parsed)
            return
        ts = _event_time(job.source.spec.ts, parsed, job.received_at)
        if isinstance(ts, str):
            job.refuse(ts)
            return
        state = self.state
        source_name = job.source.spec.name
        emitted: set[str] = set()  # one event of a name per message
        for rule in job.device.rules:
            if rule.field not in parsed:
                continue
            value = parsed[rule.field]
            outcome = _outcome(rule, value)
            if outcome is None:
                job.refuse(f"field {rule.field!r} is {show_value(value)}, not {rule.expects}")
                continue
            key = (source_name, job.name, rule.slot)
            last = state.get(key)
            if last == outcome and not rule.repeats:
                continue  # an unchanged state (Zigbee2MQTT repeats it on every link change)
            if last != outcome:
                state[key] = outcome
                job.out.changes.append((*key, outcome))
            if outcome != NO_EVENT and outcome not in emitted:  # battery and battery_low
                emitted.add(outcome)
                job.out.events.append(job.event(outcome, rule.slot, ts))

    def _availability(self, job: _Job) -> None:
        availability = job.source.spec.availability
        text: object = job.payload.decode("utf-8", errors="replace").strip()
        if isinstance(text, str) and text.startswith("{"):
            parsed = parse_object(job.payload)
            text = parsed.get("state") if isinstance(parsed, dict) else None
        outcome = availability.get(text) if isinstance(text, str) else None
        if outcome is None:
            choices = " or ".join(repr(value) for value in availability)
            job.refuse(f'availability is not {choices} (plain, or JSON as {{"state": "online"}})')
            return
        key = (job.source.spec.name, job.name, AVAILABILITY_SLOT)
        if self.state.get(key) == outcome:
            return
        self.state[key] = outcome
        job.out.changes.append((*key, outcome))
        job.out.events.append(job.event(outcome, AVAILABILITY_SLOT, job.received_at))


@dataclass(frozen=True, slots=True)
class _Job:
    """One message of a device of a source, being mapped into ``out``."""

    source: _Source
    name: str
    device: _Device
    topic: str
    payload: bytes
    received_at: float
    out: Mapped

    def refuse(self, why: str) -> None:
        """A dead letter of this message: ``why``, after the source and device."""
        self.out.dead_letters.append(
            dead_letter(
                self.topic,
                self.payload,
                f"{self.source.where(self.name)}: {why}",
                self.received_at,
                source=self.source.spec.name,
            )
        )

    def event(self, name: str, slot: str, ts: float) -> Event:
        """Event ``name`` of this device at ``ts``, its id a digest of the message and ``ts``."""
        digest = hashlib.blake2b(
            b"\0".join(
                (
                    self.source.spec.name.encode(),
                    self.topic.encode(),
                    self.payload,
                    repr(ts).encode(),
                )
            ),
            digest_size=10,
        ).hexdigest()
        event_id = f"{self.source.spec.name}:{digest}:{slot}"
        device = self.device.spec
        raw = {
            "ts": ts,
            "event": name,
            "id": event_id,
            "site": device.site,
            "room": device.room,
            "kind": device.kind,
            "device": device.device,
        }
        return Event(
            ts, device.site, device.room, device.kind, device.device, name, event_id, raw=raw
        )


def _outcome(rule: FieldRule, value: Any) -> str | None:
    """The event (or :data:`NO_EVENT`) ``value`` of ``rule``'s field becomes; None: unmappable."""
    outcome = rule.values.get(value_key(value))
    if outcome is not None:
        return outcome
    if rule.any_string is not None and type(value) is str:
        return rule.any_string
    if rule.at_most is not None and type(value) in (int, float) and math.isfinite(value):
        return rule.at_most_event if value <= rule.at_most else NO_EVENT
    return None


def _event_time(spec: TsSpec, parsed: dict[str, Any], received_at: float) -> float | str:
    """The events' ``ts``: the time of receipt, or the payload's field; or why there is none."""
    if spec.field is None:
        return received_at
    if spec.field not in parsed:
        if spec.fallback:
            return received_at
        return f"field {spec.field!r} (the events' time) is missing"
    value = parsed[spec.field]
    problems: list[str] = []
    if spec.format == "rfc3339":
        if type(value) is not str:
            return f"field {spec.field!r} is {show_value(value)}, not an RFC 3339 time"
        if spec.timezone is not None:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return f"field {spec.field!r} is {show_value(value)}, not an RFC 3339 time"
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(spec.timezone))
            seconds = moment.timestamp()
            if TS_MIN <= seconds < TS_MAX:
                return seconds
            return f"field {spec.field!r} is {show_value(value)}, not between 2000 and 2100"
        ts = event_time(value, problems)
    elif type(value) not in (int, float) or not math.isfinite(value):
        return f"field {spec.field!r} is {show_value(value)}, not a number ({spec.format})"
    else:
        ts = event_time(value / 1000 if spec.format == "unix_ms" else value, problems)
    if ts is None:
        return problems[0].replace("field 'ts'", f"field {spec.field!r}", 1)
    return ts
