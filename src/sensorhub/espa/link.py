"""The control station's end of an ESPA 4.4.4 link: sends calls, polls for call status.

Nothing here reads a clock or touches a socket. Bytes go in through ``Link.receive(data)`` and
come out as events, among them ``Send``/``Retransmit`` with the bytes to write; the adapter
(``sensorhub.io.espa``) owns the socket or serial port and the timers and calls
``Link.timeout()`` when the paging system has been silent for too long.

The link procedure, with sensorhub as control station "1" and the paging system as "2"::

    control station (us, "1")               paging system ("2")
    "1" ENQ "2" ENQ      select      ->
                                     <-     ACK                (NAK: not ready)
    SOH "1" STX ... ETX BCC          ->
                                     <-     ACK                (NAK: send the block again)
    EOT                              ->

    "2" ENQ              poll        ->
                                     <-     EOT                (nothing to report)
                                     <-     "1" ENQ            (it has a status block for us)
    ACK                              ->
                                     <-     SOH "2" STX "1" US addr RS "7" US status ETX BCC
    ACK                              ->
                                     <-     EOT
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final

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
    Framer,
    Header,
    Nak,
    RecordId,
    Token,
    enq,
    token_name,
)
from sensorhub.espa.records import CALL_STATUS_MEANING, Call, CallStatusCode
from sensorhub.rules.paging import EspaConfig

# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes to write to the other side now."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Retransmit:
    """Bytes to write again: the other side asked for it (NAK) or did not answer in time."""

    data: bytes
    attempt: int


@dataclass(frozen=True, slots=True)
class Acked:
    """The paging system confirmed the call's block (ACK): it has the call."""

    call: Call


@dataclass(frozen=True, slots=True)
class Nakked:
    """The paging system answered NAK: to the selection (not ready) or to the block (bad BCC)."""

    call: Call
    stage: str  # "select" or "block"
    attempt: int


@dataclass(frozen=True, slots=True)
class Failed:
    """A call (or, with ``call`` None, a poll) that did not get through; the link is idle."""

    reason: str
    call: Call | None = None


@dataclass(frozen=True, slots=True)
class CallStatus:
    """Record 7 of a status block: what became of the call to ``address``."""

    address: str
    status: str
    acknowledged: bool

    @property
    def meaning(self) -> str:
        try:
            return CALL_STATUS_MEANING[CallStatusCode(self.status)]
        except ValueError:
            return "unknown status"


