"""A room's sensors and the bookkeeping of its night: the events its devices report (each with
the episode it is part of), the episodes with the incidents the reference policy must page for
them, the devices' heartbeats, and the silences of devices that stop sending.

``RoomLog`` is what ``RoomNight`` (``simulators.ward.episodes``) lives the room's night with.
"""

from __future__ import annotations

import math
import random

from sensorhub.contract import IncidentKind
from simulators.ward.model import (
    HEARTBEAT_EVERY,
    RADAR_EVENTS,
    SILENT_AFTER,
    Episode,
    Event,
    Expected,
    Rates,
    RoomProfile,
    Ward,
)


def make_event(
    site: str,
    profile: RoomProfile,
    kind: str,
    t: float,
    event: str,
    *,
    value: float | None = None,
    confidence: float | None = None,
) -> Event:
    """One event payload as a recording holds it (without its id)."""
    record: Event = {
        "ts": round(t, 3),
        "site": site,
        "room": profile.name,
        "kind": kind,
        "device": profile.device(kind),
        "event": event,
    }
    if value is not None:
        record["value"] = round(value, 1)
    if confidence is not None:
        record["confidence"] = round(confidence, 2)
    return record


def heartbeat_events(
    site: str,
    profile: RoomProfile,
    kind: str,
    *,
    start: float,
    end: float,
    rng: random.Random,
    battery_low: tuple[float, float] | None = None,
) -> tuple[list[Event], list[float]]:
    """A device's heartbeats every 5 min from ``start`` to ``end``. Within ``battery_low``
    (from, until) it adds ``battery_low`` to a heartbeat once an hour. Returns the events and
    the event times of its ``battery_low`` reports."""
    low_from, low_until = battery_low if battery_low is not None else (math.inf, math.inf)
    events: list[Event] = []
    lows: list[float] = []
    t = start + rng.uniform(0, HEARTBEAT_EVERY)
    radar = kind == "optical" and profile.radar  # its clock says whole seconds
    while t < end:
        events.append(
            make_event(site, profile, kind, float(math.ceil(t)) if radar else t, "heartbeat")
        )
        if low_from <= t < low_until:
            low = make_event(site, profile, kind, t + 0.2, "battery_low", value=rng.uniform(5, 12))
            events.append(low)
            lows.append(low["ts"])
            low_from = t + 3600
        t += HEARTBEAT_EVERY + rng.uniform(-1, 1)
    return events, lows


def battery_low_episode(room: str, device: str, reports: list[float]) -> Episode:
    """The episode of a battery running low, from its first ``battery_low`` report (the event
    times in ``reports``) to its last: a device fault from the first report on."""
    fault = Expected.at("device_fault", reports[0], device)
    return Episode.of(room, "device battery low", reports[0], reports[-1], fault)


def silent_episode(room: str, device: str, since: float, end: float, heard: float) -> Episode:
    """The episode of ``device`` sending nothing from ``since`` to ``end``, last heard at
    ``heard``: a device fault once it has been silent for ``SILENT_AFTER``."""
    fault = Expected.at("device_fault", heard + SILENT_AFTER, device)
    return Episode.of(room, "device goes silent", since, end, fault)


