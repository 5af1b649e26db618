"""The paging system's end of an ESPA 4.4.4 link, sans-I/O, for the simulator and the tests.

``Receiver`` is what ``simulators.espa_pager`` speaks on each connection: it answers
selections, checks every block (BCC, structure, record ids, the call's records) and answers a
bad one with NAK, takes calls, and hands out status blocks when the control station polls it.
Like the control station's ``Link`` (``sensorhub.espa.link``) it reads no clock and touches no
socket: bytes go in through ``receive(data)``, events come out, and the simulator writes the
bytes of each ``Send`` and calls ``timeout()`` when the control station has been silent too
long. It reads the line through the same ``Framer`` as the link, so one implementation of the
framing and the checks serves both sides.

It is not part of sensorhub: sensorhub is only ever the control station.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from sensorhub.espa.framing import (
    ACK,
    EOT,
    NAK,
    Ack,
    BadFrame,
    Block,
    BlockReceived,
    Enq,
    Eot,
    FrameError,
    Framer,
    Nak,
    Token,
    enq,
    token_name,
)
from sensorhub.espa.link import Send, check_station_address
from sensorhub.espa.records import Call


@dataclass(frozen=True, slots=True)
class CallReceived:
    """A call that passed every check and was answered with ACK."""

    call: Call
    raw: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """Something from the control station that was answered with NAK, or ignored, and why."""

    reason: str
    raw: bytes = b""
    #: Played on purpose (``ReceiverFaults``), not a fault of the control station.
    injected: bool = False


@dataclass(frozen=True, slots=True)
class StatusDelivered:
    """A status block that the control station confirmed (ACK)."""

    block: Block


ReceiverEvent = Send | CallReceived | Rejected | StatusDelivered


@dataclass(slots=True)
class ReceiverFaults:
    """Faults to play, shared by every connection of a simulator (for retry tests)."""

    #: Answer this many correct call blocks with NAK.
    nak_blocks: int = 0
    #: Answer this many selections with NAK (not ready).
    not_ready: int = 0


class ReceiverState(Enum):
    NEUTRAL = "neutral"
    CONTROL_MASTER = "control-master"  # the control station polled itself ("1 ENQ")
    SELECTED = "selected"  # we ACKed a selection: calls may come
    SELECTING_CONTROL = "selecting-control"  # we sent "1 ENQ" to hand over status
    SENDING_STATUS = "sending-status"  # we sent a status block


class Receiver:
    """The paging system's end: checks every block, takes calls, hands out status when polled.

    ``outbox`` holds status blocks to report; a block leaves it only when the control station
    has confirmed it, so a lost connection loses nothing. Several receivers may share one
    ``outbox`` and one ``faults`` (one per connection of a simulator).
    """

    def __init__(
        self,
        *,
        address: str = "2",
        control_address: str = "1",
        outbox: deque[Block] | None = None,
        faults: ReceiverFaults | None = None,
        max_retries: int = 3,
    ) -> None:
        check_station_address(address, "paging system address")
        check_station_address(control_address, "control station address")
        self.address = address
        self.control_address = control_address
        self.outbox: deque[Block] = outbox if outbox is not None else deque()
        self.faults = faults or ReceiverFaults()
        self.max_retries = max_retries
        self.state = ReceiverState.NEUTRAL
        self._framer = Framer(strict=True)
        self._attempt = 0
        self._sending: Block | None = None

    @property
    def waiting(self) -> bool:
        """We hold the line and wait for the control station's answer."""
        return self.state in (ReceiverState.SELECTING_CONTROL, ReceiverState.SENDING_STATUS)

    @property
    def busy(self) -> bool:
        """A transaction is open (``timeout()`` ends it if the other side goes silent)."""
        return self.state is not ReceiverState.NEUTRAL

    def reset(self) -> None:
        self.state = ReceiverState.NEUTRAL
        self._sending = None
        self._attempt = 0
        self._framer.reset()

    def receive(self, data: bytes) -> list[ReceiverEvent]:
        events: list[ReceiverEvent] = []
        for token in self._framer.feed(data):
            events.extend(self._token(token))
        return events

    def timeout(self) -> list[ReceiverEvent]:
        if self.state is ReceiverState.SENDING_STATUS and self._sending is not None:
            return self._resend("no answer to a status block")
        if self.state is ReceiverState.SELECTING_CONTROL:
            self.reset()
            return [Send(bytes([EOT])), Rejected("control station did not answer our selection")]
        if self.state is not ReceiverState.NEUTRAL:
            self.reset()
            return [Rejected("control station fell silent in the middle of a transaction")]
        return []

    def _resend(self, why: str) -> list[ReceiverEvent]:
        assert self._sending is not None  # noqa: S101 - only while sending status
        if self._attempt >= self.max_retries:
            self.reset()
            return [Send(bytes([EOT])), Rejected(f"{why}; status kept for the next poll")]
        self._attempt += 1
        return [Send(self._sending.encode())]

    def _token(self, token: Token) -> list[ReceiverEvent]:
        state = self.state
        match token:
            case Eot():
                self.state = ReceiverState.NEUTRAL
                self._sending = None
                return []
            case Enq(address) if address == self.control_address and state in (
                ReceiverState.NEUTRAL,
                ReceiverState.CONTROL_MASTER,
            ):
                self.state = ReceiverState.CONTROL_MASTER
                return []
            case Enq(address) if address == self.address and state is ReceiverState.NEUTRAL:
                return self._polled()
            case Enq(address) if address == self.address and state in (
                ReceiverState.CONTROL_MASTER,
                ReceiverState.SELECTED,
            ):
                if self.faults.not_ready > 0:
                    self.faults.not_ready -= 1
                    return [Send(bytes([NAK])), Rejected("not ready", injected=True)]
                self.state = ReceiverState.SELECTED
                return [Send(bytes([ACK]))]
            case BlockReceived(block, raw) if state is ReceiverState.SELECTED:
                try:
                    call = Call.from_block(block)
                except FrameError as error:
                    return [Send(bytes([NAK])), Rejected(str(error), raw)]
                if self.faults.nak_blocks > 0:
                    self.faults.nak_blocks -= 1
                    return [Send(bytes([NAK])), Rejected("NAK to a good block", raw, injected=True)]
                return [CallReceived(call, raw), Send(bytes([ACK]))]
            case BadFrame(reason, raw) if state is ReceiverState.SELECTED:
                return [Send(bytes([NAK])), Rejected(reason, raw)]
            case BlockReceived(_, raw) | BadFrame(_, raw):
                return [
                    Send(bytes([NAK])),
                    Rejected(f"block while {state.value}: a block needs a selection first", raw),
                ]
            case Ack() if state is ReceiverState.SELECTING_CONTROL and self.outbox:
                self._sending = self.outbox[0]
                self._attempt = 0
                self.state = ReceiverState.SENDING_STATUS
                return [Send(self._sending.encode())]
            case Nak() if state is ReceiverState.SELECTING_CONTROL:
                self.reset()
                return [Send(bytes([EOT]))]
            case Ack() if state is ReceiverState.SENDING_STATUS and self._sending is not None:
                sent = self._sending
                if self.outbox and self.outbox[0] is sent:
                    self.outbox.popleft()
                events: list[ReceiverEvent] = [StatusDelivered(sent)]
                if self.outbox:
                    self._sending = self.outbox[0]
                    self._attempt = 0
                    events.append(Send(self._sending.encode()))
                else:
                    self.reset()
                    events.append(Send(bytes([EOT])))
                return events
            case Nak() if state is ReceiverState.SENDING_STATUS:
                return self._resend("status block refused (NAK)")
        return [Rejected(f"unexpected {token_name(token)} while {state.value}")]

    def _polled(self) -> list[ReceiverEvent]:
        if not self.outbox:
            return [Send(bytes([EOT]))]
        self.state = ReceiverState.SELECTING_CONTROL
        return [Send(enq(self.control_address))]
