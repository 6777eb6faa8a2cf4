"""The saved plan: one JSON document holding the exact request bodies to send and the state
lineage/serial and file hashes it was made against, written atomically, read back refusing a
corrupt or altered one, and checked fresh (`check_fresh`) before it is applied."""

from __future__ import annotations

import hashlib
import json
import os
import re
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
    """The saved plan's JSON document, its `checksum` covering every other field."""
    doc: dict[str, Any] = {
        "format_version": plan.format_version,
        "iasync_version": plan.iasync_version,
        "created_at": plan.created_at,
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "settings": {"success_mode": plan.success_mode, "batch_size": plan.batch_size},
        "paths": plan.paths,
        "subset": {"targets": plan.targets, "excludes": plan.excludes, "pending": plan.pending},
        "lusid": {
            "read": plan.lusid_read,
            "skipped": plan.lusid_skipped,
            "offline": plan.offline,
            "refreshed": plan.refreshed,
        },
        "prune": {"enabled": plan.prune, "max_deletes": plan.max_deletes},
        "file_hashes": dict(sorted(plan.file_hashes.items())),
        "counts": plan.counts,
        "changes": [_change_document(change) for change in plan.changes],
    }
    doc["checksum"] = document_checksum(doc)
    return doc


def document_checksum(doc: dict[str, Any]) -> str:
    """The hash of every field but `checksum`: an edit anywhere (a path, a serial, a count, a
    LUSID id) makes the plan another plan, and apply refuses it."""
    fields = {key: value for key, value in doc.items() if key != "checksum"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


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
    if change.sent or change.delete:
        # The exact request to send (or the record of what to delete: its scope);
        # canonical_json(body) gives back the hashed bytes.
        doc["body"] = change.body
    if change.differences:
        doc["differences"] = [d.as_json() for d in change.differences]
    if change.remote is not None:
        doc["remote"] = change.remote
        doc["remote_id"] = change.remote_id
        doc["remote_version"] = change.remote_version
    if change.drift:
        doc["drift"] = [d.as_json() for d in change.drift]
    if change.delete:
        doc["delete"] = True
    return doc


def load_plan(path: Path | str) -> Plan:
    """Read a saved plan; refuse a corrupt or altered one, or one written by a newer iasync.

    Every field apply uses is checked: its type, that the paths stay inside the repository,
    that the counts are the changes', that each body hashes to its `body_hash` and that the
    `checksum` covers the whole document as written.
    """
    source = Path(path)
    try:
        doc = json.loads(source.read_bytes())
    except FileNotFoundError:
        raise PlanFileError(
            f"{source}: no such plan file; make one with iasync plan -out"
        ) from None
    except RecursionError:
        raise PlanFileError(
            f"{source}: not a readable plan file (nested too deeply); run iasync plan again"
        ) from None
    except (OSError, ValueError) as exc:
        raise PlanFileError(
            f"{source}: not a readable plan file ({exc}); run iasync plan again"
        ) from None
    if not isinstance(doc, dict) or not _is_int(doc.get("format_version")):
        raise PlanFileError(f"{source}: not an iasync plan file (no format_version)")
    if doc["format_version"] > PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{source}: plan format {doc['format_version']} was written by a newer iasync "
            f"({str(doc.get('iasync_version', '?'))[:40]}); this iasync {__version__} reads "
            f"format {PLAN_FORMAT_VERSION}. Upgrade iasync or run iasync plan again"
        )
    try:
        plan = _plan_from_document(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(
            f"{source}: the plan file is corrupt ({_reason(exc)}); run iasync plan again"
        ) from None
    _check_bodies(plan, source)
    if doc.get("checksum") != document_checksum(doc):
        raise PlanFileError(
            f"{source}: the plan file does not match its checksum: it was altered since "
            "iasync plan wrote it. Run iasync plan again"
        )
    return plan


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Corrupt):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class _Corrupt(ValueError):
    """A field of the plan document that is missing, of the wrong kind or out of bounds."""


