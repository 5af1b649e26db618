"""Loading rule files, with every mistake reported as file, line, key and a sentence.

A technician who mistypes a rule file must be told where and what to do, not shown a traceback.
The YAML is composed into a node tree first (which keeps the line of every key), converted to
plain Python by hand (so duplicate keys, keys that YAML reads as numbers or yes/no, and values it
reads other than written, such as ``0410``, are caught: :mod:`sensorhub.rules.syntax`), freed of
keys indented under the wrong parent (said once each: :mod:`sensorhub.rules.indentation`),
validated by the pydantic models of :mod:`sensorhub.rules.model`, and each pydantic error is
mapped back to the line of its key and rewritten for a person. A file over the limits of
:mod:`sensorhub.rules.limits` is refused where it goes over, before it is expanded. An error is
printed with its control characters escaped (a key may hold one), so a terminal shows them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sensorhub.contract import NAME_RE
from sensorhub.durations import DURATION_EXAMPLES, format_duration
from sensorhub.rules.common import bad_name, duration_value
from sensorhub.rules.indentation import misplaced
from sensorhub.rules.limits import MAX_FILE_BYTES, RuleFileLimit, compose, number_too_long
from sensorhub.rules.model import ResidentRules, RoomRules, RuleFile, SiteRules
from sensorhub.rules.policy import Policy, reference_errors
from sensorhub.rules.syntax import scalar_slip, syntax_mistake
from sensorhub.text import escaped

__all__ = [
    "KeyPath",
    "ParsedRuleFile",
    "RuleError",
    "RuleFileError",
    "compile_policy",
    "default_rules_path",
    "format_duration",
    "load_policy",
    "load_rule_file",
    "parse_rule_file",
    "validate_rule_data",
]

#: A place in a rule file: the keys from the top, e.g. ("sites", "zon", "rooms", "12").
KeyPath = tuple[str, ...]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"

#: Units of the parameters that are plain numbers (durations are recognised by their type).
_UNITS = {"acoustic_threshold": "dB(A)"}

#: Where a key is legal when it is not legal where it was written (for "belongs in ...").
_HOMES: tuple[tuple[type[BaseModel], str], ...] = (
    (RuleFile, "at the top of the file"),
    (SiteRules, "in a site"),
    (RoomRules, "in a room"),
    (ResidentRules, "under a room's resident"),
)


@dataclass(frozen=True, slots=True)
class RuleError:
    """One mistake in a rule file. ``line`` is 1-based; 0 means the file as a whole."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        # a key or file name may hold an escape code (YAML writes one as "\e"): shown, not obeyed
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return escaped(text)


class RuleFileError(Exception):
    """A rule file could not be loaded; ``errors`` says every reason, in file order.

    ``unreadable`` is true when the file could not be read at all (missing, a directory, no
    permission), as opposed to read and found wrong.
    """

    def __init__(self, errors: list[RuleError], *, unreadable: bool = False) -> None:
        self.errors = errors
        self.unreadable = unreadable
        super().__init__("\n".join(str(error) for error in errors))


@dataclass(frozen=True, slots=True)
class ParsedRuleFile:
    """A valid rule file with the line of every key, for tools that point into the file."""

    file: str
    rules: RuleFile
    lines: Mapping[KeyPath, int]

    def line_of(self, keys: KeyPath) -> int:
        """The line of ``keys``, or of the nearest enclosing key the file spells out."""
        return _line_of(self.lines, keys)


def default_rules_path() -> Path:
    """The shipped reference policy: in the wheel, or ``rules/default.yaml`` in a checkout."""
    packaged = resources.files("sensorhub.rules") / "default.yaml"
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "rules" / "default.yaml"


def load_rule_file(path: Path) -> RuleFile:
    """Read and validate one rule file; raise :class:`RuleFileError` on any mistake."""
    return parse_rule_file(path).rules


