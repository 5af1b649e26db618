"""A small language for policy scenarios: events in, reactions out, through ``replay``."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sensorhub.commands.replay import ReplaySummary, replay
from sensorhub.contract import Page
from sensorhub.engine import ClassifierName
from sensorhub.rules import load_policy

AMS = ZoneInfo("Europe/Amsterdam")
SITE = "zon"
#: 23:00 local on an ordinary November night.
NIGHT = datetime(2026, 11, 20, 23, 0, tzinfo=AMS).timestamp()

RULES = """
version: 1
sites:
  zon:
    rooms:
      normal: {}
      high:
        resident: {fall_risk: high}
      wander:
        resident: {wanders: true}
      wander-nocam:
        resident: {wanders: true}
      high-nocam:
        resident: {fall_risk: high}
"""

_counter = 0


def ev(
    t: float, room: str, kind: str, event: str, device: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An event ``t`` seconds after NIGHT (or at absolute time ``t`` if it is large)."""
    global _counter  # noqa: PLW0603 - ids only need to be unique within a test run
    _counter += 1
    ts = t if t > 1e9 else NIGHT + t
    return {
        "ts": ts,
        "site": SITE,
        "room": room,
        "kind": kind,
        "device": device or f"{room}-{kind}",
        "event": event,
        "id": f"e{_counter}",
        **extra,
    }


@dataclass
class Result:
    pages: list[Page]
    summary: ReplaySummary
    audit: list[dict[str, Any]]

    @property
    def reactions(self) -> list[tuple[str, str]]:
        return [(p.room, p.kind) for p in self.pages if p.is_reaction]

    @property
    def technical(self) -> list[tuple[str, str]]:
        return [(p.room, p.text) for p in self.pages if p.audience == "technical"]

    def reaction(self, kind: str) -> Page:
        (page,) = [p for p in self.pages if p.is_reaction and p.kind == kind]
        return page


def run(
    tmp_path: Path,
    events: list[dict[str, Any] | str],
    rules: str = RULES,
    *,
    jitter: float = 0.0,
    seed: int = 0,
    classifier: ClassifierName = "fast",
) -> Result:
    """Write ``events`` as a recording (sorted by ts, then delayed by up to ``jitter`` s of
    arrival time to make them late and out of order), replay it with ``classifier``
    (``"fast"``: the numba core, ``"reference"``: the pure-Python twin), return pages and
    audit."""
    dicts = [e for e in events if isinstance(e, dict)]
    ordered: list[dict[str, Any] | str] = sorted(dicts, key=lambda e: e["ts"])
    if jitter:
        rng = random.Random(seed)
        arrival = [(e["ts"] + rng.uniform(0, jitter), i) for i, e in enumerate(ordered)]
        ordered = [ordered[i] for _, i in sorted(arrival)]
    ordered += [e for e in events if isinstance(e, str)]
    recording = tmp_path / "recording.jsonl"
    recording.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in ordered)
    )
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(rules)
    pages_path = tmp_path / "pages.jsonl"
    audit_path = tmp_path / "audit.jsonl"
    summary = replay(
        recording,
        load_policy(rules_path),
        pages_path,
        audit_path=audit_path,
        classifier=classifier,
    )
    pages = [Page.model_validate_json(line) for line in pages_path.read_text().splitlines()]
    audit = [json.loads(line) for line in audit_path.read_text().splitlines()]
    return Result(pages, summary, audit)