@dataclass(frozen=True, slots=True)
class SystemStatus:
    """Record 8 of a status block: the paging system's own state."""

    status: str


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The other side did something the protocol does not allow here; logged, then ignored."""

    reason: str


LinkEvent = Send | Retransmit | Acked | Nakked | Failed | CallStatus | SystemStatus | ProtocolError


def outgoing(events: Iterable[object]) -> bytes:
    """The bytes that ``events`` (a link's, or a receiver's) ask to be written, in order."""
    return b"".join(e.data for e in events if isinstance(e, Send | Retransmit))


# -- the control station -------------------------------------------------------------------------


def check_station_address(value: str, what: str) -> None:
    """``ValueError`` unless ``value`` is a station address on the link: one digit 0-9."""
    if not (len(value) == 1 and value.isascii() and value.isdigit()):
        raise ValueError(f"{what} must be one digit 0-9, not {value!r}")


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """The link as configured once: addresses, retries and which call statuses are acks."""

    #: Our address: the control station (the standard recommends 1 for it).
    own_address: str = "1"
    #: The paging system's address (recommended: 2).
    paging_address: str = "2"
    #: How often a selection or a block is sent again after NAK or silence.
    max_retries: int = 3
    #: Record 7 values that mean a person acknowledged the call.
    ack_statuses: frozenset[str] = frozenset({CallStatusCode.ANSWERED.value})

    def __post_init__(self) -> None:
        check_station_address(self.own_address, "own (control station) address")
        check_station_address(self.paging_address, "paging system address")
        if self.own_address == self.paging_address:
            raise ValueError("the control station and the paging system need different addresses")
        if not 0 <= self.max_retries <= 10:
            raise ValueError(f"max_retries must be 0..10, not {self.max_retries}")
        if not self.ack_statuses:
            raise ValueError("at least one call status must count as an acknowledgement")


class LinkState(Enum):
    IDLE = "idle"
    SELECTING = "selecting"  # sent own ENQ + paging ENQ, waiting for ACK/NAK
    SENDING = "sending"  # sent the block, waiting for ACK/NAK
    POLLING = "polling"  # sent paging ENQ, waiting for EOT or own ENQ
    RECEIVING = "receiving"  # the paging system holds the line and sends us status blocks


#: States in which a status block is taken: after the paging system selected us, and, to lose
#: no status from a system that skips the selection, while idle or polling.
_MAY_RECEIVE: Final = (LinkState.RECEIVING, LinkState.IDLE, LinkState.POLLING)


class Link:
    """The control station's end: one call or one poll at a time.

    ``start_call`` and ``poll`` need an idle link and return the bytes to send; ``receive`` and
    ``timeout`` return events. After a lost connection ``reset()`` returns the call whose block
    was not confirmed, to be sent again on the next connection.
    """

    def __init__(self, settings: LinkSettings | None = None) -> None:
        self.settings = settings or LinkSettings()
        self._framer = Framer(strict=False)
        self.state = LinkState.IDLE
        self.call: Call | None = None
        self._block = b""
        self._attempt = 0
        s = self.settings
        self._select = enq(s.own_address) + enq(s.paging_address)
        self._poll = enq(s.paging_address)

    @property
    def idle(self) -> bool:
        return self.state is LinkState.IDLE

    @property
    def waiting(self) -> bool:
        """An answer is due: the adapter calls ``timeout()`` if none comes in time."""
        return self.state is not LinkState.IDLE

    def start_call(self, call: Call) -> bytes:
        """Begin a call: returns the selection (``1 ENQ 2 ENQ``); the block follows its ACK."""
        self._require_idle("start a call")
        self.call = call
        self._block = call.encode()
        self._attempt = 0
        self.state = LinkState.SELECTING
        return self._select

    def poll(self) -> bytes:
        """Ask the paging system whether it has status to report: returns ``2 ENQ``."""
        self._require_idle("poll")
        self.state = LinkState.POLLING
        return self._poll

    def reset(self) -> Call | None:
        """Forget the transaction (the connection is gone); the unconfirmed call, if any."""
        call = self.call if self.state in (LinkState.SELECTING, LinkState.SENDING) else None
        self._idle()
        self._framer.reset()
        return call

    def receive(self, data: bytes) -> list[LinkEvent]:
        events: list[LinkEvent] = []
        for token in self._framer.feed(data):
            events.extend(self._token(token))
        return events

    def timeout(self) -> list[LinkEvent]:
        """Nothing came within the response time: send again, or give up."""
        state = self.state
        if state is LinkState.SELECTING:
            # EOT first: whatever the paging system made of the last attempt, it starts afresh
            return self._again(bytes([EOT]) + self._select, "no answer to the selection")
        if state is LinkState.SENDING:
            return self._again(self._block, "no answer to the block")
        if state is LinkState.POLLING:
            self._idle()
            return [Send(bytes([EOT])), Failed("no answer to the poll")]
        if state is LinkState.RECEIVING:
            self._idle()
            self._framer.reset()
            return [
                Send(bytes([EOT])),
                ProtocolError("the paging system fell silent while sending; took the line back"),
            ]
        return []

    # -- inside --------------------------------------------------------------------------------

    def _require_idle(self, what: str) -> None:
        if self.state is not LinkState.IDLE:
            raise RuntimeError(f"cannot {what} while the link is {self.state.value}")

    def _idle(self) -> None:
        self.state = LinkState.IDLE
        self.call = None
        self._block = b""
        self._attempt = 0

    def _again(self, data: bytes, why: str) -> list[LinkEvent]:
        call = self.call
        assert call is not None  # noqa: S101 - only while selecting or sending
        if self._attempt >= self.settings.max_retries:
            tries = self._attempt + 1
            self._idle()
            return [Send(bytes([EOT])), Failed(f"{why} after {tries} attempts", call)]
        self._attempt += 1
        return [Retransmit(data, self._attempt)]

    def _token(self, token: Token) -> list[LinkEvent]:
        state = self.state
        own = self.settings.own_address
        match token:
            case Ack() if state is LinkState.SELECTING:
                self.state = LinkState.SENDING
                self._attempt = 0
                return [Send(self._block)]
            case Ack() if state is LinkState.SENDING:
                call = self.call
                assert call is not None  # noqa: S101 - set by start_call
                self._idle()
                return [Send(bytes([EOT])), Acked(call)]
            case Nak() if state in (LinkState.SELECTING, LinkState.SENDING):
                call = self.call
                assert call is not None  # noqa: S101 - set by start_call
                selecting = state is LinkState.SELECTING
                stage = "select" if selecting else "block"
                nakked = Nakked(call, stage, self._attempt + 1)
                if selecting:
                    again = self._again(bytes([EOT]) + self._select, "paging system not ready")
                else:
                    again = self._again(self._block, "block refused (NAK)")
                return [nakked, *again]
            case Eot() if state in (LinkState.SELECTING, LinkState.SENDING):
                call = self.call
                self._idle()
                return [Failed("the paging system ended the transaction (EOT)", call)]
            case Eot() if state is LinkState.POLLING:
                self._idle()  # nothing to report
                return []
            case Eot() if state is LinkState.RECEIVING:
                self._idle()
                return []
            case Enq(address) if address == own and state in (
                LinkState.POLLING,
                LinkState.RECEIVING,
                LinkState.IDLE,
            ):
                # the paging system selects us to send status; in IDLE it did so unpolled,
                # which some systems on TCP do: take it rather than lose the status
                self.state = LinkState.RECEIVING
                return [Send(bytes([ACK]))]
            case BlockReceived(block) if state in _MAY_RECEIVE:
                self.state = LinkState.RECEIVING
                return [Send(bytes([ACK])), *self._status(block)]
            case BadFrame(reason) if state in _MAY_RECEIVE:
                self.state = LinkState.RECEIVING
                return [Send(bytes([NAK])), ProtocolError(f"NAK to a bad status block: {reason}")]
            case Eot() | Ack() | Nak() if state is LinkState.IDLE:
                return []  # late answers to a transaction that is over
        return [ProtocolError(f"unexpected {token_name(token)} while {state.value}")]

    def _status(self, block: Block) -> list[LinkEvent]:
        if block.header != Header.STATUS_INFORMATION:
            return [ProtocolError(f"ignored a block with header {block.header.value}")]
        events: list[LinkEvent] = []
        status = block.get(RecordId.CALL_STATUS)
        if status is not None:
            address = block.get(RecordId.CALL_ADDRESS) or ""
            events.append(CallStatus(address, status, status in self.settings.ack_statuses))
        system = block.get(RecordId.SYSTEM_STATUS)
        if system is not None:
            events.append(SystemStatus(system))
        if not events:
            events.append(ProtocolError("status block with neither call nor system status"))
        return events


def settings_of(config: EspaConfig) -> LinkSettings:
    """The link settings of a paging system of the rule file."""
    return LinkSettings(
        own_address=config.control_address,
        paging_address=config.paging_address,
        max_retries=config.max_retries,
        ack_statuses=config.ack_statuses,
    )
