"""ESPA 4.4.4 without I/O: blocks, the block check character, records and both ends of the link.

Nothing here reads a clock or touches a socket. Bytes go in through ``receive(data)`` and come
out as events, among them ``Send``/``Retransmit`` with the bytes to write; the adapter
(``sensorhub.io.espa``) owns the socket or serial port and the timers and calls ``timeout()``
when the other side has been silent for too long. The simulator and the tests drive the same
code.

The wire format (see ``docs/espa.md`` for what is taken from the standard and what is assumed)::

    block   = SOH header STX record (RS record)* ETX BCC
    record  = data-identifier US value            e.g. "1" US "1001"
    BCC     = XOR of every byte after SOH up to and including ETX

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

Three parts:

- ``Framer``: bytes -> tokens (``Enq``, ``Ack``, ``Nak``, ``Eot``, ``BlockReceived``,
  ``BadFrame``), checking the BCC and the structure of every block;
- ``Link``: the control station, which sends calls and polls for call status (sensorhub);
- ``Receiver``: the paging system's end, which the simulator speaks.

``CallProfile`` turns a contract ``Page`` into a ``Call``: the pager address of its recipient,
the text made to fit the display, and beep code, call type, number of transmissions and ESPA
priority chosen by the page's priority.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

from sensorhub.contract import Page, Priority

# -- characters ----------------------------------------------------------------------------------

SOH: Final = 0x01
STX: Final = 0x02
ETX: Final = 0x03
EOT: Final = 0x04
ENQ: Final = 0x05
ACK: Final = 0x06
NAK: Final = 0x15
RS: Final = 0x1E
US: Final = 0x1F

_NAMES: Final = {
    SOH: "SOH",
    STX: "STX",
    ETX: "ETX",
    EOT: "EOT",
    ENQ: "ENQ",
    ACK: "ACK",
    NAK: "NAK",
    RS: "RS",
    US: "US",
}

#: Longest block the framer accepts (SOH to ETX); anything longer is a runaway, not a block.
MAX_BLOCK: Final = 1024
#: Longest call address (record 1): digits only.
MAX_ADDRESS: Final = 16
#: Longest address prefix before ENQ that is kept (ISO 1745 allows more than one character).
_MAX_PREFIX: Final = 16


class Header(StrEnum):
    """The character between SOH and STX: what the block is."""

    CALL_TO_PAGER = "1"
    STATUS_INFORMATION = "2"
    STATUS_REQUEST = "3"
    CALL_SUBSCRIBER_LINE = "4"


class RecordId(IntEnum):
    """Data identifiers: the number before US in a record."""

    CALL_ADDRESS = 1
    DISPLAY_MESSAGE = 2
    BEEP_CODING = 3
    CALL_TYPE = 4
    NUMBER_OF_TRANSMISSIONS = 5
    PRIORITY = 6
    CALL_STATUS = 7
    SYSTEM_STATUS = 8


class CallStatusCode(StrEnum):
    """Values of record 7 (call status) as sensorhub reads them.

    ESPA 4.4.4 leaves the meaning of the value to the paging system and paging systems let the
    installer choose which value counts as a successful call, so these are this project's
    reading, configurable through ``LinkSettings.ack_statuses``. Only ``ANSWERED`` is an
    acknowledgement by default: a person pressed the accept key. Accepted or transmitted only
    says that the paging system or the radio has the call, not that anyone saw it.
    """

    ACCEPTED = "1"
    TRANSMITTED = "2"
    FAILED = "3"
    ANSWERED = "4"
    NOT_ANSWERED = "5"


#: What each known call-status value means, for logs and the simulator's printout.
CALL_STATUS_MEANING: Final = MappingProxyType(
    {
        CallStatusCode.ACCEPTED: "accepted by the paging system",
        CallStatusCode.TRANSMITTED: "transmitted to the pager",
        CallStatusCode.FAILED: "could not be transmitted",
        CallStatusCode.ANSWERED: "answered (acknowledged on the pager)",
        CallStatusCode.NOT_ANSWERED: "not answered",
    }
)


class FrameError(ValueError):
    """A block that breaks the format; the message says what is wrong with it."""


def describe(data: bytes) -> str:
    """Bytes as a reader of a protocol trace wants them: ``<SOH>1<STX>1<US>1001<ETX><0x2B>``."""
    out: list[str] = []
    for byte in data:
        if byte in _NAMES:
            out.append(f"<{_NAMES[byte]}>")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"<0x{byte:02X}>")
    return "".join(out)


def bcc(data: bytes | bytearray) -> int:
    """The block check character: XOR of ``data`` (everything after SOH up to and with ETX)."""
    check = 0
    for byte in data:
        check ^= byte
    return check


def _printable(char: str, *, seven_bit: bool = False) -> bool:
    """Whether ``char`` may stand in a record value: printable ISO 8859-1 (or ASCII)."""
    code = ord(char)
    if 0x20 <= code <= 0x7E:
        return True
    return not seven_bit and 0xA0 <= code <= 0xFF


def _check_value(value: str, what: str) -> None:
    for char in value:
        if not _printable(char):
            raise FrameError(
                f"{what} contains {char!r} (U+{ord(char):04X}), which is not printable "
                "ISO 8859-1; pass the text through display_text() first"
            )


# -- blocks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """One data block: a header and its records, in the order they are sent."""

    header: Header
    records: tuple[tuple[int, str], ...]

    def get(self, record: RecordId) -> str | None:
        """The value of ``record``, or None if the block does not have it."""
        for rid, value in self.records:
            if rid == record:
                return value
        return None

    def encode(self) -> bytes:
        """``SOH header STX records ETX BCC``, ready for the wire."""
        parts = []
        for rid, value in self.records:
            _check_value(value, f"record {rid}")
            parts.append(str(int(rid)).encode("ascii") + bytes([US]) + value.encode("latin-1"))
        body = (
            self.header.value.encode("ascii")
            + bytes([STX])
            + bytes([RS]).join(parts)
            + bytes([ETX])
        )
        return bytes([SOH]) + body + bytes([bcc(body)])


def decode_block(body: bytes, *, strict: bool = True) -> Block:
    """The block whose bytes between SOH and ETX (both left out) are ``body``.

    Checks the structure: a known header, exactly one STX, records of ``digits US value``
    separated by RS, no record twice, printable values. With ``strict`` a data identifier that
    ESPA 4.4.4 does not define is an error; without it such records are dropped (a paging system
    may add records of its own).
    """
    stx = body.find(bytes([STX]))
    if stx < 0:
        raise FrameError("no STX between header and records")
    header_text = body[:stx].decode("latin-1")
    try:
        header = Header(header_text)
    except ValueError:
        raise FrameError(f"unknown header {header_text!r} (expected 1, 2, 3 or 4)") from None
    data = body[stx + 1 :]
    if not data:
        raise FrameError("block without records")
    records: list[tuple[int, str]] = []
    seen: set[int] = set()
    for raw in data.split(bytes([RS])):
        if raw.count(US) != 1:
            raise FrameError(f"record {describe(raw)!r} must be <id> US <value>")
        raw_id, raw_value = raw.split(bytes([US]))
        if not raw_id.isdigit():
            raise FrameError(f"data identifier {describe(raw_id)!r} is not a number")
        rid = int(raw_id)
        if rid in seen:
            raise FrameError(f"record {rid} appears twice")
        seen.add(rid)
        value = raw_value.decode("latin-1")
        bad = [c for c in value if not _printable(c)]
        if bad:
            raise FrameError(f"record {rid} contains the control character {bad[0]!r}")
        if rid not in RecordId._value2member_map_:
            if strict:
                raise FrameError(f"unknown data identifier {rid} (ESPA 4.4.4 defines 1 to 8)")
            continue
        records.append((rid, value))
    return Block(header, tuple(records))


# -- calls -------------------------------------------------------------------------------------


def _digit(value: int | None, what: str) -> None:
    if value is not None and not 0 <= value <= 9:
        raise FrameError(f"{what} must be one digit 0-9, not {value}")


@dataclass(frozen=True, slots=True)
class Call:
    """A call to a pager (header 1). Codes left None are not sent (the paging system's default).

    ``message`` must already fit the display (see ``display_text``); it is sent as it is.
    """

    address: str
    message: str = ""
    beep: int | None = None
    call_type: int | None = None
    transmissions: int | None = None
    priority: int | None = None

    def __post_init__(self) -> None:
        if not (self.address.isascii() and self.address.isdigit()):
            raise FrameError(f"call address {self.address!r} must be digits only")
        if len(self.address) > MAX_ADDRESS:
            raise FrameError(f"call address {self.address!r} is longer than {MAX_ADDRESS} digits")
        _check_value(self.message, "display message")
        _digit(self.beep, "beep coding")
        _digit(self.call_type, "call type")
        _digit(self.transmissions, "number of transmissions")
        _digit(self.priority, "priority")

    def to_block(self) -> Block:
        records: list[tuple[int, str]] = [(RecordId.CALL_ADDRESS, self.address)]
        if self.message:
            records.append((RecordId.DISPLAY_MESSAGE, self.message))
        for rid, code in (
            (RecordId.BEEP_CODING, self.beep),
            (RecordId.CALL_TYPE, self.call_type),
            (RecordId.NUMBER_OF_TRANSMISSIONS, self.transmissions),
            (RecordId.PRIORITY, self.priority),
        ):
            if code is not None:
                records.append((rid, str(code)))
        return Block(Header.CALL_TO_PAGER, tuple(records))

    def encode(self) -> bytes:
        return self.to_block().encode()

    @classmethod
    def from_block(cls, block: Block) -> Call:
        """The call in a header-1 block; ``FrameError`` if it is not a valid call."""
        if block.header != Header.CALL_TO_PAGER:
            raise FrameError(f"header {block.header.value} is not a call to a pager (1)")
        address = block.get(RecordId.CALL_ADDRESS)
        if address is None:
            raise FrameError("call without a call address (record 1)")

        def code(record: RecordId) -> int | None:
            value = block.get(record)
            if value is None:
                return None
            if len(value) != 1 or not value.isdigit():
                raise FrameError(f"record {int(record)} must be one digit, not {value!r}")
            return int(value)

        return cls(
            address=address,
            message=block.get(RecordId.DISPLAY_MESSAGE) or "",
            beep=code(RecordId.BEEP_CODING),
            call_type=code(RecordId.CALL_TYPE),
            transmissions=code(RecordId.NUMBER_OF_TRANSMISSIONS),
            priority=code(RecordId.PRIORITY),
        )


def status_block(address: str, status: str) -> Block:
    """A status-information block (header 2) reporting ``status`` for the call to ``address``."""
    return Block(
        Header.STATUS_INFORMATION,
        ((RecordId.CALL_ADDRESS, address), (RecordId.CALL_STATUS, status)),
    )


# -- pager display text ------------------------------------------------------------------------

#: Characters that NFKD does not take apart but that have a fair ASCII spelling.
_SPELLED: Final = {
    "ß": "ss",
    "æ": "ae",
    "Æ": "AE",
    "ø": "o",
    "Ø": "O",
    "œ": "oe",
    "Œ": "OE",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "\u20ac": "EUR",
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": ",",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2022": "*",
}


def display_text(text: str, width: int, *, seven_bit: bool = False) -> str:
    """``text`` as a pager can show it: printable ISO 8859-1 (or ASCII), at most ``width`` chars.

    Line breaks, tabs and other white space become one space; control and format characters
    go; a letter the character set lacks loses its accent (``ë`` -> ``e`` in 7-bit mode) or is
    spelled out (``€`` -> ``EUR``); anything else becomes ``?``. The result is cut at ``width``.
    """
    if width < 1:
        raise ValueError(f"display width must be at least 1, not {width}")
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif _printable(char, seven_bit=seven_bit):
            out.append(char)
        elif category in ("Cc", "Cf", "Mn", "Me"):
            continue
        elif char in _SPELLED and all(_printable(c, seven_bit=seven_bit) for c in _SPELLED[char]):
            out.append(_SPELLED[char])
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if _printable(c, seven_bit=seven_bit)
            )
            out.append(base or "?")
    return " ".join("".join(out).split())[:width].rstrip()


@dataclass(frozen=True, slots=True)
class CallCodes:
    """The one-digit codes sent with a call of one page priority (None: record left out)."""

    beep: int | None = None
    call_type: int | None = None
    transmissions: int | None = None
    priority: int | None = None

    def __post_init__(self) -> None:
        _digit(self.beep, "beep coding")
        _digit(self.call_type, "call type")
        _digit(self.transmissions, "number of transmissions")
        _digit(self.priority, "priority")


#: Codes by page priority unless configured otherwise (see docs/espa.md): ESPA priority 1 is
#: assumed to be the most urgent, beep codes 1-4 to be the paging system's melodies from most to
#: least urgent, call type 3 a display call (as a Zenitel AlphaCom sends it).
DEFAULT_CODES: Final[Mapping[Priority, CallCodes]] = MappingProxyType(
    {
        "critical": CallCodes(beep=1, call_type=3, transmissions=3, priority=1),
        "high": CallCodes(beep=2, call_type=3, transmissions=2, priority=1),
        "normal": CallCodes(beep=3, call_type=3, transmissions=1, priority=2),
        "low": CallCodes(beep=4, call_type=3, transmissions=1, priority=3),
    }
)


class UnknownRecipientError(LookupError):
    """A page for a recipient that has no pager address configured."""


@dataclass(frozen=True, slots=True)
class CallProfile:
    """How pages become calls: pager address per recipient, display, codes per priority.

    Checked once when it is made; ``call_for`` then only looks things up.
    """

    #: Recipient (pager or group name in the rule file) -> call address on the paging system.
    addresses: Mapping[str, str]
    display_width: int = 80
    #: Send only 7-bit ASCII (paging systems on 7 data bits, or that do not take ISO 8859-1).
    seven_bit: bool = False
    codes: Mapping[Priority, CallCodes] = field(default_factory=lambda: DEFAULT_CODES)

    def __post_init__(self) -> None:
        if not 1 <= self.display_width <= MAX_BLOCK // 2:
            raise ValueError(f"display width must be 1..{MAX_BLOCK // 2}, not {self.display_width}")
        for recipient, address in self.addresses.items():
            if not (address.isascii() and address.isdigit() and len(address) <= MAX_ADDRESS):
                raise ValueError(
                    f"pager address {address!r} of recipient {recipient!r} must be 1 to "
                    f"{MAX_ADDRESS} digits"
                )
        missing = {"critical", "high", "normal", "low"} - set(self.codes)
        if missing:
            raise ValueError(f"ESPA codes missing for priorities {sorted(missing)}")
        object.__setattr__(self, "addresses", MappingProxyType(dict(self.addresses)))
        object.__setattr__(self, "codes", MappingProxyType(dict(self.codes)))

    def call_for(self, page: Page) -> Call:
        """The call that carries ``page`` to its recipient's pager."""
        address = self.addresses.get(page.recipient)
        if address is None:
            raise UnknownRecipientError(
                f"no pager address configured for recipient {page.recipient!r} (site "
                f"{page.site}): add it to the ESPA pagers, or the page cannot go out over ESPA"
            )
        codes = self.codes[page.priority]
        return Call(
            address=address,
            message=display_text(page.text, self.display_width, seven_bit=self.seven_bit),
            beep=codes.beep,
            call_type=codes.call_type,
            transmissions=codes.transmissions,
            priority=codes.priority,
        )


# -- the framer ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enq:
    """``<address> ENQ``: a poll or a selection of ``address``."""

    address: str


@dataclass(frozen=True, slots=True)
class Ack:
    pass


@dataclass(frozen=True, slots=True)
class Nak:
    pass


@dataclass(frozen=True, slots=True)
class Eot:
    pass


@dataclass(frozen=True, slots=True)
class BlockReceived:
    """A block whose BCC and structure are correct. ``raw`` is SOH to BCC."""

    block: Block
    raw: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A block that must be answered with NAK: wrong BCC, broken structure, cut off."""

    reason: str
    raw: bytes


Token = Enq | Ack | Nak | Eot | BlockReceived | BadFrame


class Framer:
    """Bytes -> tokens. Keeps partial input between calls; ``reset()`` forgets it."""

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        self._prefix = bytearray()
        self._body: bytearray | None = None  # after SOH, up to and with ETX
        self._await_bcc = False

    def reset(self) -> None:
        self._prefix.clear()
        self._body = None
        self._await_bcc = False

    def feed(self, data: bytes) -> list[Token]:
        tokens: list[Token] = []
        for byte in data:
            body = self._body
            if body is not None and self._await_bcc:
                self._body = None
                self._await_bcc = False
                tokens.append(self._finish(body, byte))
            elif body is not None:
                if byte == ETX:
                    body.append(byte)
                    self._await_bcc = True
                elif byte == SOH:
                    tokens.append(BadFrame("block cut off by a new SOH", bytes([SOH]) + body))
                    self._body = bytearray()
                elif byte in (EOT, ENQ, ACK, NAK):
                    tokens.append(
                        BadFrame(
                            f"block cut off by {_NAMES[byte]} before ETX",
                            bytes([SOH]) + body,
                        )
                    )
                    self._body = None
                    tokens.extend(self._control(byte))
                elif len(body) >= MAX_BLOCK:
                    tokens.append(BadFrame(f"no ETX within {MAX_BLOCK} bytes", bytes([SOH]) + body))
                    self._body = None
                else:
                    body.append(byte)
            elif byte == SOH:
                self._prefix.clear()
                self._body = bytearray()
            else:
                tokens.extend(self._control(byte))
        return tokens

    def _control(self, byte: int) -> list[Token]:
        """A byte outside a block: a control character, or part of an address prefix."""
        if byte == ENQ:
            address = self._prefix.decode("latin-1")
            self._prefix.clear()
            return [Enq(address)]
        simple: dict[int, Token] = {ACK: Ack(), NAK: Nak(), EOT: Eot()}
        if byte in simple:
            self._prefix.clear()
            return [simple[byte]]
        self._prefix.append(byte)
        del self._prefix[:-_MAX_PREFIX]
        return []

    def _finish(self, body: bytearray, check: int) -> Token:
        raw = bytes([SOH]) + body + bytes([check])
        expected = bcc(body)
        if check != expected:
            return BadFrame(f"BCC is 0x{check:02X}, the block's bytes give 0x{expected:02X}", raw)
        try:
            return BlockReceived(decode_block(bytes(body[:-1]), strict=self.strict), raw)
        except FrameError as error:
            return BadFrame(str(error), raw)


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


def outgoing(events: list[LinkEvent] | list[ReceiverEvent]) -> bytes:
    """The bytes that ``events`` ask to be written, in order."""
    return b"".join(e.data for e in events if isinstance(e, Send | Retransmit))


# -- the control station -------------------------------------------------------------------------


def _address(value: str, what: str) -> None:
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
        _address(self.own_address, "own (control station) address")
        _address(self.paging_address, "paging system address")
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
        self._select = (s.own_address + "\x05" + s.paging_address + "\x05").encode("ascii")
        self._poll = (s.paging_address + "\x05").encode("ascii")

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
        return [ProtocolError(f"unexpected {_token_name(token)} while {state.value}")]

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


def _token_name(token: Token) -> str:
    match token:
        case Enq(address):
            return f"{address!r} ENQ"
        case BlockReceived(block):
            return f"block (header {block.header.value})"
        case BadFrame(reason):
            return f"bad block ({reason})"
    return type(token).__name__.upper()


# -- the paging system -------------------------------------------------------------------------


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
        _address(address, "paging system address")
        _address(control_address, "control station address")
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
        return [Rejected(f"unexpected {_token_name(token)} while {state.value}")]

    def _polled(self) -> list[ReceiverEvent]:
        if not self.outbox:
            return [Send(bytes([EOT]))]
        self.state = ReceiverState.SELECTING_CONTROL
        return [Send((self.control_address + "\x05").encode("ascii"))]
