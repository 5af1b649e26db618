"""Routing an incident's pages to staff: recipients, acknowledgement and escalation (sans-I/O).

The core decides *that* a room needs someone: it emits typed incidents (``core.types``:
:class:`Opened`, :class:`Evidence`, :class:`Resolved`). The :class:`Router` alone makes pages:
it decides *who*, and keeps at it until someone answers.

- :meth:`Router.run` takes the core's incident changes of a round and the event clock
  (``until``: everything at or before it is decided) and returns the pages. It works in event
  time: each change is applied at its time, after the escalation steps and acknowledgements
  due up to then, so what it pages does not depend on how the input was cut into rounds.
  An incident's first page goes to one recipient or more, by the site's ``staff.routes`` and
  who is on duty by ``staff.schedules`` at the incident's time; its re-notifications and
  escalations come due at event times by the rule file's ``escalation`` steps for its
  priority (``escalation`` 1, 2, ...).
- :meth:`Router.acknowledge` (a member of staff answered) stops the escalation at the
  acknowledgement's time: one in the router's future waits, with the incident, until the clock
  reaches it, so an escalation due before it still goes out. :class:`Resolved` (the core saw
  staff arrive, or the call was cancelled) stops it too. At a tie, the escalation goes out.
- :meth:`Router.take_changes` / :meth:`Router.restore_incidents` carry open incidents, pending
  steps with their due times, and acknowledgements across a restart, as JSON.

Nothing here reads a clock or touches the network: time is a parameter everywhere, so ``serve``,
``replay`` and the tests drive the same code (through ``sensorhub.engine``).

Guarantees: technical pages (device faults) only ever go to technical recipients (technical
routes, ``recipients.technical``, ``same`` and ``team``), never to care staff; a page is never
lost for want of someone on duty (it falls back to the site's ``recipients``); an incident
routed once is never routed again (no second first page after a restart).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
from pydantic import ValidationError

from sensorhub.contract import Page
from sensorhub.core.types import Evidence, IncidentChange, Opened, Resolved
from sensorhub.routing.acks import ACK_SKEW, AckRecord, AckRefusal
from sensorhub.routing.pages import FAULT_TEXTS, TEXTS, make_page
from sensorhub.routing.repeats import repeat_text
from sensorhub.routing.silences import Silences, device_fault_of, when
from sensorhub.routing.state import (
    AckState,
    IncidentState,
    IncidentStatus,
    PendingState,
    RouterSnapshot,
    decode_page,
    encode_page,
)
from sensorhub.rules.model import SAME, TEAM
from sensorhub.rules.policy import Policy

#: An incident is remembered this long after its first page (acknowledgements, no second first
#: page), then forgotten. The longest escalation (12 h) ends well before.
RETAIN: Final = 24 * 3600.0
RoutingDecision = Literal[
    "routed",  # an incident's first page went out, to these recipients
    "escalated",  # a re-notification or escalation went out
    "held",  # a page was not sent: a silence holds it back
    "released",  # a technical incident held by a silence is paged now that the silence ended
    "acknowledged",  # a member of staff answered: no more escalation
    "resolved",  # staff arrived or the call was cancelled: no more escalation
    "ignored",  # an acknowledgement or resolution that changes nothing, and why
    "forgotten",  # an incident dropped from memory, RETAIN after its first page
]


@dataclass(frozen=True, slots=True)
class RoutingAudit:
    """One decision of the router."""

    ts: float
    decision: RoutingDecision
    reason: str
    incident: str | None = None
    site: str | None = None
    room: str | None = None
    by: str | None = None
    page_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"ts": self.ts, "decision": self.decision, "reason": self.reason}
        for name in ("incident", "site", "room", "by"):
            value = getattr(self, name)
            if value is not None:
                record[name] = value
        if self.page_ids:
            record["page_ids"] = list(self.page_ids)
        return record


@dataclass(frozen=True, slots=True)
class PendingStep:
    """An escalation step waiting for its due time."""

    incident: str
    escalation: int
    due: float
    to: tuple[str, ...]


# -- the router ---------------------------------------------------------------------------------


class Router:
    """Routes first pages, escalates unanswered ones, and stops when staff answer or arrive.

    ``silences``, if given, holds back the pages of muted rooms and devices (never calls). A
    technical page held back is sent when its silence ends, if its incident is still open; a
    held care page is sent only if the classifier sees new evidence of it after the silence
    ended (what happened while it held was kept away on purpose).

    ``audit`` False leaves out the audit entries of routing and escalating (a replay without
    ``--audit``); refusals and closings are audited all the same.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        silences: Silences | None = None,
        retain: float = RETAIN,
        audit: bool = True,
    ) -> None:
        if retain <= 0:
            raise ValueError("retain must be positive")
        self.policy = policy
        self.silences = silences
        self.retain = retain
        self.audit = audit
        self._incidents: dict[str, IncidentState] = {}
        # incidents changed (or forgotten) since take_changes() last said which
        self._changed: set[str] = set()
        self._audit: list[RoutingAudit] = []
        self._acked: list[AckRecord] = []  # acknowledgements that took effect
        # the router's clock: everything due at or before it is done
        self.clock = -math.inf
        # when each incident next has something to do (heap; an entry may be stale: the
        # incident is looked at then, and pushed again with its next time): advance() looks at
        # the incidents due only, and stays cheap however many the router remembers
        self._due: list[tuple[float, str]] = []
        self._silences_seen = -1

    # -- input ---------------------------------------------------------------------------------

    def run(self, changes: Iterable[IncidentChange], until: float) -> list[Page]:
        """Apply the core's incident changes in event-time order, each after the escalation
        steps and acknowledgements due up to its time, then everything due up to ``until``
        (the event clock). Returns the pages, by time."""
        pages: list[Page] = []
        # By time, stably (each room's order is kept), but never before the incident's own
        # opening: a call paged on arrival is opened at its time, ahead of the event clock, and
        # a late event may resolve it at the clock, before that time.
        changes = list(changes)
        opened = {change.incident: change.ts for change in changes if isinstance(change, Opened)}

        def time_of(change: IncidentChange) -> float:
            return max(change.ts, opened.get(change.incident, -math.inf))

        due = self._due
        for change in sorted(changes, key=time_of):
            if change.ts <= until and due and due[0][0] <= change.ts:
                pages.extend(self.advance(change.ts))
            if isinstance(change, Opened):
                pages.extend(self.open(change))
            elif isinstance(change, Resolved):
                self.resolve(change.incident, change.ts, change.reason)
            else:
                pages.extend(self.evidence(change))
        pages.extend(self.advance(until))
        pages.sort(key=_page_order)
        return pages

    def open(self, opened: Opened) -> list[Page]:
        """An incident the core opened: its first pages (see :meth:`route`)."""
        room = self.policy.room(opened.site, opened.room)
        return self.route(
            make_page(
                room,
                incident=opened.incident,
                kind=opened.kind,
                ts=opened.ts,
                events=list(opened.events),
                device=opened.device,
                reason=opened.fault,
            )
        )

    def route(self, page: Page) -> list[Page]:
        """The pages for the recipients of an incident's first page (``escalation`` 0, made by
        ``routing.pages.make_page``).

        The recipients are those of the first route that fits the page and has someone on duty
        at ``page.ts``; else the site's ``recipients``. Each page keeps the incident, has
        escalation 0 and its own ``page_id`` (``<incident>/0/<recipient>``). An incident already
        routed gives no page at all.
        """
        if page.escalation != 0:
            raise ValueError(
                f"route() takes an incident's first page, not escalation {page.escalation}"
            )
        known = self._incidents.get(page.incident)
        if known is not None:
            self._note(
                page.ts,
                "ignored",
                f"incident already routed ({known.status}): no second first page",
                known,
            )
            return []
        state = IncidentState(page=page, forget_at=page.ts + self.retain)
        self._incidents[page.incident] = state
        silence = self.silences.hold(page, page.ts) if self.silences is not None else None
        if silence is not None:
            state.status = "held"
            if page.audience == "technical":
                state.held_until = silence.until
            self._schedule(state)
            later = (
                f"; paged when the silence ends at {when(silence.until)} if still open"
                if page.audience == "technical"
                else ""
            )
            self._note(
                page.ts, "held", f"{silence.target} is muted ({silence.reason}){later}", state
            )
            return []
        return self._first_pages(state, page.ts, "routed")

    def evidence(self, evidence: Evidence) -> list[Page]:
        """New evidence of an incident held back by a silence that has ended since: page it.

        The silence kept away what happened while it held (a technician at work in the room);
        what the sensors still see after it ended is the resident's, and is paged.
        """
        state = self._incidents.get(evidence.incident)
        if state is None or state.status != "held" or state.held_until is not None:
            return []  # not held, or a technical incident (paged when its silence ends)
        ts = evidence.ts
        if self.silences is not None and self.silences.applies(state.page, ts) is not None:
            return []
        state.status = "open"
        state.forget_at = max(state.forget_at, ts + self.retain)
        return self._first_pages(state, ts, "released")

    def acknowledge(
        self, incident: str, by: str, at: float, *, site: str | None = None
    ) -> AckRefusal | None:
        """``by`` answered the pages of ``incident`` at ``at``: escalation stops from then on.

        An acknowledgement ahead of the router's clock waits with its incident until the clock
        gets there (an escalation due before it still goes out); one behind it takes effect
        now. ``site`` (from the acknowledgement's topic) must be the incident's, if given.
        Returns None, or why the acknowledgement stops nothing (:meth:`refusal`); that is
        audited too.
        """
        state = self._incidents.get(incident)
        refused = self.refusal(incident, by, at, site=site)
        if refused is not None:
            self._audit.append(
                RoutingAudit(at, "ignored", refused.reason, incident=incident, site=site, by=by)
                if state is None
                else self._entry(at, "ignored", refused.reason, state, by=by)
            )
            return refused
        assert state is not None  # noqa: S101 - refusal() refuses an unknown incident
        at = max(at, state.page.ts)  # a clock a little behind: not before the incident
        if at <= self.clock:
            self._acknowledged(state, at, by)
            return None
        state.acks.append(AckState(at=at, by=by))
        state.acks.sort(key=lambda ack: ack.at)
        self._changed.add(incident)
        self._schedule(state)
        return None

    def refusal(
        self, incident: str, by: str, at: float, *, site: str | None = None
    ) -> AckRefusal | None:
        """Why an acknowledgement would stop nothing, or None: ``by`` is none of the site's
        staff (``Policy.acknowledgers``); the incident is unknown, another site's, or no
        longer open; or ``at`` lies over ``ACK_SKEW`` before its first page, or after the
        router would forget it."""
        state = self._incidents.get(incident)
        of = site if site is not None else None if state is None else state.page.site
        if of is not None and by not in self.policy.acknowledgers(of):
            return AckRefusal("not_staff", f"acknowledgement by {by!r}, who is " + _not_staff(of))
        if state is None:
            return AckRefusal(
                "not_open",
                f"acknowledgement by {by} of an incident the router does not know (never "
                f"paged, or forgotten {self.retain / 3600:g} h after it was)",
            )
        page = state.page
        if site is not None and site != page.site:
            return AckRefusal(
                "not_open",
                f"acknowledgement by {by} on the topic of site {site}, but the incident is of "
                f"site {page.site}",
            )
        if state.status in ("acknowledged", "resolved"):
            return AckRefusal(
                "not_open",
                f"acknowledgement by {by}, but the incident was already {state.status} at "
                f"{when(state.closed_at or at)}"
                + (f" by {state.closed_by}" if state.closed_by else ""),
            )
        if not page.ts - ACK_SKEW <= at <= page.ts + self.retain:
            return AckRefusal(
                "bad_time",
                f"acknowledgement by {by} given at {when(at)}, "
                + (
                    f"before the incident's first page at {when(page.ts)}"
                    if at < page.ts
                    else f"over {self.retain / 3600:g} h after its first page at {when(page.ts)}"
                )
                + ": check the clock of the pager gateway, or leave out 'ts'",
            )
        return None

    def resolve(self, incident: str, at: float, reason: str) -> None:
        """The incident is over (staff arrived, call cancelled, ...): escalation stops."""
        state = self._incidents.get(incident)
        if state is None:
            if self.audit:
                self._audit.append(
                    RoutingAudit(
                        at,
                        "ignored",
                        f"resolution of an incident the router does not know: {reason}",
                        incident=incident,
                    )
                )
            return
        self._close(state, "resolved", at, None, reason)

    # -- time ----------------------------------------------------------------------------------

    def advance(self, until: float) -> list[Page]:
        """The router's clock moves to ``until``: the re-notifications and escalations due by
        then (each with ``ts`` = its due time), in time order with the acknowledgements that
        come into effect (one at the very time of a step does not stop it).

        Also releases technical pages whose silence ended, and forgets incidents ``retain``
        after their first page. Steps overdue after a restart all go out at once, in order.
        """
        self.clock = max(self.clock, until)
        if self.silences is not None:
            self.silences.expire(until)
            if self.silences.revision != self._silences_seen:  # a silence set, lifted or ended
                self._silences_seen = self.silences.revision
                for state in self._incidents.values():
                    if state.status == "held" and state.held_until is not None:
                        heapq.heappush(self._due, (-math.inf, state.page.incident))
        pages: list[Page] = []
        due = self._due
        while due and due[0][0] <= until:
            _, name = heapq.heappop(due)
            known = self._incidents.get(name)
            if known is not None:
                pages.extend(self._advance_incident(known, until))
        pages.sort(key=_page_order)
        return pages

    def _advance_incident(self, state: IncidentState, until: float) -> list[Page]:
        """What comes due of one incident by ``until``: a release, steps and
        acknowledgements in time order, its forgetting; then when it is due again."""
        pages: list[Page] = []
        if state.status == "held" and state.held_until is not None:
            pages.extend(self._release(state, until))
        while True:
            due = state.steps[0].due if state.status == "open" and state.steps else math.inf
            ack = state.acks[0].at if state.acks else math.inf
            if min(due, ack) > until:
                break
            if due <= ack:
                pages.extend(self._escalate(state, state.steps.pop(0)))
            else:
                taken = state.acks.pop(0)
                self._acknowledged(state, taken.at, taken.by)
        if (
            state.forget_at <= until
            and not state.steps
            and not state.acks
            and state.held_until is None
        ):
            del self._incidents[state.page.incident]
            self._changed.add(state.page.incident)
            self._note(
                until,
                "forgotten",
                f"{self.retain / 3600:g} h after its first page ({state.status})",
                state,
            )
        else:
            self._schedule(state)
        return pages

    def _schedule(self, state: IncidentState) -> None:
        """Note when ``state`` next has something to do (see ``_due``)."""
        heapq.heappush(self._due, (self._wake_of(state), state.page.incident))

    @staticmethod
    def _wake_of(state: IncidentState) -> float:
        """When :meth:`advance` next has something to do for this incident."""
        wake = state.acks[0].at if state.acks else math.inf
        if state.status == "open" and state.steps:
            return min(wake, state.steps[0].due)
        if state.status == "held" and state.held_until is not None:
            return min(wake, state.held_until)
        return min(wake, state.forget_at)

    def next_due(self) -> float | None:
        """When :meth:`advance` next has something to do (a step, a release), or None."""
        times = [
            state.steps[0].due
            for state in self._incidents.values()
            if state.status == "open" and state.steps
        ]
        times += [
            state.held_until
            for state in self._incidents.values()
            if state.status == "held" and state.held_until is not None
        ]
        return min(times, default=None)

    # -- state ---------------------------------------------------------------------------------

    def pending(self) -> list[PendingStep]:
        """Every escalation step waiting, soonest first."""
        steps = [
            PendingStep(state.page.incident, step.escalation, step.due, tuple(step.to))
            for state in self._incidents.values()
            if state.status == "open"
            for step in state.steps
        ]
        return sorted(steps, key=lambda s: (s.due, s.incident, s.escalation))

    def status(self, incident: str) -> IncidentStatus | None:
        """Where an incident stands, or None if the router does not know it."""
        state = self._incidents.get(incident)
        return None if state is None else state.status

    def take_audit(self) -> list[RoutingAudit]:
        """What the router decided since the last call."""
        entries, self._audit = self._audit, []
        return entries

    def take_acks(self) -> list[AckRecord]:
        """The acknowledgements that took effect since the last call."""
        acked, self._acked = self._acked, []
        return acked

    def snapshot(self) -> dict[str, Any]:
        """Open, held and recently closed incidents with their pending steps, as plain JSON."""
        states = sorted(self._incidents.values(), key=lambda s: (s.page.ts, s.page.incident))
        snapshot: dict[str, Any] = msgspec.to_builtins(
            RouterSnapshot(incidents=states), enc_hook=encode_page
        )
        return snapshot

    def take_changes(self, *, everything: bool = False) -> dict[str, str | None]:
        """The incidents changed since the last call (``everything``: all it knows), each as
        the JSON text of its part of a :meth:`snapshot`, or None if it was forgotten.

        What ``serve`` writes to its store each round: only what the round changed, where the
        whole snapshot (every incident of the last day) grows with the sites served.
        """
        names = set(self._incidents) if everything else self._changed
        self._changed = set()
        changes: dict[str, str | None] = {}
        for name in sorted(names):
            state = self._incidents.get(name)
            changes[name] = (
                None if state is None else msgspec.json.encode(state, enc_hook=encode_page).decode()
            )
        return changes

    def forget_changes(self) -> None:
        """Forget which incidents changed (for a router whose state nobody keeps)."""
        self._changed.clear()

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the state with a :meth:`snapshot`'s; ValueError if it is not one.

        Pending steps keep their due times: :meth:`advance` after the restart sends those that
        came due while the service was down, and the rest when they come due.
        """
        try:
            state = msgspec.convert(snapshot, RouterSnapshot, dec_hook=decode_page)
        except (msgspec.ValidationError, ValidationError) as error:
            raise ValueError(f"not a router snapshot: {error}") from None
        for incident in state.incidents:
            incident.steps.sort(key=lambda s: (s.due, s.escalation))
            incident.acks.sort(key=lambda a: a.at)
        self._incidents = {incident.page.incident: incident for incident in state.incidents}
        self._changed = set()
        self._due = [(self._wake_of(s), name) for name, s in self._incidents.items()]
        heapq.heapify(self._due)
        self._silences_seen = -1

    def restore_incidents(self, incidents: Iterable[Mapping[str, Any]]) -> None:
        """:meth:`restore` from the incidents as :meth:`take_changes` gave them (parsed)."""
        self.restore({"version": 1, "incidents": list(incidents)})

    # -- the work ------------------------------------------------------------------------------

    def _first_pages(
        self, state: IncidentState, ts: float, decision: RoutingDecision
    ) -> list[Page]:
        page = state.page
        recipients, why = self._recipients(page, ts)
        state.recipients = list(recipients)
        state.paged_at = ts
        room = self.policy.room(page.site, page.room)
        state.steps = [
            PendingState(escalation=index, due=ts + step.after, to=list(step.to))
            for index, step in enumerate(room.escalation.steps(page.priority), start=1)
        ]
        pages = [self._page(page, 0, recipient, ts, ts) for recipient in recipients]
        self._schedule(state)
        self._changed.add(page.incident)
        if self.audit:
            plan = (
                ", escalation at "
                + ", ".join(f"+{step.due - ts:g} s to {'/'.join(step.to)}" for step in state.steps)
                if state.steps
                else ", no escalation"
            )
            self._note(ts, decision, f"{why}{plan}", state, pages)
        return pages

    def _recipients(self, page: Page, ts: float) -> tuple[tuple[str, ...], str]:
        staff = self.policy.staff(page.site)
        routed = staff.route(page.room, page.audience, page.priority, page.kind, ts)
        if routed is not None:
            why = f"route {routed.route.name!r} to {', '.join(routed.recipients)}"
            if routed.off_duty:
                why += f" ({', '.join(routed.off_duty)} off duty)"
            return routed.recipients, why
        fallback = self.policy.room(page.site, page.room).recipient(page.audience)
        if staff.routes:
            return (fallback,), (
                f"no route fits or has someone on duty: the site's recipients.{page.audience} "
                f"{fallback}"
            )
        return (fallback,), f"the site's recipients.{page.audience} {fallback}"

    def _escalate(self, state: IncidentState, step: PendingState) -> list[Page]:
        page = state.page
        targets, notes = self._targets(state, step.to, step.due)
        silence = None
        if self.silences is not None and self.silences.applies(page, step.due) is not None:
            template = page.model_copy(
                update={
                    "escalation": step.escalation,
                    "page_id": f"{page.incident}/{step.escalation}",
                }
            )
            silence = self.silences.hold(template, step.due)
        if silence is not None:
            self._note(
                step.due,
                "held",
                f"escalation {step.escalation} not sent: {silence.target} is muted",
                state,
            )
            return []
        opened = state.paged_at if state.paged_at is not None else page.ts
        pages = [self._page(page, step.escalation, target, step.due, opened) for target in targets]
        self._changed.add(page.incident)
        if self.audit:
            kind = "re-sent" if tuple(targets) == tuple(state.recipients) else "escalated"
            reason = (
                f"not acknowledged: {kind} to {', '.join(targets)} (escalation {step.escalation})"
            )
            self._note(step.due, "escalated", reason + "".join(notes), state, pages)
        return pages

    def _targets(
        self, state: IncidentState, to: Iterable[str], due: float
    ) -> tuple[list[str], list[str]]:
        """The recipients of an escalation step, and notes on who was left out and why."""
        page = state.page
        staff = self.policy.staff(page.site)
        team = self.policy.room(page.site, page.room).recipient(page.audience)
        # a technical page may go only to technical recipients, or to pagers among them
        technical = {team, *staff.technical_names} if page.audience == "technical" else None
        technicians = {p for name in technical or () for p in staff.members(name)}
        targets: list[str] = []
        notes: list[str] = []
        for name in to:
            if name == SAME:
                targets.extend(state.recipients)
            elif name == TEAM:
                targets.append(team)
            elif technical is not None and not _for_technicians(
                staff.members(name), name, technical, technicians
            ):
                notes.append(f"; {name} left out: technical pages never go to care staff")
            elif not staff.on_duty(name, due):
                notes.append(f"; {name} left out: off duty")
            else:
                targets.append(name)
        if not targets:
            targets.append(team)
            notes.append(f"; nobody else left, so the site's recipients.{page.audience}")
        return list(dict.fromkeys(targets)), notes

    def _release(self, state: IncidentState, now: float) -> list[Page]:
        """A held technical incident: page it once no silence holds it any more."""
        held_until = state.held_until if state.held_until is not None else now
        silence = self.silences.applies(state.page, now) if self.silences is not None else None
        if silence is not None:
            state.held_until = silence.until  # muted again, or longer: wait for that one
            self._changed.add(state.page.incident)
            return []
        ts = held_until if held_until <= now else now  # ended, or removed early
        ts = max(ts, state.page.ts)
        state.status = "open"
        state.held_until = None
        state.forget_at = max(state.forget_at, ts + self.retain)
        return self._first_pages(state, ts, "released")

    def _acknowledged(self, state: IncidentState, at: float, by: str) -> None:
        self._close(state, "acknowledged", at, by, f"acknowledged by {by}")
        self._acked.append(AckRecord(state.page.incident, by, at))

    def _close(
        self,
        state: IncidentState,
        status: Literal["acknowledged", "resolved"],
        at: float,
        by: str | None,
        reason: str,
    ) -> None:
        if state.status in ("acknowledged", "resolved"):
            if self.audit:
                self._note(
                    at,
                    "ignored",
                    f"{reason}, but the incident was already {state.status} at "
                    f"{when(state.closed_at or at)}"
                    + (f" by {state.closed_by}" if state.closed_by else ""),
                    state,
                    by=by,
                )
            return
        cancelled = len(state.steps)
        was_held = state.status == "held"
        state.status = status
        state.steps = []
        state.acks = []  # others' acknowledgements still to come change nothing now
        state.held_until = None
        state.closed_at, state.closed_by, state.closed_reason = at, by, reason
        self._changed.add(state.page.incident)
        if not self.audit:
            return
        if was_held:
            effect = "it was held back by a silence and will not be paged"
        elif cancelled:
            effect = f"{cancelled} pending escalation step{'s' if cancelled != 1 else ''} cancelled"
        else:
            effect = "no escalation was pending"
        self._note(at, status, f"{reason}: {effect}", state, by=by)

    def _page(self, first: Page, escalation: int, recipient: str, ts: float, opened: float) -> Page:
        """Page ``escalation`` of the incident of ``first`` to ``recipient`` at ``ts``; a
        repeat says so and how long since the first page (at ``opened``)."""
        room = self.policy.room(first.site, first.room)
        language = self.policy.staff(first.site).language_of(recipient, room.language)
        text, written_in = self._text(first, language)
        text = repeat_text(text, escalation, opened, ts, written_in)
        return Page(
            page_id=f"{first.incident}/{escalation}/{recipient}",
            incident=first.incident,
            site=first.site,
            room=first.room,
            kind=first.kind,
            priority=first.priority,
            audience=first.audience,
            ts=ts,
            escalation=escalation,
            recipient=recipient,
            text=text,
            events=list(first.events),
        )

    def _text(self, page: Page, language: str) -> tuple[str, str]:
        """The page's text in ``language``, the one its recipient reads (a pager's own, or the
        one every member of a group reads; members that differ get the site's), and the
        language it is in: the site's for a fault the texts of ``language`` cannot say."""
        room = self.policy.room(page.site, page.room)
        if language == room.language:
            return page.text, language
        detail = ""
        if page.kind == "device_fault":
            fault = device_fault_of(page.incident)
            if fault is None or fault[1] not in FAULT_TEXTS[language]:
                return page.text, room.language
            detail = FAULT_TEXTS[language][fault[1]].format(device=fault[0])
        return TEXTS[language][page.kind].format(room=page.room, detail=detail), language

    def _entry(
        self,
        ts: float,
        decision: RoutingDecision,
        reason: str,
        state: IncidentState,
        pages: Iterable[Page] = (),
        *,
        by: str | None = None,
    ) -> RoutingAudit:
        """An audit entry about ``state``. Every change of an incident is audited, so the entry
        also marks it changed (for :meth:`take_changes`; one that changed nothing writes the
        same state again)."""
        page = state.page
        self._changed.add(page.incident)
        return RoutingAudit(
            ts,
            decision,
            reason,
            incident=page.incident,
            site=page.site,
            room=page.room,
            by=by,
            page_ids=tuple(p.page_id for p in pages),
        )

    def _note(
        self,
        ts: float,
        decision: RoutingDecision,
        reason: str,
        state: IncidentState,
        pages: Iterable[Page] = (),
        *,
        by: str | None = None,
    ) -> None:
        if self.audit:
            self._audit.append(self._entry(ts, decision, reason, state, pages, by=by))
        else:
            self._changed.add(state.page.incident)


def _for_technicians(
    members: tuple[str, ...], name: str, technical: set[str], technicians: set[str]
) -> bool:
    """Whether a technical page may go to ``name``: a technical recipient itself, or a pager or
    group whose pagers (``members``) are all technicians' (``technicians``)."""
    return name in technical or (bool(members) and technicians.issuperset(members))


def _not_staff(site: str) -> str:
    return (
        f"none of the staff of site {site}: acknowledge as one of its pagers or groups "
        "(staff.pagers, staff.groups; for a site without staff, one of its recipients)"
    )


def _page_order(page: Page) -> tuple[float, str, int, str]:
    return (page.ts, page.incident, page.escalation, page.recipient)