def load_policy(path: Path | None = None) -> Policy:
    """The compiled policy of rule file ``path`` over the shipped defaults (or those alone)."""
    default_path = default_rules_path()
    default = load_rule_file(default_path)
    if path is None:
        return compile_policy(ParsedRuleFile(str(default_path), default, {(): 1}), None)
    return compile_policy(parse_rule_file(path), default)


def compile_policy(parsed: ParsedRuleFile, base: RuleFile | None) -> Policy:
    """The policy of a parsed file over ``base``; what only shows once the two are layered
    (a name taken from the shipped rules, falls that reach no handset) is a mistake at its line."""
    problems = reference_errors(parsed.rules, base)
    if problems:
        raise RuleFileError(
            [
                RuleError(parsed.file, parsed.line_of(key), ".".join(key), message)
                for key, message in problems
            ]
        )
    try:
        return Policy(parsed.rules, base=base)
    except ValueError as error:
        line = parsed.line_of(("defaults",))
        raise RuleFileError([RuleError(parsed.file, line, "defaults", str(error))]) from None


def parse_rule_file(path: Path) -> ParsedRuleFile:
    """Like :func:`load_rule_file`, but keep the line of every key."""
    file = str(path)
    try:
        with Path(path).open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _unreadable(file, "no such file") from None
    except IsADirectoryError:
        raise _unreadable(file, "is a directory, not a rule file") from None
    except PermissionError:
        raise _unreadable(file, "cannot be read: permission denied") from None
    except OSError as error:
        raise _unreadable(file, f"cannot be read: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        line = raw.count(b"\n", 0, MAX_FILE_BYTES) + 1
        message = (
            f"the file goes on past {MAX_FILE_BYTES // 1024} KiB on this line, the most a rule "
            "file may hold: is this the right file? (see rules/README.md, Limits)"
        )
        raise RuleFileError([RuleError(file, line, "", message)])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise RuleFileError(
            [RuleError(file, line, "", "this line is not UTF-8 text: save the file as UTF-8")]
        ) from None
    return _parse_text(file, text)


# -- parsing --------------------------------------------------------------------------------


def _unreadable(file: str, message: str) -> RuleFileError:
    return RuleFileError([RuleError(file, 0, "", message)], unreadable=True)


def _parse_text(file: str, text: str) -> ParsedRuleFile:
    try:
        root = compose(text)
    except RuleFileLimit as limit:
        raise RuleFileError([RuleError(file, limit.line, "", limit.message)]) from None
    except yaml.MarkedYAMLError as error:
        line, message = syntax_mistake(error)
        raise RuleFileError([RuleError(file, line, "", message)]) from None
    except yaml.reader.ReaderError as error:  # a control character
        line = text.count("\n", 0, error.position) + 1
        raise RuleFileError(
            [RuleError(file, line, "", "this line holds a control character: retype it")]
        ) from None
    except yaml.YAMLError as error:
        raise RuleFileError([RuleError(file, 1, "", f"this is not valid YAML: {error}")]) from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG):
        raise RuleFileError(
            [
                RuleError(
                    file,
                    1,
                    "",
                    "the file is empty: write at least `version: 1`, and start from "
                    "rules/default.yaml or rules/example-site.yaml",
                )
            ]
        )
    if not isinstance(root, yaml.MappingNode):
        raise RuleFileError(
            [
                RuleError(
                    file,
                    _line(root),
                    "",
                    "a rule file is a mapping of keys (version, defaults, sites) at the top, "
                    f"not {_describe_node(root)}",
                )
            ]
        )
    builder = _Builder(file)
    data = builder.convert(root, ())
    errors = list(builder.errors)
    for place, message in misplaced(data, builder.lines):
        errors.append(RuleError(file, _line_of(builder.lines, place), ".".join(place), message))
    said = {(error.line, error.key) for error in errors}
    try:
        rules = RuleFile.model_validate(data)
    except ValidationError as error:
        # one mistake per key: where the YAML was already found wrong, its words stand
        errors.extend(
            found
            for found in _pydantic_errors(file, error, data, builder.lines)
            if (found.line, found.key) not in said
        )
        rules = None
    if errors or rules is None:
        raise RuleFileError(_sorted_unique(errors))
    return ParsedRuleFile(file, rules, builder.lines)


