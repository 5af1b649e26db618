"""Silences for maintenance: hold back the pages of a muted room or device for a set time.

Sans-I/O like the rest of routing: time is a parameter, nothing reads a clock or a file. A
technician mutes a device while replacing it, or a room while working in it:

- a muted **device** holds back its technical pages (device faults);
- a muted **room** holds back its care pages;
- a **resident call** (kind ``call``) is never held back, whatever is muted.

A silence ends by itself at ``until`` (or earlier by :meth:`Silences.remove`). Every silence
added, removed or expired, and every page held back, is an entry of the audit trail
(:meth:`Silences.take_audit`). :meth:`Silences.snapshot` and :meth:`Silences.restore` give a
plain JSON-able state for the durable store.

On the command line (``sensorhub.commands.mute``): ``sensorhub mute`` builds a :class:`Silence` with
``created`` = now and ``until`` = now + the duration asked for and calls :meth:`Silences.add`;
``sensorhub unmute ID`` calls :meth:`Silences.remove`; ``sensorhub silences`` shows
:meth:`Silences.active` (``--all``: :meth:`Silences.every`). The commands are the only writer
of the state ``silences`` in the durable store: each change is read, made and saved with its
audit entries in one transaction (``Store.change_state``), and the service reads it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from sensorhub.contract import NAME_RE, Page

#: The state in the store that holds the silences (``Silences.snapshot()``): written by
#: ``sensorhub mute``/``unmute``, read by ``serve``.
SILENCES_STATE: Final = "silences"
#: A muted room is a room where nothing but resident calls is paged: at most a day at a time.
MAX_ROOM_SILENCE: Final = 24 * 3600.0
#: A device waiting for a spare part may stay muted longer, up to a week.
MAX_DEVICE_SILENCE: Final = 7 * 24 * 3600.0
#: A retired device (``sensorhub devices retire``) is a device silence that lasts this long:
#: until it is lifted (``sensorhub unmute``), in practice.
RETIRED_FOR: Final = 100 * 365 * 24 * 3600.0
#: Kinds of page that no silence ever holds back.
NEVER_SILENCED: Final = frozenset({"call"})

SilenceAction = Literal["silence_added", "silence_removed", "silence_expired", "silenced"]


def device_fault_of(incident: str) -> tuple[str, str] | None:
    """``(device, reason)`` of a device-fault incident id, or None for any other incident.

    The classifier names a device-fault incident ``<site>/<room>/device_fault/<device>/<reason>/
    <ms>``; site, room and device names cannot hold a ``/``, so the parts are unambiguous. A page
    does not carry its device otherwise.
    """
    parts = incident.split("/")
    if len(parts) == 6 and parts[2] == "device_fault":
        return parts[3], parts[4]
    return None


def when(ts: float) -> str:
    """A time for the audit trail: UTC, to the second."""
    return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%dT%H:%M:%SZ}"


class Silence(BaseModel):
    """One silence: a room's care pages or a device's technical pages held back until ``until``.

    Give ``room`` to mute a room, ``device`` to mute a device (with ``room`` to name the device of
    one room only, without it every device of that name on the site). Times are Unix seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(description="The site (care home).")
    room: str | None = Field(None, description="The muted room, or the room of the device.")
    device: str | None = Field(None, description="The muted device.")
    until: float = Field(description="When the silence ends by itself (Unix seconds).")
    reason: str = Field(min_length=1, max_length=200, description="Why, for the audit trail.")
    by: str = Field(min_length=1, max_length=128, description="Who muted it.")
    created: float = Field(description="When the silence was set (Unix seconds).")
    retired: bool = Field(
        False,
        description="The device was removed (sensorhub devices retire): its faults are held "
        "back until this is lifted, without the week's limit.",
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``retired`` only when true: the silences of older versions read as before."""
        dumped: dict[str, Any] = handler(self)
        if not self.retired:
            dumped.pop("retired", None)
        return dumped

    @field_validator("site", "room", "device")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a site, room or device name: "
                "use 1-64 letters, digits, '_', '.', '-' as in the sensor's topic"
            )
        return value

    @field_validator("reason", "by")
    @classmethod
    def _text(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty: say why the silence is set, and by whom")
        return value

    @model_validator(mode="after")
    def _sensible(self) -> Silence:
        if not (math.isfinite(self.until) and math.isfinite(self.created)):
            raise ValueError("until and created must be finite times")
        if self.room is None and self.device is None:
            raise ValueError(
                "a silence mutes a room or a device: name one (a whole site is never muted)"
            )
        length = self.until - self.created
        if length <= 0:
            raise ValueError("the silence ends before it starts: until must be after created")
        if self.retired and (self.device is None or self.room is None):
            raise ValueError("a retired device is named with its room")
        limit = MAX_DEVICE_SILENCE if self.device is not None else MAX_ROOM_SILENCE
        if length > limit and not self.retired:
            what = "a device" if self.device is not None else "a room"
            raise ValueError(
                f"{what} can be muted for at most {limit / 3600:g} h at a time, not "
                f"{length / 3600:.4g} h: mute it again when that runs out"
            )
        return self

    @property
    def id(self) -> str:
        """A stable name: where, and when it was set (milliseconds)."""
        return f"{self.site}/{self.room or '*'}/{self.device or '*'}/{round(self.created * 1000)}"

    @property
    def target(self) -> str:
        """What is muted, in words for the audit and the command line."""
        if self.device is not None:
            where = f" in room {self.room}" if self.room is not None else ""
            retired = "retired " if self.retired else ""
            return f"{retired}device {self.device}{where} of site {self.site}"
        return f"room {self.room} of site {self.site}"

    def covers(self, page: Page) -> bool:
        """Whether this silence would hold ``page`` back (leaving time aside)."""
        if page.kind in NEVER_SILENCED or page.site != self.site:
            return False
        if self.device is not None:
            fault = device_fault_of(page.incident)
            return (
                page.audience == "technical"
                and fault is not None
                and fault[0] == self.device
                and (self.room is None or page.room == self.room)
            )
        return page.audience == "care" and page.room == self.room

    def in_force(self, at: float) -> bool:
        """Whether the silence still holds at ``at``; it ends by itself at ``until``."""
        return at < self.until


@dataclass(frozen=True, slots=True)
class SilenceAudit:
    """One entry of the silences' audit trail."""

    ts: float
    decision: SilenceAction
    silence: Silence
    reason: str
    by: str | None = None
    incident: str | None = None
    page_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ts": self.ts,
            "decision": self.decision,
            "reason": self.reason,
            "silence": {"id": self.silence.id, **self.silence.model_dump()},
        }
        if self.by is not None:
            record["by"] = self.by
        if self.incident is not None:
            record["incident"] = self.incident
        if self.page_id is not None:
            record["page_id"] = self.page_id
        return record


