"""Ground truth of a simulated (or annotated) site: what happened, and what had to be paged.

A simulator writes, beside its recording ``NAME.jsonl[.gz]``:

- ``NAME.truth.json``: one ``GroundTruth`` object: the site, its rooms, every episode of ward
  life (a toilet visit, a fall, a blanket falling, a staff round, ...) and every actionable
  incident with its deadline (docs/contract.md section 4);
- ``NAME.census.jsonl``: one ``ConventionalAlarm`` per line: every alarm a conventional system
  would have sounded (each alarm-capable event, re-armed per device after 60 s).

``sensorhub evaluate`` reads both and the pages that sensorhub sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from sensorhub.contract import Audience, IncidentKind

#: Page-by deadlines of docs/contract.md section 4, seconds after the first evidence. For
#: ``absent_too_long`` the deadline is the resident's bathroom grace plus this (the simulator
#: writes each incident's deadline into the truth file); for device faults it counts from when
#: the fault became actionable.
DEADLINES: Final[dict[IncidentKind, float]] = {
    "fall": 15.0,
    "call": 2.0,
    "bed_exit": 10.0,
    "absent_too_long": 60.0,
    "wandering": 30.0,
    "acoustic": 45.0,
    "device_fault": 300.0,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoomTruth(_Model):
    """A room and its resident's profile, as the simulator set it up."""

    room: str
    fall_risk: str = "normal"
    wanders: bool = False
    bathroom_grace: float = 900.0
    devices: list[str] = Field(default_factory=list, description="kinds installed")


class Episode(_Model):
    """One piece of ward life in one room, actionable or a look-alike."""

    id: int
    site: str
    room: str
    night: str = Field(description="local date the night starts on, YYYY-MM-DD")
    label: str = Field(description="what happened, e.g. 'toilet visit', 'blanket falling'")
    start: float
    end: float


class TruthIncident(_Model):
    """An incident that had to be paged: to ``room``, of ``kind``, by ``deadline``."""

    site: str
    room: str
    night: str
    kind: IncidentKind
    audience: Audience
    start: float = Field(description="event time the incident became actionable")
    deadline: float = Field(description="event time by which it must have been paged")
    episode: int = Field(description="id of the episode it belongs to")
    device: str | None = Field(None, description="for device faults: the device")


class GroundTruth(_Model):
    site: str
    timezone: str
    seed: int
    nights: list[str]
    rooms: list[RoomTruth]
    episodes: list[Episode]
    incidents: list[TruthIncident]

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        return cls.model_validate_json(path.read_bytes())


class ConventionalAlarm(_Model):
    """An alarm a conventional system would have sounded."""

    ts: float
    site: str
    room: str
    kind: str
    device: str
    event: str
    night: str
    episode: int | None = Field(None, description="the episode it was part of, if any")
    actionable: bool = Field(description="whether that episode had an actionable incident")


def write_census(alarms: Iterable[ConventionalAlarm], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for alarm in alarms:
            out.write(alarm.model_dump_json() + "\n")


def sibling(recording_or_truth: Path, suffix: str) -> Path:
    """``night.jsonl.gz`` or ``night.truth.json`` -> ``night<suffix>``."""
    name = recording_or_truth.name
    for ending in (".truth.json", ".census.jsonl", ".jsonl.gz", ".jsonl"):
        if name.endswith(ending):
            return recording_or_truth.with_name(name[: -len(ending)] + suffix)
    return recording_or_truth.with_name(recording_or_truth.stem + suffix)
