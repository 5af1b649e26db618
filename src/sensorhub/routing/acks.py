"""An acknowledgement as routing keeps it and the store writes it: who answered which incident,
and when. A module of its own, so that the store (and ``sensorhub silences``, which opens it)
does not import the router, and with it the rule files' models."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AckRecord:
    """``by`` acknowledged ``incident`` at ``at`` (Unix seconds)."""

    incident: str
    by: str
    at: float
