"""Sensors that misbehave: what reaches the broker when real sensors lose messages, go offline
for minutes, report on a skewed clock, stick on one state or report twice (issue 17).

``degrade(events, degradation, rng)`` takes the events as they happened (in event-time order,
with their ids) and gives the events as the sensors sent them. The ground truth stays what
happened in the room: it is made from the episodes, never from these events. Each kind of
misbehaviour draws from a random stream of its own (``rng`` seeds them), so turning one on
changes nothing the others do.

- ``loss``: each message of a device lost with this probability; resident calls travel over
  the call system and are not lost unless ``loss_calls``;
- ``burst_loss``: bursts a device a night, on average: from a random moment the device is
  offline for 1-10 minutes (Wi-Fi), everything it sends meanwhile lost (calls as ``loss``);
- ``skew``: each device's clock is off by up to this many seconds (drawn once, either way),
  and drifts up to 0.5 s an hour more: its events carry its clock's time, they arrive when
  they happened;
- ``stuck``: the share of devices (calls and presence buttons aside) that stick for a while
  (30 minutes to 3 hours) in a night: each message meanwhile repeats the state the device
  reported when it stuck;
- ``duplicates``: each message sent twice with this probability, the second an instant later
  with an id of its own (a sensor that reports twice; the broker's redeliveries keep the id).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from simulators.ward.model import Event

__all__ = ["SENT_AT", "Degradation", "degrade"]

#: Kinds a lost message may be of only with ``loss_calls`` (the call system is wired).
CALL_KINDS: Final = frozenset({"call"})
#: Kinds that never stick (a button has no state to stick in).
NEVER_STUCK: Final = frozenset({"call", "presence"})
#: How long a burst of loss lasts (s), and a stuck spell.
BURST: Final = (60.0, 600.0)
STUCK: Final = (1800.0, 3 * 3600.0)
#: The most a skewed clock drifts further (s an hour).
DRIFT: Final = 0.5
#: How long after the first a duplicate is sent (s).
DUPLICATE_AFTER: Final = 0.2
#: The key of the time an event was sent, where its ``ts`` is not that time (a skewed clock).
SENT_AT: Final = "_sent_at"


@dataclass(frozen=True, slots=True)
class Degradation:
    """How the sensors misbehave (see the module's docstring); all off by default."""

    loss: float = 0.0
    loss_calls: bool = False
    burst_loss: float = 0.0
    skew: float = 0.0
    stuck: float = 0.0
    duplicates: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss", "stuck", "duplicates"):
            share = getattr(self, name)
            if not 0 <= share <= 1:
                raise ValueError(f"{name} is a share between 0 and 1, not {share}")
        for name in ("burst_loss", "skew"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number of 0 or more, not {value}")

    @property
    def any(self) -> bool:
        return bool(self.loss or self.burst_loss or self.skew or self.stuck or self.duplicates)


def degrade(events: list[Event], degradation: Degradation, seed: str) -> list[Event]:
    """``events`` (in event-time order, each with its ``id``) as the sensors sent them, in
    the order they happened; random streams ``seed``/<what>."""
    if not degradation.any or not events:
        return events
    start, end = events[0]["ts"], events[-1]["ts"]
    nights = max((end - start) / 86400.0, 1.0)
    devices = sorted({(e["device"], e["kind"]) for e in events})
    bursts = _spells(
        devices,
        per_device=degradation.burst_loss * nights,
        length=BURST,
        span=(start, end),
        rng=random.Random(f"{seed}/bursts"),
        eligible=lambda kind: degradation.loss_calls or kind not in CALL_KINDS,
    )
    stuck = _spells(
        devices,
        per_device=degradation.stuck * nights,
        length=STUCK,
        span=(start, end),
        rng=random.Random(f"{seed}/stuck"),
        eligible=lambda kind: kind not in NEVER_STUCK,
    )
    clocks = _clocks(devices, degradation.skew, random.Random(f"{seed}/skew"))
    lose = random.Random(f"{seed}/loss")
    twice = random.Random(f"{seed}/duplicates")
    stuck_state: dict[str, str] = {}
    out: list[Event] = []
    for event in events:
        device, kind, ts = event["device"], event["kind"], event["ts"]
        if kind not in CALL_KINDS or degradation.loss_calls:
            if degradation.loss and lose.random() < degradation.loss:
                continue
            if _within(bursts.get(device), ts):
                continue
        sent = dict(event)
        if kind not in NEVER_STUCK and event["event"] != "heartbeat":
            if _within(stuck.get(device), ts):
                sent["event"] = stuck_state.setdefault(device, event["event"])
            else:
                stuck_state.pop(device, None)
        if device in clocks:
            offset, drift = clocks[device]
            sent["ts"] = round(ts + offset + drift * (ts - start) / 3600.0, 3)
            sent[SENT_AT] = ts  # it arrives when it happened (``deliver`` reads and drops it)
        out.append(sent)
        if degradation.duplicates and twice.random() < degradation.duplicates:
            again = dict(sent, id=f"{sent['id']}-again")
            again["ts"] = round(sent["ts"] + DUPLICATE_AFTER, 3)
            again[SENT_AT] = sent.get(SENT_AT, ts) + DUPLICATE_AFTER
            out.append(again)
    return out


def _spells(
    devices: list[tuple[str, str]],
    *,
    per_device: float,
    length: tuple[float, float],
    span: tuple[float, float],
    rng: random.Random,
    eligible: Callable[[str], bool],
) -> dict[str, list[tuple[float, float]]]:
    """Spells of ``length`` for each eligible device: ``per_device`` of them on average
    (whole ones, and one more with the fraction's probability), anywhere in ``span``."""
    spells: dict[str, list[tuple[float, float]]] = {}
    if per_device <= 0:
        return spells
    whole, part = divmod(per_device, 1.0)
    for device, kind in devices:
        if not eligible(kind):
            continue
        count = int(whole) + (1 if rng.random() < part else 0)
        for _ in range(count):
            begin = rng.uniform(*span)
            spells.setdefault(device, []).append((begin, begin + rng.uniform(*length)))
    return spells


def _within(spells: list[tuple[float, float]] | None, ts: float) -> bool:
    return spells is not None and any(begin <= ts < end for begin, end in spells)


def _clocks(
    devices: list[tuple[str, str]], skew: float, rng: random.Random
) -> dict[str, tuple[float, float]]:
    """Each device's clock: its offset (s) and its drift (s an hour)."""
    if skew <= 0:
        return {}
    return {device: (rng.uniform(-skew, skew), rng.uniform(-DRIFT, DRIFT)) for device, _ in devices}