def _plan_from_document(doc: dict[str, Any]) -> Plan:
    state = _field(doc, "state", dict)
    settings = _field(doc, "settings", dict)
    subset = _field(doc, "subset", dict, default={})
    lusid = _field(doc, "lusid", dict, default={})
    prune = _field(doc, "prune", dict, default={})
    changes = [
        _change_from_document(item, f"changes[{index}]")
        for index, item in enumerate(_field(doc, "changes", list))
    ]
    plan = Plan(
        changes=changes,
        lineage=_field(state, "lineage", str, "state."),
        serial=_count(state, "serial", "state."),
        file_hashes=_file_hashes(_field(doc, "file_hashes", dict)),
        success_mode=_success_mode(_field(settings, "success_mode", str, "settings.")),
        batch_size=_batch_size(_count(settings, "batch_size", "settings.")),
        paths=[
            _repo_path(item, f"paths[{index}]", root_ok=True)
            for index, item in enumerate(_field(doc, "paths", list))
        ],
        targets=_strings(_field(subset, "targets", list, "subset.", default=[]), "subset.targets"),
        excludes=_strings(
            _field(subset, "excludes", list, "subset.", default=[]), "subset.excludes"
        ),
        pending={
            str(k): _count(pending, str(k), "subset.pending.")
            for pending in [_field(subset, "pending", dict, "subset.", default={})]
            for k in pending
        },
        lusid_read=_field(lusid, "read", str, "lusid.", optional=True, default=None),
        lusid_skipped=_field(lusid, "skipped", str, "lusid.", optional=True, default=None),
        offline=_field(lusid, "offline", bool, "lusid.", default=False),
        refreshed=_field(lusid, "refreshed", bool, "lusid.", default=False),
        prune=_field(prune, "enabled", bool, "prune.", default=False),
        max_deletes=_count(prune, "max_deletes", "prune.", optional=True)
        if "max_deletes" in prune
        else None,
        created_at=_field(doc, "created_at", str),
        iasync_version=_field(doc, "iasync_version", str),
        format_version=doc["format_version"],
    )
    _check_consistent(plan, _field(doc, "counts", dict))
    return plan


def _change_from_document(item: Any, where: str) -> AccountChange:
    if not isinstance(item, dict):
        raise _Corrupt(f"{where} is not a JSON object")
    prefix = where + "."
    action = _field(item, "action", str, prefix)
    if action not in ACTIONS:
        raise _Corrupt(f"{prefix}action: unknown action {action[:40]!r}")
    delete = _field(item, "delete", bool, prefix, default=False)
    if delete and action != "orphaned":
        raise _Corrupt(f"{prefix}delete: a {action} cannot be deleted")
    body = _field(item, "body", dict, prefix) if action in SENT_ACTIONS or delete else {}
    lusid_id = _field(item, "lusid_id", str, prefix, optional=True)
    if action == "create" and lusid_id is not None:
        raise _Corrupt(f"{prefix}lusid_id: a create names no LUSID account yet")
    if action != "create" and lusid_id is None:
        raise _Corrupt(f"{prefix}lusid_id is null; an {action} change names its LUSID account")
    orphan = action == "orphaned"
    path = _field(item, "path", str, prefix)
    return AccountChange(
        action=action,
        # An orphan's path is where the state says it was last applied from: shown, never used.
        path=path if orphan else _repo_path(path, prefix + "path"),
        identity=_identity(_field(item, "identity", list, prefix), prefix + "identity"),
        body=body,
        body_hash=_hash(_field(item, "body_hash", str, prefix), prefix + "body_hash"),
        file_hash=None
        if orphan
        else _hash(_field(item, "file_hash", str, prefix), prefix + "file_hash"),
        differences=[
            _difference(d, f"{prefix}differences[{index}]")
            for index, d in enumerate(_field(item, "differences", list, prefix, default=[]))
        ],
        lusid_id=lusid_id,
        version=_count(item, "version", prefix, optional=True),
        moved_from=_field(item, "moved_from", str, prefix, optional=True),  # shown, never used
        remote=_remote(_field(item, "remote", str, prefix, optional=True, default=None), prefix),
        remote_id=_field(item, "remote_id", str, prefix, optional=True, default=None),
        remote_version=_count(item, "remote_version", prefix, optional=True)
        if "remote_version" in item
        else None,
        drift=[
            _difference(d, f"{prefix}drift[{index}]")
            for index, d in enumerate(_field(item, "drift", list, prefix, default=[]))
        ],
        delete=delete,
    )


def _remote(value: str | None, prefix: str) -> Any:
    from typing import get_args

    from iasync.plans.plan import Remote

    if value is not None and value not in get_args(Remote):
        raise _Corrupt(f"{prefix}remote: unknown answer {value[:40]!r}")
    return value


def _strings(items: list[Any], where: str) -> list[str]:
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _Corrupt(f"{where}[{index}] is not a string")
    return list(items)


_MISSING = object()


