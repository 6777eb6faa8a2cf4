"""Desired accounts (the files) against the last-applied state: the plan, saved plans, staleness.

An account in the files is the same account as a state record when they share an identifier
(key and value; under the scoped API, in the same scope), as LUSID itself matches. Moving or
renaming a file is therefore no change; only the canonical body matters. Each account becomes
one `AccountChange`:

* ``create``    no state record shares an identifier with it;
* ``update``    one record does and its body hash differs (with per-attribute `differences`);
* ``unchanged`` one record does and the body hash is the same;
* ``orphaned``  a state record that no file matches any more: reported, and deleted from LUSID
                only when the plan prunes (`delete`, `apply --prune`, within its guard rails).

An unchanged account whose file was renamed or moved (`moved_from`) is a move: nothing is sent,
but apply records the new file in the state, as Terraform records a moved resource.

How two bodies differ is `diff`; how a plan is saved, read back and found stale is `planfile`;
what LUSID itself holds (accounts to create that exist there, drift) is read by `remote`; which
changes a plan keeps (`--target`, `--exclude`) is `subset`; deletion's guard rails are `pruning`.
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
PLAN_FORMAT_VERSION = 2
ACTIONS = ("create", "update", "unchanged", "orphaned")
SENT_ACTIONS = ("create", "update")

Action = Literal["create", "update", "unchanged", "orphaned"]
Identity = frozenset[tuple[str, str]]
#: What LUSID said of an account when the plan read it (None: not read):
#: "absent"/"exists" for a create; "same"/"changed"/"deleted" for a managed account (refresh).
Remote = Literal["absent", "exists", "same", "changed", "deleted"]


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
    remote: Remote | None = None
    remote_id: str | None = None  # LUSID's id of an account to create that exists already
    remote_version: int | None = None  # LUSID's version, when it read the account
    # Refresh: the state's version to LUSID's, for an account changed outside iasync.
    drift: list[Difference] = field(default_factory=list)
    delete: bool = False  # an orphan that apply deletes from LUSID (the plan prunes)
    # The git blob id of the file's bytes (`LoadedAccount.file_blob`), for apply to record. Not
    # in a saved plan: `check_fresh` takes it from the files, found the same as planned.
    file_blob: str | None = field(default=None, compare=False)

    @property
    def sent(self) -> bool:
        return self.action in SENT_ACTIONS

    @property
    def restore_only(self) -> bool:
        """Sent only to undo a change made outside iasync: the file is as last applied."""
        return self.remote in ("changed", "deleted") and (
            self.record is None or self.record.body_hash == self.body_hash
        )

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        return sorted(self.identity)

    @property
    def scope(self) -> str | None:
        """The account's scope under the scoped API (with `identity`, how LUSID finds it)."""
        from iasync.accounts.model import scope_of

        if not is_fetched(self) and self.record is not None:
            # A body not fetched is its record's, or a reused one's matched in the record's
            # scope: the record knows it without its body.
            return self.record.scope
        return scope_of(self.body)


@dataclass
class Plan:
    changes: list[AccountChange]
    lineage: str
    serial: int
    file_hashes: dict[str, str]  # every account file read: path -> "sha256:..."
    success_mode: str = "Partial"
    batch_size: int = 500
    paths: list[str] = field(default_factory=list)  # PATH arguments, relative to the root
    # --target / --exclude: the changes kept; `pending` counts, by action, those left out.
    targets: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)
    # What LUSID was asked: None offline; else how it was read and what it said (`remote`).
    lusid_read: str | None = None
    lusid_skipped: str | None = None  # why LUSID was not read when the plan needed it
    offline: bool = False
    refreshed: bool = False
    prune: bool = False
    max_deletes: int | None = None
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
    def to_delete(self) -> list[AccountChange]:
        """Orphans the plan deletes from LUSID (it prunes)."""
        return [change for change in self.changes if change.delete]

    @property
    def existing(self) -> list[AccountChange]:
        """Accounts to create that LUSID already holds: apply overwrites them with the file."""
        return [c for c in self.changes if c.action == "create" and c.remote == "exists"]

    @property
    def drifted(self) -> list[AccountChange]:
        """Managed accounts changed or deleted outside iasync (found by a refresh)."""
        return [c for c in self.changes if c.remote in ("changed", "deleted")]

    @property
    def checked_creates(self) -> bool:
        """True when LUSID was asked about every account to create."""
        return all(c.remote is not None for c in self.of("create"))

    @property
    def has_changes(self) -> bool:
        """True when apply would send, delete or record anything (`-detailed-exitcode` says 2)."""
        return any(
            change.action in SENT_ACTIONS or change.moved_from or change.delete
            for change in self.changes
        )

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


