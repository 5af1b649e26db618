"""Received messages on their way from paho's network thread to serve's loop.

``InboundMessage`` is a message as the broker delivered it; ``Inbox`` hands them over in
batches, with a low lane for bad input that can only be dead letters (``io.triage``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["LOW_EVERY", "LOW_LANE", "LOW_LANE_BYTES", "LOW_PER_TAKE", "InboundMessage", "Inbox"]

#: The low lane of ``Inbox`` (messages that can only be dead letters): messages and payload
#: bytes it holds at most, and how many of them ``take`` gives how often at most. Dead-lettering
#: a 16 KiB message costs serve about 150 µs with the GIL held, and while serve's loop holds the
#: GIL, paho's network thread waits up to 5 ms for it after every read of the socket: bad input
#: dead-lettered as fast as it came kept the network thread from reading, and a call waited at
#: the broker behind the flood. 32 every 20 ms (1,600 a second) keep the loop free most of the
#: time, and a call that arrives meanwhile waits for 32 dead letters at most.
LOW_LANE: Final = 10_000
LOW_LANE_BYTES: Final = 16 << 20
LOW_PER_TAKE: Final = 32
LOW_EVERY: Final = 0.02


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
    what overflows is counted in ``dropped``); ``take`` gives ``LOW_PER_TAKE`` of those at
    most, with the others, each where it came among them, and after a full share the next only
    ``LOW_EVERY`` s later (a flood). Unless a flood holds the low lane back, every message is
    taken in arrival order as before. The low lane's messages have their QoS set to 0 once
    ``put`` has said to acknowledge them at once: nothing acknowledges them again."""

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
        # a flood: the low lane's last share was full; it is given again at _low_due
        self._pacing = False
        self._low_due = 0.0
        #: Messages for the low lane dropped because it was full (a flood), so far.
        self.dropped = 0

    @property
    def waiting(self) -> int:
        """Messages put and not yet taken, but those of the low lane (read from any thread)."""
        return len(self._items)

    def put(self, message: InboundMessage) -> list[int]:
        """Take ``message``; the message ids to acknowledge at once (its own, if it went to
        the low lane at QoS 1)."""
        return self.put_all([message])

    def put_all(self, messages: list[InboundMessage]) -> list[int]:
        """Take ``messages``; the ids of those to acknowledge at once (see ``put``)."""
        hopeless = self._hopeless
        if hopeless is None:
            self._items.extend(messages)
            now: list[int] = []
        else:
            before = self._items_in
            now = self._sort(messages, hopeless)
            if self._items_in == before and self._pacing:  # a flood wakes no one
                return now
        if not self._ready.is_set():
            self._ready.set()
        return now

    def _sort(
        self, messages: list[InboundMessage], hopeless: Callable[[str, bytes], bool]
    ) -> list[int]:
        """Each of ``messages`` into its lane; the ids to acknowledge at once."""
        now: list[int] = []
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
        return now

    def take(self, most: int, timeout: float) -> list[InboundMessage]:
        """Up to ``most`` messages in arrival order, and among them up to ``LOW_PER_TAKE`` of
        the low lane that came before the last of those, unless a flood made them wait;
        waits up to ``timeout`` for the first (during a flood, the low lane's wakes no
        one: it waits its time)."""
        items = self._items
        if not items:
            wait = timeout if not self._pacing else min(timeout, self._low_due - time.monotonic())
            if (wait <= 0 or not self._ready.wait(wait)) and not self._low_is_due():
                return []
        # cleared before taking: a message put from here on raises the flag again
        self._ready.clear()
        taken = [items.popleft() for _ in range(min(most, len(items)))]
        self._items_out += len(taken)
        if self._low_is_due():
            given = len(taken)
            taken = self._with_low(taken)
            self._pacing = len(taken) - given == LOW_PER_TAKE
            self._low_due = time.monotonic() + LOW_EVERY
        if items:
            self._ready.set()
        return taken

    def _low_is_due(self) -> bool:
        return bool(self._low) and (not self._pacing or time.monotonic() >= self._low_due)

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
