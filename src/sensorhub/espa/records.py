"""ESPA 4.4.4 data records: the call to a pager (header 1) and the status it comes back with.

``Call`` is what sensorhub sends: a call address (record 1), the display message (2) and the
one-digit codes (3-6). ``status_block`` builds the status information (header 2) that a
paging system reports: the call address and the call status (record 7), whose values
``CallStatusCode`` names as this project reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from sensorhub.espa.framing import Block, FrameError, Header, RecordId, check_value
from sensorhub.rules.paging import MAX_ADDRESS


#: Longest call address (record 1): digits only.
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


# -- calls -------------------------------------------------------------------------------------


def _digit(value: int | None, what: str) -> None:
    if value is not None and not 0 <= value <= 9:
        raise FrameError(f"{what} must be one digit 0-9, not {value}")


def check_codes(
    beep: int | None, call_type: int | None, transmissions: int | None, priority: int | None
) -> None:
    """``FrameError`` unless each code (records 3 to 6) is one digit 0-9 or None (not sent)."""
    _digit(beep, "beep coding")
    _digit(call_type, "call type")
    _digit(transmissions, "number of transmissions")
    _digit(priority, "priority")


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
        check_value(self.message, "display message")
        check_codes(self.beep, self.call_type, self.transmissions, self.priority)

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
