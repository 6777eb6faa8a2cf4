"""The audit trail: one entry per apply, saying what was applied, from which commit and plan, by
whom and in which CI run, and what came of it. Kept by the state backend beside the state
(`StateBackend.record_apply`, `StateBackend.applies`), shown by `iasync state history`."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from iasync import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from iasync.applying import ApplyResult
    from iasync.plans.plan import Plan
    from iasync.states import State


def plan_hash(plan: Plan) -> str:
    """The hash of the plan as saved (`iasync plan -out`): the same plan, the same hash."""
    from iasync.plans.planfile import plan_document

    text = json.dumps(plan_document(plan), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def apply_entry(
    plan: Plan, result: ApplyResult, state: State, root: Path, stopped: BaseException | None = None
) -> dict[str, Any]:
    """The audit entry of an apply that sent (or deleted, or recorded) something, or that the
    error `stopped` ended once it began sending: then its counts are what was recorded before,
    and `stopped` holds the error's words (as the command printed them: no secret) and status."""
    from iasync.gitinfo import ci_run, current_commit, now_iso

    run_url, actor = ci_run()
    entry = {
        "applied_at": now_iso(),
        "lineage": state.lineage,
        "serial": state.serial,
        "commit": current_commit(root),
        "ci_run_url": run_url,
        "actor": actor,
        "plan_hash": plan_hash(plan),
        "counts": {
            "created": len(result.created),
            "updated": len(result.updated),
            "moved": len(result.moved),
            "deleted": len(result.deleted) + len(result.already_absent),
            "failed": len(result.failures),
        },
        "iasync_version": __version__,
    }
    if stopped is not None:
        entry["stopped"] = {
            "message": _words_of(stopped),
            "status": getattr(stopped, "status", None),
        }
    return entry


def _words_of(stopped: BaseException) -> str:
    if isinstance(stopped, KeyboardInterrupt):
        return "interrupted (Ctrl-C): no new batch was sent"
    return str(stopped)
