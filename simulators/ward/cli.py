"""The command line of the ward simulator: ``python -m simulators.ward``.

Command line::

    python -m simulators.ward --rooms 8 --seed 1 --date 2026-11-20 --out night.jsonl \\
        [--late 0.02] [--malformed 0.001] [--rules rules.yaml] [--sensors zigbee] [--radars]

It writes the night's recording and, with ``--rules``, the rule file of the ward's residents,
and prints what the night holds. With ``--sensors zigbee`` the rule file also maps the ward's
door contacts, motion sensors, call buttons and bed mats as Zigbee2MQTT devices
(``simulators.ward.zigbee``), for ``python -m simulators.publish --sensors zigbee``. With
``--radars`` three rooms of every eight have a care radar instead of a camera
(``Ward.typical``), mapped as Milesight VS373 radars with ``--sensors zigbee``.
``simulators.site`` takes its delivery options from here.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from simulators.ward.degrade import Degradation
from simulators.ward.model import Ward
from simulators.ward.night import Night, simulate_night
from simulators.ward.recording import write_recording
from simulators.ward.zigbee import SENSORS, rule_file


def add_delivery_options(parser: argparse.ArgumentParser) -> None:
    """``--late`` and ``--malformed``: how the broker delivers the events; ``--loss`` ...
    ``--duplicates``: how the sensors misbehave (``simulators.ward.degrade``)."""
    parser.add_argument(
        "--late", type=float, default=0.0, help="share of events delivered up to 9 s late"
    )
    parser.add_argument(
        "--malformed", type=float, default=0.0, help="share of events followed by a bad line"
    )
    sensors = parser.add_argument_group(
        "misbehaving sensors (the ground truth stays what happened in the rooms)"
    )
    sensors.add_argument(
        "--loss", type=float, default=0.0, metavar="P", help="each message lost with probability P"
    )
    sensors.add_argument(
        "--loss-calls",
        action="store_true",
        help="resident calls are lost too (by default they travel over the call system)",
    )
    sensors.add_argument(
        "--burst-loss",
        type=float,
        default=0.0,
        metavar="N",
        help="N times a night on average, each device is offline for 1-10 minutes",
    )
    sensors.add_argument(
        "--skew",
        type=float,
        default=0.0,
        metavar="S",
        help="each device's clock is off by up to S seconds (and drifts up to 0.5 s an hour)",
    )
    sensors.add_argument(
        "--stuck",
        type=float,
        default=0.0,
        metavar="P",
        help="each device sticks on one state for 30 min to 3 h with probability P a night",
    )
    sensors.add_argument(
        "--duplicates",
        type=float,
        default=0.0,
        metavar="P",
        help="each message sent twice (another id) with probability P",
    )


def degradation_of(args: argparse.Namespace) -> Degradation:
    """The ``Degradation`` the options of ``add_delivery_options`` ask for."""
    return Degradation(
        loss=args.loss,
        loss_calls=args.loss_calls,
        burst_loss=args.burst_loss,
        skew=args.skew,
        stuck=args.stuck,
        duplicates=args.duplicates,
    )


def add_radars_option(parser: argparse.ArgumentParser) -> None:
    """``--radars``: rooms with a care radar instead of a camera."""
    parser.add_argument(
        "--radars",
        action="store_true",
        help="rooms 101, 103 and 106 (and so on, three of every eight) have a VS373 care radar "
        "instead of a camera; with --sensors zigbee it publishes as a VS373 does",
    )


def check_delivery_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exits (``parser.error``) unless ``--late`` and ``--malformed`` are shares."""
    if not 0 <= args.late <= 1 or not 0 <= args.malformed <= 1:
        parser.error("--late and --malformed are shares between 0 and 1")
    try:
        degradation_of(args)
    except ValueError as error:
        parser.error(f"--{str(error).replace('_', '-')}")


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
    add_delivery_options(parser)
    parser.add_argument(
        "--rules", type=Path, help="also write the rule file with the residents' profiles here"
    )
    parser.add_argument(
        "--sensors",
        choices=SENSORS,
        default="native",
        help="zigbee: the rule file maps door contacts, motion sensors, call buttons and bed "
        "mats as Zigbee2MQTT devices (publish with simulators.publish --sensors zigbee)",
    )
    add_radars_option(parser)
    args = parser.parse_args(argv)
    if args.rooms < 1:
        parser.error("--rooms must be at least 1")
    check_delivery_options(parser, args)
    ward = Ward.typical(args.rooms, site=args.site, day=args.date, radars=args.radars)
    night = simulate_night(
        ward,
        args.seed,
        late_fraction=args.late,
        malformed_fraction=args.malformed,
        degradation=degradation_of(args),
    )
    lines = write_recording(night.recording, args.out)
    for text in summary_lines(night):
        print(text)
    print(f"wrote {lines} lines to {args.out}")
    if args.rules is not None:
        args.rules.parent.mkdir(parents=True, exist_ok=True)
        args.rules.write_text(rule_file(ward, args.sensors), encoding="utf-8")
        print(f"wrote the rule file {args.rules}")
    return 0
