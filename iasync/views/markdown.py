"""The plan as Markdown, for a pull-request comment (`iasync plan --markdown`)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from iasync.plans.plan import AccountChange, Plan
from iasync.views.plan import (
    DELETE_TITLE,
    DIFF_MARKERS,
    DRIFT_NOTE,
    DRIFT_TITLE,
    MARKERS,
    change_lines,
    drift_lines,
    next_step_line,
    notes,
    summary_line,
    target_line,
)

MARKDOWN_LIMIT = 60_000
# In a Markdown ```diff block GitHub colours lines by their first character: + green, - red,
# ! orange; others are plain. Orphans and moves change nothing in LUSID: plain, as comments.
_MARKDOWN_MARKERS = {"~": "!", "!": "#", ">": "#"}

_SECTIONS = {"create": "to create", "update": "to update", "moved": "moved", "orphaned": "orphaned"}


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT, target: str | None = None) -> str:
    """A pull-request comment: summary, then a collapsible section per kind of change.

    Each section is a ```diff block with the marker first on every line, so that GitHub colours
    it: creates and added attributes green, removed attributes red, updates orange (`!`, as
    GitHub has no colour for `~`); moves and orphans change nothing in LUSID and stay plain.
    Every change is shown whole (a create with every attribute it will send); one longer than
    FOLD_LINES is folded in a `<details>` of its own. Kept under `limit` characters (GitHub
    refuses comments over 65,536): changes that do not fit at all are counted, never cut, in a
    closing "... and N more changes" line.
    """
    head = ["### iasync plan", "", f"**{summary_line(plan)}**", ""]
    if target is not None:
        head += [target_line(target).replace(" at ", " at `", 1) + "`", ""]
    head += [line for note in notes(plan) for line in (f"> {note}", "")]
    head += _deletions(plan) + _drift(plan)
    tail = [next_step_line(plan)]
    # Room for the closing fence and tags and the "... and N more" line.
    budget = limit - _length(head) - _length(tail) - 200
    body: list[str] = []
    left_out = 0
    updates = [change for change in plan.of("update") if not change.restore_only]
    sections = {"create": plan.of("create"), "update": updates}
    sections |= {"moved": plan.moves, "orphaned": [c for c in plan.of("orphaned") if not c.delete]}
    for kind, changes in sections.items():
        if not changes:
            continue
        if left_out:
            left_out += len(changes)
            continue
        section, shown = _markdown_section(kind, changes, budget - _length(body))
        body += section
        left_out += len(changes) - shown
    if left_out:
        body.append(f"... and {left_out:,} more changes (run `iasync plan` to see them all).")
    return "\n".join(head + body + tail) + "\n"


def _deletions(plan: Plan) -> list[str]:
    """Deletions stand open above everything else, never folded away."""
    if not plan.to_delete:
        return []
    count = len(plan.to_delete)
    lines = [f"#### :warning: {DELETE_TITLE}: {count:,} account{'s' if count != 1 else ''}"]
    lines += ["", "```diff"]
    lines += [_markdown_line(line) for c in plan.to_delete for line in change_lines(c)]
    return [*lines, "```", ""]


def _drift(plan: Plan) -> list[str]:
    if not plan.drifted:
        return []
    lines = [f"#### {DRIFT_TITLE}: {len(plan.drifted):,}", "", DRIFT_NOTE, "", "```diff"]
    lines += [_markdown_line(line) for c in plan.drifted for line in drift_lines(c)]
    return [*lines, "```", ""]


def _markdown_section(
    kind: str, changes: list[AccountChange], budget: int
) -> tuple[list[str], int]:
    """A collapsible section of `changes`, each shown whole, as many as fit in `budget`.

    A change longer than FOLD_LINES lines (a create with many properties, say) is folded in a
    `<details>` of its own, its header the summary: the section stays easy to scan, and what
    will be sent is all there, one click away. A change is never cut short: one that does not
    fit is left out whole, and counted by the caller.
    """
    title = f"{len(changes):,} {_SECTIONS[kind]}"
    opening = [f"<details><summary>{title}</summary>", ""]
    closing = ["</details>", ""]
    room = budget - _length(opening) - _length(closing)
    lines: list[str] = []
    fenced = False  # within a ```diff block that the next short change can join
    shown = 0
    for change in changes:
        block = [_markdown_line(line) for line in change_lines(change)]
        if len(block) > FOLD_LINES:
            piece = (_FENCE_END if fenced else []) + _folded(block)
        else:
            piece = ([] if fenced else ["```diff"]) + block
        ends_fenced = len(block) <= FOLD_LINES
        if _length(lines) + _length(piece) + _length(_FENCE_END) > room:
            break
        lines += piece
        fenced = ends_fenced
        shown += 1
    if not shown:
        return [], 0
    return opening + lines + (_FENCE_END if fenced else []) + closing, shown


#: A change of more lines than this is folded in a `<details>` of its own.
FOLD_LINES = 12
_FENCE_END = ["```", ""]


def _folded(block: list[str]) -> list[str]:
    """One long change in a `<details>` whose summary is its header line."""
    summary = html.escape(block[0].strip())
    opening = [f"<details><summary><code>{summary}</code></summary>", "", "```diff"]
    return [*opening, *block, *_FENCE_END, "</details>", ""]


def _markdown_line(line: str) -> str:
    """A text plan line with its marker moved to the front (GitHub colours by the first
    character) and spelled as GitHub's diff colouring knows it; other lines get a space."""
    text = line[2:].replace("```", "'''")
    stripped = text.lstrip(" ")
    indent = len(text) - len(stripped)
    # Markers stand at the start of a change (indent 0) or of an attribute (indent 4) only.
    if indent in (0, 4) and stripped[1:2] == " " and stripped[:1] in _ALL_MARKERS:
        return _MARKDOWN_MARKERS.get(stripped[0], stripped[0]) + " " * indent + stripped[1:]
    return " " + text


_ALL_MARKERS = frozenset(MARKERS.values()) | frozenset(DIFF_MARKERS.values())


def _length(lines: Sequence[str]) -> int:
    return sum(len(line) + 1 for line in lines)
