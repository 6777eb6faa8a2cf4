"""`iasync fmt`: rewrite account files in the one canonical style, never changing their meaning.

The canonical style:

* top-level keys in DESIGN's order (identifiers, displayName, description, accountType,
  properties, accountHolders, investmentPortfolios), and a fixed order inside holders,
  portfolios and property mappings (value, unit, effectiveFrom, effectiveUntil);
* the short form: a pasted long-form item `{key, value: {labelValue: ...}}` becomes `Key: text`
  (a number for a metric, `{value, unit}` with a unit, a list for a label set, a mapping when it
  has effective dates); an identifier with effective dates stays long, the short form has none;
* two-space indentation, sequences indented under their key, block style for mappings, flow
  style for lists of text (`[a, b]`) and for empty collections (`[]`), no line folding;
* plain scalars where YAML reads them back as the same text; quotes where YAML 1.1 (PyYAML's
  reading) or 1.2 would see something else (`'NO'`, `'0012'`, `'2016-01-01'` as a label).

Comments are kept (ruamel.yaml round trip): a comment above a top-level key moves with it, and a
comment inside a long-form item is kept beside its short form. A file that is not valid is refused
with the loader's located problems, and nothing is written. Before any write, the new text is read
back by the loader itself and its canonical request body must equal the old one; otherwise the
file is left as it is.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iasync.errors import IasyncError, Problem
from iasync.files import fsync_directory, write_temporary
from iasync.files import write_atomically as write_file_atomically

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    from iasync.settings import Settings

TOP_LEVEL_ORDER = (
    "identifiers",
    "displayName",
    "description",
    "accountType",
    "properties",
    "accountHolders",
    "investmentPortfolios",
)
SHORT_PROPERTY_ORDER = ("value", "unit", "effectiveFrom", "effectiveUntil")
LONG_PROPERTY_ORDER = ("key", "value", "effectiveFrom", "effectiveUntil")
HOLDER_ORDER = ("key", "identifiers")
PORTFOLIO_ORDER = ("key", "portfolioScope", "portfolioCode")
EFFECTIVE_DATES = ("effectiveFrom", "effectiveUntil")
#: From this many files on, the work is spread over a process pool (one per core).
PARALLEL_THRESHOLD = 100
#: Formatting is applied until the text stops changing; a correct formatter settles in two rounds.
MAX_ROUNDS = 4

# Scalars that some YAML reader would not read as text when plain. PyYAML (YAML 1.1) knows most;
# YAML 1.1 also lists these single letters as booleans, which PyYAML does not implement.
_YAML11_LETTER_BOOLEANS = frozenset("yYnN")
# Text that ruamel may write plain but PyYAML reads otherwise, above all in a flow list: `[?a]`
# is a mapping, `[:a]` an error. Such text is always quoted.
_INDICATORS = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`]|[,\[\]{}]|:\s|:$|\s#")
_UNICODE_LINE_BREAKS = ("\u2028", "\u2029", "\x85")
_FINER_THAN_MICROSECONDS = re.compile(r"[.,][0-9]{6}0*[1-9]")  # .1234567, not .1234560
_BLOCK_SCALAR_HEADER = re.compile(r"(?:^|[:\-]\s)\s*[|>][1-9+\-]*\s*(?:#.*)?$")


class FmtError(IasyncError):
    """A file fmt cannot format safely (the text could not be settled or would change meaning)."""


@dataclass
class FormatResult:
    """What fmt did (or would do) to one file."""

    path: Path
    shown: str
    changed: bool = False
    problems: list[Problem] = field(default_factory=list)


# --- the text transformation ------------------------------------------------------------------


def format_text(text: str) -> str:
    """The canonical spelling of one (valid) account file's text.

    Raises `FmtError` when the text is not a YAML mapping or does not settle.
    """
    current = text.removeprefix("\ufeff").replace("\r\n", "\n")
    for _ in range(MAX_ROUNDS):
        formatted = _format_once(current)
        if formatted == current:
            return formatted
        current = formatted
    raise FmtError("the formatting does not settle; please report this file")


def _format_once(text: str) -> str:
    from ruamel.yaml.error import YAMLError

    yaml = _yaml()
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        # The loader (PyYAML) read the file, so this is a corner where the two parsers differ.
        raise FmtError(f"cannot be formatted: ruamel.yaml cannot read it ({exc})") from None
    if not _is_map(data):
        raise FmtError("an account file holds one mapping (identifiers:, displayName:, ...)")
    if data.fa.flow_style():
        data = _reordered(data, TOP_LEVEL_ORDER)
    elif _order_of(data, TOP_LEVEL_ORDER) != list(data):
        data = yaml.load(_reorder_top_level_lines(text, data))
    _normalise_account(data)
    out = io.StringIO()
    yaml.dump(data, out)
    return _align_comments(out.getvalue())


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Constructor = _constructor()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1 << 16  # never fold a long label or description across lines
    yaml.preserve_quotes = False  # quotes are decided afresh: only where YAML would misread
    return yaml


@cache
def _constructor() -> type:
    """ruamel's round-trip constructor, reading as text the timestamps it cannot write back.

    A date that is no date (2016-13-01) makes ruamel raise, and a fraction finer than a
    microsecond (.1234567) it rounds; the loader reads both as the text written (a label, say).
    Read as text, they are written back quoted: text to every reader.
    """
    from ruamel.yaml.constructor import RoundTripConstructor

    class Constructor(RoundTripConstructor):  # type: ignore[misc]
        def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
            if _FINER_THAN_MICROSECONDS.search(node.value):
                return self.construct_scalar(node)
            try:
                return super().construct_yaml_timestamp(node, values)
            except ValueError:
                return self.construct_scalar(node)

    Constructor.add_constructor("tag:yaml.org,2002:timestamp", Constructor.construct_yaml_timestamp)
    return Constructor


def _is_map(node: Any) -> bool:
    from ruamel.yaml.comments import CommentedMap

    return isinstance(node, CommentedMap)


def _is_seq(node: Any) -> bool:
    from ruamel.yaml.comments import CommentedSeq

    return isinstance(node, CommentedSeq)


def _order_of(mapping: Any, order: Sequence[str]) -> list[Any]:
    """The keys of `mapping` in the canonical order; keys the order does not know go last.

    The sort is stable, so keys of the same rank (the unknown ones) keep their order.
    """
    rank = {key: index for index, key in enumerate(order)}
    return sorted(mapping, key=lambda key: rank.get(key, len(order)))


def _reordered(mapping: CommentedMap, order: Sequence[str]) -> CommentedMap:
    """A copy of `mapping` with its keys in `order`, each keeping the comments attached to it."""
    from ruamel.yaml.comments import CommentedMap

    if _order_of(mapping, order) == list(mapping):
        return mapping
    out = CommentedMap()
    for key in _order_of(mapping, order):
        out[key] = mapping[key]
        if key in mapping.ca.items:
            out.ca.items[key] = mapping.ca.items[key]
    out.ca.comment = mapping.ca.comment
    out.ca.end = mapping.ca.end
    _keep_closing_comments_last(out, old_last=list(mapping)[-1])
    if mapping.fa.flow_style():
        out.fa.set_flow_style()
    return out


def _keep_closing_comments_last(mapping: CommentedMap, old_last: Any) -> None:
    """Full-line comments after a mapping's last entry stay after the mapping once reordered.

    ruamel attaches them to the last entry: the comments that close a portfolio, or the file's
    footer, would otherwise travel with that entry into the middle of the mapping.
    """
    new_last = list(mapping)[-1]
    if new_last == old_last:
        return
    closing = _take_closing_lines(mapping, old_last)
    if closing:
        _append_after(mapping, new_last, closing)


def _take_closing_lines(mapping: CommentedMap, key: Any) -> str:
    """Remove and return the full-line comments in the slot of entry `key` (its eol one stays)."""
    from ruamel.yaml.tokens import CommentToken

    slot = mapping.ca.items.get(key)
    token = slot[2] if slot and len(slot) > 2 else None
    if token is None:
        return ""
    eol, _, closing = token.value.partition("\n")
    if not closing.strip():
        return ""
    # A copy: the token may be shared (with the value, or the mapping this one was made from).
    slot = list(slot)
    slot[2] = CommentToken(eol + "\n", token.start_mark, None) if eol.strip() else None
    mapping.ca.items[key] = slot
    return closing


def _append_after(mapping: CommentedMap, key: Any, closing: str) -> None:
    """Write the comment lines `closing` after entry `key` (after its value's last entry)."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    target = mapping
    while _holds_comments(target[key]):
        target, key = target[key], list(target[key])[-1]
    present = target.ca.items.get(key)
    if present and len(present) > 2 and present[2] is not None:
        text = present[2].value + ("" if present[2].value.endswith("\n") else "\n") + closing
        column = present[2].column
    else:
        text, column = "\n" + closing, 0
    slot = list(target.ca.items.get(key) or [None, None, None, None])
    slot[2] = CommentToken(text, CommentMark(column), None)
    target.ca.items[key] = slot


def _reorder_top_level_lines(text: str, data: CommentedMap) -> str:
    """Move the top-level entries into canonical order as blocks of lines.

    ruamel attaches a comment to the entry *above* it; moving entries as text keeps each comment
    with the entry below it, which is what comments describe. A block is an entry's lines plus
    the column-0 comments directly above it; comments above the first entry (the file's header)
    stay at the top, and comments after the last entry stay at the end.
    """
    # Lines end at "\n" only: splitlines() also splits at U+2028, U+0085... inside a label.
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1].removesuffix("\n")
    if not lines[-1]:
        lines.pop()
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    starts = {key: data.lc.key(key)[0] for key in data}
    by_line = sorted(starts, key=starts.__getitem__)
    block_start = {key: _comments_above(lines, starts[key]) for key in by_line}
    # Comments above the first entry are the file's header (the yaml-language-server line...).
    block_start[by_line[0]] = starts[by_line[0]]
    footer_start = _footer_start(lines, starts[by_line[-1]])
    header = lines[: block_start[by_line[0]]]
    blocks: dict[Any, list[str]] = {}
    for index, key in enumerate(by_line):
        end = block_start[by_line[index + 1]] if index + 1 < len(by_line) else footer_start
        blocks[key] = lines[block_start[key] : end]
    ordered = _order_of(data, TOP_LEVEL_ORDER)
    body = [line for key in ordered for line in blocks[key]]
    return "".join(header + body + lines[footer_start:])


