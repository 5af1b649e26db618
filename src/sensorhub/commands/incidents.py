"""The incidents of sensorhub serve, for a technician or coordinator on a terminal.

    sensorhub incidents [--site zon] [--all | --night 2026-11-20] [--json] [--store URL]

Without ``--all`` or ``--night``: the incidents still open and those of last night. Each with
its site, room and kind, when it was opened, who was paged (first page, re-sends and
escalations), the acknowledgement or what closed it (who, when, how) and the next escalation
step and when. Read from the store (the router's incidents as ``serve`` saved them, and the
audit trail for the pages), so it may run while ``serve`` runs. The router forgets an incident
24 h after its last page, so older nights show nothing here.
Times are this machine's local time with its zone; ``--json`` gives Unix seconds, for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from pydantic import ValidationError

from sensorhub.commands.devices import REFUSED
from sensorhub.routing.state import IncidentState, decode_page
from sensorhub.store import STORE_HELP, Store, StoreError, open_existing_store

#: A night runs from noon on its date to noon the next day (as ``evaluate`` counts nights).
NOON = 12


@dataclass(frozen=True, slots=True)
class Paged:
    """One page of an incident: to ``recipient`` at ``ts``, ``escalation`` 0 the first."""

    ts: float
    escalation: int
    recipient: str


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as the command shows it."""

    state: IncidentState
    paged: tuple[Paged, ...]

    def to_json(self) -> dict[str, Any]:
        state, page = self.state, self.state.page
        step = state.steps[0] if state.steps else None
        closed = state.closed_at is not None
        return {
            "incident": page.incident,
            "site": page.site,
            "room": page.room,
            "kind": page.kind,
            "priority": page.priority,
            "status": state.status,
            "opened": page.ts,
            "paged": [
                {"ts": p.ts, "escalation": p.escalation, "recipient": p.recipient}
                for p in self.paged
            ],
            "closed": (
                {"by": state.closed_by, "at": state.closed_at, "how": _how(state)}
                if closed
                else None
            ),
            "next_step": (
                None
                if step is None
                else {"escalation": step.escalation, "due": step.due, "to": list(step.to)}
            ),
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", help="only this site's incidents")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--all", action="store_true", help="every incident the store keeps (the last 24 h)"
    )
    which.add_argument(
        "--night",
        metavar="YYYY-MM-DD",
        type=_night,
        help="the incidents opened in the night starting that evening (noon to noon, local)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object a line, times as Unix timestamps"
    )
    parser.add_argument("--store", metavar="URL", help=STORE_HELP)


def run(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        with open_existing_store(args.store) as store:
            found = incidents(
                store,
                site=args.site,
                night=None if args.all else _bounds(args.night or _last_night(now)),
                still_open=args.night is None,
            )
            where = store.url
    except (StoreError, ValueError) as error:
        print(f"sensorhub incidents: {error}", file=sys.stderr)
        return REFUSED
    if args.json:
        for incident in found:
            print(json.dumps(incident.to_json(), ensure_ascii=False))
        return 0
    for incident in found:
        print("\n".join(_describe(incident, now)))
    if args.all:
        what = "every incident kept"
    elif args.night:
        what = f"opened in the night of {args.night.isoformat()}"
    else:
        what = f"open, or opened in the night of {_last_night(now).isoformat()}"

    print(f"{len(found)} incident(s): {what}; times in {_zone()}; store: {where}")
    return 0


def incidents(
    store: Store,
    *,
    site: str | None = None,
    night: tuple[float, float] | None = None,
    still_open: bool = False,
) -> list[Incident]:
    """The incidents in ``store`` (of ``site``) opened in ``night`` (start and end, Unix
    seconds; None: all), and with ``still_open`` those open (or held) whenever they were
    opened; by the time they were opened. ValueError for a stored incident that is not one
    (a store of another version)."""
    states = [_state(raw) for raw in store.incidents()]
    chosen = [
        s
        for s in states
        if (site is None or s.page.site == site)
        and (_in(s, night) or (still_open and s.status in ("open", "held")))
    ]
    chosen.sort(key=lambda s: (s.page.ts, s.page.incident))
    paged = _pages(store.audit_since(chosen[0].page.ts) if chosen else [])
    return [Incident(s, paged.get(s.page.incident) or _first_pages(s)) for s in chosen]


def _in(state: IncidentState, night: tuple[float, float] | None) -> bool:
    return night is None or night[0] <= state.page.ts < night[1]


def _state(raw: Mapping[str, Any]) -> IncidentState:
    try:
        return msgspec.convert(raw, IncidentState, dec_hook=decode_page)
    except (msgspec.ValidationError, ValidationError) as error:
        raise ValueError(f"the store holds an incident this version cannot read: {error}") from None


def _pages(audit: Iterable[Mapping[str, Any]]) -> dict[str, tuple[Paged, ...]]:
    """The pages the audit trail names (``<incident>/<escalation>/<recipient>``), by incident."""
    pages: dict[str, list[Paged]] = defaultdict(list)
    for entry in audit:
        incident = entry.get("incident")
        for page_id in entry.get("page_ids") or ():
            if not isinstance(incident, str) or not page_id.startswith(f"{incident}/"):
                continue
            escalation, _, recipient = page_id[len(incident) + 1 :].partition("/")
            if escalation.isdigit() and recipient:
                pages[incident].append(Paged(float(entry["ts"]), int(escalation), recipient))
    return {name: tuple(dict.fromkeys(found)) for name, found in pages.items()}


def _first_pages(state: IncidentState) -> tuple[Paged, ...]:
    """Without an audit trail: the first page's recipients, as the router keeps them."""
    if state.paged_at is None:
        return ()
    return tuple(Paged(state.paged_at, 0, name) for name in state.recipients)


def _how(state: IncidentState) -> str:
    """How an incident was closed: an acknowledgement (a pager or MQTT), or why it was resolved
    (staff arrived, the call was cancelled)."""
    if state.status == "acknowledged":
        return "acknowledgement"
    return state.closed_reason or state.status


def _describe(incident: Incident, now: float) -> list[str]:
    state, page = incident.state, incident.state.page
    lines = [
        f"{page.site}/{page.room}  {page.kind}  {state.status}  opened {_local(page.ts)}"
        f"  ({page.incident})"
    ]
    paged = ", ".join(
        f"{p.recipient} {_clock(p.ts)}" + (f" (call {p.escalation + 1})" if p.escalation else "")
        for p in incident.paged
    )
    lines.append(f"  paged: {paged or 'nobody yet (held by a silence)'}")
    if state.closed_at is not None:
        by = f" by {state.closed_by}" if state.closed_by else ""
        lines.append(f"  closed{by} at {_clock(state.closed_at)}: {_how(state)}")
    if state.steps:
        step = state.steps[0]
        due = step.due - now
        left = f"in {round(due / 60)} min" if due >= 0 else "due, waiting for serve's clock"
        lines.append(
            f"  next: call {step.escalation + 1} to {', '.join(step.to)} at "
            f"{_clock(step.due)} ({left})"
        )
    elif state.status == "open":
        lines.append("  next: no escalation left")
    return lines


def _night(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _bounds(night: date) -> tuple[float, float]:
    start = datetime(night.year, night.month, night.day, NOON).astimezone()
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def _last_night(now: float) -> date:
    """The night that began on the evening before: at 02:00 and at 15:00 alike, yesterday's."""
    return (datetime.fromtimestamp(now).astimezone() - timedelta(hours=NOON)).date()


def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%H:%M:%S")


def _zone() -> str:
    return datetime.now().astimezone().strftime("%Z")
