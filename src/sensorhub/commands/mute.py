"""Silences for maintenance from the command line: ``mute``, ``unmute`` and ``silences``.

A technician mutes a device while replacing it, or a room while working in it, for a set time:

  sensorhub mute --site zonnebloem --device cam-101 --for 2h --reason "camera replaced"
  sensorhub mute --site zonnebloem --room 203 --for 30m --reason "bed mat recalibrated"
  sensorhub silences
  sensorhub unmute 'zonnebloem/203/*/1768514400000'

The silences live in the durable store (the state ``silences``), which ``sensorhub serve``
reads; these commands are their only writer, and write each change together with its audit
entries (who, why, until when) in one transaction. A silence ends by itself at its end time.
A resident call is never held back, whatever is muted. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from sensorhub.durations import (
    DURATION_EXAMPLES,
    DURATION_GUIDE,
    DurationError,
    format_duration,
    parse_duration,
)
from sensorhub.routing.silences import (
    MAX_DEVICE_SILENCE,
    MAX_ROOM_SILENCE,
    RETIRED_FOR,
    SILENCES_STATE,
    Silence,
    Silences,
)
from sensorhub.store import STORE_HELP, Store, StoreError, open_existing_store
from sensorhub.text import escaped, unprintable

#: Silences that ended longer ago than this are dropped from the state at the next change.
KEEP_ENDED: Final = 7 * 24 * 3600.0

OK, REFUSED = 0, 1


class MuteError(Exception):
    """The command cannot do what was asked; the message says why and what to do."""


#: Where ``mute`` looks for the site's rule file without --rules (as deploy/ installs it).
RULES_ENV: Final = "SENSORHUB_RULES"
DEFAULT_RULES: Final = "/etc/sensorhub/rules.yaml"


def local_time(ts: float, timezone: str | None = None) -> str:
    """A time for people: the site's local time (``timezone``), else this machine's, with its
    zone (a server often runs on UTC; the night staff read the site's time)."""
    at = datetime.fromtimestamp(ts, UTC)
    local = at.astimezone(ZoneInfo(timezone)) if timezone else at.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def _span(seconds: float) -> str:
    """A length of time as --for takes it: 2h, 1d12h, 15m; to the minute from an hour on."""
    whole = round(max(seconds, 0.0))
    if whole >= 3600:
        whole = round(whole / 60) * 60
    return format_duration(whole)


# -- arguments -------------------------------------------------------------------------------


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help=STORE_HELP,
    )


def _default_by() -> str | None:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no user name known to the system
        return None


def add_mute_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", required=True, help="the site, as in the sensors' topics")
    parser.add_argument("--room", help="mute this room's care pages (resident calls still page)")
    parser.add_argument(
        "--device", help="mute this device's fault pages (with --room: that room's device only)"
    )
    parser.add_argument(
        "--for",
        dest="duration",
        required=True,
        metavar="DURATION",
        help=f"how long: a duration, e.g. {DURATION_EXAMPLES} (see {DURATION_GUIDE}); a room "
        f"at most {_span(MAX_ROOM_SILENCE)}, a device at most {_span(MAX_DEVICE_SILENCE)}",
    )
    parser.add_argument(
        "--reason", required=True, help="why, for the audit trail (one line of plain text)"
    )
    parser.add_argument("--by", help="who mutes it (default: your user name)")
    parser.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help=f"the site's rule file: refuse a site or room it does not name (default "
        f"${RULES_ENV}, or {DEFAULT_RULES} if there is one; without one nothing is checked, and "
        "mute says so)",
    )
    _add_store(parser)


def add_unmute_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="the silence's id, as `sensorhub silences` shows")
    parser.add_argument("--by", help="who lifts it (default: your user name)")
    _add_store(parser)


def add_silences_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all",
        action="store_true",
        help=f"also the silences that ended in the last {format_duration(KEEP_ENDED)}",
    )
    _add_store(parser)


# -- the commands ----------------------------------------------------------------------------


def run_mute(args: argparse.Namespace) -> int:
    return _guarded(lambda: _mute(args))


def run_unmute(args: argparse.Namespace) -> int:
    return _guarded(lambda: _unmute(args))


def run_silences(args: argparse.Namespace) -> int:
    return _guarded(lambda: _list(args))


def _guarded(command: Callable[[], int]) -> int:
    try:
        return command()
    except MuteError as refused:
        print(f"sensorhub: {refused}", file=sys.stderr)
        return REFUSED


