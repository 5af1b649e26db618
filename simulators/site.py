"""A simulated site over one or more nights: the recording, its ground truth, and the census.

``simulate_site(rooms, nights, start, seed)`` lives through ``nights`` consecutive nights of a
care home of ``rooms`` rooms (wings of 12, each with its own staff rounds), night by night with
``simulators.ward``: each night is seeded from (seed, night index), so a site is reproducible
and what happens in a night does not depend on how many nights follow it; the residents keep
their profile (fall risk, wandering, bathroom grace, sensors) all week. Between the nights the
devices go on sending heartbeats, a battery that ran low at night is replaced in the morning,
and a device that went silent is repaired.

It gives three things (formats in ``sensorhub.evaluation.truth``):

- the **recording** (CONTRACT.md section 3): every event in delivery order, with network
  jitter (a share of events up to 9 s late) and a sprinkling of malformed lines;
- the **ground truth**: every episode of ward life with a label a researcher understands, and
  every actionable incident of the reference care policy (section 4) with its room, kind,
  audience, start (the event time of its first evidence; for absent-too-long when the resident
  left the bed; for device faults when the fault became actionable) and deadline. It is derived
  from what the simulator scripted, never by running a classifier;
- the **census** of a conventional system: each alarm-capable event an alarm, re-armed per device
  after 60 s (bed mats, cameras, call buttons and sound monitors at or above the room's
  threshold everywhere; door contacts and motion sensors where the resident wanders), each
  attributed to the episode it was part of, and ``actionable`` if that episode had an
  actionable care incident.

Command line::

    python -m simulators.site --rooms 36 --nights 7 --start 2026-10-22 --seed 1 \\
        --late 0.02 --malformed 0.001 --out out/week

writes ``out/week.jsonl.gz``, ``out/week.truth.json``, ``out/week.census.jsonl`` and the site's
rule file ``out/week.rules.yaml``.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

from sensorhub.contract import reduction
from sensorhub.core.care import (
    CONVENTIONAL_ALARMS,
    CONVENTIONAL_LOUD_ONLY,
    CONVENTIONAL_REARM,
    CONVENTIONAL_WANDERERS_ONLY,
)
from sensorhub.evaluation.truth import (
    ConventionalAlarm,
    Episode,
    GroundTruth,
    RoomTruth,
    TruthIncident,
    sibling,
    write_census,
)
from sensorhub.rules import Policy, load_policy
from simulators import ward as w
from simulators.ward import (
    TYPICAL_ROOMS,
    WING,
    Event,
    Rates,
    RecordingEntry,
    RoomProfile,
    Ward,
)
from simulators.ward.cli import add_delivery_options, check_delivery_options, degradation_of

#: The residents and sensors of a wing of twelve rooms, repeated for every wing: the eight of a
#: typical ward (``simulators.ward.TYPICAL_ROOMS``; its low-risk resident has a longer bathroom
#: grace here), then four more. In all: three at high fall risk, two who wander (always with a
#: motion sensor), residents with a shorter (10, 12 min) or longer (20 min) bathroom grace, four
#: rooms with only a bed mat and no camera, one with a camera and no bed mat, five with a sound
#: monitor.
SITE_MIX: Final[tuple[RoomProfile, ...]] = (
    *TYPICAL_ROOMS[:-1],
    dataclasses.replace(TYPICAL_ROOMS[-1], bathroom_grace=1200.0),
    RoomProfile("", has_acoustic=True, bathroom_grace=600.0),
    RoomProfile("", has_optical=False, bathroom_grace=720.0),
    RoomProfile("", fall_risk="high", has_acoustic=True),
    RoomProfile("", has_optical=False, bathroom_grace=600.0),
)

#: How often things happen on the simulated site (per resident per night): enough look-alikes
#: that, as measured in Dutch nursing homes, roughly a fifth to a quarter of the conventional
#: alarms belong to something that needed a carer in the room.
SITE_RATES: Final = Rates()


def site_rooms(rooms: int) -> tuple[RoomProfile, ...]:
    """``rooms`` rooms in wings of 12 (101-112, 201-212, ...) with the mix of ``SITE_MIX``."""
    if rooms < 1:
        raise ValueError("a site has at least one room")
    profiles = []
    for index in range(rooms):
        wing, number = divmod(index, WING)
        base = SITE_MIX[number % len(SITE_MIX)]
        profiles.append(dataclasses.replace(base, name=f"{wing + 1}{number + 1:02d}"))
    return tuple(profiles)


@dataclass(frozen=True, slots=True)
class NightDone:
    """Progress: one night has been lived."""

    index: int
    ward: Ward
    events: int  # activity events, without heartbeats
    episodes: int
    incidents: int
    seconds: float


@dataclass(slots=True)
class SiteRun:
    """A simulated site: the recording, its ground truth and the census."""

    site: str
    seed: int
    rooms: tuple[RoomProfile, ...]
    wards: list[Ward]  # one per night
    recording: list[RecordingEntry]
    truth: GroundTruth
    census: list[ConventionalAlarm]
    late: int = 0
    malformed: int = 0

    @property
    def events(self) -> list[Event]:
        """The valid events, in delivery order."""
        return w.valid_events(self.recording)

    @property
    def care_incidents(self) -> list[TruthIncident]:
        return [i for i in self.truth.incidents if i.audience == "care"]

    @property
    def actionable_share(self) -> float:
        """The share of conventional alarms that belong to an actionable care incident."""
        if not self.census:
            return 0.0
        return sum(alarm.actionable for alarm in self.census) / len(self.census)

    @property
    def best_reduction(self) -> float:
        """1 - care incidents / conventional alarms: one reaction per incident, no more."""
        return reduction(len(self.care_incidents), len(self.census))

    def rule_file(self) -> str:
        """The site's rule file, with every resident's profile."""
        return site_rule_file(self.wards[0])


def site_rule_file(ward: Ward) -> str:
    """The rule file of a site whose rooms are ``ward``'s, with every resident's profile."""
    return w.demo_rule_file(ward, written_by="simulators.site")


def site_policy(ward: Ward) -> Policy:
    """The policy the site's rule file compiles to, over the shipped reference policy: what
    ``replay`` and ``serve`` decide the site's rooms with (thresholds, who wanders)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site.rules.yaml"
        path.write_text(site_rule_file(ward), encoding="utf-8")
        return load_policy(path)


