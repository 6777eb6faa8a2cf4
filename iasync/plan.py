"""Desired accounts (the files) against the last-applied state: the plan, saved plans, staleness.

An account in the files is the same account as a state record when they share an identifier
(key and value), as LUSID itself matches. Moving or renaming a file is therefore no change; only
the canonical body matters. Each account becomes one `AccountChange`:

* ``create``    no state record shares an identifier with it;
* ``update``    one record does and its body hash differs (with per-attribute `differences`);
* ``unchanged`` one record does and the body hash is the same;
* ``orphaned``  a state record that no file matches any more (reported, never sent or deleted).

An unchanged account whose file was renamed or moved (`moved_from`) is a move: nothing is sent,
but apply records the new file in the state, as Terraform records a moved resource.

A saved plan holds the exact request bodies to send and the state lineage/serial and file hashes
it was made against, so `check_fresh` can refuse it once anything it read has changed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from iasync import __version__
from iasync.accounts.format import FIELD_ORDER, KEYED_FIELDS
from iasync.errors import IasyncError
from iasync.files import write_atomically

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadedAccount, LoadResult
    from iasync.states import AccountRecord, State

PLAN_FORMAT_VERSION = 1
ACTIONS = ("create", "update", "unchanged", "orphaned")
SENT_ACTIONS = ("create", "update")

Action = Literal["create", "update", "unchanged", "orphaned"]
DifferenceAction = Literal["add", "remove", "change"]
Identity = frozenset[tuple[str, str]]


class PlanError(IasyncError):
    """The files cannot be matched to the state unambiguously."""


class PlanFileError(IasyncError):
    """A saved plan file cannot be read: missing, corrupt, or from a newer iasync."""


class StalePlanError(IasyncError):
    """The state or the files changed since the saved plan was made."""


@dataclass(frozen=True)
class Difference:
    """One changed attribute of an update, in a readable path (`properties["K"].value`)."""

    path: str
    action: DifferenceAction
    before: Any = None
    after: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class AccountChange:
    """What the plan does with one account."""

    action: Action
    path: str  # the account file (for an orphan: the file it was last applied from)
    identity: Identity
    body: dict[str, Any]  # the desired canonical body (for an orphan: the state's)
    body_hash: str
    file_hash: str | None  # None for an orphan: there is no file
    record: AccountRecord | None = None  # the matched state record (None after load_plan)
    differences: list[Difference] = field(default_factory=list)
    lusid_id: str | None = None
    version: int | None = None
    moved_from: str | None = None  # the file it was last applied from, when that differs

    @property
    def sent(self) -> bool:
        return self.action in SENT_ACTIONS

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        return sorted(self.identity)


@dataclass
class Plan:
    changes: list[AccountChange]
    lineage: str
    serial: int
    file_hashes: dict[str, str]  # every account file read: path -> "sha256:..."
    success_mode: str = "Partial"
    batch_size: int = 500
    paths: list[str] = field(default_factory=list)  # PATH arguments, relative to the root
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    iasync_version: str = __version__
    format_version: int = PLAN_FORMAT_VERSION

    @property
    def to_send(self) -> list[AccountChange]:
        """Creates and updates, in file order: what apply sends."""
        return [change for change in self.changes if change.sent]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return counts

    @property
    def moves(self) -> list[AccountChange]:
        """Unchanged accounts whose file moved: recorded in the state by apply, never sent."""
        return [c for c in self.changes if c.action == "unchanged" and c.moved_from]

    @property
    def has_changes(self) -> bool:
        """True when apply would send or record anything (`-detailed-exitcode` says 2)."""
        return any(change.sent or change.moved_from for change in self.changes)

    @property
    def batches(self) -> int:
        return math.ceil(len(self.to_send) / self.batch_size)

    def of(self, action: Action) -> list[AccountChange]:
        return [change for change in self.changes if change.action == action]


# --- making a plan ----------------------------------------------------------------------------


def make_plan(
    load: LoadResult,
    state: State,
    *,
    success_mode: str = "Partial",
    batch_size: int = 500,
    paths: Sequence[str] = (),
) -> Plan:
    """Match each loaded account to the state and say what apply would do with it.

    `paths` are the PATH arguments the files were loaded from (relative to the project root;
    empty for the whole accounts directory). When given, only state records last applied from
    under them can be orphaned: a plan of one folder says nothing about the others.
    """
    records = list(state.accounts.values())
    index = _index_by_identifier(records)
    matches = {account.path: _match(account, index) for account in load.accounts}
    _check_unambiguous(load.accounts, matches)

    changes = [_change_for(account, matches[account.path]) for account in load.accounts]
    updates = [change for change in changes if change.action == "update"]
    pairs = [(change.record.body, change.body) for change in updates if change.record]
    for change, diffs in zip(updates, differences_of(pairs), strict=True):
        change.differences = diffs
    matched = {change.lusid_id for change in changes if change.record is not None}
    changes += [
        _orphan(record)
        for record in sorted(records, key=lambda r: (r.source or "", r.lusid_id))
        if record.lusid_id not in matched and _within(record.source, paths)
    ]
    return Plan(
        changes=changes,
        lineage=state.lineage,
        serial=state.serial,
        file_hashes={account.path: account.file_hash for account in load.accounts},
        success_mode=success_mode,
        batch_size=batch_size,
        paths=list(paths),
    )


RecordIndex = dict[tuple[str, str], list["AccountRecord"]]


def reusable_files(state: State) -> dict[str, tuple[str, AccountRecord]]:
    """What the loader may take from `state` instead of reading a file: file -> (the hash of the
    bytes it was applied from, its record). Nothing when the records' bodies were made under
    another `CANONICAL_FORMAT`: another iasync may make other bodies of the same files."""
    from iasync.accounts.model import CANONICAL_FORMAT

    if state.canonical_format != CANONICAL_FORMAT:
        return {}
    return {record.source: (record.source_hash, record) for record in state.accounts.values()}


def _index_by_identifier(records: Iterable[AccountRecord]) -> RecordIndex:
    """(identifier key, value) -> the records holding it: one lookup per identifier."""
    index: RecordIndex = {}
    for record in records:
        for pair in record.identity:
            index.setdefault(pair, []).append(record)
    return index


def _match(account: LoadedAccount, index: RecordIndex) -> list[AccountRecord]:
    """The distinct state records sharing any identifier with the account."""
    found: dict[str, AccountRecord] = {}
    for pair in sorted(account.identity):
        for record in index.get(pair, ()):
            found.setdefault(record.lusid_id, record)
    return list(found.values())


def _which_identifiers(account: LoadedAccount, record: AccountRecord) -> str:
    """`LUID_X has KEY=VALUE (last applied from PATH)`: which of the file's identifiers is that
    account's, so the user can tell which one to change."""
    shared = ", ".join(f"{k}={v}" for k, v in sorted(account.identity & record.identity))
    return f"{record.lusid_id} has {shared} (last applied from {record.source})"


