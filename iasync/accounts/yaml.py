"""Safe, located YAML: plain data from PyYAML's C composer, with the node of every path kept.

`parse(text)` never constructs Python objects from tags: it composes nodes (libyaml, fast) and
builds dicts, lists, strings and numbers itself, so that it can

* say where each value and key came from (`Document.location`), for `path:line:col` problems;
* refuse what an account file has no use for and what hides mistakes: tags other than the core
  schema's (`!!python/object`, `!!binary`, ...), aliases (an alias bomb is refused at its first
  alias, never expanded), duplicate keys, merge keys, nulls (a value left out), YAML 1.1 numbers
  that are not what they look like (`0012` is octal 10, `1:30` is 90), numbers whose text is
  lost on the way (`Ver: 1.10` is the number 1.1; `+5`, `0x1F`, `1_000`, `.5`), infinities and
  NaN;
* keep timestamps as the text written (the schema and the model read them as strings).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from iasync.accounts.format import KEYED_LISTS, KEYED_MAPS, MAX_PROPERTIES

Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (_CORE + name for name in ("str", "int", "float", "bool", "null"))
TIMESTAMP, MAP, SEQ, MERGE, VALUE = (
    _CORE + name for name in ("timestamp", "map", "seq", "merge", "value")
)
#: Past this nesting the file cannot be an account (it nests five levels at most).
MAX_DEPTH = 32
#: LUSID holds a metric value as a decimal (28 significant digits, below about 7.9e28): a number
#: this large or larger cannot be what is meant, and one of more than `MAX_NUMBER_TEXT`
#: characters is refused before it is even read (Python refuses integers of 4,300+ digits).
MAX_NUMBER = 10**28
MAX_NUMBER_TEXT = 64
#: An account holds at most 100 properties (LUSID's limit) and a handful of identifiers, holders
#: and portfolios: a mapping or list of more entries, or a file of more values, is not an
#: account, and judging each of 20,000 entries (1 MiB holds that many) takes seconds. Such a
#: file is refused, unread past the first value over the limit, with one located problem.
MAX_ENTRIES = 1000
MAX_VALUES = 10_000
# YAML 1.1 integers and floats whose value is not what a reader sees: octal with a leading zero
# (0012 is 10) and base-60 (1:30 is 90).
_MISREAD_NUMBER = re.compile(r"[-+]?(0[0-9_]+|0o[0-7_]+|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)")
_BOOL_TRUE = {"yes", "true", "on"}
# Numbers in YAML 1.2 (and to an editor) that YAML 1.1 reads as text: `1e3`, `1.5e3` (1.1 wants a
# dot and a signed exponent). As a property's value, where a number is a metric and text a label,
# which was meant cannot be told: refused, plain.
_EXPONENT_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
_ALIAS = re.compile(r"\*[^\s,\[\]{}]+")
# Characters that are invisible or that make text read otherwise than it is: controls (reachable
# only through escapes like "\x00" or "\e": the YAML reader refuses them raw), the bidirectional
# embeddings, overrides, isolates and marks ("Trojan Source"), and zero-width spaces. Tab and
# line break are layout, not hidden (an identifier may hold neither: `rules` says so).
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
# A constructor with no state, for the core schema's number rules (0x.., 1_000, .inf).
_NUMBERS = yaml.constructor.SafeConstructor()


@dataclass
class Document:
    """One parsed account file: its data, where each path is, and the YAML-stage problems."""

    data: Any = None
    errors: list[tuple[int, int, str]] = field(default_factory=list)
    fatal: bool = False  # the file could not be read as a mapping at all
    nodes: dict[Path, tuple[Node | None, Node]] = field(default_factory=dict)
    blocked_paths: set[Path] = field(default_factory=set)

    def node(self, path: Path) -> tuple[Node | None, Node] | None:
        return self.nodes.get(path)

    def location(self, path: Sequence[str | int], role: str = "value") -> tuple[int, int]:
        """(line, column), from 1, of the key or value node at `path` (or its nearest parent)."""
        path = tuple(path)
        while path not in self.nodes and path:
            path, role = path[:-1], "value"
        if path not in self.nodes:
            return 1, 1
        key_node, value_node = self.nodes[path]
        mark = (key_node if role == "key" and key_node is not None else value_node).start_mark
        return mark.line + 1, mark.column + 1

    def line_of(self, path: Sequence[str | int]) -> int:
        return self.location(path)[0]

    def blocked(self, path: Path) -> bool:
        """True when the YAML stage already reported `path` or a node above it."""
        if not self.blocked_paths:
            return False
        return any(path[:length] in self.blocked_paths for length in range(len(path) + 1))

    def existing_prefix(self, loc: Sequence[Any]) -> Path:
        """The part of a pydantic error location that names real data (union tags skipped)."""
        current, path = self.data, []
        for part in loc:
            if not _has(current, part):
                continue
            current = current[part]
            path.append(part)
        return tuple(path)


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def parse(text: str) -> Document:
    """The account file `text` as located plain data; never raises for bad input."""
    document = Document()
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return _fatal(document, *_syntax_error(exc, text))
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        return _fatal(
            document,
            line,
            column,
            f"a control character (#x{exc.character:04x}) that YAML does not allow; remove it",
        )
    except yaml.YAMLError as exc:  # no mark to point at
        return _fatal(document, 1, 1, f"invalid YAML: {exc}")
    if root is None or (isinstance(root, ScalarNode) and root.tag == PLAIN and not root.value):
        commented = any(line.lstrip().startswith("#") for line in text.splitlines())
        holds = "holds only comments" if commented else "is empty"
        return _fatal(
            document,
            1,
            1,
            f"the file {holds}; an account file is a mapping with at least identifiers, "
            "displayName and accountType",
        )
    if not isinstance(root, MappingNode) or root.tag != MAP:
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        line, column = root.start_mark.line + 1, root.start_mark.column + 1
        return _fatal(
            document,
            line,
            column,
            f"the file holds {kind}; an account file is one mapping of keys "
            "(identifiers:, displayName:, accountType:, ...)",
        )
    builder = _Builder(document, anchors="&" in text)
    try:
        document.data = builder.build(root, (), None, 0)
    except _TooLarge as too_large:
        mark = too_large.node.start_mark
        return _fatal(document, mark.line + 1, mark.column + 1, too_large.message)
    builder.report_numbers_without_unit(document.data)
    for line, column, path, message in builder.about_paths:  # now that items' keys are known
        document.errors.append((line, column, f"{render_path(path, document.data)}: {message}"))
    if builder.aliases:
        _report_aliases(document, text, builder.aliases)
    return document


# A plain scalar's tag, left for `_Builder` to resolve: keys never need it (a key is its text).
PLAIN = "?plain"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


class _Loader(yaml.CSafeLoader):
    """libyaml's parser and composer; implicit tags are resolved later, and only for values."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return MAP if kind is MappingNode else SEQ

    # Path resolvers are a feature nobody here registers: skip the bookkeeping for each node.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


