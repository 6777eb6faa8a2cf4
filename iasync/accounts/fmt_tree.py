"""`iasync fmt`'s changes to an account's YAML tree (ruamel.yaml's round-trip nodes): fields in
their order, long-form items in the short form, one style of collection, quotes where a reader
would misread a plain scalar."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from iasync.accounts.fmt_comments import (
    attach_comments,
    comment_lines,
    comments_among_items,
    has_comments,
    holds_comments,
    is_map,
    is_seq,
    slot_tokens,
)
from iasync.accounts.format import (
    EFFECTIVE_DATES,
    FIELD_ORDER,
    LONG_PROPERTY_ORDER,
    PORTFOLIO_ORDER,
    SCOPED_HOLDER_ORDER,
    SCOPED_PORTFOLIO_ORDER,
    SHORT_PROPERTY_ORDER,
)

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

# Scalars that some YAML reader would not read as text when plain. PyYAML (YAML 1.1) knows most;
# YAML 1.1 also lists these single letters as booleans, which PyYAML does not implement.
_YAML11_LETTER_BOOLEANS = frozenset("yYnN")
# Text that ruamel may write plain but PyYAML reads otherwise, above all in a flow list: `[?a]`
# is a mapping, `[:a]` an error. Such text is always quoted.
_INDICATORS = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`]|[,\[\]{}]|:\s|:$|\s#")
_UNICODE_LINE_BREAKS = ("\u2028", "\u2029", "\x85")
_FINER_THAN_MICROSECONDS = re.compile(r"[.,][0-9]{6}0*[1-9]")  # .1234567, not .1234560


def round_trip_yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Constructor = _constructor()
    yaml.Representer = _representer()
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

    A float keeps the text it was read from, which `_representer` writes back.
    """
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.scalarfloat import ScalarFloat

    class Constructor(RoundTripConstructor):
        def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
            if _FINER_THAN_MICROSECONDS.search(node.value):
                return self.construct_scalar(node)
            try:
                return super().construct_yaml_timestamp(node, values)
            except ValueError:
                return self.construct_scalar(node)

        def construct_yaml_float(self, node: Any) -> Any:
            value = super().construct_yaml_float(node)
            # .inf, .nan (and YAML 1.1's 1:30.5) come as plain floats: written as ruamel does.
            if not isinstance(value, ScalarFloat):
                return value
            written = _written_float()(value, anchor=node.anchor)
            written.text = node.value
            return written

    Constructor.add_constructor("tag:yaml.org,2002:timestamp", Constructor.construct_yaml_timestamp)
    Constructor.add_constructor("tag:yaml.org,2002:float", Constructor.construct_yaml_float)
    return Constructor


@cache
def _written_float() -> type:
    """A float read from a file, with the text it was written as (`text`)."""
    from ruamel.yaml.scalarfloat import ScalarFloat

    class WrittenFloat(ScalarFloat):
        text: str

    return WrittenFloat


@cache
def _representer() -> type:
    """ruamel's round-trip representer, writing a float back as the text it was read from.

    ruamel rebuilds a float's text from its binary value and the shape of the text read: in
    exponent notation it truncates the value's decimal expansion to the digits written instead
    of rounding it, so `-4.23668156677053e-218` (the double -4.2366815667705299...e-218) came
    back as `-4.23668156677052e-218`, another number, and lower again each round; `5.0e-324`
    became `4.9e-324`, `1_000.5` `01000.5`. The text read is the number the loader accepted, in
    the spelling the loader judged: written back unchanged, it means the same to every reader.
    """
    from ruamel.yaml.representer import RoundTripRepresenter

    class Representer(RoundTripRepresenter):
        def represent_written_float(self, data: Any) -> Any:
            anchor = data.yaml_anchor(any=True)
            return self.represent_scalar("tag:yaml.org,2002:float", data.text, anchor=anchor)

    Representer.add_representer(_written_float(), Representer.represent_written_float)
    return Representer


def order_of(mapping: Any, order: Sequence[str]) -> list[Any]:
    """The keys of `mapping` in the canonical order; keys the order does not know go last.

    The sort is stable, so keys of the same rank (the unknown ones) keep their order.
    """
    rank = {key: index for index, key in enumerate(order)}
    return sorted(mapping, key=lambda key: rank.get(key, len(order)))


def reordered(mapping: CommentedMap, order: Sequence[str]) -> CommentedMap:
    """A copy of `mapping` with its keys in `order`, each keeping the comments attached to it."""
    from ruamel.yaml.comments import CommentedMap

    if order_of(mapping, order) == list(mapping):
        return mapping
    out = CommentedMap()
    for key in order_of(mapping, order):
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
    text: str = token.value
    eol, _, closing = text.partition("\n")
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
    while holds_comments(target[key]):
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