class RoomLog:
    """One room's night as its sensors report it and as it happened: what ``RoomNight`` emits
    and the episodes it records. Every episode starts and ends with the resident in bed and
    leaves no incident open."""

    def __init__(
        self,
        ward: Ward,
        profile: RoomProfile,
        seed: int | str,
        rates: Rates,
    ) -> None:
        self.ward = ward
        self.profile = profile
        self.rates = rates
        self.rng = random.Random(f"{seed}/{ward.site}/{profile.name}")
        self.kinds = frozenset(profile.kinds())
        self.events: list[Event] = []
        #: per event, the token of the episode it is part of (0: none)
        self.tokens: list[int] = []
        self.token = 0
        self.token_count = 0
        self.episode_of: dict[int, Episode] = {}
        self.episodes: list[Episode] = []
        self.night_start, self.night_end = ward.night_bounds()
        self.start, self.end = ward.recording_bounds()
        self.silent_from: dict[str, float] = {}
        self.high = profile.fall_risk == "high"
        #: something sees the bed and the floor (a camera or a radar): it decides, not the mat
        self.camera = profile.has_optical
        #: a care radar (:data:`RADAR_EVENTS` only): it does not see staff come and go
        self.radar = profile.radar
        self.grace = profile.bathroom_grace
        #: when staff who were in the room stop counting as present for the policy
        self.staff_clear = -math.inf

    # emitting ---------------------------------------------------------------------------

    def emit(
        self,
        t: float,
        kind: str,
        event: str,
        *,
        value: float | None = None,
        confidence: float | None = None,
    ) -> None:
        if kind not in self.kinds:
            return
        if kind == "optical" and self.radar:
            if event not in RADAR_EVENTS:
                return
            # the radar's clock says whole seconds; it reports at the second after
            t, confidence = float(math.ceil(round(t, 3))), None
        self.events.append(
            make_event(
                self.ward.site,
                self.profile,
                kind,
                t,
                event,
                value=value,
                confidence=confidence,
            )
        )
        self.tokens.append(self.token)

    def see(self, t: float, event: str, confidence: float | None = None) -> None:
        """The camera reports ``event``."""
        if confidence is None:
            confidence = self.rng.uniform(0.85, 0.99)
        self.emit(t, "optical", event, confidence=confidence)

    def mat(self, t: float, occupied: bool) -> None:
        self.emit(t, "bed", "occupied" if occupied else "vacated")

    def movement(self, start: float, end: float) -> None:
        """The motion sensor sees someone moving from ``start`` to ``end``."""
        if "motion" not in self.kinds:
            return
        t = start
        while t <= end:
            self.emit(t, "motion", "motion")
            t += self.rng.uniform(120, 300)  # the sensor re-reports ongoing motion
        self.emit(end + self.rng.uniform(30, 90), "motion", "no_motion")

    def begin(self) -> None:
        """The events emitted from now on are part of a new episode."""
        self.token_count += 1
        self.token = self.token_count

    def episode(self, what: str, start: float, end: float, *incidents: Expected) -> None:
        self.record(Episode.of(self.profile.name, what, start, end, *incidents))

    def record(self, episode: Episode) -> None:
        """``episode`` happened; the events emitted since ``begin`` are part of it."""
        self.episodes.append(episode)
        if self.token:
            self.episode_of[self.token] = episode

    def expected(self, kind: IncidentKind, start: float, device: str | None = None) -> Expected:
        """An incident the policy must page, from its first evidence at ``start``."""
        return Expected.at(kind, start, device, grace=self.grace)

    def u(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # devices ----------------------------------------------------------------------------------

    def heartbeats(self, battery_low: dict[str, float]) -> None:
        """Every device says it is alive every 5 min; a device in ``battery_low`` (device ->
        from when) adds ``battery_low`` to its heartbeats, once an hour."""
        self.token = 0
        for kind in sorted(self.kinds):
            device = self.profile.device(kind)
            low_from = battery_low.get(device)
            events, lows = heartbeat_events(
                self.ward.site,
                self.profile,
                kind,
                start=self.start,
                end=self.end,
                rng=self.rng,
                battery_low=None if low_from is None else (low_from, math.inf),
            )
            self.events.extend(events)
            self.tokens.extend([0] * len(events))
            if lows:
                self.record(battery_low_episode(self.profile.name, device, lows))

    def go_silent(self, device: str, t: float) -> None:
        """``device`` sends nothing from ``t`` on (its battery died)."""
        self.silent_from[device] = t

    def finish(self) -> tuple[list[Event], list[Episode | None]]:
        """The room's events within the recording, in event-time order, with their episodes."""
        pairs = [
            (event, self.episode_of.get(token))
            for event, token in zip(self.events, self.tokens, strict=True)
            if self.start <= event["ts"] <= self.end
        ]
        for device, since in sorted(self.silent_from.items()):
            heard = [e["ts"] for e, _ in pairs if e["device"] == device and e["ts"] < since]
            pairs = [(e, ep) for e, ep in pairs if e["device"] != device or e["ts"] < since]
            if heard:
                self.record(silent_episode(self.profile.name, device, since, self.end, max(heard)))
        pairs.sort(key=lambda pair: pair[0]["ts"])  # stable: same-time events keep their order
        return [e for e, _ in pairs], [ep for _, ep in pairs]
