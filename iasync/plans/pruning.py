"""Deleting orphans (`--prune`), within guard rails, as Argo CD prunes: only when asked, never
more than `--max-deletes` at once, never every managed account, never a protected one.

An orphan is an account the state holds and no file names any more. Without `--prune` it is only
reported. With it, the plan marks each orphan `delete` once every guard rail holds, and refuses
(saying which rail, and what to do) otherwise: a refused plan deletes nothing at all.

Protected accounts are named in the settings, since their files are gone by the time they would
be deleted: `protected = ["IA_0001", "InvestmentAccount/ExternalIdentifier/ExternalIAId=IA_9*",
"accounts/core/*"]` (an identifier value, KEY=VALUE, a LUSID id, a file or a glob of either, as
`--target` reads them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from iasync.errors import IasyncError
from iasync.plans.subset import named

if TYPE_CHECKING:
    from iasync.plans.plan import AccountChange, Plan

#: `--max-deletes` unless given.
DEFAULT_MAX_DELETES = 10


class PruneRefused(IasyncError):
    """A guard rail stops the deletion of orphans; nothing is deleted."""


def mark_deletions(
    plan: Plan, *, managed: int, max_deletes: int, protected: Sequence[str] = ()
) -> None:
    """Mark the plan's orphans for deletion, or raise `PruneRefused` naming the guard rail.

    `managed` is how many accounts the whole state holds (not only the plan's subset).
    """
    plan.prune, plan.max_deletes = True, max_deletes
    orphans = plan.of("orphaned")
    if not orphans:
        return
    check_guard_rails(orphans, managed=managed, max_deletes=max_deletes, protected=protected)
    for orphan in orphans:
        orphan.delete = True


def check_guard_rails(
    orphans: Sequence[AccountChange], *, managed: int, max_deletes: int, protected: Sequence[str]
) -> None:
    count = len(orphans)
    guarded = [o for o in orphans if any(named(o, pattern) for pattern in protected)]
    if guarded:
        shown = ", ".join(_name(o) for o in guarded[:5])
        raise PruneRefused(
            f"--prune refused: {shown} {'is' if len(guarded) == 1 else 'are'} protected (the "
            "`protected` setting) and no longer in the files. Restore the file, or take it out "
            "of `protected` first; nothing was deleted"
        )
    if count >= managed:
        raise PruneRefused(
            f"--prune refused: it would delete every account iasync manages ({count:,}). "
            "That is almost always a mistake (a wrong accounts directory, a checkout gone "
            "wrong); nothing was deleted. To retire them all, delete them in LUSID and "
            "`iasync state rm` them"
        )
    if count > max_deletes:
        raise PruneRefused(
            f"--prune refused: it would delete {count:,} accounts, more than --max-deletes "
            f"{max_deletes}; nothing was deleted. Check the orphans with `iasync plan`, then "
            f"run with --max-deletes {count} (or --target some of them)"
        )


def _name(change: AccountChange) -> str:
    value = change.identifiers[0][1] if change.identifiers else "?"
    return f"{value} ({change.path or change.lusid_id})"
