"""Compiling rule files: every room resolved once into a flat, fully set ``RoomPolicy``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sensorhub.rules.model import NightWindow, Parameters, Recipients, RuleFile

_PARAMETER_FIELDS = tuple(Parameters.model_fields)


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    """All parameters of one room, resolved from defaults, site, room and resident."""

    site: str
    room: str
    timezone: str
    night_start: int  # minutes after local midnight
    night_end: int
    language: Literal["en", "nl"]
    care_recipient: str
    technical_recipient: str
    fall_risk: Literal["low", "normal", "high"]
    wanders: bool
    bathroom_grace: float
    acoustic_threshold: float
    acoustic_duration: float
    acoustic_gap: float
    fall_confirm: float
    bed_exit_confirm: float
    wandering_confirm: float
    staff_recent: float
    staff_timeout: float
    obstructed_after: float
    silent_after: float
    incident_idle_close: float

    def is_night(self, ts: float) -> bool:
        """Whether event time ``ts`` falls in the night window, in the site's local time."""
        local = datetime.fromtimestamp(ts, _zone(self.timezone))
        minute = local.hour * 60 + local.minute
        if self.night_start < self.night_end:
            return self.night_start <= minute < self.night_end
        return minute >= self.night_start or minute < self.night_end


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Policy:
    """A compiled rule file: ``room(site, room)`` gives the resolved parameters of any room.

    Rooms the file does not name get the defaults of their site (or of the file), so a sensor
    in a room nobody configured is still classified.
    """

    def __init__(self, rules: RuleFile, base: RuleFile | None = None) -> None:
        self.rules = rules
        self._layers_default = _merge_layers(
            [base.defaults if base is not None else None, rules.defaults]
        )
        missing = [name for name in _PARAMETER_FIELDS if self._layers_default.get(name) is None]
        if missing:
            raise ValueError(
                "the defaults do not set " + ", ".join(missing) + ": start from rules/default.yaml"
            )
        self._cache: dict[tuple[str, str], RoomPolicy] = {}

    def room(self, site: str, room: str) -> RoomPolicy:
        key = (site, room)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._resolve(site, room)
        return cached

    def _resolve(self, site: str, room: str) -> RoomPolicy:
        site_rules = self.rules.sites.get(site)
        room_rules = site_rules.rooms.get(room) if site_rules else None
        resident = room_rules.resident if room_rules else None
        values = dict(self._layers_default)
        values.update(_merge_layers([site_rules, room_rules, resident]))
        night: NightWindow = values["night"]
        recipients: Recipients = values["recipients"]
        return RoomPolicy(
            site=site,
            room=room,
            timezone=values["timezone"],
            night_start=NightWindow.minutes(night.start),
            night_end=NightWindow.minutes(night.end),
            language=values["language"],
            care_recipient=recipients.care,
            technical_recipient=recipients.technical,
            fall_risk=values["fall_risk"],
            wanders=values["wanders"],
            bathroom_grace=values["bathroom_grace"],
            acoustic_threshold=values["acoustic_threshold"],
            acoustic_duration=values["acoustic_duration"],
            acoustic_gap=values["acoustic_gap"],
            fall_confirm=values["fall_confirm"],
            bed_exit_confirm=values["bed_exit_confirm"],
            wandering_confirm=values["wandering_confirm"],
            staff_recent=values["staff_recent"],
            staff_timeout=values["staff_timeout"],
            obstructed_after=values["obstructed_after"],
            silent_after=values["silent_after"],
            incident_idle_close=values["incident_idle_close"],
        )


def _merge_layers(layers: list[Parameters | None]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        for name in _PARAMETER_FIELDS:
            value = getattr(layer, name)
            if value is not None:
                values[name] = value
    return values