def resolve_plain(node: ScalarNode) -> str:
    """The core-schema (YAML 1.1) tag of a plain scalar, as PyYAML's safe loader gives it."""
    value: str = node.value
    for tag, pattern in _IMPLICIT.get(value[:1], ()):
        if pattern.match(value):
            node.tag = tag
            return str(tag)
    node.tag = STR
    return STR


def _ambiguous_property(text: str, path: Path) -> bool:
    """`1e3` as a property's value, where text is a label and a number a metric."""
    return _property_value(path) and _EXPONENT_NUMBER.fullmatch(text) is not None


def _property_value(path: Path) -> bool:
    """A property's value in the short form, where text is a label and a number a metric."""
    return path[:1] == ("properties",) and (
        len(path) == 2 or (len(path) == 3 and path[2] == "value")
    )


def _metric_only(path: Path) -> bool:
    """A long form's `metricValue.value`: a number is all it can be, so its spelling is free."""
    return path[:1] == ("properties",) and path[-2:] == ("metricValue", "value")


def _lost_text(text: str, value: int | float) -> str | None:
    """How the number `value` is written, when that is not `text`: the text is lost on the way
    (`1.10` is sent as 1.1, `+5` as 5, `0x1F` as 31); None when `text` reads as it is written.

    Exponent notation (`1.0e+3`) is exempt: it means a number to anyone who writes it, and
    `1e3` (text in YAML 1.1, a number in 1.2) has a rule of its own.
    """
    if isinstance(value, float):
        if "e" in text.lower() and "_" not in text:
            return None
        written = repr(value)
    else:
        written = str(value)
    return None if written == text else written