def _mute(args: argparse.Namespace) -> int:
    if args.room is None and args.device is None:
        raise MuteError(
            "say what to mute: --room ROOM (its care pages) or --device DEVICE (its fault "
            "pages); a whole site is never muted"
        )
    try:
        seconds = parse_duration(args.duration)
    except DurationError as error:
        raise MuteError(f"--for {error}") from None
    if seconds <= 0:
        raise MuteError(f"--for {args.duration!r} is no time at all: give how long, e.g. 2h")
    device = args.device is not None
    limit = MAX_DEVICE_SILENCE if device else MAX_ROOM_SILENCE
    if seconds > limit:
        raise MuteError(
            f"a {'device' if device else 'room'} can be muted for at most "
            f"{_span(limit)} at a time, not {args.duration}: mute it again when that runs out"
        )
    by = _who(args.by)
    _plain("--reason", args.reason)
    timezone, unchecked = _check_rules(args.rules, args.site, args.room)
    now = time.time()
    try:
        silence = Silence(
            site=args.site,
            room=args.room,
            device=args.device,
            until=now + seconds,
            reason=args.reason,
            by=by,
            created=now,
        )
    except ValidationError as error:
        raise MuteError(_validation_message(error)) from None
    already: list[Silence] = []

    def change(
        before: dict[str, Any] | None,
    ) -> tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]:
        silences = _restore(before, now)
        already.extend(s for s in silences.active(now) if _same_target(s, silence))
        silences.add(silence)
        return silences.snapshot(), [entry.to_json() for entry in silences.take_audit()]

    with _open(args.store) as store:
        store.change_state(SILENCES_STATE, change)
        where = store.url
    print(
        f"muted {silence.target} until {local_time(silence.until, timezone)} (for "
        f"{_span(seconds)}), by {silence.by}: {silence.reason}"
    )
    if unchecked is not None:
        print(f"note: {unchecked}")
    print(f"silence id: {silence.id}")
    if device:
        print(
            f"Only the fault pages of device {silence.device} are held back. Care pages and "
            "resident calls are paged as usual: calls are never silenced."
        )
    else:
        print(
            f"The care pages of room {silence.room} are held back, except resident calls: "
            "calls are never silenced. Device faults still reach the technicians."
        )
    for other in already:
        print(
            f"note: {other.target} was already muted until "
            f"{local_time(other.until, timezone)} ({other.id})"
        )
    print(f"store: {where}; to lift it early: sensorhub unmute '{silence.id}'")
    return OK


def retire_device(
    url: str | None, device: tuple[str, str, str], *, reason: str, by: str | None
) -> Silence:
    """Retire a removed device: its fault pages are held back until the retirement is lifted
    (``sensorhub unmute ID``), written with its audit entry in one transaction. MuteError if
    it cannot be."""
    who = _who(by)
    _plain("--reason", reason)
    now = time.time()
    site, room, name = device
    try:
        retired = Silence(
            site=site,
            room=room,
            device=name,
            until=now + RETIRED_FOR,
            reason=reason,
            by=who,
            created=now,
            retired=True,
        )
    except ValidationError as error:
        raise MuteError(_validation_message(error)) from None

    def change(
        before: dict[str, Any] | None,
    ) -> tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]:
        silences = _restore(before, now)
        if any(s.retired and _same_target(s, retired) for s in silences.active(now)):
            raise MuteError(f"{retired.target.removeprefix('retired ')} is retired already")
        silences.add(retired)
        return silences.snapshot(), [entry.to_json() for entry in silences.take_audit()]

    with _open(url) as store:
        store.change_state(SILENCES_STATE, change)
    return retired


def _unmute(args: argparse.Namespace) -> int:
    by = _who(args.by)
    now = time.time()
    lifted: list[Silence] = []

    def change(
        before: dict[str, Any] | None,
    ) -> tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]:
        silences = _restore(before, now)
        silence = silences.get(args.id)
        if silence is None:
            close = difflib.get_close_matches(args.id, [s.id for s in silences.every()], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise MuteError(
                f"no silence {args.id!r} is set: {hint}`sensorhub silences --all` lists them"
            )
        if not silence.in_force(now):
            raise MuteError(
                f"silence {args.id!r} ({silence.target}) already ended at "
                f"{local_time(silence.until)}: nothing to lift"
            )
        silences.remove(silence.id, by=by, at=now)
        lifted.append(silence)
        return silences.snapshot(), [entry.to_json() for entry in silences.take_audit()]

    with _open(args.store) as store:
        store.change_state(SILENCES_STATE, change)
    [silence] = lifted
    # the silence may come from a store written before control characters were refused
    print(
        f"unmuted {silence.target} (silence {silence.id}, set by {escaped(silence.by)}: "
        f"{escaped(silence.reason)}), by {by}"
    )
    return OK


def _list(args: argparse.Namespace) -> int:
    now = time.time()
    with _open(args.store) as store:
        state = store.load_state(SILENCES_STATE)
        where = store.url
    silences = _restore(state, now)
    shown = silences.every() if args.all else silences.active(now)
    if not shown:
        print(f"no silences {'set' if args.all else 'in force'} (store: {where})")
        return OK
    rows = [("ID", "MUTED", "ENDS", "BY", "REASON")]
    for silence in shown:
        left = silence.until - now
        ends = local_time(silence.until) + (
            f" (in {_span(left)})" if silence.in_force(now) else " (ended)"
        )
        # shown, never obeyed: a store written by an older version may hold control characters
        by, reason = escaped(silence.by), escaped(silence.reason)
        rows.append((silence.id, silence.target, ends, by, reason))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]))
    print("Resident calls are never silenced, whatever is muted.")
    return OK


# -- helpers ---------------------------------------------------------------------------------


