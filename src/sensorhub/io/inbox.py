"""Received messages on their way from paho's network thread to serve's loop.

``InboundMessage`` is a message as the broker delivered it; ``Inbox`` hands them over in
batches, with a low lane for bad input that can only be dead letters (``io.triage``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["LOW_LANE", "LOW_LANE_BYTES", "LOW_PER_TAKE", "InboundMessage", "Inbox"]

#: The low lane of ``Inbox`` (messages that can only be dead letters): messages and payload
#: bytes it holds at most, and how many of them each ``take`` gives after the others. A round
#: of serve decides those few beside its good messages: 64 16-KiB dead letters cost it about
#: 10 ms, what a call arriving meanwhile may wait.
LOW_LANE: Final = 10_000
LOW_LANE_BYTES: Final = 64 << 20
LOW_PER_TAKE: Final = 64


@dataclass(slots=True)
class InboundMessage:
    """A message as received from the broker, with the wall time it arrived. Not changed once
    made (not ``frozen``: a frozen dataclass takes 1.2 µs to make, a fifth of what receiving a
    message costs in all)."""

    topic: str
    payload: bytes
    received_at: float
    #: Delivered from the broker's retained store (on subscribe), not published just now.
    retained: bool = False
    #: The broker's message id and QoS, for ``MqttConnection.ack`` (0: nothing to acknowledge).
    mid: int = 0
    qos: int = 0


class Inbox:
    """Received messages, from paho's network thread to one consumer that takes them in
    batches: a message is appended to a deque (no lock), and a flag is raised for the first of
    a batch, which the consumer waits on. (A ``queue.Queue`` takes a lock and notifies the
    consumer on every message: per message as much work as the rest of receiving it. A
    ``queue.SimpleQueue`` would do, but its ``get`` with a timeout can wait for ever once a
    signal handler ran inside it, as SIGTERM's does in the main thread.)

    With ``hopeless`` (``io.triage``), a message it says can only be a dead letter goes to a
    second, low lane instead, bounded (``LOW_LANE`` messages, ``LOW_LANE_BYTES`` of payload;
    what overflows is counted in ``dropped``); ``take`` gives at most ``LOW_PER_TAKE`` of those
    with the others, each where it came among them: unless a flood holds the low lane back,
    every message is taken in arrival order as before. Their QoS is set to 0 once ``put`` has
    said to acknowledge them at once: nothing acknowledges them again."""

    def __init__(self, hopeless: Callable[[str, bytes], bool] | None = None) -> None:
        self._items: deque[InboundMessage] = deque()
        self._ready = threading.Event()
        self._hopeless = hopeless
        # the low lane: each message with how many of the others had come before it
        self._low: deque[tuple[int, InboundMessage]] = deque()
        # counts of the other messages and of the low lane's payload bytes, put (by the
        # network thread) and taken (by the consumer): each written by one thread, no lock
        self._items_in = self._items_out = 0
        self._low_in = self._low_out = 0
        #: Messages for the low lane dropped because it was full (a flood), so far.
        self.dropped = 0

    def put(self, message: InboundMessage) -> list[int]:
        """Take ``message``; the message ids to acknowledge at once (its own, if it went to
        the low lane at QoS 1)."""
        return self.put_all([message])

    def put_all(self, messages: list[InboundMessage]) -> list[int]:
        """Take ``messages``; the ids of those to acknowledge at once (see ``put``)."""
        hopeless = self._hopeless
        now: list[int] = []
        if hopeless is None:
            self._items.extend(messages)
        else:
            items, low, came = self._items, self._low, self._items_in
            for message in messages:
                if message.retained or not hopeless(message.topic, message.payload):
                    items.append(message)
                    came += 1
                    continue
                if message.qos:
                    now.append(message.mid)
                    message.qos = 0
                size = len(message.payload)
                if len(low) < LOW_LANE and self._low_in - self._low_out + size <= LOW_LANE_BYTES:
                    self._low_in += size
                    low.append((came, message))
                else:
                    self.dropped += 1
            self._items_in = came
        if not self._ready.is_set():
            self._ready.set()
        return now

    def take(self, most: int, timeout: float) -> list[InboundMessage]:
        """Up to ``most`` messages in arrival order, and among them up to ``LOW_PER_TAKE`` of
        the low lane that came before the last of those; waits up to ``timeout`` for the
        first."""
        items = self._items
        low = self._low
        if not items and not low and not self._ready.wait(timeout):
            return []
        # cleared before taking: a message put from here on raises the flag again
        self._ready.clear()
        taken = [items.popleft() for _ in range(min(most, len(items)))]
        self._items_out += len(taken)
        if low:
            taken = self._with_low(taken)
        if items or low:
            self._ready.set()
        return taken

    def _with_low(self, taken: list[InboundMessage]) -> list[InboundMessage]:
        """``taken`` (the next of the other messages) with the low lane's messages that came
        before the last of them, at most ``LOW_PER_TAKE``, each where it came."""
        low, first = self._low, self._items_out - len(taken)
        merged: list[InboundMessage] = []
        at = 0  # of taken, what is in merged
        for _ in range(LOW_PER_TAKE):
            if not low or low[0][0] > self._items_out:
                break
            came, message = low.popleft()
            self._low_out += len(message.payload)
            merged += taken[at : came - first]
            at = max(at, came - first)
            merged.append(message)
        return merged + taken[at:]
