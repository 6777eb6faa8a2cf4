"""The last-applied state in memory: what LUSID accepted, per account, and the errors of states.

A `State` is one history (`lineage`) at one point of it (`serial`, one more on every write) holding
an `AccountRecord` per LUSID account. How a state is written down is `statefile`; where it is kept
is a backend (`local`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.states.locking import LockInfo


class StateError(IasyncError):
    """The state cannot be read, written or locked; the message says what to do."""


class StateCorruptError(StateError):
    """The state exists but is not a state this iasync can read. It is never overwritten."""


class StateLockedError(StateError):
    """Another process holds the state lock."""

    def __init__(self, message: str, holder: LockInfo | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass
class AccountRecord:
    """One account as LUSID last accepted it, and where it came from."""

    lusid_id: str
    version: int | None  # version.asAtVersionNumber from LUSID's response
    identifiers: dict[str, str]  # identifier key -> label value
    body: dict[str, Any]  # the canonical request body LUSID accepted
    body_hash: str
    source: str  # the account file, relative to the project root, POSIX
    source_hash: str  # "sha256:<hex>" of the file's bytes when applied
    applied_at: str  # ISO 8601, UTC
    commit: str | None  # git commit of the files applied, None outside git

    @property
    def identity(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.identifiers.items())

    @property
    def scope(self) -> str | None:
        """The account's scope under the scoped API (its body's `scope`); None under the
        reference page's. With `identity`, how LUSID finds the account. A record read from a
        database has it from its own column, without its body (see `database._LazyRecord`)."""
        return scope_in(self.body)

    # The git blob id of the bytes of `source_hash`, when known. Not a dataclass field: a
    # record's fields are its document in the first format (`to_json`, `state show`), which
    # stays as it was; the JSON backend keeps the blob id only when there is one, the databases
    # in a column. `dataclasses.replace` does not carry it over: give it to the new record.
    @property
    def source_blob(self) -> str | None:
        blob: str | None = self.__dict__.get("source_blob")
        return blob

    @source_blob.setter
    def source_blob(self, blob: str | None) -> None:
        self.__dict__["source_blob"] = blob

    def with_blob(self, blob: str | None) -> AccountRecord:
        """This record, its `source_blob` set; for chaining after a constructor."""
        self.source_blob = blob
        return self

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies every body (seconds for 5,000 accounts), and
        # not fields(self) each time, which costs as much again as building the dict.
        return {name: getattr(self, name) for name in RECORD_FIELDS}


RECORD_FIELDS = tuple(f.name for f in fields(AccountRecord))


def scope_in(body: Mapping[str, Any]) -> str | None:
    """The scope of a canonical body: its `scope` when a string (only the scoped API's have one);
    as `iasync.accounts.model.scope_of`, which the state does not import (it loads pydantic)."""
    scope = body.get("scope")
    return scope if isinstance(scope, str) else None


class RecordIndex(Protocol):
    """A database's index of the records by identifier, as they were read: finding the records
    of a few identifiers without looking at every record."""

    def lusid_ids_with(self, key: str, value: str) -> list[str]:
        """The LUSID ids of the records holding identifier `key` = `value`, sorted."""
        ...

    def any_shared(self) -> bool:
        """Whether two records hold the same identifier (never, in a state apply wrote)."""
        ...

    def describes(self, accounts: dict[str, AccountRecord]) -> bool:
        """Whether it still describes `accounts`: these very records, none changed since read."""
        ...

    def property_keys(self) -> set[str]:
        """Every key under `properties` in the records' bodies, found by the database itself:
        no body is read into Python."""
        ...


@dataclass
class State:
    lineage: str
    serial: int = 0
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    # iasync.accounts.model.CANONICAL_FORMAT that every record's body was made under (None: not
    # known, e.g. a state written before the field existed): only then are records reused.
    canonical_format: int | None = None
    # The records by identifier, for a state read from a database (None: `accounts` is scanned).
    index: RecordIndex | None = field(default=None, repr=False, compare=False)

    def indexed(self) -> RecordIndex | None:
        """The index, while it still describes the records (nothing recorded since the read)."""
        index = self.index
        return index if index is not None and index.describes(self.accounts) else None

    @classmethod
    def new(cls) -> State:
        """An empty state with a fresh lineage: nothing applied yet."""
        return cls(lineage=str(uuid.uuid4()))

    def matching(self, identity: Iterable[tuple[str, str]]) -> list[AccountRecord]:
        """Records sharing any identifier (key and value) with `identity`, as LUSID matches:
        by identifier in the order of `sorted(identity)`, then by LUSID id, each once."""
        wanted = sorted(set(identity))
        index = self.indexed()
        if index is None:  # one pass over every record
            by_pair: dict[tuple[str, str], list[AccountRecord]] = {}
            for rec in self.accounts.values():
                for pair in rec.identity.intersection(wanted):
                    by_pair.setdefault(pair, []).append(rec)
            ids = [rec.lusid_id for pair in wanted for rec in by_pair.get(pair, ())]
        else:  # a lookup per identifier
            ids = [found for key, value in wanted for found in index.lusid_ids_with(key, value)]
        found = {lusid_id: self.accounts[lusid_id] for lusid_id in ids if lusid_id in self.accounts}
        return [rec for rec in found.values() if not rec.identity.isdisjoint(wanted)]

    def property_keys(self) -> set[str]:
        """Every property key the records' bodies name (the keys a read of LUSID asks for).

        From the database when the state came from one and nothing was recorded since: a plan
        with one account to create need not fetch 100,000 bodies to learn them."""
        index = self.indexed()
        if index is not None:
            return index.property_keys()
        keys: set[str] = set()
        for rec in self.accounts.values():
            keys.update(rec.body.get("properties") or {})
        return keys

    def record(self, rec: AccountRecord) -> None:
        """Add `rec`, replacing the record with the same LUSID id."""
        self.accounts[rec.lusid_id] = rec

    def forget(self, lusid_id: str) -> None:
        """Drop a record (for an account deleted from LUSID); no error when absent."""
        self.accounts.pop(lusid_id, None)


def check_same_history(where: str, lineage: str, serial: int, state: State) -> None:
    """Refuse to overwrite the stored state (`lineage`, `serial`, at `where`) with `state` unless
    `state` was read from it and nothing was written since: compare-and-set, for every backend."""
    if lineage != state.lineage:
        raise StateError(
            f"the state {where} has lineage {lineage}, not {state.lineage}: "
            "it belongs to another history and was not overwritten"
        )
    if serial != state.serial:
        raise StateError(
            f"the state {where} changed since it was read (serial {serial}, "
            f"expected {state.serial}); it was not overwritten. Run the command again."
        )
