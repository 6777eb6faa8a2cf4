"""A plan as text (Terraform-like, coloured on a terminal), and the wording every form of a plan
shares; `plan_json` and `markdown` are its other forms.

Every form carries the same facts: the counts first, then each change with its file and identity
(and LUSID id and version for an update), only the changed attributes of an update, and what
apply would do. Colour uses click.style (already loaded by the CLI) to keep startup fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import click

from iasync.accounts.format import FIELD_ORDER, KEYED_FIELDS
from iasync.plans.diff import Difference, diff_view
from iasync.plans.plan import AccountChange, Plan

#: A value longer than this on one line is written out over several lines instead.
MAX_VALUE_WIDTH = 80
#: A single text longer than this is cut, saying how long it is.
MAX_TEXT_WIDTH = 200
#: Attribute names are padded to line their values up, but never beyond this.
MAX_LABEL_WIDTH = 32

MARKERS = {
    "create": "+",
    "update": "~",
    "orphaned": "!",
    "moved": ">",
    "unchanged": "=",
    "delete": "-",
}
DIFF_MARKERS = {"add": "+", "remove": "-", "change": "~"}
_COLOURS = {"+": "green", "~": "yellow", "-": "red", "!": "magenta", ">": "blue", "=": "cyan"}

Style = Callable[[str, str], str]


def _plain(text: str, marker: str) -> str:
    return text


def _coloured(text: str, marker: str) -> str:
    return click.style(text, fg=_COLOURS.get(marker))


# --- shared wording ---------------------------------------------------------------------------


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def summary_line(plan: Plan) -> str:
    counts = plan.counts
    extras = [f"{len(plan.moves):,} moved"] if plan.moves else []
    if plan.existing:
        extras.append(f"{len(plan.existing):,} to create already in LUSID")
    if plan.drifted:
        extras.append(f"{len(plan.drifted):,} changed outside iasync")
    if plan.to_delete:
        extras.append(f"{len(plan.to_delete):,} to DELETE")
    shown = f" ({', '.join(extras)})" if extras else ""
    return (
        f"Plan: {counts['create']:,} to create, {counts['update']:,} to update, "
        f"{counts['orphaned']:,} orphaned, {counts['unchanged']:,} unchanged{shown}."
    )


def notes(plan: Plan) -> list[str]:
    """What the plan read of LUSID (or why it did not), and what it leaves pending."""
    lines = []
    if plan.offline:
        lines.append(
            "LUSID was not read (--offline): the accounts to create were not checked against "
            "it; apply checks them before sending anything."
        )
    elif plan.lusid_skipped:
        lines.append(
            f"LUSID was not read: {plan.lusid_skipped}. The accounts to create were not checked "
            "against it; apply checks them before sending anything."
        )
    elif plan.lusid_read:
        what = "drift and accounts to create" if plan.refreshed else "accounts to create"
        lines.append(f"LUSID was read for {what}: {plan.lusid_read}.")
    pending = pending_text(plan)
    if pending:
        lines.append(f"Warning: {pending}.")
    return lines


def pending_text(plan: Plan) -> str | None:
    """The warning that changes outside `--target`/`--exclude` stay pending, or None."""
    if not plan.pending:
        return None
    names = {"create": "to create", "update": "to update", "orphaned": "orphaned"}
    parts = [f"{n:,} {names.get(action, 'moved')}" for action, n in sorted(plan.pending.items())]
    count = sum(plan.pending.values())
    return (
        f"this plan is a subset (--target/--exclude): {plural(count, 'other change')} "
        f"({', '.join(parts)}) stay pending; a plan without them shows them again"
    )


#: What a plan compares, and what it does not read: a plan never asks LUSID, so it cannot say
#: that LUSID matches the files (an account edited or deleted in LUSID since is not seen).
COMPARED = (
    "the account files with the last applied state; LUSID itself was not read "
    "(`iasync plan --refresh` will check it)"
)
NO_CHANGES = (
    "No changes. The account files match the last applied state (LUSID itself was not read: "
    "`iasync plan --refresh` will check it)."
)


def target_line(target: str) -> str:
    """Which LUSID the plan is for (`target`: its URL, never a credential)."""
    return f"Target: LUSID at {target}"


def next_step_line(plan: Plan, saved_to: str | None = None) -> str:
    """The last line: what apply would do."""
    if not plan.has_changes:
        saved = f" Saved the plan to {saved_to} (applying it does nothing)." if saved_to else ""
        if plan.counts["orphaned"]:
            return (
                "No changes to send. Orphaned accounts stay in LUSID as they are unless "
                "`iasync apply --prune` deletes them; or restore their files. "
                f"`iasync state rm PATH` forgets one in the state.{saved}"
            )
        return f"{NO_CHANGES}{saved}"
    command = f"iasync apply {saved_to}" if saved_to else "iasync apply"
    steps = []
    if plan.to_send:
        steps.append(
            f"send {plural(len(plan.to_send), 'account')} in "
            f"{plural(plan.batches, 'batch', 'batches')} (successMode={plan.success_mode})"
        )
    if plan.moves:
        steps.append(f"record {plural(len(plan.moves), 'moved file')} in the state")
    if plan.to_delete:
        steps.append(f"DELETE {plural(len(plan.to_delete), 'account')} from LUSID")
    quiet = not plan.to_send and not plan.to_delete
    sending = " and ".join(steps) + (" (nothing is sent to LUSID)" if quiet else "")
    if saved_to:
        return f"Saved the plan to {saved_to}. Run `{command}` to {sending}."
    return f"Run `{command}` to {sending}."


def identity_text(change: AccountChange) -> str:
    """`(Key=value)` for a create; `(value, LUID_x, version 3)` for a known account."""
    pairs = change.identifiers
    if change.lusid_id is None:
        shown = ", ".join(f"{key}={value}" for key, value in pairs[:1])
    else:
        shown = ", ".join(value for _, value in pairs[:1])
        shown += f", {change.lusid_id}"
        if change.version is not None:
            shown += f", version {change.version}"
    if change.scope is not None:
        shown = f"scope {change.scope}: {shown}"
    if change.moved_from:
        shown += f"; moved from {change.moved_from}"
    return f"({shown})"


def format_value(value: Any, width: int = MAX_VALUE_WIDTH) -> str:
    """A value on one line, in the short form people write in account files.

    `{identifiers: {InvestorRecord/ExternalIdentifier/ExternalIRId: IR_999}}` rather than the
    API's JSON; a text stands alone in quotes (`"John Doe"`). Cut at `width`, saying how long.
    """
    value = _unwrapped(value)
    return _cut(_short(value) if isinstance(value, dict | list) else _scalar(value), width)


def value_lines(value: Any, indent: str, width: int = MAX_TEXT_WIDTH) -> list[str]:
    """A value too long for one line, written out as YAML-like block lines under `indent`;
    a member longer than `width` is cut, saying how long it is."""
    value = _unwrapped(value)
    if isinstance(value, dict) and value:
        lines = []
        for key, member in value.items():
            one = f"{key}: {_short(member)}"
            if len(one) > MAX_VALUE_WIDTH and isinstance(_unwrapped(member), dict | list):
                lines += [f"{indent}{key}:", *value_lines(member, indent + "  ", width)]
            else:
                lines.append(f"{indent}{key}: {_cut(_short(member), width)}")
        return lines
    if isinstance(value, list) and value:
        return [f"{indent}- {_cut(_short(item), width)}" for item in value]
    return [indent + _cut(_short(value), width)]


def _unwrapped(value: Any) -> Any:
    """A property's or identifier's bare value, when it has nothing else."""
    if isinstance(value, dict) and set(value) == {"value"}:
        return value["value"]
    return value


def _short(value: Any) -> str:
    """Flow-style YAML of a diff-view value: keys and plain texts unquoted."""
    value = _unwrapped(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_short(v)}" for key, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(item) for item in value) + "]"
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _WORDS:
        return value
    return _scalar(value)


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _cut(text: str, width: int = MAX_TEXT_WIDTH) -> str:
    if len(text) <= width:
        return text
    return f"{text[: width - 1]}… ({len(text):,} characters)"


# Texts that need no quotes in flow YAML: no indicator first, no ": ", " #", "," or brackets;
# not a number, a boolean or null, which YAML would read as something else.
_PLAIN = re.compile(r"(?![-?:,\[\]{}#&*!|>'\"%@`\d.+ ])(?:[^:#,\[\]{}\n]|:(?! )|#(?<! #))*(?<! )")
_WORDS = frozenset({"", "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"})


# --- text -------------------------------------------------------------------------------------


def change_lines(change: AccountChange, style: Style = _plain) -> list[str]:
    """One change as indented lines: the header, then its attributes."""
    marker = _marker(change)
    header = f"  {style(marker, marker)} {style(change.path or '(no file)', marker)}"
    lines = [f"{header}  {identity_text(change)}"]
    if change.action == "create" and change.remote == "exists":
        lines.append(f"      {existing_text(change)}")
        lines += _difference_lines(change.differences, style)
    elif change.action == "create":
        lines += _create_lines(change.body)
    elif change.action == "update" and change.remote == "deleted":
        lines.append("      deleted in LUSID outside iasync; apply creates it again from the file")
        lines += _difference_lines(change.differences, style)
    elif change.action == "update":
        lines += _difference_lines(change.differences, style)
    elif change.delete:
        lines.append("      no account file has its identifiers any more: DELETED from LUSID")
    elif change.action == "orphaned":
        lines.append("      in the state, but no account file has its identifiers; left in LUSID")
    return lines  # a move is its header alone: the same account, now in another file


def existing_text(change: AccountChange) -> str:
    """What the plan says of an account to create that LUSID already holds."""
    version = f", version {change.remote_version}" if change.remote_version is not None else ""
    return (
        f"exists in LUSID, not in the state ({change.remote_id}{version}): apply overwrites "
        "it with the file; what LUSID holds now -> the file:"
        if change.differences
        else f"exists in LUSID, not in the state ({change.remote_id}{version}), the same as "
        "the file: apply records it"
    )


def drift_lines(change: AccountChange, style: Style = _plain) -> list[str]:
    """A managed account changed or deleted outside iasync: what changed, the state's version
    (as last applied) -> LUSID's now."""
    header = f"  {style('~', '~')} {style(change.path, '~')}  {identity_text(change)}"
    if change.remote == "deleted":
        return [header, "      deleted in LUSID outside iasync"]
    return [header, *_difference_lines(change.drift, style)]