def _comments_above(lines: list[str], line: int) -> int:
    start = line
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    return start


def _footer_start(lines: list[str], last_key_line: int) -> int:
    """Where the trailing column-0 comments (and blank lines) of the file begin."""
    start = len(lines)
    while start - 1 > last_key_line and (
        lines[start - 1].startswith("#") or not lines[start - 1].strip()
    ):
        start -= 1
    return start


# --- the account's parts ----------------------------------------------------------------------


def _normalise_account(data: CommentedMap) -> None:
    identifiers = data.get("identifiers")
    if _is_map(identifiers):
        _normalise_entries(identifiers, _short_identifier)
    properties = data.get("properties")
    if _is_map(properties):
        _normalise_entries(properties, _short_property)
    holders = data.get("accountHolders")
    if _is_seq(holders):
        for index, holder in enumerate(holders):
            if _is_map(holder):
                holders[index] = holder = _reordered(holder, HOLDER_ORDER)
                if _is_map(holder.get("identifiers")):
                    _normalise_entries(holder["identifiers"], _short_identifier)
    portfolios = data.get("investmentPortfolios")
    if _is_seq(portfolios):
        for index, portfolio in enumerate(portfolios):
            if _is_map(portfolio):
                portfolios[index] = _reordered(portfolio, PORTFOLIO_ORDER)
    _normalise_styles(data)
    _quote_misread_scalars(data)