def _check_unambiguous(
    accounts: Sequence[LoadedAccount], matches: dict[str, list[AccountRecord]]
) -> None:
    """One file, one record; one record, one file. Otherwise apply would merge accounts."""
    problems: list[str] = []
    claimed: dict[str, list[str]] = {}
    for account in accounts:
        found = matches[account.path]
        if len(found) > 1:
            whose = "".join(f"\n      {_which_identifiers(account, rec)}" for rec in found)
            problems.append(
                f"{account.path}: its identifiers match {len(found)} different LUSID accounts; "
                f"give it the identifiers of one of them:{whose}"
            )
        elif found:
            claimed.setdefault(found[0].lusid_id, []).append(account.path)
    for lusid_id, files in claimed.items():
        if len(files) > 1:
            problems.append(
                f"{' and '.join(files)} match the same LUSID account {lusid_id}; "
                "keep one file per account"
            )
    if problems:
        raise PlanError("cannot make a plan:\n  " + "\n  ".join(problems))


def _change_for(account: LoadedAccount, found: list[AccountRecord]) -> AccountChange:
    record = found[0] if found else None
    # Equal canonical bodies serialise to the same bytes, so they share the state's hash: a
    # dict comparison (in C) spares serialising and hashing the thousands of unchanged accounts.
    unchanged = record is not None and record.body == account.body
    change = AccountChange(
        action="create",
        path=account.path,
        identity=account.identity,
        body=account.body,
        body_hash=record.body_hash if unchanged and record else account.body_hash,
        file_hash=account.file_hash,
    )
    if record is None:
        return change
    change.record = record
    change.lusid_id = record.lusid_id
    change.version = record.version
    if record.source and record.source != account.path:
        change.moved_from = record.source
    if unchanged or record.body_hash == change.body_hash:
        change.action = "unchanged"
    else:
        change.action = "update"  # its differences are found for all updates at once
    return change