def simulate_site(  # noqa: PLR0917 -- the signature issue 3 asks for: the shares are positional
    rooms: int,
    nights: int,
    start: date,
    seed: int,
    late_fraction: float = 0.0,
    malformed_fraction: float = 0.0,
    *,
    site: str = "zonnehof",
    rates: Rates | None = None,
    progress: Callable[[NightDone], None] | None = None,
    degradation: w.Degradation | None = None,
) -> SiteRun:
    """Simulate ``nights`` nights of a site of ``rooms`` rooms, the first starting on the
    evening of ``start`` (local date). ``late_fraction`` of the events are delivered up to
    9 s late; after about ``malformed_fraction`` of them comes a malformed line; the sensors
    misbehave as ``degradation`` says (the truth and the census are of what happened)."""
    if nights < 1:
        raise ValueError("a site is simulated for at least one night")
    w.check_shares(late_fraction, malformed_fraction)
    rates = rates or SITE_RATES
    profiles = site_rooms(rooms)
    wards = [Ward(site, profiles, start + timedelta(days=index)) for index in range(nights)]

    events: list[Event] = []
    tags: list[w.Episode | None] = []
    episodes: list[tuple[int, w.Episode]] = []  # (night index, episode)
    replaced: set[str] = set()  # batteries that ran low once are new: they do not again
    lows: dict[str, tuple[int, float]] = {}  # device -> (night index, low from)
    silences: dict[str, list[tuple[int, float]]] = defaultdict(list)  # device -> (night, from)
    for index, ward in enumerate(wards):
        began = time.perf_counter()
        night_seed = f"{seed}/{index}"
        schedule, troubles = w.plan_night(
            ward, random.Random(f"{night_seed}/{site}"), rates, spare=replaced
        )
        lived = w.live_night(ward, night_seed, rates, schedule, troubles, devices=False)
        events.extend(lived.events)
        tags.extend(lived.tags)
        episodes.extend((index, episode) for episode in lived.episodes)
        for devices in troubles.battery_low.values():
            for device, since in devices.items():
                lows[device] = (index, since)
                replaced.add(device)
        for devices in troubles.silent.values():
            for device, since in devices.items():
                silences[device].append((index, since))
        if progress is not None:
            progress(
                NightDone(
                    index,
                    ward,
                    len(lived.events),
                    len(lived.episodes),
                    sum(len(e.incidents) for e in lived.episodes),
                    time.perf_counter() - began,
                )
            )

    # the devices over the whole run: heartbeats, batteries replaced and silent devices
    # repaired the morning after
    run_start, run_end = wards[0].recording_bounds()[0], wards[-1].recording_bounds()[1]

    def morning_after(index: int, rng: random.Random) -> float:
        if index == len(wards) - 1:
            return run_end + 1
        return wards[index].night_bounds()[1] + rng.uniform(3600, 4 * 3600)

    device_rng = random.Random(f"{seed}/{site}/devices")
    for profile in profiles:
        for kind in profile.kinds():
            device = profile.device(kind)
            low: tuple[float, float] | None = None
            if device in lows:
                index, since = lows[device]
                low = (since, morning_after(index, device_rng))
            beats, reports = w.heartbeat_events(
                site,
                profile,
                kind,
                start=run_start,
                end=run_end,
                rng=random.Random(f"{seed}/{site}/{device}/heartbeats"),
                battery_low=low,
            )
            events.extend(beats)
            tags.extend([None] * len(beats))
            if reports:
                battery = w.battery_low_episode(profile.name, device, reports)
                episodes.append((lows[device][0], battery))

    events, tags = w.in_event_time(events, tags)

    # silent devices: nothing from them until they are repaired
    room_of = {p.device(kind): p.name for p in profiles for kind in p.kinds()}
    heard_at: dict[str, list[float]] = {device: [] for device in silences}
    for event in events:
        if event["device"] in heard_at:
            heard_at[event["device"]].append(event["ts"])
    silent_windows: dict[str, list[tuple[float, float]]] = {}
    for device, spells in sorted(silences.items()):
        for index, since in spells:
            until = morning_after(index, device_rng)
            silent_windows.setdefault(device, []).append((since, until))
            heard = heard_at[device]
            last = bisect.bisect_left(heard, since) - 1  # the last event before the silence
            if last >= 0:
                end = min(until, run_end)
                silent = w.silent_episode(room_of[device], device, since, end, heard[last])
                episodes.append((index, silent))
    if silent_windows:
        kept = [
            index
            for index, event in enumerate(events)
            if event["device"] not in silent_windows
            or not any(a <= event["ts"] < b for a, b in silent_windows[event["device"]])
        ]
        events = [events[i] for i in kept]
        tags = [tags[i] for i in kept]

    w.assign_ids(events)
    sent = w.degrade(events, degradation or w.Degradation(), f"{seed}/{site}/sensors")
    recording, late, malformed = w.deliver(
        sent, random.Random(f"{seed}/{site}/delivery"), late_fraction, malformed_fraction
    )

    truth, episode_ids = _ground_truth(site, seed, wards, profiles, episodes)
    census = _census(
        events=events,
        tags=tags,
        episode_ids=episode_ids,
        truth=truth,
        wards=wards,
        policy=site_policy(wards[0]),
    )
    return SiteRun(
        site, seed, profiles, wards, recording, truth, census, late=late, malformed=malformed
    )