def _normalise_entries(mapping: CommentedMap, shorten: Any) -> None:
    """Replace each entry's value by its short form, keeping the comments it held."""
    for key in list(mapping):
        old = mapping[key]
        new = shorten(old)
        if new is old:
            continue
        # ruamel keeps the comment after `Key:` (or after `Key: {...}`, with the lines below it)
        # both in the entry's slot and in the value: when the slot stays, as it does when the
        # comments go inside a block mapping, the value's copy must not be written again.
        stays = _holds_comments(new)
        comments = _comment_lines(old, exclude=_slot_tokens(mapping, key) if stays else set())
        # The lines below `Key: {...}  # eol` in the slot would now come before the value.
        closing = _take_closing_lines(mapping, key) if stays else ""
        mapping[key] = new
        if comments is not None:
            _attach_comments(mapping, key, new, comments)
        if closing:
            _append_after(mapping, key, closing)


def _long_value(item: Any) -> Any | None:
    """The `value` mapping of a long-form item, or None when `item` is not long form."""
    if _is_map(item) and _is_map(item.get("value")):
        return item["value"]
    return None


def _short_value(value: Any) -> tuple[Any, Any | None]:
    """(short value, unit) of a long-form `value: {labelValue | metricValue | labelValueSet}`."""
    if value.get("labelValue") is not None:
        return value["labelValue"], None
    if value.get("labelValueSet") is not None:
        return _text_list(value["labelValueSet"]["values"]), None
    metric = value["metricValue"]
    return metric["value"], metric.get("unit")