def _orphan(record: AccountRecord) -> AccountChange:
    return AccountChange(
        action="orphaned",
        path=record.source or "",
        identity=record.identity,
        body=record.body,
        body_hash=record.body_hash,
        file_hash=None,
        record=record,
        lusid_id=record.lusid_id,
        version=record.version,
    )


def _within(source: str | None, paths: Sequence[str]) -> bool:
    if not paths:
        return True
    if not source:
        return False
    return any(
        path in (".", "") or source == path or source.startswith(path.rstrip("/") + "/")
        for path in paths
    )


# --- attribute-level differences --------------------------------------------------------------

# Fields whose members are named by the user (property keys, holder keys): shown as ["..."].

_DIFF_KINDS: dict[str, DifferenceAction] = {
    "dictionary_item_added": "add",
    "iterable_item_added": "add",
    "dictionary_item_removed": "remove",
    "iterable_item_removed": "remove",
    "values_changed": "change",
    "type_changes": "change",
}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """The attributes that differ between two canonical bodies, in readable paths."""
    return differences_of([(before, after)])[0]


def differences_of(
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
) -> list[list[Difference]]:
    """For each (before, after) pair of canonical bodies, the attributes that differ.

    Both bodies are first put in a diff view in which keyed lists (holders, portfolios) are
    dicts by `key`, so items are matched by key and not by position, and property values lose
    the API's wrapping (`{"labelValue": "x"}` is just `"x"`). All pairs go through one DeepDiff
    (each pair under its index): DeepDiff's set-up costs about a millisecond per call, which
    thousands of updates would otherwise pay one by one.
    """
    if not pairs:
        return []
    from deepdiff import DeepDiff

    # String keys: DeepDiff checks each path it passes, and a non-string key costs it an
    # ast.literal_eval every time.
    old: dict[str, dict[str, Any]] = {}
    new: dict[str, dict[str, Any]] = {}
    for index, (before, after) in enumerate(pairs):
        old[str(index)], new[str(index)] = _without_equal_members(
            diff_view(before), diff_view(after)
        )
    found: list[dict[str, Difference]] = [{} for _ in pairs]
    # threshold_to_diff_deeper=0: never report a whole dict as replaced because few of its keys
    # are shared (the pruned views share none); every member is named on its own.
    diff = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    for kind, levels in diff.items():
        action = _DIFF_KINDS.get(kind)
        if action is None:
            continue
        for level in levels:
            index, *parts = _path_of(level)
            diff = _difference(action, parts, level, old[index], new[index])
            found[int(index)].setdefault(diff.path, diff)
    return [sorted(diffs.values(), key=lambda d: _sort_key(d.path)) for diffs in found]


def _path_of(level: Any) -> list[Any]:
    """The keys from the root down to a DeepDiff tree level.

    What `level.path(output_format="list")` gives, without its string round trip through
    ast.literal_eval, which dominated plans of thousands of updates.
    """
    parts = []
    step = level.all_up
    while step is not None and step is not level:
        relation = step.t1_child_rel or step.t2_child_rel
        if relation is None:
            break
        parts.append(relation.param)
        step = step.down
    return parts


def _difference(
    action: DifferenceAction, parts: list[Any], level: Any, old: dict[str, Any], new: dict[str, Any]
) -> Difference:
    list_at = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
    if list_at is not None:
        # A label set is one value: show the whole list before and after.
        parts = parts[:list_at]
        return Difference(_readable(parts), "change", _lookup(old, parts), _lookup(new, parts))
    return Difference(
        _readable(parts),
        action,
        None if action == "add" else level.t1,
        None if action == "remove" else level.t2,
    )


