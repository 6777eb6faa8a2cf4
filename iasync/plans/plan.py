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

How two bodies differ is `diff`; how a plan is saved, read back and found stale is `planfile`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from iasync import __version__
from iasync.errors import IasyncError
from iasync.lazybody import LazyBody, is_fetched
from iasync.plans.diff import Difference, differences_of
from iasync.states.model import AccountRecord
from iasync.states.statefile import gc_paused

if TYPE_CHECKING:
    from iasync.accounts.loaded import ReusableFiles
    from iasync.accounts.loader import LoadedAccount, LoadResult
    from iasync.states import State

#: The version of the saved plan's format (`planfile`).
PLAN_FORMAT_VERSION = 1
ACTIONS = ("create", "update", "unchanged", "orphaned")
SENT_ACTIONS = ("create", "update")

Action = Literal["create", "update", "unchanged", "orphaned"]
Identity = frozenset[tuple[str, str]]


class PlanError(IasyncError):
    """The files cannot be matched to the state unambiguously."""


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
    # The git blob id of the file's bytes (`LoadedAccount.file_blob`), for apply to record. Not
    # in a saved plan: `check_fresh` takes it from the files, found the same as planned.
    file_blob: str | None = field(default=None, compare=False)

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
        return [change for change in self.changes if change.action in SENT_ACTIONS]

    @property
    def counts(self) -> dict[str, int]:
        counted: Counter[str] = Counter(change.action for change in self.changes)
        return {action: counted[action] for action in ACTIONS}

    @property
    def moves(self) -> list[AccountChange]:
        """Unchanged accounts whose file moved: recorded in the state by apply, never sent."""
        return [c for c in self.changes if c.action == "unchanged" and c.moved_from]

    @property
    def has_changes(self) -> bool:
        """True when apply would send or record anything (`-detailed-exitcode` says 2)."""
        return any(change.action in SENT_ACTIONS or change.moved_from for change in self.changes)

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
    with gc_paused():  # 100,000 changes hold no cycles: no collection while they are made
        return _make_plan(load, state, success_mode, batch_size, paths)


def _make_plan(
    load: LoadResult, state: State, success_mode: str, batch_size: int, paths: Sequence[str]
) -> Plan:
    matches, own = _matches(load.accounts, state)
    _check_unambiguous(load.accounts, matches, own)

    unchanged = _unchanged_as_applied
    changes = [
        unchanged(account, record)
        if (record := own.get(account.path)) is not None
        else _change_for(account, matches[account.path])
        for account in load.accounts
    ]
    updates = [change for change in changes if change.action == "update"]
    pairs = [(change.record.body, change.body) for change in updates if change.record]
    for change, diffs in zip(updates, differences_of(pairs), strict=True):
        change.differences = diffs
    matched = {record.lusid_id for record in own.values()}
    matched.update(c.record.lusid_id for c in changes if c.record is not None and c.path not in own)
    orphans = [
        record
        for record in map(state.accounts.__getitem__, state.accounts.keys() - matched)
        if within_paths(record.source, paths)
    ]
    changes += [
        _orphan(record) for record in sorted(orphans, key=lambda r: (r.source or "", r.lusid_id))
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


def reusable_files(state: State) -> ReusableFiles:
    """What the loader may take from `state` instead of reading a file: file -> (the hash of the
    bytes it was applied from, its record). Nothing when the records' bodies were made under
    another `CANONICAL_FORMAT`: another iasync may make other bodies of the same files."""
    from iasync.accounts.loaded import ReusableFiles
    from iasync.accounts.model import CANONICAL_FORMAT

    def claiming(identifiers: Collection[tuple[str, str]]) -> list[str]:
        return [record.source for record in state.matching(identifiers)]

    if state.canonical_format != CANONICAL_FORMAT:
        return ReusableFiles({}, claiming)
    files = {record.source: (record.source_hash, record) for record in state.accounts.values()}
    return ReusableFiles(files, claiming)


def _matches(
    accounts: Sequence[LoadedAccount], state: State
) -> tuple[dict[str, list[AccountRecord]], dict[str, AccountRecord]]:
    """The records each account matches, by file; and, apart, the files matched to the very
    record they were reused from, unread, without a lookup.

    In a state read from a database where no two records share an identifier (as apply leaves
    it), an account reused from a record matches that record alone: only the accounts read now
    are looked up, in the index (time in proportion to the changes, not to the state). Any other
    state is indexed here, and every account looked up.
    """
    index = state.indexed()
    if index is None or index.any_shared():
        by_identifier = _index_by_identifier(state.accounts.values())
        return {account.path: _match(account, by_identifier) for account in accounts}, {}
    records = state.accounts
    own = {
        account.path: applied
        for account in accounts
        if isinstance(applied := account.applied, AccountRecord)
        and records.get(applied.lusid_id) is applied
    }
    matches = {
        account.path: state.matching(account.identity)
        for account in accounts
        if account.path not in own
    }
    return matches, own


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
    accounts: Sequence[LoadedAccount],
    matches: dict[str, list[AccountRecord]],
    own: dict[str, AccountRecord] | None = None,
) -> None:
    """One file, one record; one record, one file. Otherwise apply would merge accounts.

    The files in `own` match the record they were reused from, which no other record shares an
    identifier with: only another file, read now, can match it too; that file's match finds it.
    """
    own = own or {}
    problems: list[str] = []
    claimed: dict[str, list[str]] = {}
    for account in accounts:
        found = matches.get(account.path)
        if found is None:
            continue  # in `own`
        if len(found) > 1:
            whose = "".join(f"\n      {_which_identifiers(account, rec)}" for rec in found)
            problems.append(
                f"{account.path}: its identifiers match {len(found)} different LUSID accounts; "
                f"give it the identifiers of one of them:{whose}"
            )
        elif found:
            claimed.setdefault(found[0].lusid_id, []).append(account.path)
    for files in claimed.values():
        record = matches[files[0]][0]
        if own.get(record.source) is record:
            files.append(record.source)  # reused from it, unread
    for lusid_id, files in claimed.items():
        if len(files) > 1:
            in_order = sorted(files, key=lambda path: path.split("/"))  # as the files are found
            problems.append(
                f"{' and '.join(in_order)} match the same LUSID account {lusid_id}; "
                "keep one file per account"
            )
    if problems:
        raise PlanError("cannot make a plan:\n  " + "\n  ".join(problems))


