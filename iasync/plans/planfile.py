"""The saved plan: one JSON document holding the exact request bodies to send and the state
lineage/serial and file hashes it was made against, written atomically, read back refusing a
corrupt or altered one, and checked fresh (`check_fresh`) before it is applied."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iasync import __version__
from iasync.errors import IasyncError
from iasync.files import write_atomically
from iasync.plans.diff import Difference
from iasync.plans.plan import (
    ACTIONS,
    PLAN_FORMAT_VERSION,
    SENT_ACTIONS,
    AccountChange,
    Plan,
    within_paths,
)

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadResult
    from iasync.states import State


class PlanFileError(IasyncError):
    """A saved plan file cannot be read: missing, corrupt, or from a newer iasync."""


class StalePlanError(IasyncError):
    """The state or the files changed since the saved plan was made."""


def save_plan(plan: Plan, path: Path | str) -> None:
    """Write the plan as JSON, atomically (temp file, fsync, rename): never half a plan."""
    target = Path(path)
    if str(path).endswith(("/", os.sep)) or target.is_dir():
        raise PlanFileError(f"cannot save the plan to {path}: it names a directory; name a file")
    # Compact: the C encoder (indent would fall back to pure Python) for 10,000 accounts.
    data = json.dumps(plan_document(plan), ensure_ascii=False).encode() + b"\n"
    try:
        write_atomically(target, data)
    except OSError as exc:
        # A file on the way makes the OS say only "File exists" or "Not a directory".
        not_dir = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        reason = f"{not_dir} is not a directory" if not_dir else exc.strerror or str(exc)
        raise PlanFileError(
            f"cannot save the plan to {path}: {reason}; choose another file"
        ) from None


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": plan.format_version,
        "iasync_version": plan.iasync_version,
        "created_at": plan.created_at,
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "settings": {"success_mode": plan.success_mode, "batch_size": plan.batch_size},
        "paths": plan.paths,
        "file_hashes": dict(sorted(plan.file_hashes.items())),
        "counts": plan.counts,
        "changes": [_change_document(change) for change in plan.changes],
    }


def _change_document(change: AccountChange) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "action": change.action,
        "path": change.path,
        "identity": [list(pair) for pair in change.identifiers],
        "lusid_id": change.lusid_id,
        "version": change.version,
        "moved_from": change.moved_from,
        "body_hash": change.body_hash,
        "file_hash": change.file_hash,
    }
    if change.sent:
        # The exact request to send; canonical_json(body) gives back the hashed bytes.
        doc["body"] = change.body
    if change.differences:
        doc["differences"] = [d.as_json() for d in change.differences]
    return doc


def load_plan(path: Path | str) -> Plan:
    """Read a saved plan; refuse a corrupt one or one written by a newer iasync."""
    source = Path(path)
    try:
        doc = json.loads(source.read_bytes())
    except FileNotFoundError:
        raise PlanFileError(
            f"{source}: no such plan file; make one with iasync plan -out"
        ) from None
    except (OSError, ValueError) as exc:
        raise PlanFileError(
            f"{source}: not a readable plan file ({exc}); run iasync plan again"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("format_version"), int):
        raise PlanFileError(f"{source}: not an iasync plan file (no format_version)")
    if doc["format_version"] > PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{source}: plan format {doc['format_version']} was written by a newer iasync "
            f"({doc.get('iasync_version', '?')}); this iasync {__version__} reads format "
            f"{PLAN_FORMAT_VERSION}. Upgrade iasync or run iasync plan again"
        )
    try:
        plan = _plan_from_document(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(
            f"{source}: the plan file is corrupt ({type(exc).__name__}: {exc}); "
            "run iasync plan again"
        ) from None
    _check_bodies(plan, source)
    return plan


def _plan_from_document(doc: dict[str, Any]) -> Plan:
    return Plan(
        changes=[_change_from_document(item) for item in doc["changes"]],
        lineage=str(doc["state"]["lineage"]),
        serial=int(doc["state"]["serial"]),
        file_hashes={str(k): str(v) for k, v in doc["file_hashes"].items()},
        success_mode=str(doc["settings"]["success_mode"]),
        batch_size=int(doc["settings"]["batch_size"]),
        paths=[str(p) for p in doc.get("paths", [])],
        created_at=str(doc["created_at"]),
        iasync_version=str(doc["iasync_version"]),
        format_version=int(doc["format_version"]),
    )


def _change_from_document(item: dict[str, Any]) -> AccountChange:
    action = item["action"]
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    body = item["body"] if action in SENT_ACTIONS else {}
    if not isinstance(body, dict):
        raise TypeError("a request body is not an object")
    return AccountChange(
        action=action,
        path=str(item["path"]),
        identity=frozenset((str(k), str(v)) for k, v in item["identity"]),
        body=body,
        body_hash=str(item["body_hash"]),
        file_hash=item["file_hash"],
        differences=[
            Difference(d["path"], d["action"], d.get("before"), d.get("after"))
            for d in item.get("differences", [])
        ],
        lusid_id=item.get("lusid_id"),
        version=item.get("version"),
        moved_from=item.get("moved_from"),
    )


def _check_bodies(plan: Plan, source: Path) -> None:
    """Each body must still hash to what was reviewed: a hand-edited plan is not the plan."""
    from iasync.accounts.model import body_hash

    for change in plan.to_send:
        if body_hash(change.body) != change.body_hash:
            raise PlanFileError(
                f"{source}: the request body for {change.path} does not match its hash; "
                "the plan file was altered. Run iasync plan again"
            )


# --- staleness --------------------------------------------------------------------------------


def check_fresh(plan: Plan, state: State, load: LoadResult) -> None:
    """Raise StalePlanError unless the state and every file are as they were when planned.

    Only files under the plan's own PATH arguments count (all of them for a whole-project plan).
    Once the plan is known fresh, each change gets back its state `record` and its file's git
    blob id, which a saved plan does not carry: the state is the very one it was made against,
    the files hold the very bytes.

    Serial 0 is a state never written. A plan made when there was none is fresh while there is
    still none, whatever lineage each read made up for it; the state then takes on the plan's
    lineage, so that its first write carries the lineage of the plan that was reviewed.
    """
    if plan.serial == 0 and state.serial == 0:
        state.lineage = plan.lineage
    if state.lineage != plan.lineage:
        raise StalePlanError(
            f"stale plan: it was made against a different state (lineage {plan.lineage}, "
            f"now {state.lineage}); run iasync plan again"
        )
    if state.serial != plan.serial:
        raise StalePlanError(
            f"stale plan: the state changed since the plan was made "
            f"(serial {plan.serial} -> {state.serial}); run iasync plan again"
        )
    now = {a.path: a.file_hash for a in load.accounts if within_paths(a.path, plan.paths)}
    now.update({p.path: "invalid" for p in load.problems if within_paths(p.path, plan.paths)})
    moved = _file_changes(plan.file_hashes, now)
    if moved:
        shown = "; ".join(moved[:3]) + (f"; and {len(moved) - 3} more" if len(moved) > 3 else "")
        raise StalePlanError(
            f"stale plan: account files changed since the plan was made ({shown}); "
            "run iasync plan again"
        )
    blobs = {account.path: account.file_blob for account in load.accounts}
    for change in plan.changes:
        if change.lusid_id is not None and change.record is None:
            change.record = state.accounts.get(change.lusid_id)
        if change.file_blob is None and change.file_hash is not None:
            change.file_blob = blobs.get(change.path)  # of the very bytes planned: fresh


def _file_changes(before: dict[str, str], now: dict[str, str]) -> list[str]:
    changes = []
    for path in sorted(before.keys() | now.keys()):
        if path not in now:
            changes.append(f"{path} removed")
        elif path not in before:
            changes.append(f"{path} added")
        elif before[path] != now[path]:
            changes.append(f"{path} changed")
    return changes
