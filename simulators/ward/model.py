"""The ward's model: its rooms, the residents and sensors in them, the night to simulate, how often
things happen, what happened (episodes, and the incidents the reference policy must page for
them), and the rule file that tells the service about the residents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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
#: The optical device of a room with a care radar instead of a camera: ``radar-101``.
RADAR_PREFIX: Final = "radar"
#: What a care radar (the Milesight VS373) can say of the six things a camera sees of the
#: resident: a fall, someone lying on the floor, out of bed and back in bed, someone coming into
#: the room and the room empty. It cannot tell staff from the resident, see the bathroom, the
#: bed edge or a person leaving, and nothing covers it (docs/sources.md, "A radar room").
RADAR_EVENTS: Final = frozenset(
    {"fall", "on_floor", "out_of_bed", "in_bed", "entered_room", "no_person"}
)

Event = dict[str, Any]
RecordingEntry = Event | str
#: ``Ward.date`` is a field; inside the class the name no longer means the type
Day = date


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomProfile:
    """One room: who lives there and which sensors it has.

    Every room has a call button and a staff presence button; the other sensors are optional.
    With ``radar`` the room's optical sensor is a care radar (``radar-101``) instead of a camera:
    it reports only :data:`RADAR_EVENTS`, as whole seconds (the radar's clock).
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
    radar: bool = False

    def __post_init__(self) -> None:
        if not (self.has_optical or self.has_bed_mat):
            raise ValueError(f"room {self.name}: something must see the bed (camera or bed mat)")
        if self.radar and not self.has_optical:
            raise ValueError(f"room {self.name}: a radar takes the place of a camera (has_optical)")
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
        prefix = RADAR_PREFIX if kind == "optical" and self.radar else DEVICE_PREFIX[kind]
        return f"{prefix}-{self.name}"


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
#: The rooms of the typical mix that get a care radar instead of their camera in a ward with
#: radars: a resident at high fall risk, one who wanders, and a room without a bed mat (the radar
#: alone sees the bed).
RADAR_ROOMS: Final = (0, 2, 5)


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
    def typical(
        cls,
        rooms: int = 8,
        *,
        site: str = "zonnehof",
        day: Day | None = None,
        radars: bool = False,
    ) -> Ward:
        """A ward of ``rooms`` rooms (named 101, 102, ...) with the typical mix of residents;
        with ``radars``, the rooms of the mix in :data:`RADAR_ROOMS` have a care radar instead
        of a camera (the residents and their nights are the same)."""
        if rooms < 1:
            raise ValueError("a ward has at least one room")
        profiles = []
        for index in range(rooms):
            floor, number = divmod(index, 99)
            name = f"{floor + 1}{number + 1:02d}"
            mix = index % len(TYPICAL_ROOMS)
            radar = radars and mix in RADAR_ROOMS
            profiles.append(dataclasses.replace(TYPICAL_ROOMS[mix], name=name, radar=radar))
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

    @classmethod
    def at(
        cls,
        kind: IncidentKind,
        start: float,
        device: str | None = None,
        *,
        grace: float = 0.0,
    ) -> Expected:
        """An incident of ``kind`` from its first evidence at ``start``, due by its kind's
        deadline (absent-too-long: once the resident's bathroom ``grace`` has run out, too)."""
        deadline = start + DEADLINES[kind]
        if kind == "absent_too_long":
            deadline += grace  # paged once the grace has run out
        return cls(kind, round(start, 3), round(deadline, 3), device)


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

    @classmethod
    def of(cls, room: str, what: str, start: float, end: float, *incidents: Expected) -> Episode:
        """An episode that the reference care policy must page ``incidents`` for."""
        return cls(room, what, start, end, tuple(i.kind for i in incidents), incidents)


def valid_events(recording: list[RecordingEntry]) -> list[Event]:
    """The valid events of a recording (its dicts: the malformed lines are str), in order."""
    return [entry for entry in recording if isinstance(entry, dict)]


# --- the rule file ----------------------------------------------------------------------------


def demo_rule_file(ward: Ward, *, written_by: str = "simulators.ward") -> str:
    """A rule file for ``ward`` that tells the service who is at high fall risk, who wanders
    and whose bathroom grace differs from the default (format: rules/README.md); its first line
    names the simulator that wrote it, ``written_by``."""
    lines = [
        f"# Rule file for the simulated ward {ward.site} (written by {written_by}).",
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
        if room.radar:
            sensors = sensors.replace("optical", "radar")
        body = f"{{resident: {{{', '.join(resident)}}}}}" if resident else "{}"
        lines.append(f'      "{room.name}": {body}  # {sensors}')
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    """A duration as a rule file writes it: ``10m``, ``90s``."""
    if seconds == int(seconds) and int(seconds) % 60 == 0:
        return f"{int(seconds) // 60}m"
    return f"{seconds:g}s"
