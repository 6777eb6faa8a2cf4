"""`iasync fmt`'s care of comments: every comment of a file is kept, once, beside what it was
about (a long-form item's comments move to its short form), and aligned as it was."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap

_BLOCK_SCALAR_HEADER = re.compile(r"(?:^|[:\-]\s)\s*[|>][1-9+\-]*\s*(?:#.*)?$")


def is_map(node: Any) -> bool:
    from ruamel.yaml.comments import CommentedMap

    return isinstance(node, CommentedMap)


def is_seq(node: Any) -> bool:
    from ruamel.yaml.comments import CommentedSeq

    return isinstance(node, CommentedSeq)


# --- comments ---------------------------------------------------------------------------------


def comments_among_items(sequence: Any) -> bool:
    """Comments after an item or at the end (not the list's own end-of-line comment)."""
    slots = [*sequence.ca.items.values(), sequence.ca.end or []]
    return any(part is not None for slot in slots for part in slot)


def has_comments(node: Any) -> bool:
    return comment_lines(node) is not None


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

    if not (is_map(node) or is_seq(node)):
        return found
    collect(node.ca.comment)
    children = list(node.items()) if is_map(node) else list(enumerate(node))
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


def slot_tokens(mapping: CommentedMap, key: Any) -> set[int]:
    """The ids of the comment tokens in the slot of `mapping`'s entry `key`."""
    found: set[int] = set()
    for part in mapping.ca.items.get(key) or []:
        for token in part if isinstance(part, list) else [part]:
            if token is not None:
                found.add(id(token))
    return found


def holds_comments(value: Any) -> bool:
    """Whether comments attached after an entry go inside its value (a block mapping's end)."""
    return is_map(value) and len(value) > 0 and not value.fa.flow_style()


def comment_lines(node: Any, exclude: AbstractSet[int] = frozenset()) -> _Comments | None:
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


def attach_comments(mapping: CommentedMap, key: Any, value: Any, comments: _Comments) -> None:
    """Attach comments after the entry `key` (its value's last entry, when it is a mapping)."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    text = (comments.eol or "") + "\n" + "".join(line + "\n" for line in comments.lines)
    if holds_comments(value):
        mapping, key = value, list(value)[-1]
    # Full-line comments are re-indented to the line they precede by align_comments.
    token = CommentToken(text, CommentMark(comments.eol_column), None)
    # The slot's other places stay: ruamel keeps the comment lines above an entry in [1].
    slot = list(mapping.ca.items.get(key) or [None, None, None, None])
    slot[2] = token
    mapping.ca.items[key] = slot


def align_comments(text: str) -> str:
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