def _decimal(text: str) -> str:
    """`1e3` as YAML 1.1 reads a number: `1000`, or `1.5e-07` for `1.5e-7`."""
    number = float(text)
    if not math.isfinite(number):
        return "a smaller number"
    return str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)


def _fatal(document: Document, line: int, column: int, message: str) -> Document:
    document.errors.append((line, column, message))
    document.fatal = True
    return document


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    lines = text.split("\n")
    at = lines[line - 1][column - 1 : column] if line <= len(lines) else ""
    problem = exc.problem or "invalid YAML"
    if at == "\t" or "tab character" in problem:
        return line, column, "a tab character; YAML indents with spaces only: replace the tab"
    if "expected a single document" in (exc.context or ""):
        return (
            line,
            column,
            ("a second YAML document starts here; an account file holds exactly one account"),
        )
    if "found undefined alias" in problem:
        name = _ALIAS.match(lines[line - 1], column - 1) if line <= len(lines) else None
        return (
            line,
            column,
            (
                f"YAML alias {name.group(0) if name else ''} names no anchor; aliases are not "
                "allowed in account files: write the value out"
            ),
        )
    message = f"invalid YAML: {problem}"
    if "mapping values are not allowed" in problem:
        message += " (a value containing ': ' must be quoted)"
    elif exc.context and exc.context_mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return line, column, message


def _report_aliases(document: Document, text: str, count: int) -> None:
    """Point at the first alias in the text (the node tree only knows the anchored node)."""
    first = None
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            first = event
            break
    mark = first.start_mark if first else None
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    name = f"*{first.anchor}" if first else "an alias"
    more = f" ({count - 1} more in this file)" if count > 1 else ""
    document.errors.append(
        (
            line,
            column,
            f"YAML alias {name}: aliases are not allowed in account files; "
            f"write the value out in full{more}",
        )
    )


def display_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


