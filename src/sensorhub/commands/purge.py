"""Remove one room's history from the store of sensorhub serve, e.g. when its resident leaves.

    sensorhub purge --site zon --room 12 [--before 2026-12-01] [--store URL]

Removes the room's audit entries, acknowledgements, delivered pages, first-page marks and the
events of its sensors in the journal, from before --before (default: now), and says how many of
each it removed. It may run while serve runs (one transaction; serve goes on). What serve still
works with stays, and is counted: the room's open incidents and its pages not yet delivered; run
purge again once they are closed and delivered. serve's --audit file is a file of your own: see
docs/privacy.md for how to remove the room's lines from it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from sensorhub.contract import NAME_RE
from sensorhub.store import STORE_HELP, StoreError, open_existing_store
from sensorhub.store.history import forget

#: Exit status of a purge refused (a bad argument, no store).
REFUSED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", required=True, help="the site, as in the sensors' topics")
    parser.add_argument("--room", required=True, help="the room, as in the sensors' topics")
    parser.add_argument(
        "--before",
        metavar="DATE",
        help="remove only what is older than this: a date (2026-12-01, midnight local time) or "
        "a time (2026-12-01T08:00, 2026-12-01T08:00+01:00); default: now, everything",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help=STORE_HELP,
    )


def parse_before(text: str) -> float:
    """``--before`` as Unix seconds: an ISO date or time; without an offset, local time."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--before {text!r} is not a date or time: write e.g. 2026-12-01, "
            "2026-12-01T08:00 or 2026-12-01T08:00+01:00"
        ) from None
    return when.timestamp()  # a naive time is the machine's local time


def run(args: argparse.Namespace) -> int:
    for what, name in (("site", args.site), ("room", args.room)):
        if not NAME_RE.fullmatch(name):
            return _refuse(
                f"--{what} {name!r} is not a {what} name: use the {what} as in the sensors' "
                "topics (1-64 letters, digits, '_', '.' or '-')"
            )
    try:
        before = time.time() if args.before is None else parse_before(args.before)
    except ValueError as error:
        return _refuse(str(error))
    try:
        with open_existing_store(args.store) as store:
            done = forget(store, lambda _: before, before, site=args.site, room=args.room)
    except StoreError as error:
        return _refuse(str(error))
    print(f"removed from {store.url}, site {args.site} room {args.room}: {done.describe()}")
    return 0


def _refuse(message: str) -> int:
    print(f"sensorhub purge: {message}", file=sys.stderr)
    return REFUSED
