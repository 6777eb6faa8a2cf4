"""The plan as Markdown, for a pull-request comment (`iasync plan --markdown`)."""

from __future__ import annotations

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
)

MARKDOWN_LIMIT = 60_000
# In a Markdown ```diff block GitHub colours lines by their first character: + green, - red,
# ! orange; others are plain. Orphans and moves change nothing in LUSID: plain, as comments.
_MARKDOWN_MARKERS = {"~": "!", "!": "#", ">": "#"}

_SECTIONS = {"create": "to create", "update": "to update", "moved": "moved", "orphaned": "orphaned"}


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: summary, then a collapsible section per kind of change.

    Each section is a ```diff block with the marker first on every line, so that GitHub colours
    it: creates and added attributes green, removed attributes red, updates orange (`!`, as
    GitHub has no colour for `~`); moves and orphans change nothing in LUSID and stay plain.
    Kept under `limit` characters (GitHub refuses comments over 65,536): changes that do not
    fit are counted in a closing "... and N more changes" line.
    """
    head = ["### iasync plan", "", f"**{summary_line(plan)}**", ""]
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
    title = f"{len(changes):,} {_SECTIONS[kind]}"
    opening = [f"<details><summary>{title}</summary>", "", "```diff"]
    closing = ["```", "", "</details>", ""]
    room = budget - _length(opening) - _length(closing)
    lines: list[str] = []
    shown = 0
    for change in changes:
        block = [_markdown_line(line) for line in change_lines(change)]
        if _length(lines) + _length(block) > room:
            break
        lines += block
        shown += 1
    if not shown:
        return [], 0
    return opening + lines + closing, shown


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