def _change_for(account: LoadedAccount, found: list[AccountRecord]) -> AccountChange:
    record = found[0] if found else None
    if record is not None and not is_fetched(account):
        # Reused from a record whose body was not read (a database state): the hashes, both
        # known, decide, and the body is fetched only if something asks for it.
        unchanged = record.body_hash == account.body_hash
    else:
        # Equal canonical bodies serialise to the same bytes, so they share the state's hash: a
        # dict comparison (in C) spares serialising and hashing thousands of unchanged accounts.
        unchanged = record is not None and record.body == account.body
    change = _change_with_body_of(
        account,
        action="create",
        path=account.path,
        identity=account.identity,
        body_hash=record.body_hash if unchanged and record else account.body_hash,
        file_hash=account.file_hash,
        file_blob=account.file_blob,
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


class _ChangeOfReused(LazyBody, AccountChange):
    """The change of an account whose body is not fetched yet: fetched on first use."""


def _change_with_body_of(account: LoadedAccount, **fields: Any) -> AccountChange:
    if is_fetched(account):
        return AccountChange(body=account.body, **fields)
    change = _ChangeOfReused(body={}, **fields)
    del change.__dict__["body"]  # the placeholder: the account's own is fetched when used
    change.__dict__["_fetch_body"] = lambda: account.body
    return change


class _UnchangedAsApplied(LazyBody, AccountChange):
    """An account reused from its record, unread: unchanged, its identity and body the record's,
    fetched only if used."""

    def _fetch_body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.__dict__["record"].body
        return body

    def __getattr__(self, name: str) -> Any:
        if name == "identity":
            identity = self.__dict__["record"].identity
            self.__dict__["identity"] = identity
            return identity
        return super().__getattr__(name)


def _unchanged_as_applied(account: LoadedAccount, record: AccountRecord) -> AccountChange:
    """The change of an account reused from `record` (its source): unchanged, nothing moved.
    Made without `__init__`: 100,000 of them in a plan, each with nothing to work out."""
    change = object.__new__(_UnchangedAsApplied)
    change.__dict__.update(
        action="unchanged",
        path=account.path,
        body_hash=record.body_hash,
        file_hash=account.file_hash,
        record=record,
        differences=[],
        lusid_id=record.lusid_id,
        version=record.version,
        moved_from=None,
        file_blob=account.file_blob,
    )
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


def within_paths(source: str | None, paths: Sequence[str]) -> bool:
    if not paths:
        return True
    if not source:
        return False
    return any(
        path in (".", "") or source == path or source.startswith(path.rstrip("/") + "/")
        for path in paths
    )