def reorder_top_level_lines(text: str, data: CommentedMap) -> str:
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
    ordered = order_of(data, FIELD_ORDER)
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


def normalise_account(data: CommentedMap) -> None:
    identifiers = data.get("identifiers")
    if is_map(identifiers):
        _normalise_entries(identifiers, _short_identifier)
    properties = data.get("properties")
    if is_map(properties):
        _normalise_entries(properties, _short_property)
    holders = data.get("accountHolders")
    if is_seq(holders):
        for index, holder in enumerate(holders):
            if is_map(holder):
                holders[index] = holder = reordered(holder, SCOPED_HOLDER_ORDER)
                if is_map(holder.get("identifiers")):
                    _normalise_entries(holder["identifiers"], _short_identifier)
    portfolios = data.get("investmentPortfolios")
    if is_seq(portfolios):
        for index, portfolio in enumerate(portfolios):
            if is_map(portfolio):
                portfolios[index] = reordered(portfolio, _portfolio_order(portfolio))
    _normalise_styles(data)
    _quote_misread_scalars(data)


def _portfolio_order(portfolio: CommentedMap) -> tuple[str, ...]:
    """The reference page's {key, portfolioScope, portfolioCode}, or today's {key, scope,
    identifiers}: fmt keeps whichever the file has (validation says which the `api` wants)."""
    scoped = "identifiers" in portfolio or "scope" in portfolio
    return SCOPED_PORTFOLIO_ORDER if scoped else PORTFOLIO_ORDER


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
        stays = holds_comments(new)
        comments = comment_lines(old, exclude=slot_tokens(mapping, key) if stays else set())
        # The lines below `Key: {...}  # eol` in the slot would now come before the value.
        closing = _take_closing_lines(mapping, key) if stays else ""
        mapping[key] = new
        if comments is not None:
            attach_comments(mapping, key, new, comments)
        if closing:
            _append_after(mapping, key, closing)


def _long_value(item: Any) -> Any | None:
    """The `value` mapping of a long-form item, or None when `item` is not long form."""
    if is_map(item) and is_map(item.get("value")):
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
    if is_map(item):
        return _collapsed(reordered(item, SHORT_PROPERTY_ORDER))
    return item


def _collapsed(mapping: CommentedMap) -> Any:
    """`{value: x}` alone is just `x`."""
    if list(mapping) == ["value"] and not has_comments(mapping):
        return mapping["value"]
    return mapping


def _short_identifier(item: Any) -> Any:
    value = _long_value(item)
    if value is None:
        return item
    if value.get("labelValue") is not None and not _effective_dates(item):
        return value["labelValue"]
    # The short form has no place for an identifier's effective dates: it stays long.
    return reordered(item, LONG_PROPERTY_ORDER)


# --- styles and quotes ------------------------------------------------------------------------


def _normalise_styles(node: Any) -> None:
    """Block mappings; flow lists of scalars and flow empty collections; block everything else."""
    if is_map(node):
        if len(node) == 0:
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        for value in node.values():
            _normalise_styles(value)
    elif is_seq(node):
        # A comment among the items would end a flow list mid-line: such a list stays block.
        scalars = all(not (is_map(item) or is_seq(item)) for item in node)
        if scalars and not comments_among_items(node):
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
            for item in node:
                _normalise_styles(item)


def _quote_misread_scalars(node: Any) -> None:
    """Quote every plain text value YAML 1.1 or 1.2 would read as something else."""
    if is_map(node):
        for name, value in node.items():
            replacement = _quoted_if_misread(value, effective_date=name in EFFECTIVE_DATES)
            if replacement is not value:
                node[name] = replacement
            else:
                _quote_misread_scalars(value)
    elif is_seq(node):
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
        return round_trip_yaml().load(f"instant: {value}")["instant"]
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
    from iasync.accounts.instants import INSTANT_PATTERN

    return (
        _plain_tag(text) == "tag:yaml.org,2002:timestamp"
        and re.fullmatch(INSTANT_PATTERN, text) is not None
    )


def _plain_tag(text: str) -> str:
    """The tag PyYAML (as the loader reads) gives `text` written as a plain scalar."""
    import yaml

    tag: str = _resolver().resolve(yaml.nodes.ScalarNode, text, (True, False))
    return tag


@cache
def _resolver() -> Any:
    # resolve() only reads the resolver's tables: one serves every scalar of every file.
    import yaml

    return yaml.resolver.Resolver()