def validate_rule_data(file: str, data: Any, lines: Mapping[KeyPath, int]) -> RuleFile:
    """Validate a parsed file's data changed in memory (``sensorhub sweep`` sets parameters so),
    with each mistake worded and placed as :func:`parse_rule_file` does: at the line of the
    nearest key of the file (``lines``)."""
    try:
        return RuleFile.model_validate(data)
    except ValidationError as error:
        raise RuleFileError(
            _sorted_unique(list(_pydantic_errors(file, error, data, lines)))
        ) from None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _describe_node(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return f"the value {node.value!r}"


class _Builder:
    """Node tree -> plain Python, recording the line of each key and catching what YAML hides."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {(): 1}
        self.errors: list[RuleError] = []
        self._scalars = yaml.SafeLoader("")
        self._open: set[int] = set()

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:  # an alias inside its own anchor
            message = "this refers to itself (an alias inside its own anchor)"
            self.errors.append(
                RuleError(self.file, _line_of(self.lines, path), ".".join(path), message)
            )
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            items = []
            for index, item in enumerate(node.value):
                self.lines.setdefault((*path, str(index)), _line(item))
                items.append(self.convert(item, (*path, str(index))))
            return items
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        # YAML 1.1 reads 22:00 as the base-60 number 1320; nobody means that in a rule file.
        if node.tag in (_INT_TAG, _FLOAT_TAG):
            too_long = number_too_long(str(node.value))
            if too_long is not None:
                self._error(node, path, too_long)
                return None
            if ":" in str(node.value):
                return str(node.value)
        try:
            value = self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError:
            self._error(node, path, f"cannot read {node.value!r}: remove the tag {node.tag!r}")
            return None
        slip = scalar_slip(node, path, value)
        if slip is not None:
            self._error(node, path, slip)
            return str(node.value)  # as written, so that the models add no second mistake
        return value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if isinstance(source, yaml.MappingNode):
                        merged.append(source)
                    else:
                        self._error(key_node, path, "'<<' merges a mapping: write '<<: *anchor'")
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            line = _line(key_node)
            if key in first_line:
                self._error(
                    key_node,
                    (*path, key),
                    f"{key!r} is set twice in the same place (first on line {first_line[key]}): "
                    "keep one",
                )
            first_line[key] = line
            if _is_names(path) and not NAME_RE.fullmatch(key):
                self._error(key_node, (*path, key), _bad_name(path, key))
            self.lines[(*path, key)] = line
            result[key] = self.convert(value_node, (*path, key))
        # '<<: *anchor' fills in what the mapping does not set itself (YAML merge keys).
        for source in merged:
            for key, value in self._mapping(source, path).items():
                result.setdefault(key, value)
        for key, line in first_line.items():
            self.lines[(*path, key)] = line
        return result

    def _key(self, node: yaml.Node, path: KeyPath) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self._error(node, path, "a key must be a plain name, not a list or mapping")
            return None
        if node.tag in (_STR_TAG, _INT_TAG):
            # room 12 (or 012, 1_2) is a name: take it as written, not as YAML's number
            return str(node.value)
        if node.tag == _NULL_TAG:
            self._error(node, path, "a key is missing before ':'")
            return None
        kind = {_BOOL_TAG: "yes/no", _FLOAT_TAG: "a decimal number"}.get(node.tag, "a date")
        self._error(
            node,
            (*path, str(node.value)),
            f"YAML reads the key {node.value!r} as {kind}: put it in quotes, e.g. '{node.value}':",
        )
        return None

    def _error(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        self.errors.append(RuleError(self.file, _line(node), ".".join(path), message))


def _sorted_unique(errors: list[RuleError]) -> list[RuleError]:
    return sorted(dict.fromkeys(errors), key=lambda e: (e.line, e.key))


# -- pydantic errors -> sentences -------------------------------------------------------------


def _line_of(lines: Mapping[KeyPath, int], keys: KeyPath) -> int:
    for end in range(len(keys), -1, -1):
        line = lines.get(keys[:end])
        if line is not None:
            return line
    return 1


def _pydantic_errors(
    file: str, error: ValidationError, data: Any, lines: Mapping[KeyPath, int]
) -> Iterator[RuleError]:
    for item in error.errors(include_url=False):
        loc = tuple(str(part) for part in item["loc"])
        name_errors = list(_bad_names(file, item, loc, data, lines))
        if name_errors:
            yield from name_errors
            continue
        yield RuleError(file, _line_of(lines, loc), ".".join(loc), _message(item, loc, lines))


def _bad_names(
    file: str, item: Any, loc: KeyPath, data: Any, lines: Mapping[KeyPath, int]
) -> Iterator[RuleError]:
    """A bad site or room name: point at the name itself, not at ``sites:`` or ``rooms:``."""
    if item["type"] != "value_error" or not loc or loc[-1] not in ("sites", "rooms"):
        return
    names = data
    for part in loc:
        names = names.get(part) if isinstance(names, dict) else None
    if not isinstance(names, dict):
        return
    for name in names:
        if not NAME_RE.fullmatch(name):
            yield RuleError(
                file, _line_of(lines, (*loc, name)), ".".join((*loc, name)), _bad_name(loc, name)
            )


def _is_names(path: KeyPath) -> bool:
    """Whether the keys of the mapping at ``path`` are site or room names."""
    return path == ("sites",) or (len(path) == 3 and path[0] == "sites" and path[2] == "rooms")


def _bad_name(path: KeyPath, name: str) -> str:
    return bad_name(name, "site" if path[-1] == "sites" else "room")


def _message(item: Any, loc: KeyPath, lines: Mapping[KeyPath, int]) -> str:
    kind: str = item["type"]
    value = item.get("input")
    ctx: dict[str, Any] = item.get("ctx") or {}
    name = loc[-1] if loc else "the file"
    field = _field_at(loc)

    if kind == "missing":
        description = f" ({field.description.rstrip('.')})" if field and field.description else ""
        return f"{name} is missing here: add it{description}"
    if kind == "extra_forbidden":
        return _unknown_key(loc, lines)
    if kind == "literal_error":
        allowed = str(ctx.get("expected", "")).replace("'", "")
        return f"{_show(value)} is not allowed: {name} must be {allowed}"
    if kind == "value_error":
        return str(ctx.get("error") or item["msg"])
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _out_of_bounds(name, value, field, ctx)
    if kind in ("bool_type", "bool_parsing"):
        return f"{name} is true or false, not {_show(value)}"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "finite_number"):
        if _is_duration(field):
            return f"{name} is a duration, e.g. {DURATION_EXAMPLES}, not {_show(value)}"
        unit = _unit(name, field)
        return f"{name} is a number{f' ({unit})' if unit else ''}, not {_show(value)}"
    if kind in ("string_type", "str_type"):
        hint = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
        return f"{name} is text, not {_show(value)}{hint}"
    if kind == "string_too_short":
        return f"{name} must not be empty"
    if kind == "string_too_long":
        return f"{name} is at most {ctx.get('max_length')} characters long"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _as_model(field.annotation) if field else None
        if model is not None and len(model.model_fields) <= 3:
            keys = ", ".join(f"{key}: ..." for key in model.model_fields)
            return f"{name} is written {{{keys}}}, not {_show(value)}"
        return (
            f"{name} needs indented 'key: value' lines under it (or {{}} for none), "
            f"not {_show(value)}"
        )
    return str(item["msg"])


def _named(place: KeyPath) -> str:
    """A mapping of the file by what it is: site 'zon', room '12', defaults."""
    if place[-1] == "resident":
        return f"the resident of room {place[-2]!r}"
    if len(place) > 1 and place[-2] in ("sites", "rooms"):
        return f"{place[-2][:-1]} {place[-1]!r}"
    return repr(place[-1])


def _unknown_key(loc: KeyPath, lines: Mapping[KeyPath, int]) -> str:
    key = loc[-1]
    model = _model_at(loc[:-1])
    known = list(model.model_fields) if model else []
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown key {key!r}: did you mean {close[0]!r}?"
    for end in range(len(loc) - 2, -1, -1):  # the mappings around this one, nearest first
        around = _model_at(loc[:end])
        if around is not None and key in around.model_fields:
            where = f"cannot be set in {_named(loc[:-1])}: it is a key of"
            if not end:
                return f"{key!r} {where} the file, indented too far? Start it at the left margin"
            return (
                f"{key!r} {where} {_named(loc[:end])}, indented too far? Indent it as far as "
                f"{loc[end]}: (line {_line_of(lines, loc[: end + 1])})"
            )
    homes = [where for other, where in _HOMES if key in other.model_fields]
    if homes:
        return f"{key!r} cannot be set here: it belongs {homes[0]}"
    return f"unknown key {key!r}: the keys allowed here are " + ", ".join(known)


def _out_of_bounds(name: str, value: Any, field: FieldInfo | None, ctx: dict[str, Any]) -> str:
    low = high = None
    for rule in field.metadata if field else []:
        if isinstance(rule, annotated_types.Ge | annotated_types.Gt):
            low = rule.ge if isinstance(rule, annotated_types.Ge) else rule.gt
        if isinstance(rule, annotated_types.Le | annotated_types.Lt):
            high = rule.le if isinstance(rule, annotated_types.Le) else rule.lt
    low = ctx.get("ge", ctx.get("gt", low))
    high = ctx.get("le", ctx.get("lt", high))
    duration = _is_duration(field)
    unit = _unit(name, field)

    def show(number: Any) -> str:
        if duration:
            return format_duration(float(number))
        return f"{number:g} {unit}".strip() if isinstance(number, int | float) else str(number)

    shown = _show(value) if isinstance(value, str) else show(value)
    if low is not None and high is not None:
        return f"{name} must be between {show(low)} and {show(high)}, not {shown}"
    if low is not None:
        return f"{name} must be at least {show(low)}, not {shown}"
    return f"{name} must be at most {show(high)}, not {shown}"


def _show(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:g}"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# -- the models, by place in the file ---------------------------------------------------------


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _unwrap(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _unwrap(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return [arg for arg in get_args(annotation) if arg is not NoneType]
    return [annotation]


def _model_at(loc: KeyPath) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` (``()`` is the whole file)."""
    current: Any = RuleFile
    index = 0
    while index < len(loc):
        model = _as_model(current)
        if model is None or loc[index] not in model.model_fields:
            return None
        current = model.model_fields[loc[index]].annotation
        index += 1
        dicts = [arg for arg in _unwrap(current) if get_origin(arg) is dict]
        if dicts:
            if index == len(loc):
                return None
            current = get_args(dicts[0])[1]
            index += 1
    return _as_model(current)


def _field_at(loc: KeyPath) -> FieldInfo | None:
    if not loc:
        return None
    model = _model_at(loc[:-1])
    return model.model_fields.get(loc[-1]) if model else None


def _is_duration(field: FieldInfo | None) -> bool:
    if field is None:
        return False
    for annotation in _unwrap(field.annotation):
        for meta in getattr(annotation, "__metadata__", ()):
            if getattr(meta, "func", None) is duration_value:
                return True
    return False


def _unit(name: str, field: FieldInfo | None) -> str:
    return "" if _is_duration(field) else _UNITS.get(name, "")
