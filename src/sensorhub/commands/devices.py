"""Every device the store of sensorhub serve knows, for technicians and suppliers' service
agreements.

    sensorhub devices [--site zon] [--room 101] [--json] [--store URL]

One line a device: its site, room, name and kind, when it was first and last heard, its last
battery value, the faults it has open, and its faults and downtime (time paged silent until
heard again) over the last 30 days. Read from the store (docs/operations.md, "The devices
of a site"); it may run while serve runs. Times are this machine's local time; --json gives
Unix seconds, for scripts.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from datetime import datetime

from sensorhub.commands.mute import MuteError, retire_device
from sensorhub.contract import NAME_RE
from sensorhub.durations import format_duration
from sensorhub.store import STORE_HELP, StoreError, open_existing_store
from sensorhub.store.devices import WINDOW, Device, inventory

#: Exit status when the store cannot be read, or a retirement is refused.
REFUSED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", help="only this site's devices")
    parser.add_argument("--room", help="only the devices of rooms of this name")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object a line, times as Unix timestamps"
    )
    parser.add_argument("--store", metavar="URL", help=STORE_HELP)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    retire = actions.add_parser(
        "retire",
        help="stop paging the faults of a device that was removed (audited)",
        description="Retire a removed device: its fault pages (silent above all) are held back "
        "from now on, and the inventory shows it retired. It is a silence without an end: "
        "`sensorhub silences` lists it, `sensorhub unmute ID` lifts it.",
    )
    retire.add_argument("id", metavar="SITE/ROOM/DEVICE", help="the device, as devices lists it")
    retire.add_argument("--reason", required=True, help="why, for the audit trail (one line)")
    retire.add_argument("--by", help="who retires it (default: your user name)")
    retire.add_argument("--store", metavar="URL", help=STORE_HELP, default=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.action == "retire":
        return _retire(args)
    now = time.time()
    try:
        with open_existing_store(args.store) as store:
            devices = inventory(store, now, site=args.site, room=args.room)
            where = store.url
    except StoreError as error:
        print(f"sensorhub devices: {error}", file=sys.stderr)
        return REFUSED
    if args.json:
        for device in devices:
            print(json.dumps(device.to_json(), ensure_ascii=False))
        return 0
    if not devices:
        chosen = " ".join(
            f"{what} {name}" for what, name in (("site", args.site), ("room", args.room)) if name
        )
        print(f"no devices known{' of ' + chosen if chosen else ''} (store: {where})")
        return 0
    days = round(WINDOW / 86400)
    rows = [
        (
            "SITE",
            "ROOM",
            "DEVICE",
            "KIND",
            "FIRST SEEN",
            "LAST SEEN",
            "BATTERY",
            "OPEN FAULT",
            f"FAULTS {days}D",
            f"DOWN {days}D",
        ),
        *(_row(device) for device in devices),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    zone = datetime.now().astimezone().strftime("%Z")
    print(f"{len(devices)} device(s); times in {zone}; store: {where}")
    return 0


def _row(device: Device) -> tuple[str, ...]:
    return (
        device.site,
        device.room,
        device.device,
        device.kind or "?",
        _time(device.first_seen),
        _time(device.last_seen),
        "-" if device.battery is None else f"{device.battery:g}%",
        "retired" if device.retired is not None else ",".join(device.open_faults) or "-",
        str(device.faults),
        format_duration(round(device.downtime)) if device.downtime else "-",
    )


def _time(ts: float | None) -> str:
    """Local time to the minute; ``-`` for a device known from its faults only."""
    return "-" if ts is None else f"{datetime.fromtimestamp(ts).astimezone():%Y-%m-%d %H:%M}"


def _retire(args: argparse.Namespace) -> int:
    try:
        device = _device_id(args.id)
        _known(args.store, device)
        retired = retire_device(args.store, device, reason=args.reason, by=args.by)
    except (MuteError, StoreError) as refused:
        print(f"sensorhub devices: {refused}", file=sys.stderr)
        return REFUSED
    print(f"retired {retired.target.removeprefix('retired ')}, by {retired.by}: {retired.reason}")
    print(
        "Its fault pages are held back from now on. To watch it again: "
        f"sensorhub unmute '{retired.id}'"
    )
    return 0


def _known(url: str | None, device: tuple[str, str, str]) -> None:
    """Refuse a device the store does not know (with a did-you-mean): a mistyped name would
    retire nothing."""
    site, room, name = device
    with open_existing_store(url) as store:
        names = [d.device for d in inventory(store, time.time(), site=site, room=room)]
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        hint = f": did you mean {site}/{room}/{close[0]}?"
    else:
        hint = f": it knows {', '.join(names)}" if names else " in that room"
    raise MuteError(f"the store knows no device {site}/{room}/{name}{hint}")


def _device_id(text: str) -> tuple[str, str, str]:
    parts = text.split("/")
    if len(parts) != 3 or not all(NAME_RE.fullmatch(part) for part in parts):
        raise MuteError(
            f"{text!r} is not a device: write SITE/ROOM/DEVICE, as `sensorhub devices` lists "
            "it, e.g. zonnebloem/101/cam-101"
        )
    return parts[0], parts[1], parts[2]
