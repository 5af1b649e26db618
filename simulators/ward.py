"""A simulated ward night, as a recording (CONTRACT.md section 3).

``generate_night(ward, seed)`` lives through one night of a ward, room by room, and returns the
sensor events it produced, in the order a broker would deliver them: residents going to bed,
turning over (the bed mat lifts for a moment while the camera keeps seeing them in bed), sitting
on the bed edge, toilet visits, falls and things that look like falls, resident calls, wanderers
leaving their room, coughs and calling out, staff rounds with and without the presence button,
heartbeats, and a few ailing devices. Most of what a conventional system would sound an alarm
for needs nobody to go to the room; a few things do.

The same ward and seed always give the same night, byte for byte. Each resident's life draws
from a random stream of its own room, so adding a room changes little in the others (the staff
rounds and which devices fail are drawn for the whole ward).

Command line::

    python -m simulators.ward --rooms 8 --seed 1 --date 2026-11-20 --out night.jsonl \\
        [--late 0.02] [--malformed 0.001] [--rules rules.yaml]

Building on it: ``simulate_night`` returns the events together with the ``Episode`` list (what
happened, where, when, and which incidents the reference policy should page for it), which is
the start of a ground truth; ``Rates`` holds how often each thing happens.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

FallRisk = Literal["low", "normal", "high"]

#: Devices report that they are alive this often (seconds).
HEARTBEAT_EVERY: Final = 300.0
#: Late events arrive at most this long after their event time (the contract allows 10 s).
MAX_DELAY: Final = 9.0
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
    """

    name: str
    fall_risk: FallRisk = "normal"
    wanders: bool = False
    has_optical: bool = True
    has_bed_mat: bool = True
    has_door: bool = True
    has_motion: bool = False
    has_acoustic: bool = False

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
            profiles.append(
                RoomProfile(
                    name,
                    fall_risk=base.fall_risk,
                    wanders=base.wanders,
                    has_optical=base.has_optical,
                    has_bed_mat=base.has_bed_mat,
                    has_door=base.has_door,
                    has_motion=base.has_motion,
                    has_acoustic=base.has_acoustic,
                )
            )
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

    turning: float = 3.0  # turns over hard enough to lift the bed mat for a moment
    edge_sitting: float = 1.5  # sits on the bed edge and lies back
    toilet: float = 1.6  # toilet visits
    toilet_long: float = 0.05  # share of toilet visits that outlast the 15 min grace
    fall: float = 0.1  # real falls: far more than on a real ward, so a night shows one
    blanket: float = 0.35  # a blanket sliding to the floor: the camera reports a fall
    kneeling: float = 0.25  # kneels to pick something up: the camera reports on_floor
    call: float = 0.8  # resident calls
    call_repeated: float = 0.3  # share of calls pressed again before staff arrive
    call_cancelled: float = 0.25  # share of calls cancelled by the resident
    wander: float = 1.0  # leaves the room (residents who wander only)
    cough: float = 4.0  # single loud sound reports (rooms with a sound monitor)
    calling_out: float = 0.25  # sustained calling out for a minute (sound monitor)
    murmur: float = 3.0  # sound below the threshold: snoring, talking in sleep
    staff_respond: float = 0.7  # share of bed exits and sounds that staff come to look at
    care_visit: float = 0.6  # share of round visits with the presence button and care
    care_out_of_bed: float = 0.3  # share of care visits with the resident out of bed


# --- what happened ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Episode:
    """Something that happened in a room.

    ``expect`` names the incidents the reference care policy should page for it (as far as
    the simulator can tell); empty for everything that needs nobody to go to the room.
    """

    room: str
    what: str
    start: float
    end: float
    expect: tuple[str, ...] = ()


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


# --- one room through the night ---------------------------------------------------------------