class _TooLarge(Exception):
    """More entries or values than any account holds: building stops at `node`."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


class _Builder:
    """Builds plain data from nodes, recording nodes by path and YAML-stage problems."""

    def __init__(self, document: Document, anchors: bool) -> None:
        self.document = document
        # Without an anchor (no '&' anywhere in the text) there can be no alias: skip the
        # bookkeeping that finds them, in the common case.
        self.anchors = anchors
        self.visited: set[int] = set()
        self.aliases = 0
        self.values = 0
        # Problems whose message starts with the path: rendered once the data is whole, as an
        # item of accountHolders is named by its key, which may come after the problem.
        self.about_paths: list[tuple[int, int, Path, str]] = []
        # Numbers that lose their text, as a property's `value:`: see `number`.
        self.unless_unit: list[tuple[Node, Path, str]] = []

    def problem(self, node: Node, path: Path, message: str) -> None:
        self.document.errors.append((node.start_mark.line + 1, node.start_mark.column + 1, message))
        self.document.blocked_paths.add(path)

    def path_problem(self, node: Node, path: Path, message: str) -> None:
        """A problem reported as `<path>: <message>`."""
        mark = node.start_mark
        self.about_paths.append((mark.line + 1, mark.column + 1, path, message))
        self.document.blocked_paths.add(path)

    def build(self, node: Node, path: Path, key_node: Node | None, depth: int) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooLarge(
                node,
                f"more than {MAX_VALUES:,} values in one file; an account file holds a few "
                "hundred at most: is it really an account?",
            )
        self.document.nodes[path] = (key_node, node)
        if isinstance(node, MappingNode | SequenceNode) and len(node.value) > MAX_ENTRIES:
            self.too_many_entries(node, path)
        if self.anchors:
            if id(node) in self.visited:
                # The composer hands back the anchored node for an alias: refuse it, unexpanded.
                self.aliases += 1
                self.document.blocked_paths.add(path)
                return None
            self.visited.add(id(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if depth >= MAX_DEPTH:
            # Not an account: one line says so, not one per schema rule it then breaks.
            self.problem(node, path, f"nested more than {MAX_DEPTH} levels deep; not an account")
            self.document.fatal = True
            return None
        if isinstance(node, MappingNode) and node.tag == MAP:
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode) and node.tag == SEQ:
            return [
                self.build(item, (*path, index), None, depth + 1)
                for index, item in enumerate(node.value)
            ]
        return self.bad_tag(node, path)

    def too_many_entries(self, node: MappingNode | SequenceNode, path: Path) -> None:
        # A list's item may be an alias, whose node is the anchored one, elsewhere: the list.
        where = node.value[MAX_ENTRIES][0] if isinstance(node, MappingNode) else node
        what = "entries" if isinstance(node, MappingNode) else "items"
        raise _TooLarge(
            where,
            f"{render_path(path)}: {len(node.value):,} {what}; an account holds at most "
            f"{MAX_PROPERTIES} properties and a handful of anything else (iasync reads at most "
            f"{MAX_ENTRIES:,} in one place): is it really an account?",
        )

    def bad_tag(self, node: Node, path: Path) -> None:
        self.problem(
            node,
            path,
            f"unsupported YAML tag {display_tag(node.tag)}; account files hold plain text, "
            "numbers, lists and mappings only",
        )

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            tag = key_node.tag
            if not self.anchors and (tag == STR or (tag == PLAIN and key_node.value != "<<")):
                key = key_node.value  # the common case, inline
            else:
                key = self.key(key_node, path)
                if key is None:
                    continue
            if key in first_seen:
                first = first_seen[key].start_mark.line + 1
                self.document.errors.append(
                    (
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        f"duplicate key {key!r} (first at line {first}); "
                        "a key may appear only once in a mapping",
                    )
                )
                continue
            first_seen[key] = key_node
            result[key] = self.build(value_node, (*path, key), key_node, depth + 1)
        return result

    def key(self, node: Node, path: Path) -> str | None:
        """A key's text (`NO:` and `0012:` mean the text), or None when it cannot be a key."""
        if self.anchors:
            if id(node) in self.visited:
                self.aliases += 1
                return None
            self.visited.add(id(node))
        if not isinstance(node, ScalarNode):
            self.problem(node, path, "a key must be plain text, not a list or a mapping")
            return None
        if node.tag == PLAIN and node.value == "<<":
            node.tag = MERGE
        if node.tag == MERGE:
            self.problem(node, path, "merge keys (<<) are not supported; write the keys out")
            return None
        if node.tag not in _SCALAR_TAGS:
            self.bad_tag(node, path)
            return None
        return str(node.value)

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag == PLAIN:
            tag = resolve_plain(node)
        if tag in (STR, TIMESTAMP, VALUE):
            hidden = _HIDDEN.search(node.value)
            if hidden:
                self.path_problem(node, path, _hidden_character(node.value, hidden.start()))
                return None
            if node.tag == STR and not node.style and _ambiguous_property(node.value, path):
                self.path_problem(
                    node,
                    path,
                    f"YAML 1.1 reads {node.value} as text, not a number; for the number write "
                    f"{_decimal(node.value)}, for the text quote it: {quote(node.value)}",
                )
                return None
            return node.value
        if tag == NULL:
            self.path_problem(
                node,
                path,
                "no value (YAML reads it as null); write a value, "
                "or remove the key if it is optional",
            )
            return None
        if tag == BOOL:
            return node.value.lower() in _BOOL_TRUE
        if tag in (INT, FLOAT):
            return self.number(node, path)
        self.bad_tag(node, path)
        return None

    def number(self, node: ScalarNode, path: Path) -> int | float | None:
        text = node.value
        if len(text) > MAX_NUMBER_TEXT and node.tag == INT:
            # Not even read: Python refuses to read integers of more than 4,300 digits.
            self.path_problem(node, path, _too_large(text))
            return None
        value = (
            _NUMBERS.construct_yaml_int(node)
            if node.tag == INT
            else _NUMBERS.construct_yaml_float(node)
        )
        if not node.style and _MISREAD_NUMBER.fullmatch(text):
            self.path_problem(
                node, path, f"YAML 1.1 reads {text} as the number {value}; quote it: {quote(text)}"
            )
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.path_problem(node, path, f"{_shortened(text)} is not a finite number")
            return None
        if abs(value) >= MAX_NUMBER:
            self.path_problem(node, path, _too_large(text))
            return None
        if isinstance(value, float) and not _exact(text, value):
            self.path_problem(node, path, _inexact(text, value))
            return None
        written = None if node.style or _metric_only(path) else _lost_text(text, value)
        if written is None:
            return value
        hint = f"quote it: {quote(text)}"
        if _property_value(path):
            hint = f"for the text quote it: {quote(text)}, for the number write {written}"
        message = f"YAML reads {text} as the number {written}; {hint}"
        if len(path) == 3:  # `{value: 1.50, unit: GBP}` is a metric: known once `unit` is read
            self.unless_unit.append((node, path, message))
            return value
        self.path_problem(node, path, message)
        return None

    def report_numbers_without_unit(self, data: Any) -> None:
        """The numbers held back by `number` as a short form's `value`: a trap unless the
        mapping has a `unit` too (then a number is all it can be, and 1.50 is 1.5)."""
        for node, path, message in self.unless_unit:
            holder = _child(_child(data, path[0]), path[1])
            if isinstance(holder, dict) and "unit" in holder:
                continue
            self.path_problem(node, path, message)
            if isinstance(holder, dict):
                holder[path[2]] = None


