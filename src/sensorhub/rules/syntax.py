"""What YAML makes of a rule file that its writer did not mean, said in words.

Two kinds of slip get past a technician. Text that is not YAML at all stops the parser with
words about its tokens ("expected <block end>, but found '<block mapping start>'"), which name
neither the mistake nor the fix: :func:`syntax_mistake` says what probably happened, at the line.
And text that is YAML, but not what was meant: YAML 1.1 reads ``0410`` as the octal number 264
and ``0x1F`` as 31, so ``address: 0410`` silently became call address "264".
:func:`number_slip` catches that from the scalar as written (its tag and plain style), and
insists on quotes for a call address that YAML reads as any number but its own digits.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml

__all__ = ["is_call_address_place", "scalar_slip", "syntax_mistake"]

_INT_TAG: Final = "tag:yaml.org,2002:int"
_FLOAT_TAG: Final = "tag:yaml.org,2002:float"
_NULL_TAG: Final = "tag:yaml.org,2002:null"
#: YAML 1.1 integers that are not written in decimal (its resolver's patterns).
_BASES: Final = (
    (re.compile(r"[-+]?0b[01_]+"), "binary number"),
    (re.compile(r"[-+]?0x[0-9a-fA-F_]+"), "hexadecimal number"),
    (re.compile(r"[-+]?0[0-7_]+"), "octal number (a leading 0 makes it one)"),
)


def is_call_address_place(path: tuple[str, ...]) -> bool:
    """Whether the value at ``path`` is an ESPA call address: a staff pager's ``address``, or a
    recipient's under a paging system's ``pagers``."""
    return len(path) == 6 and (
        (path[0], path[2], path[3], path[5]) == ("sites", "staff", "pagers", "address")
        or (path[0], path[2], path[4]) == ("sites", "paging", "pagers")
    )


def scalar_slip(node: yaml.ScalarNode, path: tuple[str, ...], value: Any) -> str | None:
    """Why the plain scalar ``node`` (which YAML reads as ``value``) is not what its writer
    meant, or None if it is.

    A pager's ``address`` written bare is fine when YAML reads it as its own digits (``3101``);
    any other number there (``0410``, ``31.01``, ``3_101``), any number under a paging system's
    ``pagers``, and nothing at all (``address:``, which would make the pager one reached over
    MQTT only) are refused with the quotes to write. A number elsewhere is refused only when it
    is not written in decimal (``0410``, ``0x1F``).
    """
    if node.style is not None or node.tag not in (_INT_TAG, _FLOAT_TAG, _NULL_TAG):
        return None
    text = str(node.value)
    key = path[-1] if path else "value"
    if node.tag == _NULL_TAG:
        if not is_call_address_place(path):
            return None
        if key == "address":
            return (
                'the call address is empty: write it in quotes, address: "3101", or leave '
                "address out for a pager reached over MQTT only"
            )
        return (
            f"the call address of {key!r} is empty: write the address this paging system "
            f'calls it on, in quotes, {key}: "3101"'
        )
    if is_call_address_place(path):
        if text.isascii() and text.isdigit() and str(value) == text:
            # staff.pagers takes address: 3101 as written; a paging system's pagers never did
            return (
                None
                if key == "address"
                else f'a call address is text, not a number: put it in quotes, {key}: "{text}"'
            )
        return (
            f"YAML reads {text} as the number {value}, not as the call address {text!r}: "
            f'write the call address in quotes, {key}: "{text}"'
        )
    for pattern, base in _BASES:
        if pattern.fullmatch(text):
            return (
                f"YAML reads {text} as the {base}, {value}: write it in quotes "
                f'("{text}") if it is a name or an address, or as {value} if the number is meant'
            )
    return None


def syntax_mistake(error: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The line of a YAML syntax error and what to do about it, in words."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = error.problem or "not valid YAML"
    context = error.context or ""
    started = error.context_mark
    opened = started.line + 1 if started is not None else line
    words = _words(problem, context, started, mark)
    if words is None:
        words = f"{context + ', ' if context else ''}{problem}{_hint(problem, context)}"
        if started is not None and mark is not None and started.line != mark.line:
            if "quoted" in context:
                words += f" (the quote opened on line {opened} is never closed)"
            elif "flow" in context:
                words += f" (the bracket opened on line {opened} is never closed)"
    return line, f"this is not valid YAML here: {words}"


def _words(
    problem: str, context: str, started: yaml.Mark | None, mark: yaml.Mark | None
) -> str | None:
    """The parser's and scanner's messages that name tokens, said as the mistake behind them."""
    found = problem.rpartition("found ")[2]
    opened = started.line + 1 if started is not None else 1
    if found == "','":
        return "',' with no item before it: remove it (or put a value with ',' in quotes)"
    if found in ("']'", "'}'"):
        return f"{found} closes no bracket opened before it: remove it, or put the value in quotes"
    if problem.startswith("expected <block end>"):
        if context.startswith("while parsing a block collection"):
            return (
                f"a 'key:' among the '- ' items of the list that starts on line {opened}: a "
                "list holds items only; start the line with '- ', or indent the key as far as "
                "the key the list belongs to"
            )
        if found == "'-'":
            return (
                f"a '- ' list item among the keys of the mapping that starts on line {opened}: "
                "put a list on the lines under its key, indented further than the key"
            )
        return (
            f"this line is indented by {_spaces(mark)}, which lines it up with no key above it: "
            f"line it up with the key on line {opened} ({_spaces(started)}) or with the keys "
            "under it"
        )
    if problem.startswith("expected '<document start>'"):
        return "the document ended above ('...'), yet more follows: remove the '...' line"
    if (
        context.startswith(("while parsing a tag", "while scanning a tag"))
        or "tag handle" in problem
    ):
        return "a value that starts with ! is a YAML tag: put the value in quotes"
    if context.startswith("while parsing a flow sequence"):
        return (
            f"the [ opened on line {opened} is not closed here: write [a, b, c] on one line, "
            "or close it with ]"
        )
    if context.startswith("while parsing a flow mapping"):
        return (
            f"the {{ opened on line {opened} is not closed here, or two of its items lack "
            "the ',' between them: write {key: value, key: value}"
        )
    if problem.startswith("found undefined alias"):
        name = found.partition("alias ")[2].strip("'")
        return (
            f"*{name} repeats an anchor that is not defined above it: write &{name} on the "
            "value to repeat, before its first *alias"
        )
    if context.startswith("found duplicate anchor"):
        return f"this anchor is also defined on line {opened}: give each &anchor its own name"
    if problem.startswith("sequence entries are not allowed"):
        return (
            "a '- ' list item cannot follow 'key:' on the same line: write the items on the "
            "lines below, indented, or as [a, b] on this line"
        )
    if context.startswith(("while scanning an alias", "while scanning an anchor")):
        return "a value that starts with * or & must be in quotes: YAML reads *name as an alias"
    if problem.startswith("found unknown escape character"):
        return (
            f'{found.partition("character ")[2]} after a backslash is no escape in "double '
            "quotes\": write the value in 'single quotes', where a backslash is a backslash"
        )
    if context.startswith("while scanning a block scalar"):
        return (
            "after | or > the text starts on the next line: move it there, or put the value "
            "in quotes"
        )
    if "that cannot start any token" in problem and "'\\t'" not in problem:
        char = problem.partition("character ")[2].partition(" that")[0]
        return f"a value cannot start with {char} in YAML: put the value in quotes"
    return None


def _spaces(mark: yaml.Mark | None) -> str:
    column = mark.column if mark is not None else 0
    return f"{column} space{'' if column == 1 else 's'}"


def _hint(problem: str, context: str) -> str:
    if "'\\t'" in problem or "\t" in problem:
        return ": indent with spaces, never tabs"
    if "mapping values are not allowed" in problem:
        return ": a value with ': ' in it needs quotes, or a key is indented wrongly"
    if "expected a single document" in context:
        return ": a rule file is one document, remove the second '---'"
    if "could not find expected ':'" in problem:
        return ": each line needs 'key: value', and quotes must be closed"
    return ""