def _field(
    doc: dict[str, Any],
    key: str,
    kind: type,
    prefix: str = "",
    *,
    optional: bool = False,
    default: Any = _MISSING,
) -> Any:
    """`doc[key]`, which must be a `kind` (or null, when `optional`)."""
    if key not in doc:
        if default is not _MISSING:
            return default
        raise _Corrupt(f"{prefix}{key} is missing")
    value = doc[key]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        shown = repr(value)[:60]
        raise _Corrupt(f"{prefix}{key} should be {_KINDS[kind]}, not {shown}")
    return value


_KINDS = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    dict: "a JSON object",
    list: "a list",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(doc: dict[str, Any], key: str, prefix: str, *, optional: bool = False) -> Any:
    value = _field(doc, key, int, prefix, optional=optional)
    if value is not None and value < 0:
        raise _Corrupt(f"{prefix}{key} is negative")
    return value


def _success_mode(value: str) -> str:
    from iasync.settings import SUCCESS_MODES

    if value not in SUCCESS_MODES:
        raise _Corrupt(f"settings.success_mode is {value[:40]!r}, not Partial or Atomic")
    return value


def _batch_size(value: int) -> int:
    from iasync.settings import MAX_BATCH_SIZE

    if not 1 <= value <= MAX_BATCH_SIZE:
        raise _Corrupt(f"settings.batch_size {value} is not between 1 and {MAX_BATCH_SIZE}")
    return value


_HASH = re.compile(r"sha256:[0-9a-f]{64}")


def _hash(value: str, where: str) -> str:
    if not _HASH.fullmatch(value):
        raise _Corrupt(f"{where} is not a sha256 hash")
    return value


def _repo_path(value: Any, where: str, *, root_ok: bool = False) -> str:
    """A path as the plan holds it: relative to the repository root, and inside it."""
    if not isinstance(value, str):
        raise _Corrupt(f"{where} should be a string, not {repr(value)[:60]}")
    if root_ok and value == ".":
        return value
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(char) < 0x20 or char in "\\\x7f" for char in value)
    ):
        raise _Corrupt(
            f"{where} {value[:80]!r} is not a path inside the repository (relative, with no '..')"
        )
    return value


def _file_hashes(doc: dict[str, Any]) -> dict[str, str]:
    return {
        _repo_path(path, "file_hashes"): _hash(_checked_str(value, path), f"file_hashes[{path!r}]")
        for path, value in doc.items()
    }


def _checked_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Corrupt(f"{where} should be a string, not {repr(value)[:60]}")
    return value


def _identity(items: list[Any], where: str) -> frozenset[tuple[str, str]]:
    pairs = []
    for item in items:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
        ):
            raise _Corrupt(f"{where}: each item should be [key, value], not {repr(item)[:60]}")
        pairs.append((item[0], item[1]))
    return frozenset(pairs)


def _difference(item: Any, where: str) -> Difference:
    if not isinstance(item, dict):
        raise _Corrupt(f"{where} is not a JSON object")
    return Difference(
        _field(item, "path", str, where + "."),
        _field(item, "action", str, where + "."),
        item.get("before"),
        item.get("after"),
    )


def _check_consistent(plan: Plan, counts: dict[str, Any]) -> None:
    """What the plan says of itself must agree: its counts, and each file's hash."""
    if counts != plan.counts:
        raise _Corrupt(f"counts {counts} are not the changes' ({plan.counts})")
    for index, change in enumerate(plan.changes):
        if change.file_hash is not None and plan.file_hashes.get(change.path) != change.file_hash:
            raise _Corrupt(
                f"changes[{index}].path {change.path!r} is not a file the plan read "
                "(not in file_hashes with that hash)"
            )


def _check_bodies(plan: Plan, source: Path) -> None:
    """Each body must still hash to what was reviewed, and hold the identifiers the change
    names: a hand-edited plan is not the plan."""
    from iasync.accounts.model import body_hash, identity_of

    for change in [*plan.to_send, *plan.to_delete]:
        try:
            same = body_hash(change.body) == change.body_hash
        except (TypeError, ValueError):  # not JSON (a NaN) or an integer too long to write
            same = False
        if not same:
            raise PlanFileError(
                f"{source}: the request body for {change.path} does not match its hash; "
                "the plan file was altered. Run iasync plan again"
            )
        try:
            identity = identity_of(change.body)
        except (AttributeError, TypeError):  # not a request body's shape
            identity = frozenset()
        if identity != change.identity:
            raise PlanFileError(
                f"{source}: the identity of {change.path} is not its request body's; "
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
