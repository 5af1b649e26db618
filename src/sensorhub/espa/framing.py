"""ESPA 4.4.4 framing: control characters, blocks, the block check character, and bytes -> tokens.

The wire format (see ``docs/espa.md`` for what is taken from the standard and what is assumed)::

    block   = SOH header STX record (RS record)* ETX BCC
    record  = data-identifier US value            e.g. "1" US "1001"
    BCC     = XOR of every byte after SOH up to and including ETX

``Block`` is one data block and encodes itself; ``decode_block`` checks and reads one. The
``Framer`` turns bytes as they arrive into tokens (``Enq``, ``Ack``, ``Nak``, ``Eot``,
``BlockReceived``, ``BadFrame``), checking the BCC and the structure of every block. Both ends
of the link (``sensorhub.espa.link`` and the simulator's receiver) read the line through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

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


def printable(char: str, *, seven_bit: bool = False) -> bool:
    """Whether ``char`` may stand in a record value: printable ISO 8859-1 (or ASCII)."""
    code = ord(char)
    if 0x20 <= code <= 0x7E:
        return True
    return not seven_bit and 0xA0 <= code <= 0xFF


def check_value(value: str, what: str) -> None:
    """``FrameError`` if ``value`` (``what``, in the message) has a character no record holds."""
    for char in value:
        if not printable(char):
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
            check_value(value, f"record {rid}")
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
        bad = [c for c in value if not printable(c)]
        if bad:
            raise FrameError(f"record {rid} contains the control character {bad[0]!r}")
        if rid not in RecordId._value2member_map_:
            if strict:
                raise FrameError(f"unknown data identifier {rid} (ESPA 4.4.4 defines 1 to 8)")
            continue
        records.append((rid, value))
    return Block(header, tuple(records))


# -- the framer ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enq:
    """``<address> ENQ``: a poll or a selection of ``address``."""

    address: str


def enq(address: str) -> bytes:
    """``<address> ENQ`` on the wire: the poll or selection of the station at ``address``."""
    return address.encode("ascii") + bytes([ENQ])


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


def token_name(token: Token) -> str:
    """A token as a log line names it: ``'1' ENQ``, ``block (header 2)``, ``ACK``."""
    match token:
        case Enq(address):
            return f"{address!r} ENQ"
        case BlockReceived(block):
            return f"block (header {block.header.value})"
        case BadFrame(reason):
            return f"bad block ({reason})"
    return type(token).__name__.upper()