class _RoomNight:
    """Lives through one room's night. Every episode starts and ends with the resident in bed."""

    def __init__(
        self,
        ward: Ward,
        profile: RoomProfile,
        seed: int,
        rates: Rates,
    ) -> None:
        self.ward = ward
        self.profile = profile
        self.rates = rates
        self.rng = random.Random(f"{seed}/{ward.site}/{profile.name}")
        self.kinds = frozenset(profile.kinds())
        self.events: list[Event] = []
        self.episodes: list[Episode] = []
        self.night_start, self.night_end = ward.night_bounds()
        self.start, self.end = ward.recording_bounds()
        self.silent_from: dict[str, float] = {}
        self.high = profile.fall_risk == "high"

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
        record: Event = {
            "ts": round(t, 3),
            "site": self.ward.site,
            "room": self.profile.name,
            "kind": kind,
            "device": self.profile.device(kind),
            "event": event,
        }
        if value is not None:
            record["value"] = round(value, 1)
        if confidence is not None:
            record["confidence"] = round(confidence, 2)
        self.events.append(record)

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

    def episode(self, what: str, start: float, end: float, *expect: str) -> None:
        self.episodes.append(Episode(self.profile.name, what, start, end, tuple(expect)))

    def u(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # the night ------------------------------------------------------------------------------

    def live(self, scheduled: list[_Scheduled]) -> None:
        # episodes of the night start once the resident is in bed and the night has begun
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
            at = t + self.rng.expovariate(rate)
            if queue and queue[0].at <= at:
                item = queue.pop(0)
                t = self.scheduled(item.what, max(item.at, t)) + self.u(5, 60)
                continue
            if at >= last_start:
                break
            what = self.rng.choices(names, weights)[0]
            t = getattr(self, what)(at) + self.u(20, 120)
        for item in queue:
            if max(item.at, t) < self.end - 300:
                t = self.scheduled(item.what, max(item.at, t)) + self.u(5, 60)

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
        self.see(up_at, self.rng.choice(("out_of_bed", "sitting_on_edge", "in_bathroom")))
        self.mat(up_at + self.u(0, 5), occupied=False)
        self.movement(up_at, up_at + 60)
        if self.high or self.profile.wanders:
            # staff help residents at risk to bed before the night starts
            arrive = self.start + self.u(300, 1200)
            leave = arrive + self.u(300, 600)
            self.staff_visit(arrive, leave, button=True, help_to_bed=True)
            self.episode("helped to bed", arrive, leave)
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
        t = arrive + self.u(1, 4)
        while t < leave - 5:
            self.see(t, self.rng.choice(("multiple_persons", "staff_present")))
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
            self.emit(leave + self.u(0.5, 2), "presence", "staff_out")
        self.emit(leave + self.u(4, 8), "door", "closed")

    def round_visit(self, t: float) -> float:
        """A staff round: a quick look, or care with the presence button."""
        if self.chance(self.rates.care_visit):
            leave = t + self.u(120, 480)
            self.staff_visit(
                t, leave, button=True, out_of_bed=self.chance(self.rates.care_out_of_bed)
            )
            self.episode("round: care", t, leave)
        else:
            leave = t + self.u(15, 50)
            self.staff_visit(t, leave, button=False)
            self.episode("round: a look", t, leave)
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
        if lifted:
            self.mat(t + self.u(0, 2), occupied=False)
        back = t + self.u(15, 150)
        self.see(back, "in_bed")
        if lifted:
            self.mat(back + self.u(0.3, 2), occupied=True)
        self.movement(t, back)
        # where only the mat sees the bed, a long enough lift is a bed exit for the policy
        expect = ("bed_exit",) if lifted and self.high and "optical" not in self.kinds else ()
        self.episode("sitting on the bed edge", t, back, *expect)
        return back

    def get_up(self, t: float) -> float:
        """Sits up and gets out of bed; returns the time they stand."""
        if self.chance(0.6):
            self.see(t, "sitting_on_edge")
            t += self.u(5, 40)
        self.mat(t, occupied=False)
        self.see(t + self.u(0.5, 2), "out_of_bed")
        return t

    def back_to_bed(self, t: float) -> float:
        self.see(t, "out_of_bed")
        in_bed = t + self.u(10, 40)
        self.see(in_bed, "in_bed")
        self.mat(in_bed + self.u(0.5, 2), occupied=True)
        return in_bed

    def exit_expect(self, away: float) -> tuple[str, ...]:
        """What the policy pages for a bed exit of ``away`` seconds with nobody coming."""
        if self.high:
            return ("bed_exit",)
        if away > 15 * 60:
            return ("absent_too_long",)
        return ()

    def toilet(self, t: float) -> float:
        """Out of bed to the bathroom and back, usually within a few minutes."""
        up = self.get_up(t)
        bathroom = up + self.u(5, 25)
        self.see(bathroom, "in_bathroom")
        long_stay = self.chance(self.rates.toilet_long)
        stay = self.u(16 * 60, 25 * 60) if long_stay else self.u(90, 420)
        back = bathroom + stay
        self.movement(up, back + 40)
        in_bed = self.back_to_bed(back)
        expect = self.exit_expect(in_bed - up)
        if self.high and self.chance(self.rates.staff_respond):
            # the bed-exit page brings someone to look
            arrive = up + self.u(90, 300)
            if arrive < in_bed - 30:
                leave = self.staff_come(arrive)
                in_bed = max(in_bed, leave)
        self.episode("toilet visit", t, in_bed, *expect)
        return in_bed

    def fall(self, t: float) -> float:
        """Gets up, falls and stays on the floor until staff come."""
        up = self.get_up(t)
        fell = up + self.u(3, 90)
        self.see(fell, "fall", confidence=self.u(0.75, 0.98))
        self.see(fell + self.u(1.5, 4), "on_floor")
        expect: list[str] = ["bed_exit"] if self.high else []
        if "optical" in self.kinds:
            expect.append("fall")
            arrive = fell + self.u(120, 360)
        elif self.chance(0.5):
            # no camera: the resident reaches the pull cord
            pressed = fell + self.u(30, 240)
            self.emit(pressed, "call", "pressed")
            expect.append("call")
            arrive = pressed + self.u(90, 300)
        elif self.high:
            arrive = up + self.u(150, 420)  # the bed-exit page brought someone
        else:
            expect.append("absent_too_long")
            arrive = up + 15 * 60 + self.u(120, 360)  # the absent-too-long page did
        if "acoustic" in self.kinds and self.chance(0.5):
            self.loud(fell + self.u(10, 30), self.u(40, 90), level=(70, 85))
            if "fall" not in expect and "bed_exit" not in expect:
                expect.append("acoustic")  # nothing more severe is open: calling out is paged
        on_floor_again = fell + self.u(30, 60)
        while on_floor_again < arrive:
            self.see(on_floor_again, "on_floor")
            on_floor_again += self.u(30, 60)
        self.movement(up, fell + 10)
        leave = self.staff_come(arrive, help_to_bed=True)
        if "call" in expect:
            self.emit(arrive + self.u(3, 10), "call", "cancelled")
        self.episode("fall", t, leave, *expect)
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
        up = self.get_up(t)
        kneel = up + self.u(5, 30)
        self.see(kneel, self.rng.choice(("on_floor", "fall")), confidence=self.u(0.6, 0.9))
        self.see(kneel + self.u(2, 5), "out_of_bed")
        back = kneel + self.u(20, 90)
        self.movement(up, back)
        in_bed = self.back_to_bed(back)
        self.episode("kneeling (fall look-alike)", t, in_bed, *self.exit_expect(in_bed - up))
        return in_bed

    # calls --------------------------------------------------------------------------------

    def call(self, t: float) -> float:
        """Presses the call button: cancels it, or presses again until staff come."""
        self.emit(t, "call", "pressed")
        if self.chance(self.rates.call_cancelled):
            done = t + self.u(3, 25)
            self.emit(done, "call", "cancelled")
            self.episode("call, cancelled by the resident", t, done, "call")
            return done
        arrive = t + self.u(90, 420)
        if self.chance(self.rates.call_repeated):
            again = t
            for _ in range(self.rng.randint(1, 3)):
                again += self.u(20, 120)
                if again < arrive - 5:
                    self.emit(again, "call", "pressed")
        leave = arrive + self.u(120, 480)
        # staff reset the call at the room, then help
        self.staff_visit(
            arrive, leave, button=True, out_of_bed=self.chance(self.rates.care_out_of_bed)
        )
        self.emit(arrive + self.u(3, 10), "call", "cancelled")
        self.episode("call", t, leave, "call")
        return leave

    # wandering --------------------------------------------------------------------------------

    def wander(self, t: float) -> float:
        """Leaves the room; comes back alone, or staff bring them back."""
        up = self.get_up(t)
        door = up + self.u(20, 120)
        self.movement(up, door - 2)
        self.emit(door, "door", "open")
        self.see(door + self.u(1, 3), "left_room")
        self.emit(door + self.u(5, 10), "door", "closed")
        self.see(door + self.u(15, 40), "no_person")
        expect = ["bed_exit"] if self.high else []
        expect.append("wandering")
        alone = self.chance(0.35)
        # alone: back after a short walk; else staff, paged, find them and bring them back
        back = door + (self.u(60, 400) if alone else self.u(150, 480))
        self.emit(back, "door", "open")
        self.see(back + self.u(1, 3), "entered_room")
        self.emit(back + self.u(5, 10), "door", "closed")
        if alone:
            in_bed = back + self.u(30, 120)
            self.movement(back + self.u(2, 5), in_bed)
            self.see(in_bed - self.u(5, 20), "sitting_on_edge")
            self.see(in_bed, "in_bed")
            self.mat(in_bed + self.u(0.5, 2), occupied=True)
            self.episode("wandering, came back alone", t, in_bed, *expect)
            return in_bed
        leave = self.staff_come(back + self.u(0.5, 2), help_to_bed=True)
        self.episode("wandering, brought back", t, leave, *expect)
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
        self.episode("murmur", t, done)
        return done

    def calling_out(self, t: float) -> float:
        """Calls out for a minute: at least 70 dB(A) every 5 s."""
        done = self.loud(t, 60.0, level=(70, 82))
        self.episode("calling out", t, done, "acoustic")
        if self.chance(self.rates.staff_respond):
            done = self.staff_come(done + self.u(30, 180))
        return done

    # devices ----------------------------------------------------------------------------------

    def obstructed(self, t: float) -> float:
        """Something covers the camera for two minutes (the resident stays in bed)."""
        self.see(t, "obstructed")
        self.see(t + 60, "obstructed")
        done = t + 120
        self.see(done, "in_bed")
        self.episode("camera obstructed", t, done, "device_fault")
        return done

    def heartbeats(self, battery_low: dict[str, float]) -> None:
        """Every device says it is alive every 5 min; a device in ``battery_low`` (device ->
        from when) adds ``battery_low`` to its heartbeats, once an hour."""
        for kind in sorted(self.kinds):
            device = self.profile.device(kind)
            low_from = battery_low.get(device, math.inf)
            if low_from < math.inf:
                self.episode(f"{device} battery low", low_from, low_from, "device_fault")
            t = self.start + self.u(0, HEARTBEAT_EVERY)
            while t < self.end:
                self.emit(t, kind, "heartbeat")
                if t >= low_from:
                    self.emit(t + 0.2, kind, "battery_low", value=self.u(5, 12))
                    low_from = t + 3600
                t += HEARTBEAT_EVERY + self.u(-1, 1)

    def go_silent(self, device: str, t: float) -> None:
        """``device`` sends nothing from ``t`` on (its battery died)."""
        self.silent_from[device] = t
        self.episode(f"{device} goes silent", t, t, "device_fault")

    def finish(self) -> list[Event]:
        """The room's events within the recording, in event-time order."""
        events = [e for e in self.events if self.start <= e["ts"] <= self.end]
        if self.silent_from:
            events = [e for e in events if e["ts"] < self.silent_from.get(e["device"], math.inf)]
        events.sort(key=lambda e: e["ts"])  # stable: same-time events keep their order
        return events


# --- the ward ---------------------------------------------------------------------------------


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
    ward_rng = random.Random(f"{seed}/{ward.site}")
    night_start, night_end = ward.night_bounds()
    rooms = [_RoomNight(ward, profile, seed, rates) for profile in ward.rooms]

    # staff rounds every two hours, room after room
    schedule: dict[str, list[_Scheduled]] = {room.profile.name: [] for room in rooms}
    first_round = night_start + 3600
    for hour in range(0, int((night_end - first_round) // 3600), 2):
        at = first_round + hour * 3600 + ward_rng.uniform(-600, 600)
        for room in rooms:
            schedule[room.profile.name].append(_Scheduled(at, "round"))
            at += ward_rng.uniform(120, 300)

    # ailing devices, about one of each per eight rooms: a camera obstructed, a battery running
    # low, a device gone silent
    troubles = max(1, round(len(rooms) / 8))
    middle = (night_start + 3600, night_end - 2 * 3600)
    with_camera = [room for room in rooms if "optical" in room.kinds]
    for room in ward_rng.sample(with_camera, min(troubles, len(with_camera))):
        schedule[room.profile.name].append(_Scheduled(ward_rng.uniform(*middle), "obstructed"))
    battery_powered = sorted(
        (room.profile.name, room.profile.device(kind))
        for room in rooms
        for kind in room.kinds
        if kind in ("bed", "door", "motion", "acoustic", "presence")
    )
    battery_low: dict[str, dict[str, float]] = {}  # room -> device -> from when
    for name, device in ward_rng.sample(battery_powered, min(troubles, len(battery_powered))):
        battery_low.setdefault(name, {})[device] = ward_rng.uniform(*middle)
    # a device that goes silent is one whose silence hides no care incident: a sensor that the
    # room's camera backs up
    redundant = sorted(
        (room.profile.name, room.profile.device(kind))
        for room in rooms
        for kind in room.kinds
        if "optical" in room.kinds
        and (kind in ("bed", "motion") or (kind == "door" and not room.profile.wanders))
        and room.profile.device(kind) not in battery_low.get(room.profile.name, {})
    )
    silent: dict[str, dict[str, float]] = {}
    for name, device in ward_rng.sample(redundant, min(troubles, len(redundant))):
        silent.setdefault(name, {})[device] = ward_rng.uniform(*middle)

    events: list[Event] = []
    episodes: list[Episode] = []
    for room in rooms:
        name = room.profile.name
        room.live(schedule[name])
        room.heartbeats(battery_low.get(name, {}))
        for device, since in silent.get(name, {}).items():
            room.go_silent(device, since)
        events.extend(room.finish())
        episodes.extend(room.episodes)
    events.sort(key=lambda e: e["ts"])
    episodes.sort(key=lambda e: (e.start, e.room))

    # ids: unique per device, in event-time order
    counters: Counter[str] = Counter()
    for event in events:
        counters[event["device"]] += 1
        event["id"] = f"{event['device']}-{counters[event['device']]:05d}"

    delivery_rng = random.Random(f"{seed}/{ward.site}/delivery")
    arrival: list[tuple[float, int, Event]] = []
    late = 0
    for index, event in enumerate(events):
        delay = 0.0
        if late_fraction and delivery_rng.random() < late_fraction:
            delay = delivery_rng.uniform(1.0, MAX_DELAY)
            late += 1
        arrival.append((event["ts"] + delay, index, event))
    arrival.sort(key=lambda a: (a[0], a[1]))

    recording: list[RecordingEntry] = []
    malformed = 0
    for _, _, event in arrival:
        recording.append(event)
        if malformed_fraction and delivery_rng.random() < malformed_fraction:
            recording.append(_malformed(event, delivery_rng))
            malformed += 1
    return Night(ward, seed, recording, episodes, late=late, malformed=malformed)


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


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


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
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as stream,
        ):
            for entry in events:
                stream.write((to_line(entry) + "\n").encode("utf-8"))
                lines += 1
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
    """A rule file for ``ward`` that tells the service who is at high fall risk and who
    wanders (format: rules/README.md)."""
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
        sensors = ", ".join(room.kinds())
        body = f"{{resident: {{{', '.join(resident)}}}}}" if resident else "{}"
        lines.append(f'      "{room.name}": {body}  # {sensors}')
    return "\n".join(lines) + "\n"


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
    for prefix in ("round", "wandering", "call"):
        if what.startswith(prefix):
            return prefix
    if what.endswith(("goes silent", "battery low")) or what == "camera obstructed":
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
