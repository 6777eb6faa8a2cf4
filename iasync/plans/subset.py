"""`--target` and `--exclude`: the part of a plan to apply now, as Terraform's `-target`.

A pattern names accounts by file (a path, a directory holding them, or a glob such as
`accounts/eu/*.yaml`), by identifier (its value, `KEY=VALUE`, or a glob over values such as
`IA_00*`) or by LUSID id. A plan keeps the changes some target names (every change when there is
no target) and no exclude names; the rest stay pending, counted in the plan so that every form of
it can warn that a later plan will show them again.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iasync.plans.plan import AccountChange, Plan


def select(plan: Plan, targets: Sequence[str], excludes: Sequence[str]) -> None:
    """Keep the changes named by a target and by no exclude; count the others as pending."""
    plan.targets, plan.excludes = list(targets), list(excludes)
    if not targets and not excludes:
        return
    kept: list[AccountChange] = []
    pending: dict[str, int] = {}
    for change in plan.changes:
        wanted = not targets or any(named(change, p) for p in targets)
        if wanted and not any(named(change, p) for p in excludes):
            kept.append(change)
        elif change.sent or change.moved_from or change.action == "orphaned":
            pending[change.action] = pending.get(change.action, 0) + 1
    plan.changes = kept
    plan.pending = pending


def named(change: AccountChange, pattern: str) -> bool:
    """True when `pattern` names the change's file, one of its identifiers or its LUSID id."""
    pattern = pattern.strip()
    path_pattern = pattern.removeprefix("./").rstrip("/")
    files = [p for p in (change.path, change.moved_from) if p]
    for path in files:
        if path == path_pattern or path.startswith(path_pattern + "/"):
            return True
        if fnmatch.fnmatchcase(path, path_pattern):
            return True
    if change.lusid_id is not None and change.lusid_id == pattern:
        return True
    if "=" in pattern:
        key, _, value = pattern.partition("=")
        return any(
            fnmatch.fnmatchcase(k, key) and fnmatch.fnmatchcase(v, value)
            for k, v in change.identity
        )
    return any(fnmatch.fnmatchcase(value, pattern) for _, value in change.identity)
