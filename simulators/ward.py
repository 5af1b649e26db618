"""A simulated ward night, as a recording (CONTRACT.md section 3).

``generate_night(ward, seed)`` lives through one night of a ward, room by room, and returns the
sensor events it produced, in the order a broker would deliver them: residents going to bed,
turning over (the bed mat lifts for a moment while the camera keeps seeing them in bed), sitting
on the bed edge, toilet visits, falls and things that look like falls, resident calls, wanderers
leaving their room, coughs and calling out, staff rounds with and without the presence button,
staff coming when they are paged, heartbeats, and a few ailing devices. Most of what a
conventional system would sound an alarm for needs nobody to go to the room; a few things do.

The same ward and seed always give the same night, byte for byte. Each resident's life draws
from a random stream of its own room, so adding a room changes little in the others (the staff
rounds and which devices fail are drawn for the whole ward).

Command line::

    python -m simulators.ward --rooms 8 --seed 1 --date 2026-11-20 --out night.jsonl \\
        [--late 0.02] [--malformed 0.001] [--rules rules.yaml]

Building on it: ``simulate_night`` returns the events together with the ``Episode`` list (what
happened, where, when, and which incidents the reference policy must page for it, each with
the event time of its first evidence and its deadline), which is the start of a ground truth;
``Rates`` holds how often each thing happens. ``simulators.site`` strings nights together into
a site over a week, with the ground truth and the census of a conventional system.

How the episodes keep the truth unambiguous: each episode starts and ends with the resident in
bed and every incident it caused closed (the resident is back in bed, or staff came, or the call
was cancelled); a new episode starts only once staff who were in the room have left it for more
than a minute (the policy counts staff seen by the camera as present for 60 s); and times are
kept well clear of the policy's boundaries (a resident is back in bed minutes before or after
the bathroom grace runs out, never seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from sensorhub.contract import IncidentKind
from sensorhub.evaluation.truth import DEADLINES

FallRisk = Literal["low", "normal", "high"]

#: Devices report that they are alive this often (seconds).
HEARTBEAT_EVERY: Final = 300.0
#: Late events arrive at most this long after their event time (the contract allows 10 s).
MAX_DELAY: Final = 9.0
#: Sound at or above this level is loud (the reference policy's ``acoustic_threshold``).
ACOUSTIC_THRESHOLD: Final = 65.0
#: A device with no event or heartbeat this long is a device fault (``silent_after``).
SILENT_AFTER: Final = 600.0
#: A camera obstructed this long is a device fault (``obstructed_after``).
OBSTRUCTED_AFTER: Final = 60.0
#: Staff seen by the camera count as present this long (``staff_recent``).
STAFF_RECENT: Final = 60.0
#: The reference policy's ``bathroom_grace`` (seconds).
DEFAULT_GRACE: Final = 900.0
#: Rooms per wing: staff do their rounds wing by wing, room after room.
WING: Final = 12
#: Device name prefix per kind: ``cam-101`` is the camera of room 101.
DEVICE_PREFIX: Final[dict[str, str]] = {
    "optical": "cam",
    "bed": "mat",
    "door": "door",
    "motion": "pir",
    "call": "call",
    "presence": "pres",
    "acoustic": "mic",
}

Event = dict[str, Any]
RecordingEntry = Event | str
#: ``Ward.date`` is a field; inside the class the name no longer means the type
Day = date


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomProfile:
    """One room: who lives there and which sensors it has.

    Every room has a call button and a staff presence button; the other sensors are optional.
    ``bathroom_grace`` is how long (seconds) the resident may be out of bed at night before it
    is paged (the rule file's ``bathroom_grace``).
    """

    name: str
    fall_risk: FallRisk = "normal"
    wanders: bool = False
    has_optical: bool = True
    has_bed_mat: bool = True
    has_door: bool = True
    has_motion: bool = False
    has_acoustic: bool = False
    bathroom_grace: float = DEFAULT_GRACE

    def __post_init__(self) -> None:
        if not (self.has_optical or self.has_bed_mat):
            raise ValueError(f"room {self.name}: something must see the bed (camera or bed mat)")
        if self.bathroom_grace < 600:
            # the episodes keep a resident's time out of bed minutes away from the grace
            raise ValueError(f"room {self.name}: the simulator needs a bathroom grace >= 10 min")

    def kinds(self) -> tuple[str, ...]:
        """The kinds of sensor in the room."""
        present = {
            "optical": self.has_optical,
            "bed": self.has_bed_mat,
            "door": self.has_door,
            "motion": self.has_motion,
            "call": True,
            "presence": True,
            "acoustic": self.has_acoustic,
        }
        return tuple(kind for kind, there in present.items() if there)

    def device(self, kind: str) -> str:
        return f"{DEVICE_PREFIX[kind]}-{self.name}"


#: The mix of a typical ward, repeated for larger wards: two high fall-risk residents, two who
#: wander, rooms with and without a camera.
TYPICAL_ROOMS: Final[tuple[RoomProfile, ...]] = (
    RoomProfile("", fall_risk="high"),
    RoomProfile("", has_acoustic=True),
    RoomProfile("", wanders=True, has_motion=True),
    RoomProfile("", has_optical=False),
    RoomProfile("", fall_risk="high", has_optical=False, has_motion=True),
    RoomProfile("", has_bed_mat=False, has_acoustic=True),
    RoomProfile("", wanders=True, has_optical=False, has_motion=True, has_acoustic=True),
    RoomProfile("", fall_risk="low"),
)


@dataclass(frozen=True, slots=True)
class Ward:
    """A ward and the night to simulate.

    The night starts at ``night_start`` local time on ``date`` and ends at ``night_end`` the
    next morning, in ``timezone`` (daylight-saving changes included). The recording starts
    ``lead_in`` earlier, so residents are seen going to bed.
    """

    site: str
    rooms: tuple[RoomProfile, ...]
    date: Day
    timezone: str = "Europe/Amsterdam"
    night_start: time = time(22, 0)
    night_end: time = time(7, 0)
    lead_in: timedelta = timedelta(minutes=30)

    @classmethod
    def typical(cls, rooms: int = 8, *, site: str = "zonnehof", day: Day | None = None) -> Ward:
        """A ward of ``rooms`` rooms (named 101, 102, ...) with the typical mix of residents."""
        if rooms < 1:
            raise ValueError("a ward has at least one room")
        profiles = []
        for index in range(rooms):
            floor, number = divmod(index, 99)
            name = f"{floor + 1}{number + 1:02d}"
            base = TYPICAL_ROOMS[index % len(TYPICAL_ROOMS)]
            profiles.append(dataclasses.replace(base, name=name))
        return cls(site=site, rooms=tuple(profiles), date=day or date(2026, 11, 20))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def night_bounds(self) -> tuple[float, float]:
        """The night window as Unix seconds: (start, end)."""
        start = datetime.combine(self.date, self.night_start, self.zone)
        end_day = self.date + timedelta(days=1) if self.night_end <= self.night_start else self.date
        end = datetime.combine(end_day, self.night_end, self.zone)
        return start.timestamp(), end.timestamp()

    def recording_bounds(self) -> tuple[float, float]:
        """What the recording covers: the lead-in and the night."""
        start, end = self.night_bounds()
        return start - self.lead_in.total_seconds(), end

    def local(self, ts: float, clock: str = "%H:%M:%S") -> str:
        """Event time as local time of day (or another strftime format)."""
        return datetime.fromtimestamp(ts, self.zone).strftime(clock)


@dataclass(frozen=True, slots=True)
class Rates:
    """How often things happen: per resident per night unless said otherwise."""

    turning: float = 3.5  # turns over hard enough to lift the bed mat for a moment
    edge_sitting: float = 1.5  # sits on the bed edge and lies back
    toilet: float = 1.6  # toilet visits
    toilet_long: float = 0.05  # share of toilet visits that outlast the bathroom grace
    fall: float = 0.1  # real falls: far more than on a real ward, so a night shows one
    blanket: float = 0.35  # a blanket sliding to the floor: the camera reports a fall
    kneeling: float = 0.25  # kneels to pick something up: the camera reports on_floor
    call: float = 0.8  # resident calls
    call_repeated: float = 0.3  # share of calls pressed again before staff arrive
    call_cancelled: float = 0.25  # share of calls cancelled by the resident
    wander: float = 0.7  # leaves the room (residents who wander only)
    cough: float = 4.0  # single loud sound reports (rooms with a sound monitor)
    calling_out: float = 0.25  # sustained calling out for a minute (sound monitor)
    murmur: float = 3.0  # sound below the threshold: snoring, talking in sleep
    staff_respond: float = 0.7  # share of high-risk bed exits that staff come to look at
    care_visit: float = 0.6  # share of round visits with the presence button and care
    care_out_of_bed: float = 0.3  # share of care visits with the resident out of bed
    second_hands: float = 0.04  # share of care visits where staff call for a colleague
    device_trouble: float = 1 / 8  # per room per night, each: camera covered, battery low,
    # device gone silent


# --- what happened ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """An incident the reference care policy must page: ``kind`` from ``start`` (the event time
    of its first evidence, or when a device fault became actionable) by ``deadline``."""

    kind: IncidentKind
    start: float
    deadline: float
    device: str | None = None

    @property
    def audience(self) -> Literal["care", "technical"]:
        return "technical" if self.kind == "device_fault" else "care"


@dataclass(frozen=True, slots=True)
class Episode:
    """Something that happened in a room.

    ``incidents`` are the incidents the reference care policy must page for it (section 4 of
    the contract); ``expect`` names their kinds. Both are empty for everything that needs
    nobody to go to the room.
    """

    room: str
    what: str
    start: float
    end: float
    expect: tuple[str, ...] = ()
    incidents: tuple[Expected, ...] = ()


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
        return [entry for entry in self.recording if isinstance(entry, dict)]


@dataclass(slots=True)
class _Scheduled:
    """A room-level happening at a fixed time: a staff round, an obstructed camera."""

    at: float
    what: str


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
    while t < end:
        events.append(make_event(site, profile, kind, t, "heartbeat"))
        if low_from <= t < low_until:
            low = make_event(site, profile, kind, t + 0.2, "battery_low", value=rng.uniform(5, 12))
            events.append(low)
            lows.append(low["ts"])
            low_from = t + 3600
        t += HEARTBEAT_EVERY + rng.uniform(-1, 1)
    return events, lows


# --- one room through the night ---------------------------------------------------------------


class _RoomNight:
    """Lives through one room's night. Every episode starts and ends with the resident in bed
    and leaves no incident open."""

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
        self.camera = profile.has_optical
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
        episode = Episode(
            self.profile.name,
            what,
            start,
            end,
            tuple(incident.kind for incident in incidents),
            incidents,
        )
        self.episodes.append(episode)
        if self.token:
            self.episode_of[self.token] = episode

    def expected(self, kind: IncidentKind, start: float, device: str | None = None) -> Expected:
        """An incident the policy must page, from its first evidence at ``start``."""
        deadline = start + DEADLINES[kind]
        if kind == "absent_too_long":
            deadline += self.grace  # paged once the grace has run out
        return Expected(kind, round(start, 3), round(deadline, 3), device)

    def u(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # the night ------------------------------------------------------------------------------

    def live(self, scheduled: list[_Scheduled]) -> None:
        # episodes of the night start once the resident is in bed and the night has begun
        self.begin()
        t = max(self.going_to_bed(), self.night_start)
        rates = self.rates
        hours = (self.night_end - self.night_start) / 3600
        per_night: dict[str, float] = {
            "turning": rates.turning,
            "edge_sitting": rates.edge_sitting,
            "toilet": rates.toilet,
            "fall": rates.fall,
            "call": rates.call,
        }
        if "optical" in self.kinds:
            per_night["blanket"] = rates.blanket
            per_night["kneeling"] = rates.kneeling
        if self.profile.wanders:
            per_night["wander"] = rates.wander
        if "acoustic" in self.kinds:
            per_night["cough"] = rates.cough
            per_night["calling_out"] = rates.calling_out
            per_night["murmur"] = rates.murmur
        names = list(per_night)
        weights = [per_night[name] for name in names]
        rate = sum(weights) / (hours * 3600)  # episodes per second
        last_start = self.night_end - 30 * 60  # nothing new in the last half hour
        queue = sorted(scheduled, key=lambda s: s.at)
        while True:
            # nothing new happens while staff still count as present in the room
            at = max(t + self.rng.expovariate(rate), self.staff_clear + 5)
            if queue and queue[0].at <= at:
                item = queue.pop(0)
                self.begin()
                t = self.scheduled(item.what, max(item.at, t)) + self.u(5, 60)
                continue
            if at >= last_start:
                break
            what = self.rng.choices(names, weights)[0]
            self.begin()
            t = getattr(self, what)(at) + self.u(20, 120)
        for item in queue:
            if max(item.at, t) < self.end - 300:
                self.begin()
                t = self.scheduled(item.what, max(item.at, t)) + self.u(5, 60)
        self.token = 0

    def scheduled(self, what: str, t: float) -> float:
        if what == "round":
            return self.round_visit(t)
        if what == "obstructed":
            return self.obstructed(t)
        raise ValueError(what)

    # the evening ------------------------------------------------------------------------------

    def going_to_bed(self) -> float:
        """The resident is up at the start of the recording and in bed by some time after it."""
        up_at = self.start + self.u(0, 300)
        seen = self.rng.choice(("out_of_bed", "sitting_on_edge", "in_bathroom"))
        self.see(up_at, seen)
        if seen == "sitting_on_edge":
            # and stands up: sitting on the edge counts as in bed, and a resident the camera
            # last saw in bed who shows up in the bathroom after 22:00 has left the bed at night
            self.see(up_at + self.u(10, 120), "out_of_bed")
        self.mat(up_at + self.u(0, 5), occupied=False)
        self.movement(up_at, up_at + 60)
        if self.high or self.profile.wanders:
            # staff help residents at risk to bed before the night starts
            arrive = self.start + self.u(300, 1200)
            leave = arrive + self.u(300, 600)
            self.staff_visit(arrive, leave, button=True, help_to_bed=True)
            self.episode("helped to bed", up_at, leave)
            return leave
        if self.chance(0.4):
            in_bed = self.start + self.u(600, 1500)  # before the night starts
        else:
            in_bed = self.night_start + self.u(60, 3000)  # on their own, after 22:00
            if self.chance(0.3):
                self.see(in_bed - self.u(400, 700), "in_bathroom")
                self.see(in_bed - self.u(60, 300), "out_of_bed")
        self.see(in_bed - self.u(5, 30), "sitting_on_edge")
        self.see(in_bed, "in_bed")
        self.mat(in_bed + self.u(0.5, 3), occupied=True)
        self.movement(in_bed - 60, in_bed)
        self.episode("went to bed", up_at, in_bed)
        return in_bed

    # staff ------------------------------------------------------------------------------------

    def staff_visit(
        self,
        arrive: float,
        leave: float,
        *,
        button: bool,
        help_to_bed: bool = False,
        out_of_bed: bool = False,
    ) -> None:
        """Staff come in at ``arrive`` and leave at ``leave``; optionally the resident gets out
        of bed with them (care) or is helped (back) to bed at the end."""
        self.emit(arrive - self.u(1, 3), "door", "open")
        if button:
            self.emit(arrive, "presence", "staff_in")
        self.movement(arrive, leave)
        self.emit(arrive + self.u(4, 8), "door", "closed")
        # the camera sees more than one person while staff are there
        clear = leave
        t = arrive + self.u(1, 4)
        while t < leave - 5:
            self.see(t, self.rng.choice(("multiple_persons", "staff_present")))
            if self.camera:
                clear = max(clear, t + STAFF_RECENT)
            t += self.u(25, 45)
        if out_of_bed:
            up = arrive + self.u(20, 40)
            self.mat(up, occupied=False)
            self.see(up + self.u(0.5, 2), "out_of_bed")
            back = min(up + self.u(60, 240), leave - 20)
            self.see(back, "in_bed")
            self.mat(back + self.u(0.5, 2), occupied=True)
        if help_to_bed:
            in_bed = leave - self.u(30, 90)
            self.see(in_bed, "in_bed")
            self.mat(in_bed + self.u(0.5, 2), occupied=True)
        self.emit(leave, "door", "open")
        if button:
            out = leave + self.u(0.5, 2)
            self.emit(out, "presence", "staff_out")
            clear = max(clear, out)
        self.emit(leave + self.u(4, 8), "door", "closed")
        self.staff_clear = max(self.staff_clear, clear)

    def round_visit(self, t: float) -> float:
        """A staff round: a quick look, or care with the presence button."""
        if self.chance(self.rates.care_visit):
            if self.chance(self.rates.second_hands):
                return self.second_hands(t)
            leave = t + self.u(120, 480)
            self.staff_visit(
                t, leave, button=True, out_of_bed=self.chance(self.rates.care_out_of_bed)
            )
            self.episode("round: care (presence button)", t, leave)
        else:
            leave = t + self.u(15, 50)
            self.staff_visit(t, leave, button=False)
            self.episode("round: a look (no presence button)", t, leave)
        return leave + 10

    def second_hands(self, t: float) -> float:
        """During care, the carer presses the call button for a colleague: a call while staff
        are present is paged all the same. The colleague comes and the call is reset."""
        leave = t + self.u(360, 720)
        self.staff_visit(t, leave, button=True)
        pressed = t + self.u(30, 120)
        self.emit(pressed, "call", "pressed")
        colleague = pressed + self.u(60, 180)
        self.emit(colleague, "presence", "staff_in")
        self.emit(colleague + self.u(3, 10), "call", "cancelled")
        self.episode(
            "round: care, call for a second pair of hands",
            t,
            leave,
            self.expected("call", pressed),
        )
        return leave + 10

    def staff_come(self, t: float, *, help_to_bed: bool = False) -> float:
        """Staff respond: in at ``t``, with the presence button. Returns when they leave."""
        leave = t + self.u(120, 420)
        self.staff_visit(t, leave, button=True, help_to_bed=help_to_bed)
        return leave

    # in bed -----------------------------------------------------------------------------------

    def turning(self, t: float) -> float:
        """Turning over lifts the bed mat for a moment; the camera keeps seeing them in bed."""
        self.mat(t, occupied=False)
        back = t + self.u(0.8, 3.5)
        self.mat(back, occupied=True)
        if self.chance(0.5):
            self.see(t + self.u(0.2, 2), "in_bed")
        if self.chance(0.3):
            self.movement(t, back)
        self.episode("turning over", t, back)
        return back

    def edge_sitting(self, t: float) -> float:
        """Sits on the bed edge for a while and lies back."""
        self.see(t, "sitting_on_edge")
        lifted = self.chance(0.3)
        vacated = t + self.u(0, 2)
        if lifted:
            self.mat(vacated, occupied=False)
        back = t + self.u(15, 150)
        self.see(back, "in_bed")
        if lifted:
            self.mat(back + self.u(0.3, 2), occupied=True)
        self.movement(t, back)
        # where only the mat sees the bed, a long enough lift is a bed exit for the policy
        incidents = []
        if lifted and self.high and not self.camera:
            incidents.append(self.expected("bed_exit", vacated))
        self.episode("sitting on the bed edge", t, back, *incidents)
        return back

    def get_up(self, t: float) -> tuple[float, float]:
        """Sits up and gets out of bed. Returns when they stand, and when the policy sees them
        leave the bed (the camera's ``out_of_bed``; without a camera the mat's ``vacated``)."""
        if self.chance(0.6):
            self.see(t, "sitting_on_edge")
            t += self.u(5, 40)
        self.mat(t, occupied=False)
        out = t + self.u(0.5, 2)
        self.see(out, "out_of_bed")
        return t, round(out if self.camera else t, 3)

    def back_to_bed(self, t: float) -> float:
        self.see(t, "out_of_bed")
        in_bed = t + self.u(10, 40)
        self.see(in_bed, "in_bed")
        self.mat(in_bed + self.u(0.5, 2), occupied=True)
        return in_bed

    def exit_incidents(self, left: float, resolved: float) -> list[Expected]:
        """What the policy pages for a bed exit at ``left`` that ends (back in bed, or staff
        arrive) at ``resolved``, with nothing more severe open."""
        if self.high:
            return [self.expected("bed_exit", left)]
        if resolved > left + self.grace:
            return [self.expected("absent_too_long", left)]
        return []

    def clear_of(self, t: float, boundary: float, margin: float = 30.0) -> float:
        """``t`` moved at least ``margin`` seconds away from ``boundary``, on its side of it."""
        if abs(t - boundary) >= margin:
            return t
        return boundary + margin if t >= boundary else boundary - margin

    def respond_to_exit(self, left: float, in_bed: float) -> float:
        """A high-risk resident's bed-exit page may bring someone to look; returns when the
        episode ends."""
        if not self.high or not self.chance(self.rates.staff_respond):
            return in_bed
        arrive = left + self.u(60, 240)
        if arrive >= in_bed - 30:
            return in_bed  # back in bed before anyone came
        return max(in_bed, self.staff_come(arrive))

    def toilet(self, t: float) -> float:
        """Out of bed to the bathroom and back, usually within a few minutes."""
        up, left = self.get_up(t)
        bathroom = up + self.u(5, 25)
        self.see(bathroom, "in_bathroom")
        if self.chance(self.rates.toilet_long):
            # stays too long: the page (at once for a high fall risk, else once the grace has
            # run out) brings staff, who help the resident back to bed
            paged = left if self.high else left + self.grace
            arrive = paged + self.u(60, 300)
            self.movement(up, arrive)
            self.see(arrive + self.u(5, 25), "out_of_bed")
            leave = self.staff_come(arrive, help_to_bed=True)
            self.episode("toilet visit, too long", t, leave, *self.exit_incidents(left, arrive))
            return leave
        stay = self.u(90, max(120.0, min(420.0, self.grace - 200)))
        back = bathroom + stay
        self.movement(up, back + 40)
        in_bed = self.back_to_bed(back)
        incidents = self.exit_incidents(left, in_bed)
        end = self.respond_to_exit(left, in_bed)
        self.episode("toilet visit", t, end, *incidents)
        return end

    def fall(self, t: float) -> float:
        """Gets up, falls and stays on the floor until staff come."""
        up, left = self.get_up(t)
        fell = up + self.u(3, 90)
        self.see(fell, "fall", confidence=self.u(0.75, 0.98))
        self.see(fell + self.u(1.5, 4), "on_floor")
        incidents: list[Expected] = []
        if self.high:
            incidents.append(self.expected("bed_exit", left))
        pressed: float | None = None
        if self.camera:
            incidents.append(self.expected("fall", fell))
            arrive = fell + self.u(120, 360)
        elif self.chance(0.5):
            # no camera: the resident reaches the pull cord
            pressed = fell + self.u(30, 240)
            arrive = pressed + self.u(90, 300)
        elif self.high:
            arrive = up + self.u(150, 420)  # the bed-exit page brought someone
        else:
            arrive = left + self.grace + self.u(120, 360)  # the absent-too-long page did
        if pressed is not None:
            self.emit(pressed, "call", "pressed")
            incidents.append(self.expected("call", pressed))
        if not self.high:
            arrive = self.clear_of(arrive, left + self.grace)
            # with a camera, the open fall incident (more severe) covers the absence
            if arrive > left + self.grace and not self.camera:
                incidents.append(self.expected("absent_too_long", left))
        if "acoustic" in self.kinds and self.chance(0.5):
            calls_out = fell + self.u(10, 30)
            self.loud(calls_out, self.u(40, 90), level=(70, 85))
            if not self.high and not self.camera:
                # nothing more severe is open: calling out is paged
                incidents.append(self.expected("acoustic", calls_out))
        on_floor_again = fell + self.u(30, 60)
        while on_floor_again < arrive:
            self.see(on_floor_again, "on_floor")
            on_floor_again += self.u(30, 60)
        self.movement(up, fell + 10)
        leave = self.staff_come(arrive, help_to_bed=True)
        if pressed is not None:
            self.emit(arrive + self.u(3, 10), "call", "cancelled")
        self.episode("fall", t, leave, *sorted(incidents, key=lambda i: i.start))
        return leave

    def blanket(self, t: float) -> float:
        """A blanket slides to the floor: the camera reports a fall, then the resident in bed."""
        self.see(t, "fall", confidence=self.u(0.55, 0.8))
        back = t + self.u(1, 5)
        self.see(back, "in_bed")
        self.episode("blanket falls (fall look-alike)", t, back)
        return back

    def kneeling(self, t: float) -> float:
        """Out of bed, kneels to pick something up (on_floor), stands again, back to bed."""
        up, left = self.get_up(t)
        kneel = up + self.u(5, 30)
        self.see(kneel, self.rng.choice(("on_floor", "fall")), confidence=self.u(0.6, 0.9))
        self.see(kneel + self.u(2, 5), "out_of_bed")
        back = kneel + self.u(20, 90)
        self.movement(up, back)
        in_bed = self.back_to_bed(back)
        incidents = self.exit_incidents(left, in_bed)
        end = self.respond_to_exit(left, in_bed)
        self.episode("kneeling (fall look-alike)", t, end, *incidents)
        return end

    # calls --------------------------------------------------------------------------------

    def call(self, t: float) -> float:
        """Presses the call button: cancels it, or presses again until staff come."""
        self.emit(t, "call", "pressed")
        incident = self.expected("call", t)
        if self.chance(self.rates.call_cancelled):
            done = t + self.u(3, 25)
            self.emit(done, "call", "cancelled")
            self.episode("call, cancelled by the resident", t, done, incident)
            return done
        arrive = t + self.u(90, 420)
        what = "call"
        if self.chance(self.rates.call_repeated):
            again = t
            for _ in range(self.rng.randint(1, 3)):
                again += self.u(20, 120)
                if again < arrive - 5:
                    self.emit(again, "call", "pressed")
                    what = "call, pressed again"
        leave = arrive + self.u(120, 480)
        # staff reset the call at the room, then help
        self.staff_visit(
            arrive, leave, button=True, out_of_bed=self.chance(self.rates.care_out_of_bed)
        )
        self.emit(arrive + self.u(3, 10), "call", "cancelled")
        self.episode(what, t, leave, incident)
        return leave

    # wandering --------------------------------------------------------------------------------

    def wander(self, t: float) -> float:
        """Leaves the room; comes back alone, or staff, paged, find them and bring them back."""
        up, left = self.get_up(t)
        door = up + self.u(20, 120)
        self.movement(up, door - 2)
        self.emit(door, "door", "open")
        self.see(door + self.u(1, 3), "left_room")
        self.emit(door + self.u(5, 10), "door", "closed")
        self.see(door + self.u(15, 40), "no_person")
        incidents = [self.expected("bed_exit", left)] if self.high else []
        incidents.append(self.expected("wandering", door))
        alone = self.chance(0.35)
        back = door + (self.u(60, 400) if alone else self.u(150, 480))
        if not self.high:
            # back in bed (alone) or staff there well before the bathroom grace runs out
            back = max(door + 40, min(back, left + self.grace - (150 if alone else 40)))
        self.emit(back, "door", "open")
        self.see(back + self.u(1, 3), "entered_room")
        self.emit(back + self.u(5, 10), "door", "closed")
        if alone:
            in_bed = back + self.u(30, 120)
            self.movement(back + self.u(2, 5), in_bed)
            self.see(in_bed - self.u(5, 20), "sitting_on_edge")
            self.see(in_bed, "in_bed")
            self.mat(in_bed + self.u(0.5, 2), occupied=True)
            self.episode("wandering, came back alone", t, in_bed, *incidents)
            return in_bed
        leave = self.staff_come(back + self.u(0.5, 2), help_to_bed=True)
        self.episode("wandering, brought back", t, leave, *incidents)
        return leave

    # sound ------------------------------------------------------------------------------------

    def loud(self, t: float, duration: float, level: tuple[float, float]) -> float:
        """Sound reports every 5 s for ``duration`` seconds, then quiet."""
        end = t + duration
        while t <= end:
            self.emit(t, "acoustic", "sound", value=self.u(*level))
            t += 5.0
        self.emit(t, "acoustic", "quiet")
        return t

    def cough(self, t: float) -> float:
        self.emit(t, "acoustic", "sound", value=self.u(66, 80))
        done = t + self.u(2, 5)
        self.emit(done, "acoustic", "quiet")
        self.episode("cough", t, done)
        return done

    def murmur(self, t: float) -> float:
        done = t
        for _ in range(self.rng.randint(1, 4)):
            self.emit(done, "acoustic", "sound", value=self.u(48, 62))
            done += self.u(4, 9)
        self.emit(done, "acoustic", "quiet")
        self.episode("murmur (below the sound threshold)", t, done)
        return done

    def calling_out(self, t: float) -> float:
        """Calls out for a minute, at least 70 dB(A) every 5 s; the page brings staff."""
        done = self.loud(t, 60.0, level=(70, 82))
        leave = self.staff_come(done + self.u(30, 180))
        self.episode("calling out", t, leave, self.expected("acoustic", t))
        return leave

    # devices ----------------------------------------------------------------------------------

    def obstructed(self, t: float) -> float:
        """Something covers the camera for two minutes (the resident stays in bed)."""
        self.see(t, "obstructed")
        self.see(t + OBSTRUCTED_AFTER, "obstructed")
        done = t + 2 * OBSTRUCTED_AFTER
        self.see(done, "in_bed")
        fault = self.expected("device_fault", t + OBSTRUCTED_AFTER, self.profile.device("optical"))
        self.episode("camera obstructed", t, done, fault)
        return done

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
                fault = self.expected("device_fault", lows[0], device)
                self.episode("device battery low", lows[0], lows[-1], fault)

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
                fault = self.expected("device_fault", max(heard) + SILENT_AFTER, device)
                self.episode("device goes silent", since, self.end, fault)
        pairs.sort(key=lambda pair: pair[0]["ts"])  # stable: same-time events keep their order
        return [e for e, _ in pairs], [ep for _, ep in pairs]


# --- the ward ---------------------------------------------------------------------------------


def plan_night(
    ward: Ward,
    rng: random.Random,
    rates: Rates,
    *,
    spare: Collection[str] = (),
) -> tuple[dict[str, list[_Scheduled]], Troubles]:
    """The ward-wide plan of a night: staff rounds (every two hours, wing by wing, room after
    room) and the ailing devices. ``spare``: devices whose battery must not run low (a battery
    replaced after an earlier night)."""
    night_start, night_end = ward.night_bounds()
    schedule: dict[str, list[_Scheduled]] = {room.name: [] for room in ward.rooms}
    first_round = night_start + 3600
    for wing in range(0, len(ward.rooms), WING):
        for hour in range(0, int((night_end - first_round) // 3600), 2):
            at = first_round + hour * 3600 + rng.uniform(-600, 600)
            for room in ward.rooms[wing : wing + WING]:
                schedule[room.name].append(_Scheduled(at, "round"))
                at += rng.uniform(120, 300)

    # ailing devices, about one of each per eight rooms: a camera obstructed, a battery running
    # low, a device gone silent
    troubles = Troubles()
    count = max(1, round(len(ward.rooms) * rates.device_trouble))
    middle = (night_start + 3600, night_end - 2 * 3600)
    with_camera = [room for room in ward.rooms if room.has_optical]
    for room in rng.sample(with_camera, min(count, len(with_camera))):
        at = rng.uniform(*middle)
        troubles.obstructed[room.name] = at
        schedule[room.name].append(_Scheduled(at, "obstructed"))
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
    schedule: dict[str, list[_Scheduled]],
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
        room = _RoomNight(ward, profile, seed, rates)
        room.live(schedule[profile.name])
        if devices:
            room.heartbeats(troubles.battery_low.get(profile.name, {}))
            for device, since in troubles.silent.get(profile.name, {}).items():
                room.go_silent(device, since)
        room_events, room_tags = room.finish()
        events.extend(room_events)
        tags.extend(room_tags)
        episodes.extend(room.episodes)
    order = sorted(range(len(events)), key=lambda index: events[index]["ts"])
    episodes.sort(key=lambda e: (e.start, e.room))
    return LivedNight(ward, [events[i] for i in order], [tags[i] for i in order], episodes)


def assign_ids(events: Iterable[Event], prefix: str = "") -> None:
    """Give every event an id, unique per device, numbered in the order given."""
    counters: Counter[str] = Counter()
    for event in events:
        counters[event["device"]] += 1
        event["id"] = f"{event['device']}-{prefix}{counters[event['device']]:05d}"


def deliver(
    events: Sequence[Event],
    rng: random.Random,
    late_fraction: float,
    malformed_fraction: float,
) -> tuple[list[RecordingEntry], int, int]:
    """``events`` (in event-time order) as a broker delivers them: ``late_fraction`` of them
    up to ``MAX_DELAY`` s late and, after about ``malformed_fraction`` of them, a malformed
    line. Returns the recording, the number of late events and of malformed lines."""
    if not 0 <= late_fraction <= 1 or not 0 <= malformed_fraction <= 1:
        raise ValueError("late_fraction and malformed_fraction are shares between 0 and 1")
    arrival: list[tuple[float, int, Event]] = []
    late = 0
    for index, event in enumerate(events):
        delay = 0.0
        if late_fraction and rng.random() < late_fraction:
            delay = rng.uniform(1.0, MAX_DELAY)
            late += 1
        arrival.append((event["ts"] + delay, index, event))
    arrival.sort(key=_arrival_order)

    recording: list[RecordingEntry] = []
    malformed = 0
    for _, _, event in arrival:
        recording.append(event)
        if malformed_fraction and rng.random() < malformed_fraction:
            recording.append(_malformed(event, rng))
            malformed += 1
    return recording, late, malformed


def _arrival_order(arrival: tuple[float, int, Event]) -> tuple[float, int]:
    return arrival[0], arrival[1]


def simulate_night(
    ward: Ward,
    seed: int,
    *,
    late_fraction: float = 0.0,
    malformed_fraction: float = 0.0,
    rates: Rates | None = None,
) -> Night:
    """Simulate one night of ``ward``: the recording and the episodes behind it."""
    if not 0 <= late_fraction <= 1 or not 0 <= malformed_fraction <= 1:
        raise ValueError("late_fraction and malformed_fraction are shares between 0 and 1")
    rates = rates or Rates()
    schedule, troubles = plan_night(ward, random.Random(f"{seed}/{ward.site}"), rates)
    lived = live_night(ward, seed, rates, schedule, troubles)
    assign_ids(lived.events)
    recording, late, malformed = deliver(
        lived.events,
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


#: One encoder for every line: ``json.dumps`` with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))


def _compact(value: Any) -> str:
    return _ENCODER.encode(value)


#: Ways a line can be bad input, whether read from a recording or received over MQTT.
_MALFORMED: Final[tuple[Callable[[Event, random.Random], str], ...]] = (
    lambda e, r: _compact(e)[: r.randint(5, 40)],  # cut off
    lambda e, r: "not json at all",
    lambda e, r: _compact([e]),  # not an object
    lambda e, r: _compact(
        {k: v for k, v in e.items() if k != "ts"} | {"id": e["id"] + "-x"}
    ),  # no ts
    lambda e, r: _compact({**e, "id": e["id"] + "-x", "ts": 631152000}),  # 1990
    lambda e, r: _compact({**e, "id": e["id"] + "-x", "event": "exploded"}),  # no such event
    lambda e, r: _compact({**e, "id": e["id"] + "-x", "confidence": 1.5}),  # out of range
    lambda e, r: _compact({**e, "id": e["id"] + "-x", "value": "loud"}),  # ill-typed
    lambda e, r: _compact({**e, "id": e["id"] + "-x", "ts": str(e["ts"])}),  # not RFC 3339
)


def _malformed(event: Event, rng: random.Random) -> str:
    return rng.choice(_MALFORMED)(event, rng)


# --- files ------------------------------------------------------------------------------------


def to_line(entry: RecordingEntry) -> str:
    """One recording line (without the newline)."""
    if isinstance(entry, str):
        return entry
    return _compact(entry)


def write_recording(events: Iterable[RecordingEntry], path: str | Path) -> int:
    """Write a recording as JSONL, gzipped if ``path`` ends in .gz. Returns the lines written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    if path.suffix == ".gz":
        # mtime=0: the same night gives the same bytes
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as stream,
        ):
            batch: list[str] = []
            for entry in events:
                batch.append(to_line(entry))
                if len(batch) == 4096:
                    stream.write(("\n".join(batch) + "\n").encode("utf-8"))
                    lines += len(batch)
                    batch.clear()
            if batch:
                stream.write(("\n".join(batch) + "\n").encode("utf-8"))
                lines += len(batch)
        return lines
    with path.open("w", encoding="utf-8", newline="\n") as text:
        for entry in events:
            text.write(to_line(entry) + "\n")
            lines += 1
    return lines