ScopedPair = tuple[str | None, str, str]  # (scope, identifier key, value); scope None: unscoped
RecordIndex = dict[ScopedPair, list["AccountRecord"]]


def reusable_files(
    state: State, *, api: str = "unscoped", scope: str | None = None
) -> ReusableFiles:
    """What the loader may take from `state` instead of reading a file: file -> (the hash of the
    bytes it was applied from, its record). Nothing when the records' bodies were made under
    another `CANONICAL_FORMAT`: another iasync may make other bodies of the same files.

    `api` and `scope` are the settings: a body depends on them too, so a record is reused only
    when its scope is the one the file would now get from the setting (under `unscoped`: no
    scope). A file whose own `scope:` differs from the setting is simply read again.
    """
    from iasync.accounts.loaded import ReusableFiles
    from iasync.accounts.model import canonical_format_for

    def claiming(identifiers: Collection[tuple[str, str]]) -> list[str]:
        return [record.source for record in state.matching(identifiers)]

    if state.canonical_format != canonical_format_for(api):
        return ReusableFiles({}, claiming)
    if api != "scoped":  # the stamp says no body has a scope: no body need be read
        files = {record.source: (record.source_hash, record) for record in state.accounts.values()}
        return ReusableFiles(files, claiming)
    files = {
        record.source: (record.source_hash, record)
        for record in state.accounts.values()
        if record.scope == scope  # a database's record knows it without its body
    }
    return ReusableFiles(files, claiming)


def _matches(
    accounts: Sequence[LoadedAccount], state: State
) -> tuple[dict[str, list[AccountRecord]], dict[str, AccountRecord]]:
    """The records each account matches, by file; and, apart, the files matched to the very
    record they were reused from, unread, without a lookup.

    In a state read from a database where no two records share an identifier (as apply leaves
    it), an account reused from a record matches that record alone: only the accounts read now
    are looked up, in the index (time in proportion to the changes, not to the state), and only
    the records found there are compared by scope. Any other state is indexed here, and every
    account looked up. A record's scope, and a reused account's, is known without its body.
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
        account.path: _in_scope_of(account, state.matching(account.identity))
        for account in accounts
        if account.path not in own
    }
    return matches, own


def _in_scope_of(account: LoadedAccount, records: list[AccountRecord]) -> list[AccountRecord]:
    """The records, sharing an identifier with `account`, that are in its scope."""
    if not records:
        return records
    scope = account.scope
    return [record for record in records if record.scope == scope]


def scoped_pairs(identity: Iterable[tuple[str, str]], body: dict[str, Any]) -> set[ScopedPair]:
    """(scope, key, value) for each identifier of an account: what LUSID finds it by."""
    from iasync.accounts.model import scope_of

    scope = scope_of(body)
    return {(scope, key, value) for key, value in identity}


def _index_by_identifier(records: Iterable[AccountRecord]) -> RecordIndex:
    """(scope, identifier key, value) -> the records holding it: one lookup per identifier."""
    index: RecordIndex = {}
    for record in records:
        scope = record.scope
        for key, value in record.identity:
            index.setdefault((scope, key, value), []).append(record)
    return index


def _match(account: LoadedAccount, index: RecordIndex) -> list[AccountRecord]:
    """The distinct state records sharing any identifier (in the same scope) with the account."""
    found: dict[str, AccountRecord] = {}
    scope = account.scope
    pairs = {(scope, key, value) for key, value in account.identity}
    for pair in sorted(pairs, key=lambda p: (p[0] or "", p[1], p[2])):
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
    if record is not None and not (is_fetched(account) and is_fetched(record)):
        # A body not read yet (a database state's record, or an account reused from one): the
        # hashes decide, and the body is fetched only if something asks for it. (A file read
        # now that matches an unread record is one whose own scope is not the setting's, read
        # on every plan: its record's body stays unread unless the account changed.)
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
        remote=None,
        remote_id=None,
        remote_version=None,
        drift=[],
        delete=False,
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
