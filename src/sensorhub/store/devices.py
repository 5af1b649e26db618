"""The device inventory: every device the store knows, when it was first and last heard, its
last battery value, and its faults, for technicians (``sensorhub devices``).

It is derived from what the store keeps: when each device was heard comes from the events
themselves (the state ``devices``, saved by serve together with the classifier's snapshot, plus
the journal of the events since, which a restart gives back to it as to the classifier: nothing
is lost to a ``kill -9``); the faults come from the router's audit trail and incidents (a
device-fault incident id names its device, its fault and when it opened). So a store written
before the inventory existed still lists every device that ever faulted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from sensorhub.core.types import JournalEntry
from sensorhub.routing.silences import SILENCES_STATE, Silence, Silences, device_fault_of
from sensorhub.sources.mapper import STATE_TOPIC
from sensorhub.store.base import Store

#: The state under which serve saves when each device was heard (with its snapshot).
DEVICES_STATE: Final = "devices"
_FORMAT: Final = 1
#: How far back faults and downtime are counted.
WINDOW: Final = 30 * 86400.0
#: The events whose ``value`` is a battery percentage (the contract's device health events).
_BATTERY_EVENTS: Final = frozenset({"heartbeat", "battery_low"})
#: The faults during which a device is down (counted as downtime): it says nothing.
_DOWN: Final = frozenset({"silent"})

DeviceKey = tuple[str, str, str, str]  # site, room, kind, device
#: Reads a journalled payload: msgspec's decoder, a quarter of the cost of ``json.loads`` on
#: serve's path (every event passes here once).
_decode = msgspec.json.Decoder().decode


@dataclass(slots=True)
class Heard:
    """When a device was first and last heard, and its last battery value (percent)."""

    first: float
    last: float
    battery: float | None = None
    battery_at: float | None = None


class Inventory:
    """When each device was heard, from the events as serve journals them (native topics and
    payloads: a source's events are journalled as native ones)."""

    def __init__(self) -> None:
        self.heard: dict[DeviceKey, Heard] = {}

    def take_journal(self, entries: Iterable[JournalEntry]) -> None:
        """The events among ``entries`` (clock ticks and sources' states are not events)."""
        for entry in entries:
            if entry.is_tick or entry.topic == STATE_TOPIC:
                continue
            levels = entry.topic.split("/")
            if len(levels) < 5:  # <prefix>/<site>/<room>/<kind>/<device>
                continue
            try:
                payload = _decode(entry.payload)
            except msgspec.DecodeError:
                continue
            if isinstance(payload, dict):
                key = (levels[-4], levels[-3], levels[-2], levels[-1])
                self._take(key, payload, entry.at)

    def _take(self, key: DeviceKey, payload: Mapping[str, Any], received: float) -> None:
        ts = _number(payload.get("ts"))
        at = received if ts is None else ts
        heard = self.heard.get(key)
        if heard is None:
            heard = self.heard[key] = Heard(at, at)
        heard.first, heard.last = min(heard.first, at), max(heard.last, at)
        value = _number(payload.get("value"))
        if (
            value is not None
            and payload.get("event") in _BATTERY_EVENTS
            and (heard.battery_at is None or at >= heard.battery_at)
        ):
            heard.battery, heard.battery_at = value, at

    def snapshot(self) -> dict[str, Any]:
        """As JSON, for the store's state ``devices``."""
        return {
            "format": _FORMAT,
            "devices": [
                [*key, heard.first, heard.last, heard.battery, heard.battery_at]
                for key, heard in sorted(self.heard.items())
            ],
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any] | None) -> Inventory:
        """From :meth:`snapshot`; an empty one from None (a store of an older serve) or from
        another format (what it held is heard again from now on)."""
        inventory = cls()
        if state is None or state.get("format") != _FORMAT:
            return inventory
        for site, room, kind, device, first, last, battery, battery_at in state["devices"]:
            inventory.heard[(site, room, kind, device)] = Heard(first, last, battery, battery_at)
        return inventory


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# -- the faults, from the router's audit trail and incidents --------------------------------


@dataclass(slots=True)
class Fault:
    """A device-fault incident: when it opened and, if it did, when it was resolved."""

    reason: str
    opened: float
    resolved: float | None = None
    open: bool = False  # the router still has it open