def iter_recording(path: str | Path) -> Iterator[RecordingEntry | bytes]:
    """The entries of a recording (.jsonl or .jsonl.gz): objects as dicts, every other
    non-blank line as a str (or as bytes, if it is not UTF-8)."""
    path = Path(path)
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        for raw in stream:
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield line
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield text
                continue
            yield value if isinstance(value, dict) else text


def read_recording(path: str | Path) -> list[RecordingEntry | bytes]:
    """All entries of a recording, as ``iter_recording`` gives them."""
    return list(iter_recording(path))


def demo_rule_file(ward: Ward) -> str:
    """A rule file for ``ward`` that tells the service who is at high fall risk, who wanders
    and whose bathroom grace differs from the default (format: rules/README.md)."""
    lines = [
        f"# Rule file for the simulated ward {ward.site} (written by simulators.ward).",
        "# Everything not set here comes from the reference care policy, rules/default.yaml.",
        "version: 1",
        "defaults:",
        f"  timezone: {ward.timezone}",
        f'  night: {{start: "{ward.night_start:%H:%M}", end: "{ward.night_end:%H:%M}"}}',
        "sites:",
        f"  {ward.site}:",
        "    rooms:",
    ]
    for room in ward.rooms:
        resident: list[str] = []
        if room.fall_risk != "normal":
            resident.append(f"fall_risk: {room.fall_risk}")
        if room.wanders:
            resident.append("wanders: true")
        if room.bathroom_grace != DEFAULT_GRACE:
            resident.append(f"bathroom_grace: {_duration(room.bathroom_grace)}")
        sensors = ", ".join(room.kinds())
        body = f"{{resident: {{{', '.join(resident)}}}}}" if resident else "{}"
        lines.append(f'      "{room.name}": {body}  # {sensors}')
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    """A duration as a rule file writes it: ``10m``, ``90s``."""
    if seconds == int(seconds) and int(seconds) % 60 == 0:
        return f"{int(seconds) // 60}m"
    return f"{seconds:g}s"


