"""Paging systems in the rule file: how to reach an ESPA 4.4.4 paging system, and its pagers.

A site names its paging systems under ``paging:``; each is an :class:`EspaConfig`::

    sites:
      zonnebloem:
        paging:
          dect-1: {host: 10.0.0.5, port: 4000, pagers: {nachtdienst-oost: "120", oost-1: "3101"}}

This is configuration only (pydantic, no I/O): ``sensorhub.io.espa.client_for(config)`` builds
the client that speaks to the paging system, and ``sensorhub.io.paging.EspaChannel`` makes one
paging system an outbox channel of the service; the sans-I/O protocol makes its link settings
and page-to-call profile of it (``sensorhub.espa.link.settings_of``,
``sensorhub.espa.profiles.profile_of``). See docs/espa.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from sensorhub.contract import Priority
from sensorhub.rules.common import Duration

#: The longest ESPA 4.4.4 call address (digits).
MAX_ADDRESS: Final = 16


def is_call_address(address: str) -> bool:
    """Whether ``address`` can be an ESPA 4.4.4 call address: 1 to ``MAX_ADDRESS`` ASCII
    digits."""
    return address.isascii() and address.isdigit() and len(address) <= MAX_ADDRESS


def call_address(address: str) -> str:
    """A call address in the rule file (``staff.pagers``, a paging system's ``pagers``)."""
    if not address.strip():
        raise ValueError(
            f'the call address is empty: write its 1 to {MAX_ADDRESS} digits in quotes, e.g. "3101"'
        )
    if not is_call_address(address):
        raise ValueError(
            f"{address!r} is not an ESPA call address: it must be 1 to {MAX_ADDRESS} digits, "
            'in quotes, e.g. "3101"'
        )
    return address


#: An ESPA 4.4.4 call address as the rule file writes it; each is checked at its own line.
CallAddress = Annotated[str, AfterValidator(call_address)]


#: How long the paging system may take to answer before the link sends again.
DEFAULT_RESPONSE_TIMEOUT: Final = 3.0
#: How often an idle link asks the paging system for call status.
DEFAULT_POLL_INTERVAL: Final = 1.0

Parity = Literal["N", "E", "O"]


class CallCodesConfig(BaseModel):
    """The one-digit codes for calls of one page priority; leave one out to not send it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    beep: int | None = Field(None, ge=0, le=9, description="Beep coding (record 3).")
    call_type: int | None = Field(None, ge=0, le=9, description="Call type (record 4).")
    transmissions: int | None = Field(
        None, ge=0, le=9, description="Number of transmissions (record 5)."
    )
    priority: int | None = Field(None, ge=0, le=9, description="ESPA priority (record 6).")


class EspaConfig(BaseModel):
    """One paging system: where it is, how to speak to it, and the pager of each recipient."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(
        None, min_length=1, description="Paging system (or TCP converter) host for TCP."
    )
    port: int | None = Field(None, ge=1, le=65535, description="Its TCP port.")
    device: str | None = Field(
        None, min_length=1, description="Serial port, e.g. /dev/ttyS0 (instead of TCP)."
    )
    baud: int = Field(9600, ge=50, le=4_000_000, description="Serial baud rate.")
    bytesize: Literal[7, 8] = Field(8, description="Serial data bits.")
    parity: Parity = Field("N", description="Serial parity: N, E or O.")
    stopbits: Literal[1, 2] = Field(1, description="Serial stop bits.")
    control_address: str = Field(
        "1", pattern=r"^[0-9]$", description="Our ESPA address (control station)."
    )
    paging_address: str = Field(
        "2", pattern=r"^[0-9]$", description="The paging system's ESPA address."
    )
    display_width: int = Field(80, ge=1, le=512, description="Characters the pagers display.")
    seven_bit: bool = Field(False, description="Send 7-bit ASCII only (no ISO 8859-1 letters).")
    max_retries: int = Field(3, ge=0, le=10, description="Retries after NAK or silence.")
    response_timeout: Duration = Field(
        DEFAULT_RESPONSE_TIMEOUT, gt=0, le=60, description="How long to wait for an answer."
    )
    poll_interval: Duration = Field(
        DEFAULT_POLL_INTERVAL, gt=0, le=300, description="How long between status polls."
    )
    ack_statuses: frozenset[str] = Field(
        frozenset({"4"}),
        min_length=1,
        description="Call-status values (record 7) that mean a person acknowledged the call.",
    )
    pagers: dict[str, CallAddress] = Field(
        default_factory=dict,
        description="Recipient (pager or group in the rule file) -> call address (digits).",
    )
    priorities: dict[Priority, CallCodesConfig] = Field(
        default_factory=dict,
        description="Codes per page priority; priorities left out keep the defaults.",
    )

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        tcp = self.host is not None or self.port is not None
        if tcp and self.device is not None:
            raise ValueError("give either host and port (TCP) or device (serial), not both")
        if tcp and (self.host is None or self.port is None):
            raise ValueError("ESPA over TCP needs both host and port")
        if not tcp and self.device is None:
            raise ValueError(
                "give host and port (TCP) or device (serial port) of the paging system"
            )
        if self.bytesize == 7 and not self.seven_bit:
            raise ValueError("with 7 data bits set seven_bit: true (ISO 8859-1 letters need 8)")
        if self.control_address == self.paging_address:
            raise ValueError("control_address and paging_address must differ")
        return self

    @property
    def serial(self) -> bool:
        """Whether the paging system is on a serial port (else TCP)."""
        return self.device is not None

    @property
    def where(self) -> str:
        """Where the paging system is, for logs: ``tcp://host:port`` or the serial device."""
        if self.device is not None:
            return self.device
        return f"tcp://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PagingSystem:
    """A paging system of the rule file: its name (unique in the file), site and settings."""

    name: str
    site: str
    config: EspaConfig


__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_RESPONSE_TIMEOUT",
    "CallAddress",
    "CallCodesConfig",
    "EspaConfig",
    "PagingSystem",
    "Parity",
]