@dataclass(slots=True)
class Device:
    """One line of the inventory."""

    site: str
    room: str
    device: str
    kind: str | None  # None: known from its faults only
    first_seen: float | None
    last_seen: float | None
    battery: float | None
    open_faults: list[str] = field(default_factory=list)
    faults: int = 0  # opened in the window
    downtime: float = 0.0  # seconds silent in the window
    retired: Silence | None = None  # sensorhub devices retire: its faults are held back

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "room": self.room,
            "device": self.device,
            "kind": self.kind,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "battery": self.battery,
            "open_faults": self.open_faults,
            "faults_30d": self.faults,
            "downtime_30d_s": round(self.downtime, 3),
            "retired": None
            if self.retired is None
            else {
                "at": self.retired.created,
                "by": self.retired.by,
                "reason": self.retired.reason,
                "id": self.retired.id,
            },
        }


def _faults(store: Store, since: float) -> dict[tuple[str, str, str], dict[str, Fault]]:
    """(site, room, device) -> incident id -> its fault: those the audit trail names from
    ``since`` on (a fault opened a day earlier may still be open in the window), and those
    the router has open."""
    found: dict[tuple[str, str, str], dict[str, Fault]] = {}

    def fault(incident: str) -> Fault | None:
        if device_fault_of(incident) is None:
            return None
        site, room, _, device, reason, opened = incident.split("/")
        try:
            at = int(opened) / 1000
        except ValueError:
            return None
        faults = found.setdefault((site, room, device), {})
        return faults.setdefault(incident, Fault(reason, at))

    for entry in store.audit_since(since - 86400):
        incident = entry.get("incident")
        resolved = entry.get("decision") == "resolved"
        if resolved and isinstance(incident, str) and (known := fault(incident)) is not None:
            known.resolved = float(entry["ts"]) if known.resolved is None else known.resolved
        elif isinstance(incident, str):
            fault(incident)
    for state in store.incidents():
        incident = state.get("page", {}).get("incident")
        if isinstance(incident, str) and (known := fault(incident)) is not None:
            known.open = state.get("status") != "resolved" and known.resolved is None
    return found


def _retired(store: Store, now: float) -> dict[tuple[str, str, str], Silence]:
    """(site, room, device) -> its retirement in force (a silence of the store's)."""
    silences = Silences()
    state = store.load_state(SILENCES_STATE)
    if state is not None:
        silences.restore(state)
    return {
        (s.site, s.room, s.device): s
        for s in silences.active(now)
        if s.retired and s.room is not None and s.device is not None
    }


def inventory(
    store: Store, now: float, *, site: str | None = None, room: str | None = None
) -> list[Device]:
    """Every device the store knows (of ``site``, ``room``), by site, room and device."""
    heard = Inventory.restore(store.load_state(DEVICES_STATE))
    heard.take_journal(store.journal())
    since = now - WINDOW
    faults = _faults(store, since)
    devices: dict[tuple[str, str, str, str | None], Device] = {}
    for (s, r, kind, name), seen in heard.heard.items():
        devices[(s, r, name, kind)] = Device(s, r, name, kind, seen.first, seen.last, seen.battery)
    retired = _retired(store, now)
    named = {(s, r, name) for s, r, name, _ in devices}
    for s, r, name in faults.keys() - named:
        devices[(s, r, name, None)] = Device(s, r, name, None, None, None, None)
    for (s, r, name, _), device in devices.items():
        device.retired = retired.get((s, r, name))
        for found in faults.get((s, r, name), {}).values():
            if found.open:
                device.open_faults.append(found.reason)
            if found.opened >= since:
                device.faults += 1
            if found.reason in _DOWN:
                end = found.resolved
                if end is None:  # forgotten by the router before it was heard again
                    last = device.last_seen
                    end = last if last is not None and last > found.opened else now
                device.downtime += max(0.0, min(end, now) - max(found.opened, since))
        device.open_faults.sort()
    chosen = [
        device
        for device in devices.values()
        if (site is None or device.site == site) and (room is None or device.room == room)
    ]
    return sorted(chosen, key=lambda d: (d.site, d.room, d.device, d.kind or ""))