class _Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    silences: list[Silence] = Field(default_factory=list)


@dataclass(slots=True)
class Silences:
    """The silences in force, and the audit trail of what they did."""

    _by_id: dict[str, Silence] = field(default_factory=dict)
    _audit: list[SilenceAudit] = field(default_factory=list)
    _revision: int = 0

    @property
    def revision(self) -> int:
        """Goes up whenever a silence is added, removed, expired or restored."""
        return self._revision

    def add(self, silence: Silence) -> SilenceAudit:
        """Mute: from now on ``silence`` holds back what it covers, until ``silence.until``."""
        if silence.id in self._by_id:
            raise ValueError(f"silence {silence.id} is already set")
        self._by_id[silence.id] = silence
        self._revision += 1
        until = "" if silence.retired else f" muted until {when(silence.until)}"
        return self._record(
            silence.created,
            "silence_added",
            silence,
            f"{silence.target}{until} by {silence.by}: {silence.reason}",
            by=silence.by,
        )

    def remove(self, silence_id: str, *, by: str, at: float) -> Silence | None:
        """Unmute before ``until``; None (and nothing recorded) if no such silence is set."""
        silence = self._by_id.pop(silence_id, None)
        if silence is not None:
            self._revision += 1
            self._record(at, "silence_removed", silence, f"{silence.target} unmuted by {by}", by=by)
        return silence

    def expire(self, at: float) -> list[SilenceAudit]:
        """Drop the silences that ended by ``at``, each with an audit entry at its ``until``."""
        ended = sorted(
            (s for s in self._by_id.values() if not s.in_force(at)), key=lambda s: (s.until, s.id)
        )
        entries = []
        for silence in ended:
            del self._by_id[silence.id]
            self._revision += 1
            entries.append(
                self._record(
                    silence.until, "silence_expired", silence, f"{silence.target}: silence ended"
                )
            )
        return entries

    def active(self, at: float) -> list[Silence]:
        """The silences in force at ``at``, the soonest to end first."""
        return sorted(
            (s for s in self._by_id.values() if s.in_force(at)), key=lambda s: (s.until, s.id)
        )

    def every(self) -> list[Silence]:
        """Every silence set, in force or ended but not yet expired, the soonest to end first."""
        return sorted(self._by_id.values(), key=lambda s: (s.until, s.id))

    def get(self, silence_id: str) -> Silence | None:
        """The silence set with ``silence_id``, in force or not, or None."""
        return self._by_id.get(silence_id)

    def forget_ended(self, before: float) -> list[Silence]:
        """Drop, without an audit entry, the silences that ended before ``before``.

        For the writer of a stored state that nobody expires (the command line): a silence
        that ended long ago has had its end recorded by the service that applied it.
        """
        gone = [s for s in self.every() if s.until < before]
        for silence in gone:
            del self._by_id[silence.id]
        if gone:
            self._revision += 1
        return gone

    def applies(self, page: Page, at: float) -> Silence | None:
        """The silence that holds ``page`` back at ``at`` (the longest-lasting), or None.

        Resident calls are never held back. Records nothing: see :meth:`hold`.
        """
        if page.kind in NEVER_SILENCED:
            return None
        covering = [s for s in self._by_id.values() if s.in_force(at) and s.covers(page)]
        return max(covering, key=lambda s: (s.until, s.id), default=None)

    def hold(self, page: Page, at: float) -> Silence | None:
        """Like :meth:`applies`, and if the page is held back, say so in the audit trail."""
        silence = self.applies(page, at)
        if silence is not None:
            self._record(
                at,
                "silenced",
                silence,
                f"{page.kind} page not sent: {silence.target} is muted until "
                f"{when(silence.until)} ({silence.reason})",
                incident=page.incident,
                page_id=page.page_id,
            )
        return silence

    def take_audit(self) -> list[SilenceAudit]:
        """The audit entries since the last call, oldest first."""
        entries, self._audit = self._audit, []
        return entries

    def snapshot(self) -> dict[str, Any]:
        """The silences set, as plain JSON-able data (the audit trail is taken, not kept)."""
        silences = sorted(self._by_id.values(), key=lambda s: (s.until, s.id))
        return _Snapshot(silences=silences).model_dump(mode="json")

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Replace the silences with those of a :meth:`snapshot`; ValueError if it is not one."""
        try:
            state = _Snapshot.model_validate(snapshot)
        except ValidationError as error:
            raise ValueError(f"not a silences snapshot: {error}") from None
        self._by_id = {silence.id: silence for silence in state.silences}
        self._revision += 1

    def _record(
        self,
        ts: float,
        decision: SilenceAction,
        silence: Silence,
        reason: str,
        *,
        by: str | None = None,
        incident: str | None = None,
        page_id: str | None = None,
    ) -> SilenceAudit:
        entry = SilenceAudit(ts, decision, silence, reason, by, incident, page_id)
        self._audit.append(entry)
        return entry