def _text_list(values: Iterable[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    return CommentedSeq(values)


def _effective_dates(item: Any) -> dict[str, Any]:
    return {key: item[key] for key in EFFECTIVE_DATES if item.get(key) is not None}


def _short_property(item: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap

    value = _long_value(item)
    if value is not None:
        short, unit = _short_value(value)
        mapping = CommentedMap(value=short)
        if unit is not None:
            mapping["unit"] = unit
        mapping.update(_effective_dates(item))
        return _collapsed(mapping)
    if _is_map(item):
        return _collapsed(_reordered(item, SHORT_PROPERTY_ORDER))
    return item


def _collapsed(mapping: CommentedMap) -> Any:
    """`{value: x}` alone is just `x`."""
    if list(mapping) == ["value"] and not _has_comments(mapping):
        return mapping["value"]
    return mapping


def _short_identifier(item: Any) -> Any:
    value = _long_value(item)
    if value is None:
        return item
    if value.get("labelValue") is not None and not _effective_dates(item):
        return value["labelValue"]
    # The short form has no place for an identifier's effective dates: it stays long.
    return _reordered(item, LONG_PROPERTY_ORDER)


# --- styles and quotes ------------------------------------------------------------------------


def _normalise_styles(node: Any) -> None:
    """Block mappings; flow lists of scalars and flow empty collections; block everything else."""
    if _is_map(node):
        if len(node) == 0:
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        for value in node.values():
            _normalise_styles(value)
    elif _is_seq(node):
        # A comment among the items would end a flow list mid-line: such a list stays block.
        scalars = all(not (_is_map(item) or _is_seq(item)) for item in node)
        if scalars and not _comments_among_items(node):
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
            for item in node:
                _normalise_styles(item)


def _quote_misread_scalars(node: Any) -> None:
    """Quote every plain text value YAML 1.1 or 1.2 would read as something else."""
    if _is_map(node):
        for name, value in node.items():
            replacement = _quoted_if_misread(value, effective_date=name in EFFECTIVE_DATES)
            if replacement is not value:
                node[name] = replacement
            else:
                _quote_misread_scalars(value)
    elif _is_seq(node):
        for index, item in enumerate(node):
            replacement = _quoted_if_misread(item, effective_date=False)
            if replacement is not item:
                node[index] = replacement
            else:
                _quote_misread_scalars(item)


def _quoted_if_misread(value: Any, *, effective_date: bool) -> Any:
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if type(value) is not str:
        # Not text, or text with a style of its own (a block scalar `|`): left as it is.
        return value
    if any(separator in value for separator in _UNICODE_LINE_BREAKS):
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        # Unquoted or single-quoted, YAML 1.1 readers fold them like line breaks (and the
        # text then never settles): escaped in double quotes (\L, \P, \N), they are kept.
        return DoubleQuotedScalarString(value)
    if effective_date and _reads_as_instant(value):
        # A timestamp written as text (pasted JSON) reads as the same instant when plain: write
        # it as the timestamp YAML would read, so it looks like any other effective date.
        return _yaml().load(f"instant: {value}")["instant"]
    if _misread(value):
        return SingleQuotedScalarString(value)
    return value


def _misread(text: str) -> bool:
    return (
        text in _YAML11_LETTER_BOOLEANS
        or _INDICATORS.search(text) is not None
        or _plain_tag(text) != "tag:yaml.org,2002:str"
    )


def _reads_as_instant(text: str) -> bool:
    from iasync.model import INSTANT_PATTERN

    return (
        _plain_tag(text) == "tag:yaml.org,2002:timestamp"
        and re.fullmatch(INSTANT_PATTERN, text) is not None
    )


def _plain_tag(text: str) -> str:
    """The tag PyYAML (as the loader reads) gives `text` written as a plain scalar."""
    import yaml

    return _resolver().resolve(yaml.nodes.ScalarNode, text, (True, False))


@cache
def _resolver() -> Any:
    # resolve() only reads the resolver's tables: one serves every scalar of every file.
    import yaml

    return yaml.resolver.Resolver()


# --- comments ---------------------------------------------------------------------------------


def _comments_among_items(sequence: Any) -> bool:
    """Comments after an item or at the end (not the list's own end-of-line comment)."""
    slots = [*sequence.ca.items.values(), sequence.ca.end or []]
    return any(part is not None for slot in slots for part in slot)


def _has_comments(node: Any) -> bool:
    return _comment_lines(node) is not None


def _comment_tokens(node: Any) -> list[Any]:
    """Every comment token in `node`'s subtree, in document order (near enough)."""
    from ruamel.yaml.tokens import CommentToken

    found: list[Any] = []

    def collect(slot: Any) -> None:
        if isinstance(slot, CommentToken):
            found.append(slot)
        elif isinstance(slot, list):
            for part in slot:
                collect(part)

    if not (_is_map(node) or _is_seq(node)):
        return found
    collect(node.ca.comment)
    children = list(node.items()) if _is_map(node) else list(enumerate(node))
    for key, child in children:
        collect(node.ca.items.get(key))
        found.extend(_comment_tokens(child))
    collect(node.ca.end)
    return found


@dataclass(frozen=True)
class _Comments:
    eol: str | None  # the first end-of-line comment
    eol_column: int
    lines: list[str]  # the other comment lines (and blank lines between them)


def _slot_tokens(mapping: CommentedMap, key: Any) -> set[int]:
    """The ids of the comment tokens in the slot of `mapping`'s entry `key`."""
    found: set[int] = set()
    for part in mapping.ca.items.get(key) or []:
        for token in part if isinstance(part, list) else [part]:
            if token is not None:
                found.add(id(token))
    return found


def _holds_comments(value: Any) -> bool:
    """Whether comments attached after an entry go inside its value (a block mapping's end)."""
    return _is_map(value) and len(value) > 0 and not value.fa.flow_style()


def _comment_lines(node: Any, exclude: AbstractSet[int] = frozenset()) -> _Comments | None:
    """The comments of a subtree (but those in `exclude`, by id), or None when it has none."""
    eol: str | None = None
    column = 0
    lines: list[str] = []
    for token in _comment_tokens(node):
        if id(token) in exclude:
            continue
        first, *rest = token.value.split("\n")
        if first.strip():
            if eol is None:
                eol, column = first.strip(), token.column
            else:
                lines.append(first.strip())
        lines.extend(line.rstrip() for line in rest)
    while lines and not lines[-1]:
        lines.pop()
    if eol is None and not any(line.strip() for line in lines):
        return None
    return _Comments(eol, column, lines)


def _attach_comments(mapping: CommentedMap, key: Any, value: Any, comments: _Comments) -> None:
    """Attach comments after the entry `key` (its value's last entry, when it is a mapping)."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    text = (comments.eol or "") + "\n" + "".join(line + "\n" for line in comments.lines)
    if _holds_comments(value):
        mapping, key = value, list(value)[-1]
    # Full-line comments are re-indented to the line they precede by _align_comments.
    token = CommentToken(text, CommentMark(comments.eol_column), None)
    # The slot's other places stay: ruamel keeps the comment lines above an entry in [1].
    slot = list(mapping.ca.items.get(key) or [None, None, None, None])
    slot[2] = token
    mapping.ca.items[key] = slot


def _align_comments(text: str) -> str:
    """Indent each full-line comment like the content around it.

    ruamel writes a comment with the indentation it had in the source, so re-indenting 4 spaces
    to 2 would leave comments adrift. A comment takes the indentation of the line below, or (at
    the end of a nested block) stays inside that block but no deeper than the line above it.
    Block scalar (`|`, `>`) contents are text, not comments, and are left alone.
    """
    lines = text.split("\n")
    content = _content_indents(lines)
    out = []
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped.startswith("#") or index in content.block_lines:
            out.append(line)
            continue
        below = content.next_indent(index)
        above = content.previous_indent(index)
        own = len(line) - len(stripped)
        out.append(" " * max(below, min(own, above)) + stripped)
    return "\n".join(out)


@dataclass
class _Indents:
    indents: dict[int, int]  # line index -> indentation, for content lines
    block_lines: set[int]  # lines inside block scalars

    def next_indent(self, index: int) -> int:
        later = [line for line in self.indents if line > index]
        return self.indents[min(later)] if later else 0

    def previous_indent(self, index: int) -> int:
        earlier = [line for line in self.indents if line < index]
        return self.indents[max(earlier)] if earlier else 0


def _content_indents(lines: list[str]) -> _Indents:
    indents: dict[int, int] = {}
    block_lines: set[int] = set()
    block_parent: int | None = None
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if block_parent is not None and (not stripped or indent > block_parent):
            block_lines.add(index)
            continue
        block_parent = None
        if not stripped or stripped.startswith("#"):
            continue
        indents[index] = indent
        if _BLOCK_SCALAR_HEADER.search(line):
            block_parent = indent
    return _Indents(indents, block_lines)


# --- files ------------------------------------------------------------------------------------


def format_files(paths: Sequence[Path], settings: Settings, *, check: bool) -> list[FormatResult]:
    """Format every account file under `paths` (default: the accounts directory).

    With `check`, nothing is written: `changed` says which files would change.
    """
    from iasync.loader import find_account_files

    files = find_account_files(paths, settings)
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_THRESHOLD or workers < 2:
        return [_format_one(path, settings, check) for path in files]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # ruamel.yaml is pure Python (~10 ms a file): a whole repository is worth a pool.
    chunk = max(20, len(files) // (workers * 4))
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        count = len(files)
        return list(
            pool.map(_format_one, files, [settings] * count, [check] * count, chunksize=chunk)
        )


def _format_one(path: Path, settings: Settings, check: bool) -> FormatResult:
    from iasync.loader import display_path

    result = FormatResult(path, display_path(path, settings))
    try:
        _format_file(result, settings, check=check)
    except FmtError as exc:
        result.problems.append(Problem(result.shown, 1, 1, str(exc)))
    except OSError as exc:  # a read-only file or directory, say
        message = f"cannot be rewritten: {exc.strerror or exc}"
        result.problems.append(Problem(result.shown, 1, 1, message))
    except Exception as exc:
        # A corner of ruamel.yaml (its reading of a date raised, once): this file's line, not a
        # traceback that ends the run for every file.
        message = f"cannot be formatted ({type(exc).__name__}: {exc}); please report this file"
        result.problems.append(Problem(result.shown, 1, 1, message))
    return result


def _format_file(result: FormatResult, settings: Settings, *, check: bool) -> None:
    from iasync.loader import load_accounts

    before = load_accounts([result.path], settings)
    if not before.ok:
        result.problems.extend(before.problems)
        return
    raw = result.path.read_bytes()
    old_text = raw.decode("utf-8")
    new_text = format_text(old_text)
    if new_text == old_text:
        return
    result.changed = True
    target = _real_file(result.path)
    temporary = _write_temporary(target, new_text.encode())
    try:
        after = load_accounts([temporary], settings)
        if not after.ok or after.accounts[0].body_json != before.accounts[0].body_json:
            raise FmtError(
                "formatting would change what this file means, so it was left as it is; "
                "please report this file"
            )
        if not check:
            os.replace(temporary, target)
            fsync_directory(target.parent)
    finally:
        temporary.unlink(missing_ok=True)


# --- atomic writes ----------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once: a reader sees the old bytes or the new, never half.

    The temporary file sits beside the target (same file system, so the rename is atomic), is
    fsynced before the rename, and keeps the target's permission bits when it already exists.
    """
    write_file_atomically(_real_file(Path(path)), data, keep_mode=True)


def _real_file(path: Path) -> Path:
    """The file a symlink leads to: rewriting a symlinked file must not replace the link."""
    return path.resolve() if path.is_symlink() else path


def _write_temporary(path: Path, data: bytes) -> Path:
    """`data` in a hidden temporary file beside `path`, flushed to disk."""
    return write_temporary(path, data, keep_mode=True)