def _ground_truth(
    site: str,
    seed: int,
    wards: list[Ward],
    profiles: tuple[RoomProfile, ...],
    episodes: list[tuple[int, w.Episode]],
) -> tuple[GroundTruth, dict[int, int]]:
    """The ground truth, and the id given to each episode (by ``id()`` of the episode)."""
    ordered = sorted(episodes, key=lambda pair: (pair[1].start, pair[1].room, pair[1].what))
    truth_episodes: list[Episode] = []
    incidents: list[TruthIncident] = []
    ids: dict[int, int] = {}
    for number, (index, episode) in enumerate(ordered, start=1):
        night = wards[index].date.isoformat()
        ids[id(episode)] = number
        truth_episodes.append(
            Episode(
                id=number,
                site=site,
                room=episode.room,
                night=night,
                label=episode.what,
                start=round(episode.start, 3),
                end=round(episode.end, 3),
            )
        )
        incidents.extend(
            TruthIncident(
                site=site,
                room=episode.room,
                night=night,
                kind=incident.kind,
                audience=incident.audience,
                start=incident.start,
                deadline=incident.deadline,
                episode=number,
                device=incident.device,
            )
            for incident in episode.incidents
        )
    incidents.sort(key=lambda i: (i.start, i.room, i.kind))
    truth = GroundTruth(
        site=site,
        timezone=wards[0].timezone,
        seed=seed,
        nights=[ward.date.isoformat() for ward in wards],
        rooms=[
            RoomTruth(
                room=p.name,
                fall_risk=p.fall_risk,
                wanders=p.wanders,
                bathroom_grace=p.bathroom_grace,
                devices=list(p.kinds()),
            )
            for p in profiles
        ],
        episodes=truth_episodes,
        incidents=incidents,
    )
    return truth, ids


