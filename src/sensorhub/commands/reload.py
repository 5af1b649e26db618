"""Have a running ``sensorhub serve`` read its rule file again, without a restart.

  sensorhub reload --store sqlite:////var/lib/sensorhub/sensorhub.db

The request goes through the store that serve runs on (as ``mute`` does): serve takes it up
within a second, reads its ``--rules`` file again and answers, and this command prints the
answer. A file with mistakes is refused: serve keeps the rules in force, and the mistakes are
printed as ``FILE:LINE: KEY: what is wrong``. Check a file first with ``sensorhub rules check``.

Nothing is lost by a reload: open incidents, pending escalations, acknowledgements, silences
and the classifier's pending decisions stay. A room whose parameters changed keeps its
pending decisions with the times the old rules gave them and decides by the new rules from
then on; the audit trail says so per room. Sending serve SIGHUP (``systemctl reload
sensorhub``) does the same; its answer is then in serve's log.

exit status:
  0  serve took up the rules
  1  serve refused the file (its mistakes are printed) and keeps the rules in force
  2  no answer: no serve runs on this store (or it is not connected to it), or no store
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Final

from sensorhub.durations import DURATION_GUIDE, duration_argument, format_duration
from sensorhub.store import RELOAD_STATE, STORE_HELP, StoreError, open_existing_store
from sensorhub.text import escaped

#: How long to wait for serve's answer by default (s): it looks every second.
WAIT: Final = 10.0
RELOADED, REFUSED, NO_ANSWER = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help=STORE_HELP,
    )
    parser.add_argument(
        "--wait",
        type=duration_argument,
        default=WAIT,
        metavar="DURATION",
        help=f"how long to wait for serve's answer: a duration, e.g. 30s, 2m (see "
        f"{DURATION_GUIDE}; default {format_duration(WAIT)})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        store = open_existing_store(args.store)
    except StoreError as error:
        print(f"sensorhub reload: {error}", file=sys.stderr)
        return NO_ANSWER
    with store:
        asked = time.time()
        store.change_state(RELOAD_STATE, lambda _: ({"requested_at": asked}, []))
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            answer = store.load_state(RELOAD_STATE) or {}
            if answer.get("requested_at") == asked and "done" in answer:
                for line in answer.get("lines", []):
                    print(escaped(str(line)))  # shown, not obeyed, whoever wrote the store
                if answer["done"]:
                    print(f"sensorhub reload: serve took up the rules ({store.url})")
                    return RELOADED
                print("sensorhub reload: refused, the rules in force stay", file=sys.stderr)
                return REFUSED
            time.sleep(0.1)
    print(
        f"sensorhub reload: no answer within {args.wait:g} s: is sensorhub serve running on "
        f"the store {store.url}? (its log says why if it could not read the file)",
        file=sys.stderr,
    )
    return NO_ANSWER
