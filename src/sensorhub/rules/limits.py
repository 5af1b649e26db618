"""How big a rule file may be: a file that would take the service down is refused, not read.

A rule file is written by a person, and a few kilobytes describe a large care home. A file far
beyond that is a mistake or an attack, and reading it as YAML can cost far more than its size:
nine lines of nested aliases ("billion laughs") expand to a billion values, 50,000 opening
brackets exhaust Python's recursion, a number of 100,000 digits cannot be converted. Each limit
below is checked while the file is read, before the cost is paid, and a file over one is refused
with the line where it went over (:class:`RuleFileLimit`); ``serve`` (at start and on reload),
``replay`` and ``rules check`` all read rule files through :func:`compose`, so they refuse the same
files with the same words. The limits are documented for users in rules/README.md.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NUMBER_CHARS",
    "MAX_VALUES",
    "RuleFileLimit",
    "compose",
    "number_too_long",
]

#: The largest rule file read (bytes). A site of 1,000 rooms with five settings each is 140 KiB.
MAX_FILE_BYTES: Final = 512 * 1024
#: The most values (keys, values and list items, with every alias expanded where it is used).
#: A site of 1,000 rooms with five settings each has 12,000.
MAX_VALUES: Final = 25_000
#: The deepest nesting of mappings and lists (with aliases expanded). The deepest the rule-file
#: format itself goes is about 8.
MAX_DEPTH: Final = 32
#: The longest number written in a rule file (characters); a parameter needs a handful.
MAX_NUMBER_CHARS: Final = 32

_LEAF: Final = (1, 1)


class RuleFileLimit(Exception):  # noqa: N818 - a refusal, like RuleFileError, not a bug
    """A rule file goes over a limit; ``line`` (1-based) is where, ``message`` says what to do."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


def number_too_long(text: str) -> str | None:
    """Why the number ``text`` is refused unread, or None if it is short enough to convert."""
    if len(text) <= MAX_NUMBER_CHARS:
        return None
    return (
        f"this number is {len(text):,} characters long; a rule file's numbers have at most "
        f"{MAX_NUMBER_CHARS}: write the value the parameter needs (see rules/README.md)"
    )


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (as ``yaml.compose`` with the safe loader), within the limits.

    Raises :class:`RuleFileLimit` at the first place the file goes over a limit, and the YAML
    library's own errors for text that is not YAML.
    """
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


class _LimitedLoader(yaml.SafeLoader):
    """The safe loader's composer, counting values and depth as it builds the node tree.

    An alias is not copied by the composer (it is the anchored node again), but whoever walks the
    tree walks it once per use, so each alias counts the values of what it names, and its depth.
    Those are kept per finished mapping or list (``_shapes``: values, depth), so counting costs
    one step per node written, however deep the aliases nest.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._values = 0
        self._depth = 0
        self._shapes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            # an alias inside its own anchor is not finished: it counts once, and the rule-file
            # builder reports it as a mistake
            named = self.anchors.get(event.anchor)
            values, depth = self._shapes.get(id(named), _LEAF)
            self._count(event, values, self._depth + depth)
            return super().compose_node(parent, index)
        self._depth += 1
        self._count(event, 1, self._depth)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
            children = (
                node.value
                if isinstance(node, yaml.SequenceNode)
                else [part for pair in node.value for part in pair]
            )
            shapes = [self._shapes.get(id(child), _LEAF) for child in children]
            self._shapes[id(node)] = (
                1 + sum(values for values, _ in shapes),
                1 + max((depth for _, depth in shapes), default=0),
            )
        return node

    def _count(self, event: yaml.Event, values: int, depth: int) -> None:
        mark = event.start_mark  # the parser's events always have one
        line = int(mark.line) + 1 if mark is not None else 1
        if depth > MAX_DEPTH:
            raise RuleFileLimit(
                line,
                f"mappings and lists nest more than {MAX_DEPTH} deep here"
                + (" (with the alias expanded)" if isinstance(event, yaml.AliasEvent) else "")
                + ": a rule file nests a handful of levels, see rules/README.md for its layout",
            )
        self._values += values
        if self._values <= MAX_VALUES:
            return
        if isinstance(event, yaml.AliasEvent):
            raise RuleFileLimit(
                line,
                f"the alias *{event.anchor} repeats {values:,} values, which takes the file over "
                f"{MAX_VALUES:,} values with its aliases expanded: write the values out, or "
                "use fewer aliases of aliases",
            )
        raise RuleFileLimit(
            line,
            f"the file holds more than {MAX_VALUES:,} values by this line: a rule file "
            "describes a care home in far fewer (is this the right file?)",
        )