def _census(
    *,
    events: list[Event],
    tags: list[w.Episode | None],
    episode_ids: dict[int, int],
    truth: GroundTruth,
    wards: list[Ward],
    policy: Policy,
) -> list[ConventionalAlarm]:
    """Every alarm of a conventional system, in event-time order (``events`` is).

    The rule is the reference classifier's (``Classifier._count_conventional``, its constants
    shared): an alarm per device, keyed ``(site, room, kind, device)``, re-armed after
    ``CONVENTIONAL_REARM`` s; door and motion only where the room's resident wanders; sound
    only at or above the room's own ``acoustic_threshold`` in ``policy``."""
    actionable = {i.episode for i in truth.incidents if i.audience == "care"}
    night_of = {e.id: e.night for e in truth.episodes}
    starts = [ward.recording_bounds()[0] for ward in wards]
    last_alarm: dict[tuple[str, str, str, str], float] = {}
    alarms: list[ConventionalAlarm] = []
    for event, tag in zip(events, tags, strict=True):
        kind = event["kind"]
        if event["event"] not in CONVENTIONAL_ALARMS.get(kind, ()):
            continue
        room = policy.room(event["site"], event["room"])
        if kind in CONVENTIONAL_WANDERERS_ONLY and not room.wanders:
            continue
        value = event.get("value")
        if kind in CONVENTIONAL_LOUD_ONLY and (value is None or value < room.acoustic_threshold):
            continue
        ts = event["ts"]
        key = (event["site"], event["room"], kind, event["device"])
        last = last_alarm.get(key)
        if last is not None and abs(ts - last) < CONVENTIONAL_REARM:
            continue
        last_alarm[key] = ts
        episode = episode_ids.get(id(tag)) if tag is not None else None
        night = (
            night_of[episode]
            if episode is not None
            else wards[max(0, bisect.bisect_right(starts, ts) - 1)].date.isoformat()
        )
        alarms.append(
            ConventionalAlarm(
                ts=ts,
                site=event["site"],
                room=event["room"],
                kind=kind,
                device=event["device"],
                event=event["event"],
                night=night,
                episode=episode,
                actionable=episode in actionable,
            )
        )
    return alarms


# --- files ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteFiles:
    recording: Path
    truth: Path
    census: Path
    rules: Path


def site_files(out: Path) -> SiteFiles:
    """The files of a site written to ``out``: a stem (``out/week``: the recording is gzipped)
    or the recording's name (``out/week.jsonl`` or ``out/week.jsonl.gz``)."""
    name = out.name
    recording = out if name.endswith((".jsonl", ".jsonl.gz")) else out.with_name(name + ".jsonl.gz")
    return SiteFiles(
        recording=recording,
        truth=sibling(recording, ".truth.json"),
        census=sibling(recording, ".census.jsonl"),
        rules=sibling(recording, ".rules.yaml"),
    )