def _restore(state: dict[str, Any] | None, now: float) -> Silences:
    silences = Silences()
    if state is not None:
        try:
            silences.restore(state)
        except ValueError as error:
            raise MuteError(
                f"the silences in the store cannot be read ({error}): is it a store of this "
                "sensorhub version?"
            ) from None
    silences.forget_ended(now - KEEP_ENDED)
    return silences


def _same_target(one: Silence, other: Silence) -> bool:
    return (one.site, one.room, one.device) == (other.site, other.room, other.device)


def _who(given: str | None) -> str:
    by = given if given is not None else _default_by()
    if by is None or not by.strip():
        raise MuteError("say who you are with --by NAME: it goes into the audit trail")
    _plain("--by" if given is not None else "your user name ($USER)", by)
    return by


def _plain(option: str, text: str) -> None:
    """Refuse a typed text with a character a terminal would act on: it is shown to others."""
    bad = unprintable(text)
    if bad is not None:
        raise MuteError(
            f"{option} holds the character '{bad}' (a line break, tab, escape code or other "
            "control character): write it as one line of plain text, it is shown to others as "
            "written"
        )


def _validation_message(error: ValidationError) -> str:
    messages = []
    for item in error.errors(include_url=False):
        message = str(item.get("ctx", {}).get("error") or item["msg"])
        field = ".".join(str(part) for part in item["loc"])
        messages.append(f"--{field}: {message}" if field else message)
    return "; ".join(messages)


def _check_rules(given: Path | None, site: str, room: str | None) -> tuple[str | None, str | None]:
    """Refuse a site or room the site's rule file does not name: ``given`` (--rules), else the
    one the service is deployed with, if there is one. ``(the site's time zone, None)``, or
    ``(None, why nothing was checked)`` when no rule file was given nor found."""
    path = given if given is not None else Path(os.environ.get(RULES_ENV) or DEFAULT_RULES)
    if given is None:
        try:
            path.read_bytes()
        except OSError as error:
            what = f"room {room!r}" if room is not None else f"site {site!r}"
            return None, (
                f"{what} was not checked against a rule file: cannot read {path} "
                f"({error.strerror or error}); give the site's with --rules FILE"
            )
    # the rule files' models and YAML, only here: the other commands start without them
    from sensorhub.rules.loader import RuleFileError, load_policy  # noqa: PLC0415

    try:
        policy = load_policy(path)
    except RuleFileError as error:
        raise MuteError(f"the rule file {path} cannot be used:\n{error}") from None
    rules = policy.rules
    if site not in rules.sites:
        raise MuteError(_unknown("site", site, list(rules.sites), f"the rule file {path}"))
    timezone = policy.staff(site).timezone
    rules_site = rules.sites[site]
    rooms = [*rules_site.rooms]
    if rules_site.staff is not None:  # rooms named in wings only are the site's rooms too
        rooms += [r for wing in rules_site.staff.wings.values() for r in wing if r not in rooms]
    if room is not None and not rooms:
        return timezone, (
            f"room {room!r} was not checked: site {site!r} in the rule file {path} names no "
            "rooms (its rooms are learned from the sensors)"
        )
    if room is not None and room not in rooms:
        where = f"site {site!r} in the rule file {path}"
        raise MuteError(_unknown("room", room, rooms, where))
    return timezone, None


def _unknown(what: str, name: str, known: list[str], where: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"{what} {name!r} is not in {where}: did you mean {close[0]!r}?"
    if known:
        return f"{what} {name!r} is not in {where}: it names " + ", ".join(known)
    return f"{what} {name!r} is not in {where}: it names no {what}s"


def _open(url: str | None) -> Store:
    try:
        return open_existing_store(url)
    except StoreError as error:
        raise MuteError(str(error)) from None


class Subcommand:
    """A command of this module for ``sensorhub.cli``: its description, arguments and run."""

    def __init__(
        self,
        description: str,
        add_arguments: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
    ) -> None:
        self.__doc__ = description
        self.add_arguments = add_arguments
        self.run = run


mute = Subcommand(
    """Mute a room or a device for maintenance, for a set time.

  sensorhub mute --site zonnebloem --room 203 --for 30m --reason "bed mat recalibrated"
  sensorhub mute --site zonnebloem --device cam-101 --for 2h --reason "camera replaced"

A muted room's care pages are held back; a muted device's fault pages are held back. A resident
call is never held back. The silence ends by itself after --for (a duration: a room at most 1d,
a device at most 7d), and is written to the store with who set it and why (the audit trail). It
prints the silence's id, for `sensorhub unmute`.

exit status: 0 muted, 1 refused (the message says why)
""",
    add_mute_arguments,
    run_mute,
)

unmute = Subcommand(
    """Lift a silence before it ends by itself.

  sensorhub unmute 'zonnebloem/203/*/1768514400000'

(quote the id: it may hold a '*'). `sensorhub silences` lists the ids.

exit status: 0 lifted, 1 refused (no such silence, or it ended already)
""",
    add_unmute_arguments,
    run_unmute,
)

silences = Subcommand(
    """List the silences in force: what is muted, until when, by whom and why.

  sensorhub silences [--all]

exit status: 0
""",
    add_silences_arguments,
    run_silences,
)
