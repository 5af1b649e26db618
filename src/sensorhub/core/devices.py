"""The rules of the devices themselves, in the reference classifier: heard from, silent,
faulted, obstructed.

Every event says its device is alive (a device not heard from for ``silent_after`` is paged
``silent``); health events (heartbeat, battery_low, fault) and an obstructed camera are judged
here, and a device fault is paged once per device and reason and day at most
(``TECHNICAL_REPEAT``). ``DeviceHealth`` is the part of ``Classifier`` (``classifier.py``) that
does it; the compiled twin does it in ``kernel/events.py``, ``kernel/incidents.py`` and
``kernel/timers.py``.
"""

from __future__ import annotations

from sensorhub.contract import Event
from sensorhub.core import reasons
from sensorhub.core.bookkeeping import Bookkeeping
from sensorhub.core.care import TECHNICAL_REPEAT, fault_id
from sensorhub.core.state import DeviceState, Incident, Pending, RoomState
from sensorhub.core.types import Evidence, Resolved


class DeviceHealth(Bookkeeping):
    """The devices' rules, for ``Classifier``: ``_device_seen`` for every event,
    ``_device_health`` for health events, ``_obstructed``/``_unobstructed`` for the cameras,
    ``_fire_device`` when a device's timer is due."""

    def _device(self, event: Event) -> tuple[tuple[str, str, str, str], DeviceState | None]:
        key = (event.site, event.room, event.kind, event.device)
        return key, self._devices.get(key)

    def _device_seen(self, event: Event, room: RoomState, t: float) -> None:
        key, device = self._device(event)
        if device is None:
            device = self._devices[key] = DeviceState(t)
        device.last_seen = t
        device.silent_token = self._schedule(t + room.policy.silent_after, "silent", key)
        silent = device.faults.pop("silent", None)
        if silent is not None:
            self._step.incidents.append(Resolved(silent.id, t, reasons.HEARD_AGAIN))
            self._audit(t, "resolved", reasons.HEARD_AGAIN, event=event, room=room, incident=silent)
        if event.kind == "optical":
            _, blind = room.optical.get(event.device, (t, False))
            room.optical[event.device] = (t, blind)

    def _device_health(self, event: Event, room: RoomState, t: float) -> None:
        if event.event == "heartbeat":
            self._audit(t, "state", reasons.HEARTBEAT, event=event, room=room)
            return
        if event.kind == "optical":
            room.optical[event.device] = (
                t,
                event.event == "fault" or room.optical[event.device][1],
            )
        self._device_fault(
            room,
            event.event,
            t,
            (event.site, event.room, event.kind, event.device),
            [event.ref],
            event=event,
        )

    def _device_fault(
        self,
        room: RoomState,
        reason: str,
        t: float,
        key: tuple[str, str, str, str],
        evidence: list[str],
        *,
        event: Event | None = None,
        timer: str | None = None,
    ) -> None:
        device = self._devices[key]
        existing = device.faults.get(reason)
        if existing is not None and t - existing.last_evidence <= TECHNICAL_REPEAT:
            existing.last_evidence = t
            self._step.incidents.append(Evidence(existing.id, t))
            self._audit(
                t,
                "evidence",
                reasons.fault_duplicate(key[3], reason),
                event=event,
                timer=timer,
                room=room,
                incident=existing,
            )
            return
        incident = Incident(
            fault_id(room.policy, key[3], reason, t),
            "device_fault",
            t,
            t,
            evidence,
            device=key[3],
            reason=reason,
        )
        device.faults[reason] = incident
        self._open(room, incident, t, event)
        self._audit(
            t,
            "paged",
            reasons.fault_paged(key[3], reason),
            event=event,
            timer=timer,
            room=room,
            incident=incident,
        )

    def _obstructed(self, event: Event, room: RoomState, t: float) -> None:
        key, _ = self._device(event)
        device = self._devices[key]  # _device_seen made it
        if device.obstructed is not None:
            device.obstructed.evidence.append(event.ref)
            return
        after = room.policy.obstructed_after
        token = self._schedule(t + after, "obstructed", key)
        device.obstructed = Pending("obstructed", t, [event.ref], token)
        self._audit(
            t,
            "pending",
            reasons.obstructed_pending(room.policy),
            event=event,
            room=room,
        )

    def _unobstructed(self, event: Event, room: RoomState, t: float) -> None:
        _, device = self._device(event)
        if device is None:
            return
        if device.obstructed is not None:
            device.obstructed = None
            self._audit(t, "resolved", reasons.SEES_AGAIN, event=event, room=room)
        incident = device.faults.pop("obstructed", None)
        if incident is not None:
            self._step.incidents.append(Resolved(incident.id, t, reasons.SEES_AGAIN))
            self._audit(
                t, "resolved", reasons.SEES_AGAIN, event=event, room=room, incident=incident
            )

    def _fire_device(self, name: str, key: tuple[str, ...], token: int, t: float) -> None:
        """A device's timer is due: it went silent, or stayed obstructed (unless a later event
        replaced the timer)."""
        device_key = (key[0], key[1], key[2], key[3])
        device = self._devices[device_key]
        room = self._room(key[0], key[1])
        if name == "silent" and token == device.silent_token:
            self._device_fault(
                room,
                "silent",
                t,
                device_key,
                [],
                timer=reasons.timer_silent(room.policy),
            )
            if key[2] == "optical":
                room.optical.pop(key[3], None)
        elif (
            name == "obstructed"
            and device.obstructed is not None
            and (device.obstructed.token == token)
        ):
            evidence, device.obstructed = device.obstructed.evidence, None
            self._device_fault(
                room,
                "obstructed",
                t,
                device_key,
                evidence,
                timer=reasons.timer_obstructed(room.policy),
            )