# --- command line -----------------------------------------------------------------------------


def summary_lines(night: Night) -> list[str]:
    ward = night.ward
    start, end = ward.recording_bounds()
    events = night.events
    kinds = Counter(e["kind"] for e in events if e["event"] != "heartbeat")
    heartbeats = sum(1 for e in events if e["event"] == "heartbeat")
    whats = Counter(_episode_group(e.what) for e in night.episodes)
    actionable = Counter(kind for e in night.episodes for kind in e.expect)
    first = datetime.fromtimestamp(start, ward.zone)
    last = datetime.fromtimestamp(end, ward.zone)
    return [
        f"ward {ward.site}: {len(ward.rooms)} rooms, seed {night.seed}, "
        f"{first:%Y-%m-%d %H:%M} - {last:%Y-%m-%d %H:%M} {ward.timezone}",
        f"events {len(events)} ({heartbeats} heartbeats; "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + f"), {night.late} late, {night.malformed} malformed lines",
        "episodes " + ", ".join(f"{k} {n}" for k, n in whats.most_common()),
        "the reference policy should page: "
        + (", ".join(f"{k} {n}" for k, n in sorted(actionable.items())) or "nothing"),
    ]


def _episode_group(what: str) -> str:
    for prefix in ("round", "wandering", "call", "toilet visit"):
        if what.startswith(prefix):
            return prefix
    if what.startswith("device") or what == "camera obstructed":
        return "device trouble"
    return what.split(" (", maxsplit=1)[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.ward",
        description="Simulate one ward night and write it as a recording (JSONL, or .jsonl.gz).",
    )
    parser.add_argument("--rooms", type=int, default=8, help="number of rooms (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=date(2026, 11, 20),
        help="local date the night starts, YYYY-MM-DD (default 2026-11-20)",
    )
    parser.add_argument("--site", default="zonnehof", help="site name (default zonnehof)")
    parser.add_argument(
        "--out", type=Path, required=True, help="recording to write (.jsonl or .jsonl.gz)"
    )
    parser.add_argument(
        "--late", type=float, default=0.0, help="share of events delivered up to 9 s late"
    )
    parser.add_argument(
        "--malformed", type=float, default=0.0, help="share of events followed by a bad line"
    )
    parser.add_argument(
        "--rules", type=Path, help="also write the rule file with the residents' profiles here"
    )
    args = parser.parse_args(argv)
    if args.rooms < 1:
        parser.error("--rooms must be at least 1")
    if not 0 <= args.late <= 1 or not 0 <= args.malformed <= 1:
        parser.error("--late and --malformed are shares between 0 and 1")
    ward = Ward.typical(args.rooms, site=args.site, day=args.date)
    night = simulate_night(
        ward, args.seed, late_fraction=args.late, malformed_fraction=args.malformed
    )
    lines = write_recording(night.recording, args.out)
    for text in summary_lines(night):
        print(text)
    print(f"wrote {lines} lines to {args.out}")
    if args.rules is not None:
        args.rules.parent.mkdir(parents=True, exist_ok=True)
        args.rules.write_text(demo_rule_file(ward), encoding="utf-8")
        print(f"wrote the rule file {args.rules}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
