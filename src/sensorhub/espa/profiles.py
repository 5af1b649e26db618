"""Pages to ESPA calls: the pager address of a recipient, text made to fit, codes by priority.

``CallProfile`` turns a contract ``Page`` into a ``Call``: the pager address of its recipient,
the text made to fit the display (``display_text``: printable ISO 8859-1, or ASCII with
``seven_bit``), and beep code, call type, number of transmissions and ESPA priority chosen by
the page's priority (``CallCodes``, ``DEFAULT_CODES``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from sensorhub.contract import Page, Priority
from sensorhub.espa.framing import MAX_BLOCK, printable
from sensorhub.espa.records import Call, check_codes
from sensorhub.rules.paging import MAX_ADDRESS, EspaConfig, is_call_address

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
    spelled out (``€`` -> ``EUR``); anything else becomes ``?``. The result is cut at ``width``;
    a closing note in brackets (a repeat's "(2e oproep, 1 min)") is kept and the text before it
    cut instead, so a nurse still sees that a page is a repeat.
    """
    if width < 1:
        raise ValueError(f"display width must be at least 1, not {width}")
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif printable(char, seven_bit=seven_bit):
            out.append(char)
        elif category in ("Cc", "Cf", "Mn", "Me"):
            continue
        elif char in _SPELLED and all(printable(c, seven_bit=seven_bit) for c in _SPELLED[char]):
            out.append(_SPELLED[char])
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if printable(c, seven_bit=seven_bit)
            )
            out.append(base or "?")
    return _cut(" ".join("".join(out).split()), width)


def _cut(text: str, width: int) -> str:
    """``text`` cut at ``width``, keeping a closing ``(...)`` note if it takes at most half."""
    if len(text) <= width:
        return text
    start = text.rfind(" (")
    note = text[start:] if start > 0 and text.endswith(")") else ""
    if not note or len(note) > width // 2:
        return text[:width].rstrip()
    return text[: width - len(note)].rstrip() + note


@dataclass(frozen=True, slots=True)
class CallCodes:
    """The one-digit codes sent with a call of one page priority (None: record left out)."""

    beep: int | None = None
    call_type: int | None = None
    transmissions: int | None = None
    priority: int | None = None

    def __post_init__(self) -> None:
        check_codes(self.beep, self.call_type, self.transmissions, self.priority)


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
            if not is_call_address(address):
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


def profile_of(config: EspaConfig) -> CallProfile:
    """The page-to-call profile of a paging system of the rule file."""
    codes = dict(DEFAULT_CODES)
    for priority, configured in config.priorities.items():
        codes[priority] = CallCodes(**configured.model_dump())
    return CallProfile(
        addresses=config.pagers,
        display_width=config.display_width,
        seven_bit=config.seven_bit,
        codes=codes,
    )
