"""The ward through a night: the ward-wide plan (staff rounds, ailing devices), every room's
night lived, and the whole as a recording with the episodes behind it.

``simulate_night`` is the start of a ground truth: the events together with the ``Episode``
list (what happened, where, when, and which incidents the reference policy must page for it).
``simulators.site`` strings nights together with ``plan_night`` and ``live_night``.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass, field

from simulators.ward.degrade import Degradation, degrade
from simulators.ward.delivery import assign_ids, check_shares, deliver
from simulators.ward.episodes import RoomNight, Scheduled
from simulators.ward.model import (
    WING,
    Episode,
    Event,
    Rates,
    RecordingEntry,
    Ward,
    valid_events,
)


@dataclass(slots=True)
class Night:
    """A simulated night: the recording and what happened in it."""

    ward: Ward
    seed: int
    recording: list[RecordingEntry]
    episodes: list[Episode]
    late: int = 0
    malformed: int = 0

    @property
    def events(self) -> list[Event]:
        """The valid events, in delivery order."""
        return valid_events(self.recording)


@dataclass(slots=True)
class Troubles:
    """The ailing devices of a night, drawn for the whole ward."""

    #: room -> when something covers its camera
    obstructed: dict[str, float] = field(default_factory=dict)
    #: room -> device -> from when its battery runs low
    battery_low: dict[str, dict[str, float]] = field(default_factory=dict)
    #: room -> device -> from when it sends nothing
    silent: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(slots=True)
class LivedNight:
    """The events of a night in event-time order (without ids), each with the episode it is
    part of (None for heartbeats), and the episodes sorted by start."""

    ward: Ward
    events: list[Event]
    tags: list[Episode | None]
    episodes: list[Episode]


def in_event_time(
    events: list[Event], tags: list[Episode | None]
) -> tuple[list[Event], list[Episode | None]]:
    """``events`` and their ``tags`` (the episode of each) sorted by event time; events of the
    same time keep their order."""
    order = sorted(range(len(events)), key=lambda index: events[index]["ts"])
    return [events[i] for i in order], [tags[i] for i in order]


def plan_night(
    ward: Ward,
    rng: random.Random,
    rates: Rates,
    *,
    spare: Collection[str] = (),
) -> tuple[dict[str, list[Scheduled]], Troubles]:
    """The ward-wide plan of a night: staff rounds (every two hours, wing by wing, room after
    room) and the ailing devices. ``spare``: devices whose battery must not run low (a battery
    replaced after an earlier night)."""
    night_start, night_end = ward.night_bounds()
    schedule: dict[str, list[Scheduled]] = {room.name: [] for room in ward.rooms}
    first_round = night_start + 3600
    for wing in range(0, len(ward.rooms), WING):
        for hour in range(0, int((night_end - first_round) // 3600), 2):
            at = first_round + hour * 3600 + rng.uniform(-600, 600)
            for room in ward.rooms[wing : wing + WING]:
                schedule[room.name].append(Scheduled(at, "round"))
                at += rng.uniform(120, 300)

    # ailing devices, about one of each per eight rooms: a camera obstructed (not a radar:
    # nothing hangs in front of it), a battery running low, a device gone silent
    troubles = Troubles()
    count = max(1, round(len(ward.rooms) * rates.device_trouble))
    middle = (night_start + 3600, night_end - 2 * 3600)
    with_camera = [room for room in ward.rooms if room.has_optical and not room.radar]
    for room in rng.sample(with_camera, min(count, len(with_camera))):
        at = rng.uniform(*middle)
        troubles.obstructed[room.name] = at
        schedule[room.name].append(Scheduled(at, "obstructed"))
    battery_powered = sorted(
        (room.name, room.device(kind))
        for room in ward.rooms
        for kind in room.kinds()
        if kind in ("bed", "door", "motion", "acoustic", "presence")
        and room.device(kind) not in spare
    )
    for name, device in rng.sample(battery_powered, min(count, len(battery_powered))):
        troubles.battery_low.setdefault(name, {})[device] = rng.uniform(*middle)
    # a device that goes silent is one whose silence hides no care incident: a sensor that the
    # room's camera backs up
    redundant = sorted(
        (room.name, room.device(kind))
        for room in ward.rooms
        for kind in room.kinds()
        if room.has_optical
        and (kind in ("bed", "motion") or (kind == "door" and not room.wanders))
        and room.device(kind) not in troubles.battery_low.get(room.name, {})
    )
    for name, device in rng.sample(redundant, min(count, len(redundant))):
        troubles.silent.setdefault(name, {})[device] = rng.uniform(*middle)
    return schedule, troubles


def live_night(
    ward: Ward,
    seed: int | str,
    rates: Rates,
    schedule: dict[str, list[Scheduled]],
    troubles: Troubles,
    *,
    devices: bool = True,
) -> LivedNight:
    """Every room of ``ward`` through the night. ``devices``: also the heartbeats, batteries
    and silences of the night's devices (a site of several nights does those over its whole
    run)."""
    events: list[Event] = []
    tags: list[Episode | None] = []
    episodes: list[Episode] = []
    for profile in ward.rooms:
        room = RoomNight(ward, profile, seed, rates)
        room.live(schedule[profile.name])
        if devices:
            room.heartbeats(troubles.battery_low.get(profile.name, {}))
            for device, since in troubles.silent.get(profile.name, {}).items():
                room.go_silent(device, since)
        room_events, room_tags = room.finish()
        events.extend(room_events)
        tags.extend(room_tags)
        episodes.extend(room.episodes)
    events, tags = in_event_time(events, tags)
    episodes.sort(key=lambda e: (e.start, e.room))
    return LivedNight(ward, events, tags, episodes)


def simulate_night(
    ward: Ward,
    seed: int,
    *,
    late_fraction: float = 0.0,
    malformed_fraction: float = 0.0,
    rates: Rates | None = None,
    degradation: Degradation | None = None,
) -> Night:
    """Simulate one night of ``ward``: the recording and the episodes behind it (what the
    sensors sent: ``degradation`` says how they misbehave)."""
    check_shares(late_fraction, malformed_fraction)
    rates = rates or Rates()
    schedule, troubles = plan_night(ward, random.Random(f"{seed}/{ward.site}"), rates)
    lived = live_night(ward, seed, rates, schedule, troubles)
    assign_ids(lived.events)
    sent = degrade(lived.events, degradation or Degradation(), f"{seed}/{ward.site}/sensors")
    recording, late, malformed = deliver(
        sent,
        random.Random(f"{seed}/{ward.site}/delivery"),
        late_fraction,
        malformed_fraction,
    )
    return Night(ward, seed, recording, lived.episodes, late=late, malformed=malformed)


def generate_night(
    ward: Ward,
    seed: int,
    late_fraction: float = 0.0,
    malformed_fraction: float = 0.0,
) -> list[RecordingEntry]:
    """One night of ``ward`` as a recording: event payloads (dicts) in delivery order, with
    ``late_fraction`` of them delivered up to 9 s late and, after about ``malformed_fraction``
    of them, a malformed line (a str)."""
    return simulate_night(
        ward, seed, late_fraction=late_fraction, malformed_fraction=malformed_fraction
    ).recording
