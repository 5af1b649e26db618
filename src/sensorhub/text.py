"""Text that people typed, made safe for a terminal.

A reason, a name or a rule file's key is shown to the next person on a terminal or in a log.
Written with an escape code in it (``ESC [2J`` clears the screen), a newline, or a Unicode
direction override, it would make the terminal do what the text says and could show a false
"all clear". What people type on the command line is refused when it holds such a character
(:func:`unprintable`); what reaches a terminal from elsewhere (a store written by an older
version, a rule file's key) is shown with each such character written as its Python escape
(:func:`escaped`), so it is seen, not obeyed. "Printable" is Python's :meth:`str.isprintable`:
letters, digits, punctuation, symbols and the plain space, in any script; not control or
format characters, line or paragraph separators, or other spaces.
"""

from __future__ import annotations

__all__ = ["escaped", "unprintable"]


def escaped(text: str) -> str:
    """``text`` with every character that is not printable written as its escape, e.g. ``\\x1b``."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def unprintable(text: str) -> str | None:
    """The first character of ``text`` that is not printable, as its escape; None if none is."""
    for char in text:
        if not char.isprintable():
            return repr(char)[1:-1]
    return None