def write_site(run: SiteRun, out_stem: Path) -> SiteFiles:
    """Write the recording, the truth, the census and the rule file of ``run``."""
    files = site_files(out_stem)
    files.recording.parent.mkdir(parents=True, exist_ok=True)
    w.write_recording(run.recording, files.recording)
    run.truth.save(files.truth)
    write_census(run.census, files.census)
    files.rules.write_text(run.rule_file(), encoding="utf-8")
    return files


# --- command line -----------------------------------------------------------------------------


def _night_line(done: NightDone) -> str:
    ward = done.ward
    start, end = ward.night_bounds()
    first = datetime.fromtimestamp(start, ward.zone)
    last = datetime.fromtimestamp(end, ward.zone)
    return (
        f"night {done.index + 1} {ward.date}: {first:%H:%M %Z} - {last:%H:%M %Z} "
        f"({(end - start) / 3600:g} h): {done.events:,} events, {done.episodes} episodes, "
        f"{done.incidents} actionable incidents ({done.seconds:.1f} s)"
    )


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in counter.most_common()) or "none"


def summary_lines(run: SiteRun) -> list[str]:
    events = run.events
    heartbeats = sum(1 for e in events if e["event"] == "heartbeat")
    kinds = Counter(e["kind"] for e in events if e["event"] != "heartbeat")
    labels = Counter(e.label for e in run.truth.episodes)
    incidents = Counter(str(i.kind) for i in run.truth.incidents)
    care = len(run.care_incidents)
    alarms = len(run.census)
    actionable = sum(a.actionable for a in run.census)
    first, last = run.wards[0], run.wards[-1]
    return [
        f"site {run.site}: {len(run.rooms)} rooms, {len(run.wards)} nights "
        f"{first.date} - {last.date + timedelta(days=1)} {first.timezone}, seed {run.seed}",
        f"events        {len(events):,} ({heartbeats:,} heartbeats; {_counts(kinds)})",
        f"delivery      {run.late:,} late (up to {w.MAX_DELAY:g} s), "
        f"{run.malformed} malformed lines",
        f"episodes      {len(run.truth.episodes):,}: {_counts(labels)}",
        f"actionable    {len(run.truth.incidents)} incidents: {_counts(incidents)} "
        f"({care} care, {len(run.truth.incidents) - care} technical)",
        f"conventional  {alarms:,} alarms, {actionable:,} of them for an actionable incident "
        f"(actionable share {run.actionable_share:.1%})",
        f"best possible reduction {run.best_reduction:.1%} "
        f"(1 - {care} care incidents / {alarms:,} conventional alarms)",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.site",
        description="Simulate a care home over one or more nights: the recording, its ground "
        "truth (every actionable incident with its deadline), the census of a conventional "
        "system and the site's rule file.",
    )
    parser.add_argument("--rooms", type=int, default=36, help="number of rooms (default 36)")
    parser.add_argument("--nights", type=int, default=7, help="number of nights (default 7)")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 10, 22),
        help="local date the first night starts, YYYY-MM-DD (default 2026-10-22: the week "
        "includes the end of daylight saving time)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--site", default="zonnehof", help="site name (default zonnehof)")
    add_delivery_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="STEM: writes STEM.jsonl.gz, STEM.truth.json, STEM.census.jsonl, STEM.rules.yaml "
        "(or give STEM.jsonl for an uncompressed recording)",
    )
    args = parser.parse_args(argv)
    if args.rooms < 1 or args.nights < 1:
        parser.error("--rooms and --nights must be at least 1")
    check_delivery_options(parser, args)
    began = time.perf_counter()
    run = simulate_site(
        args.rooms,
        args.nights,
        args.start,
        args.seed,
        args.late,
        args.malformed,
        site=args.site,
        progress=lambda done: print(_night_line(done), flush=True),
        degradation=degradation_of(args),
    )
    files = write_site(run, args.out)
    for text in summary_lines(run):
        print(text)
    print(
        f"wrote {files.recording} ({len(run.recording):,} lines), {files.truth}, "
        f"{files.census}, {files.rules} in {time.perf_counter() - began:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
