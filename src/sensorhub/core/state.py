"""What the reference ``Classifier`` knows of each room and device, and its open incidents.

Plain objects, one per room (``RoomState``) and device (``DeviceState``); the compiled twin
keeps the same as rows of its state arrays (``kernel/layout.py``, ``kernel/state.py``).
Snapshots hold them: ``classifier.py`` imports every one of them, so that a snapshot made when
they lived there still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorhub.contract import IncidentKind
from sensorhub.rules.policy import RoomPolicy


@dataclass(slots=True)
class Incident:
    """One reason to go to one room (or, for technical incidents, to one device)."""

    id: str
    kind: IncidentKind
    opened: float
    last_evidence: float
    evidence: list[str]
    device: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class Pending:
    """Evidence waiting for its confirmation window or grace period to run out."""

    kind: str
    since: float
    evidence: list[str]
    token: int


@dataclass(slots=True)
class DeviceState:
    last_seen: float
    silent_token: int = 0
    obstructed: Pending | None = None
    faults: dict[str, Incident] = field(default_factory=dict)


@dataclass(slots=True)
class RoomState:
    policy: RoomPolicy
    #: optical device -> (last seen, cannot see: obstructed or faulted)
    optical: dict[str, tuple[float, bool]] = field(default_factory=dict)
    optical_in_bed: bool | None = None
    mat_in_bed: bool | None = None
    #: presence device -> time of its open staff_in
    staff_in: dict[str, float] = field(default_factory=dict)
    staff_seen: float = float("-inf")
    last_motion: float = float("-inf")
    has_motion_sensor: bool = False
    open: dict[IncidentKind, Incident] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    acoustic_start: float | None = None
    acoustic_last: float = float("-inf")
    acoustic_evidence: list[str] = field(default_factory=list)
    #: a call paged on arrival, not yet reached by the in-order pass: (incident, event ref)
    fast_call: tuple[Incident, str] | None = None
