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

The modules, each using only those above it:

- ``model``: the rooms, residents and sensors, the ward and its night, the rates, what happened
  (``Episode``, ``Expected``), and the rule file of the ward's residents;
- ``recording``: recordings as files (JSONL, gzipped JSONL), written and read;
- ``delivery``: ids, late events and malformed lines, as a broker delivers a night;
- ``room``: a room's sensors and the bookkeeping of its night (events, episodes, heartbeats,
  devices gone silent);
- ``episodes``: the episodes of ward life, one room through the night (``RoomNight``);
- ``night``: the ward-wide plan, every room's night, and ``simulate_night``;
- ``radar``: a radar room's events as Milesight VS373 trigger reports, and its ``sources:`` entry;
- ``zigbee``: the same night as Zigbee2MQTT devices (and radars) publish it, and the
  ``sources:`` section of the rule file that maps it back;
- ``cli``: the command line (``python -m simulators.ward``).

This package re-exports what its users (``simulators.site``, ``sensorhub demo``, the tests,
the benchmarks, researchers) take from it as ``simulators.ward.X``.
"""

from simulators.ward.cli import main, summary_lines
from simulators.ward.degrade import Degradation, degrade
from simulators.ward.delivery import assign_ids, check_shares, deliver
from simulators.ward.episodes import RoomNight, Scheduled
from simulators.ward.model import (
    ACOUSTIC_THRESHOLD,
    DEFAULT_GRACE,
    DEVICE_PREFIX,
    HEARTBEAT_EVERY,
    MAX_DELAY,
    OBSTRUCTED_AFTER,
    SILENT_AFTER,
    STAFF_RECENT,
    TYPICAL_ROOMS,
    WING,
    Episode,
    Event,
    Expected,
    FallRisk,
    Rates,
    RecordingEntry,
    RoomProfile,
    Ward,
    demo_rule_file,
    valid_events,
)
from simulators.ward.night import (
    LivedNight,
    Night,
    Troubles,
    generate_night,
    in_event_time,
    live_night,
    plan_night,
    simulate_night,
)
from simulators.ward.recording import iter_recording, read_recording, to_line, write_recording
from simulators.ward.room import (
    RoomLog,
    battery_low_episode,
    heartbeat_events,
    make_event,
    silent_episode,
)

__all__ = [
    "ACOUSTIC_THRESHOLD",
    "DEFAULT_GRACE",
    "DEVICE_PREFIX",
    "HEARTBEAT_EVERY",
    "MAX_DELAY",
    "OBSTRUCTED_AFTER",
    "SILENT_AFTER",
    "STAFF_RECENT",
    "TYPICAL_ROOMS",
    "WING",
    "Degradation",
    "Episode",
    "Event",
    "Expected",
    "FallRisk",
    "LivedNight",
    "Night",
    "Rates",
    "RecordingEntry",
    "RoomLog",
    "RoomNight",
    "RoomProfile",
    "Scheduled",
    "Troubles",
    "Ward",
    "assign_ids",
    "battery_low_episode",
    "check_shares",
    "degrade",
    "deliver",
    "demo_rule_file",
    "generate_night",
    "heartbeat_events",
    "in_event_time",
    "iter_recording",
    "live_night",
    "main",
    "make_event",
    "plan_night",
    "read_recording",
    "silent_episode",
    "simulate_night",
    "summary_lines",
    "to_line",
    "valid_events",
    "write_recording",
]