DRIFT_TITLE = "Changed outside iasync (as last applied -> LUSID now)"
DELETE_TITLE = "TO DELETE from LUSID (--prune)"


DRIFT_NOTE = "Apply sends each again, restoring the file's version."


def _marker(change: AccountChange) -> str:
    if change.delete:
        return MARKERS["delete"]
    return MARKERS["moved" if change.action == "unchanged" and change.moved_from else change.action]


def _create_lines(body: dict[str, Any]) -> list[str]:
    """Every attribute a create will send, in the file's order, as `terraform plan` shows a new
    resource: a reviewer sees the properties, holders and portfolios, not a count of them.
    Nothing is cut: a long value is written out over several lines."""
    lines = []
    for label, value in create_attributes(body):
        one = f"{label}: {format_value(value, _UNCUT)}"
        if isinstance(_unwrapped(value), dict | list) and len(one) > MAX_VALUE_WIDTH:
            lines += [f"      {label}:", *value_lines(value, " " * 10, _UNCUT)]
        else:
            lines.append(f"      {one}")
    return lines


_UNCUT = 1 << 62  # a width no text reaches: shown whole


def create_attributes(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of every attribute of a canonical body, in the file's field order: a
    keyed collection's members one by one (`properties["K"]`), empty collections left out."""
    view = diff_view(body)
    attributes: list[tuple[str, Any]] = []
    for name in sorted(view, key=_field_rank):
        value = view[name]
        if name in KEYED_FIELDS and isinstance(value, dict):
            attributes += [
                (f"{name}[{json.dumps(key, ensure_ascii=False)}]", member)
                for key, member in value.items()
            ]
        else:
            attributes.append((name, value))
    return attributes


def _field_rank(name: str) -> int:
    return FIELD_ORDER.index(name) if name in FIELD_ORDER else len(FIELD_ORDER)


def _difference_lines(diffs: Sequence[Difference], style: Style) -> list[str]:
    # Labels are padded to line values up, but a long path does not push every value far right.
    fitting = [len(d.path) + 1 for d in diffs if len(d.path) < MAX_LABEL_WIDTH]
    width = max(fitting, default=0)
    lines = []
    for diff in diffs:
        marker = DIFF_MARKERS[diff.action]
        lead = f"      {style(marker, marker)} "
        label = (diff.path + ":").ljust(width)
        if diff.action == "remove":
            lines.append(lead + diff.path)
            continue
        after = format_value(diff.after, MAX_TEXT_WIDTH)
        if diff.action == "add":
            one = f"{label} {after}"
            collection = isinstance(_unwrapped(diff.after), dict | list)
            if collection and len(one) > MAX_VALUE_WIDTH + width:
                lines += [lead + diff.path + ":", *value_lines(diff.after, " " * 10)]
            else:
                lines.append(lead + one)
            continue
        before = format_value(diff.before, MAX_TEXT_WIDTH)
        one = f"{label} {before} -> {after}"
        if len(before) + len(after) <= MAX_VALUE_WIDTH:
            lines.append(lead + one)
        else:  # one value a line, the arrows lined up
            lines += [lead + diff.path + ":", f"{' ' * 10}   {before}", f"{' ' * 10}-> {after}"]
    return lines


def render_plan(
    plan: Plan, *, color: bool = False, saved_to: str | None = None, target: str | None = None
) -> str:
    """The human plan, as `iasync plan` prints it (and `iasync apply` before asking); `target`
    names the LUSID it is for, under the counts."""
    style: Style = _coloured if color else _plain
    out = [click.style(summary_line(plan), bold=True) if color else summary_line(plan)]
    if target is not None:
        out.append(target_line(target))
    out.append("")
    if notes(plan):
        out += [*notes(plan), ""]
    if plan.to_delete:
        title = f"!! {DELETE_TITLE}: {plural(len(plan.to_delete), 'account')}"
        out += [click.style(title, fg="red", bold=True) if color else title, ""]
        for change in plan.to_delete:
            out += [*change_lines(change, style), ""]
    if plan.drifted:
        out += [f"{DRIFT_TITLE}: {plural(len(plan.drifted), 'account')}", ""]
        for change in plan.drifted:
            out += [*drift_lines(change, style), ""]
        out += [DRIFT_NOTE, ""]
    after_move = False
    for change in _shown_changes(plan):
        move = change.action == "unchanged" and bool(change.moved_from)
        if move and after_move:
            out.pop()  # moves are one line each: they stand together
        out += [*change_lines(change, style), ""]
        after_move = move
    out.append(next_step_line(plan, saved_to))
    return "\n".join(out) + "\n"


render_text = render_plan


def _shown_changes(plan: Plan) -> list[AccountChange]:
    """Creates, updates, moves, then orphans: what the plan does, then what it leaves alone.
    Deletions and restores of drift have their own sections."""
    updates = [change for change in plan.of("update") if not change.restore_only]
    orphans = [change for change in plan.of("orphaned") if not change.delete]
    return [*plan.of("create"), *updates, *plan.moves, *orphans]