def _without_equal_members(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drop the fields and keyed members both sides share, keeping the paths of the rest.

    DeepDiff walks every node it is given; an update usually touches one or two attributes
    of an account with dozens, so this keeps a plan of thousands of updates quick.
    """
    old_out: dict[str, Any] = {}
    new_out: dict[str, Any] = {}
    for name in old.keys() | new.keys():
        before, after = old.get(name, _MISSING), new.get(name, _MISSING)
        if before == after:
            continue
        if name in KEYED_FIELDS and isinstance(before, dict) and isinstance(after, dict):
            before, after = _differing_members(before, after)
        if before is not _MISSING:
            old_out[name] = before
        if after is not _MISSING:
            new_out[name] = after
    return old_out, new_out


def _differing_members(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    same = {key for key in before.keys() & after.keys() if before[key] == after[key]}
    return (
        {k: v for k, v in before.items() if k not in same},
        {k: v for k, v in after.items() if k not in same},
    )


_MISSING = object()


def _sort_key(path: str) -> tuple[int, str]:
    top = path.split("[", 1)[0].split(".", 1)[0]
    # Changes are listed in the file's field order; holders and portfolios come last alike.
    order = FIELD_ORDER[: FIELD_ORDER.index("accountHolders")]
    rank = order.index(top) if top in order else len(order)
    return rank, path


def diff_view(body: dict[str, Any]) -> dict[str, Any]:
    """A canonical body reshaped for diffing and display (never sent anywhere)."""
    view = {k: v for k, v in body.items() if k not in KEYED_FIELDS}
    view["identifiers"] = _properties_view(body.get("identifiers", {}))
    view["properties"] = _properties_view(body.get("properties", {}))
    view["accountHolders"] = {
        holder["key"]: {"identifiers": _properties_view(holder.get("identifiers", {}))}
        for holder in body.get("accountHolders", [])
    }
    view["investmentPortfolios"] = {
        item["key"]: {k: v for k, v in item.items() if k != "key"}
        for item in body.get("investmentPortfolios", [])
    }
    return view


def _properties_view(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"value": _value_view(prop.get("value", {}))}
        | {k: v for k, v in prop.items() if k not in ("key", "value")}
        for key, prop in properties.items()
    }


def _value_view(value: dict[str, Any]) -> Any:
    if "labelValue" in value:
        return value["labelValue"]
    if "labelValueSet" in value:
        return list(value["labelValueSet"].get("values", []))
    if "metricValue" in value:
        metric = value["metricValue"]
        return metric["value"] if metric.get("unit") is None else dict(metric)
    return value


def _readable(parts: Sequence[Any]) -> str:
    """['properties', 'K', 'value'] -> properties["K"].value"""
    out = str(parts[0])
    next_is_key = parts[0] in KEYED_FIELDS
    for part in parts[1:]:
        if next_is_key or not (isinstance(part, str) and part.isidentifier()):
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
            next_is_key = False
        else:
            out += "." + part
            next_is_key = part in KEYED_FIELDS
    return out


def _lookup(tree: Any, parts: Sequence[Any]) -> Any:
    for part in parts:
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


# --- saved plans ------------------------------------------------------------------------------


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
    Once the plan is known fresh, each change gets back its state `record`, which a saved plan
    does not carry: the state is the very one it was made against.

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
    now = {a.path: a.file_hash for a in load.accounts if _within(a.path, plan.paths)}
    now.update({p.path: "invalid" for p in load.problems if _within(p.path, plan.paths)})
    moved = _file_changes(plan.file_hashes, now)
    if moved:
        shown = "; ".join(moved[:3]) + (f"; and {len(moved) - 3} more" if len(moved) > 3 else "")
        raise StalePlanError(
            f"stale plan: account files changed since the plan was made ({shown}); "
            "run iasync plan again"
        )
    for change in plan.changes:
        if change.lusid_id is not None and change.record is None:
            change.record = state.accounts.get(change.lusid_id)


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