def _hidden_character(text: str, index: int) -> str:
    char = text[index]
    name = unicodedata.name(char, "a control character")
    return (
        f"character {index + 1} is U+{ord(char):04X} ({name}), which is invisible or makes text "
        "read otherwise than it is; remove it"
    )


def _exact(text: str, value: float) -> bool:
    """Whether the float read from `text` is the number written (`0.1` is; `0.1000000000000000001`
    and `3.14159265358979323846` are not: a float keeps about 17 significant digits)."""
    try:
        written = Decimal(text.replace("_", ""))
    except InvalidOperation:  # a spelling Decimal cannot read: nothing to compare
        return True
    return written == Decimal(repr(value))


def _inexact(text: str, value: float) -> str:
    return (
        f"{_shortened(text)} has more significant digits than a number sent to LUSID keeps "
        f"(17); it would be sent as {value!r}. Write {value!r} (or fewer digits), or "
        f"{_quote_it(text)}"
    )


def _too_large(text: str) -> str:
    return (
        f"{_shortened(text)} is too large: LUSID holds a number as a decimal of at most 28 "
        f"digits (below 1e28); write a smaller number, or {_quote_it(text)}"
    )


def _quote_it(text: str) -> str:
    short = _shortened(text)
    return "quote it if it is a label" + (f": {quote(text)}" if short == text else "")


def _shortened(text: str) -> str:
    """A number as a message shows it: a 5,000-digit one by its first digits and its length."""
    if len(text) <= 40:
        return text
    return f"{text[:20]}... ({len(text):,} characters)"


_SCALAR_TAGS = frozenset({PLAIN, STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, VALUE})
#: Maps whose members are named by a key (`properties["InvestmentAccount/A/B"]`) and lists whose
#: items are, when their `key` names one item only (`accountHolders["Holder1"]`): as `iasync plan`
#: spells them.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render_path(path: Sequence[str | int], data: Any = None) -> str:
    """`accountHolders["H1"].identifiers["InvestorRecord/A/B"]`: a path as `iasync plan` spells it.

    A member of `identifiers` or `properties` is always named in brackets (a JSON string); an item
    of `accountHolders` or `investmentPortfolios` by its `key` when `data` (the file's data) shows
    that key names it alone, else by its index; any other part is a field (`.value`).
    """
    out, parent, current = "", None, data
    for part in path:
        if isinstance(part, int):
            key = _item_key(current, part) if parent in KEYED_LISTS else None
            out += f"[{part}]" if key is None else f"[{json.dumps(key, ensure_ascii=False)}]"
        elif parent in KEYED_MAPS or not _NAME.fullmatch(part):
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        else:
            out += f".{part}" if out else part
        current = _child(current, part)
        parent = part if isinstance(part, str) and parent not in KEYED_MAPS else None
    return out or "the account"


def _child(container: Any, part: str | int) -> Any:
    return container[part] if _has(container, part) else None


def _item_key(items: Any, index: int) -> str | None:
    """The `key` of `items[index]`, when it is text that no other item's `key` repeats."""
    if not _has(items, index) or not isinstance(items[index], dict):
        return None
    key = items[index].get("key")
    if not isinstance(key, str) or not key:
        return None
    keys = [item.get("key") for item in items if isinstance(item, dict)]
    return key if keys.count(key) == 1 else None


def quote(text: str) -> str:
    """`text` as a single-quoted YAML scalar."""
    return "'" + text.replace("'", "''") + "'"
