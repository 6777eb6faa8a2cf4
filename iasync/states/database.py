"""The state in a SQL database: the schema and its migrations, and what SQLite and PostgreSQL share.

One database holds any number of named workspaces (SQLite: only `default`); every table is keyed
by workspace. The tables:

    iasync_schema        the schema version (one row), for migrations
    iasync_states        per workspace: lineage, serial, canonical format
    iasync_accounts      one row per account record; the body stored once, as JSON text
    iasync_identifiers   (key, value) -> lusid_id, indexed: matching is a lookup
    iasync_lock_holders  who holds the workspace's lock (the lock itself is the OS's or the
                         server's, and dies with its process; this row only names the holder)
    iasync_history       one row per write: serial, when, what, by whom
    iasync_applies       the audit trail: one row per apply (commit, CI run, actor, plan hash,
                         counts; the whole entry as JSON too), never changed once written

A write is one transaction holding only what changed since this backend last read or wrote the
state: the records added, replaced or removed, the serial bumped (compare-and-set on the serial it
was read at), a history row. A read takes the columns a plan needs of every record (LUSID id,
version, body hash, source, its hash and git blob id, scope); the identifiers, when applied and
the body are fetched when first used (`_LazyRecord`), so a plan reads them for changed accounts
only (under either API generation: the scope is a column), and finds records by identifier in the
index table (`State.index`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from iasync import __version__
from iasync.lazybody import LazyBody
from iasync.states.locking import LockInfo, locked_message
from iasync.states.model import (
    AccountRecord,
    State,
    StateCorruptError,
    StateError,
    StateLockedError,
    check_same_history,
    scope_in,
)
from iasync.states.statefile import gc_paused

SCHEMA_VERSION = 5
_LOCK_POLL_SECONDS = 0.1
_BRIEF_LOCK_WAIT_SECONDS = 2.0  # a write outside a held lock waits this long for one in progress

#: A migration step that is not one SQL statement: given the connection and `_sql` (which adapts
#: `?` placeholders to the database's), it changes the data in the migration's transaction.
MigrationStep = Callable[[Any, Callable[[str], str]], None]


def _fill_scopes(connection: Any, sql: Callable[[str], str]) -> None:
    """Migration 4's data: each record's scope, from its body. Only a body of the scoped API has
    one (a string `scope`); the others keep NULL, as a write of them stores."""
    rows = connection.execute(
        sql("SELECT workspace, lusid_id, body FROM iasync_accounts WHERE body LIKE ?"),
        ('%"scope"%',),
    )
    scopes = []
    for workspace, lusid_id, body in rows:
        scope = scope_in(_from_json(body))
        if scope is not None:
            scopes.append((scope, workspace, lusid_id))
    if scopes:
        connection.cursor().executemany(
            sql("UPDATE iasync_accounts SET scope = ? WHERE workspace = ? AND lusid_id = ?"),
            scopes,
        )


# Each entry brings the schema from its index to the next version. Portable SQL: it runs on
# SQLite and PostgreSQL alike (BIGINT is an integer to SQLite; JSON is kept as TEXT so that a
# body is stored byte for byte as it was recorded); a step that SQL alone cannot say portably
# is a function (`MigrationStep`).
MIGRATIONS: tuple[tuple[str | MigrationStep, ...], ...] = (
    (
        """CREATE TABLE iasync_states (
            workspace TEXT PRIMARY KEY,
            lineage TEXT NOT NULL,
            serial BIGINT NOT NULL,
            canonical_format BIGINT,
            iasync_version TEXT NOT NULL
        )""",
        """CREATE TABLE iasync_accounts (
            workspace TEXT NOT NULL,
            lusid_id TEXT NOT NULL,
            version BIGINT,
            identifiers TEXT NOT NULL,
            body TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            source TEXT NOT NULL,
            source_hash TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            applied_commit TEXT,
            PRIMARY KEY (workspace, lusid_id)
        )""",
        """CREATE TABLE iasync_identifiers (
            workspace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            lusid_id TEXT NOT NULL,
            PRIMARY KEY (workspace, lusid_id, key)
        )""",
        "CREATE INDEX iasync_identifiers_lookup ON iasync_identifiers (workspace, key, value)",
        """CREATE TABLE iasync_lock_holders (
            workspace TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            operation TEXT NOT NULL,
            who TEXT NOT NULL,
            host TEXT NOT NULL,
            pid BIGINT NOT NULL,
            created TEXT NOT NULL,
            connection_pid BIGINT
        )""",
        """CREATE TABLE iasync_history (
            workspace TEXT NOT NULL,
            serial BIGINT NOT NULL,
            lineage TEXT NOT NULL,
            written_at TEXT NOT NULL,
            operation TEXT NOT NULL,
            who TEXT NOT NULL,
            host TEXT NOT NULL,
            accounts_written BIGINT NOT NULL,
            accounts_removed BIGINT NOT NULL,
            applied_commit TEXT,
            iasync_version TEXT NOT NULL,
            PRIMARY KEY (workspace, lineage, serial)
        )""",
    ),
    # 2: the audit trail (`record_apply`, `applies`). Not `iasync_history`, which has one row per
    # write (an apply writes once per batch) and only what the state itself knows.
    (
        """CREATE TABLE iasync_applies (
            workspace TEXT NOT NULL,
            number BIGINT NOT NULL,
            applied_at TEXT NOT NULL,
            lineage TEXT,
            serial BIGINT,
            applied_commit TEXT,
            ci_run_url TEXT,
            actor TEXT,
            plan_hash TEXT,
            counts TEXT NOT NULL,
            entry TEXT NOT NULL,
            PRIMARY KEY (workspace, number)
        )""",
    ),
    # 3: the git blob id of the file's bytes as applied (NULL: not known; such a file is hashed).
    ("ALTER TABLE iasync_accounts ADD COLUMN source_blob TEXT",),
    # 4: the account's scope under the scoped API (NULL: none), the body's own, so that a plan
    # knows every record's scope without reading its body.
    ("ALTER TABLE iasync_accounts ADD COLUMN scope TEXT", _fill_scopes),
    # 5: what a plan reads of every record (`_INDEX_COLUMNS`), in an index of its own: SQLite
    # reads that alone instead of walking the table, whose rows hold the bodies (100,000
    # records: a 300 MB table against a 20 MB index; the read takes a third of the time).
    (
        "CREATE INDEX iasync_accounts_plan ON iasync_accounts (workspace, lusid_id, version, "
        "body_hash, source, source_hash, source_blob, scope)",
    ),
)

# What a plan needs of every record, read at once. The rest (identifiers, when applied, the
# commit, the body) is fetched for the few records that need it: each value read costs (100,000
# records: 0.1 s a column), and identifiers are matched through the index table instead.
_INDEX_COLUMNS = "lusid_id, version, body_hash, source, source_hash, source_blob, scope"
_DETAIL_COLUMNS = ("identifiers", "applied_at", "commit")
_DETAILS_SQL = "identifiers, applied_at, applied_commit"
#: Past this many records asked one by one for their details, the rest come in one query.
_DETAILS_ONE_BY_ONE = 200


class _LazyRecord(LazyBody, AccountRecord):
    """A record as read: its body and details are fetched from the database on first use, and a
    change made to it in place is noted, so that the next write stores it (see `_changes`)."""

    def _fetch_body(self) -> dict[str, Any]:
        backend: DatabaseStateBackend = self.__dict__["_backend"]
        return backend._fetch_body(self.lusid_id)

    @property
    def scope(self) -> str | None:
        # The column's until the body is at hand (then the body's: it may have been set since).
        if "body" in self.__dict__:
            return super().scope
        scope: str | None = self.__dict__["_scope"]
        return scope

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: the body, the details until fetched.
        if name in _DETAIL_COLUMNS:
            backend: DatabaseStateBackend = self.__dict__["_backend"]
            backend._fetch_details(self)
            return self.__dict__[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        backend = self.__dict__.get("_backend")  # none while dataclasses.replace() makes one
        if backend is not None:
            backend._mutated.add(self.lusid_id)


class _TrackedAccounts(dict[str, AccountRecord]):
    """A state's records as read from a database, noting every LUSID id set or removed since
    (`State.record`, `State.forget`), so that a write looks at those alone, not at every record."""

    def __init__(self, records: dict[str, AccountRecord] | None = None) -> None:
        super().__init__(records or {})
        self.touched: set[str] = set()

    def __setitem__(self, key: str, value: AccountRecord) -> None:
        super().__setitem__(key, value)
        self.touched.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.touched.add(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.touched.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, AccountRecord]:
        key, value = super().popitem()
        self.touched.add(key)
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.touched.add(key)
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = dict(*args, **kwargs)
        super().update(changes)
        self.touched.update(changes)

    def __ior__(self, other: Any) -> _TrackedAccounts:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        self.touched.update(self)
        super().clear()


def _lazy_records(rows: Sequence[Sequence[Any]], backend: DatabaseStateBackend) -> _TrackedAccounts:
    """Records of index rows, by LUSID id, without __init__ (which would want the body)."""
    new = _LazyRecord.__new__
    records = _TrackedAccounts()
    for lusid_id, version, body_hash, source, source_hash, blob, scope in rows:
        rec = new(_LazyRecord)
        rec.__dict__.update(
            lusid_id=lusid_id,
            version=version,
            body_hash=body_hash,
            source=source,
            source_hash=source_hash,
            source_blob=blob,
            _scope=scope,
            _backend=backend,
        )
        dict.__setitem__(records, lusid_id, rec)  # read, not set: not noted as touched
    return records


def _set_details(rec: AccountRecord, identifiers: str, applied_at: str, commit: str | None) -> None:
    """A read record's details, unless set on it since (a change made in place stays)."""
    values = rec.__dict__
    if "identifiers" not in values:
        # Identifiers hold strings only: orjson is exact for them.
        values["identifiers"] = orjson.loads(identifiers)
    values.setdefault("applied_at", applied_at)
    values.setdefault("commit", commit)


class _DatabaseIndex:
    """The identifiers table, as a state read from it sees it (`State.index`)."""

    def __init__(self, backend: DatabaseStateBackend, accounts: _TrackedAccounts) -> None:
        self._backend = backend
        self._accounts = accounts
        self._shared: bool | None = None

    def lusid_ids_with(self, key: str, value: str) -> list[str]:
        return self._backend.lookup(key, value)

    def property_keys(self) -> set[str]:
        return self._backend._property_keys()

    def any_shared(self) -> bool:
        if self._shared is None:
            self._shared = self._backend._any_identifier_shared()
        return self._shared

    def describes(self, accounts: dict[str, AccountRecord]) -> bool:
        backend = self._backend
        return (
            accounts is self._accounts
            and not self._accounts.touched
            and not backend._mutated
            and backend._tracked is self._accounts
        )


class DatabaseStateBackend:
    """What the SQLite and PostgreSQL backends share; they supply the connection and the lock.

    Subclasses implement `_connection()` (opened, migrated), `_transaction()`, `_try_lock()`,
    `_unlock()`, `_holder_connection_pid()`, `force_unlock()` and `describe()`; SQL is written
    with `?` placeholders (`_sql` adapts them).
    """

    placeholder = "?"
    #: The distinct keys of the bodies' `properties` in a workspace, in the database's JSON dialect.
    property_keys_sql = (
        "SELECT DISTINCT j.key FROM iasync_accounts AS a, json_each(a.body, '$.properties') AS j "
        "WHERE a.workspace = ? AND json_type(a.body, '$.properties') = 'object'"
    )

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self._mutex = threading.RLock()  # one connection, used by one thread at a time
        self._held: LockInfo | None = None
        # (lineage, serial) this backend last read or wrote, the record objects stored then, and
        # the LUSID ids of records read from it since changed in place (see `_changes`).
        self._seen: tuple[str, int] | None = None
        self._stored: dict[str, AccountRecord] = {}
        self._mutated: set[str] = set()
        self._tracked: _TrackedAccounts | None = None  # the records whose changes are noted
        self._details_asked = 0  # records whose details were fetched one by one since the read
        self._conn: Any = None  # the open connection (subclasses open it in `_connection`)

    # what subclasses supply

    def describe(self) -> str:
        raise NotImplementedError

    def _connection(self) -> Any:
        raise NotImplementedError

    def _driver_error(self) -> type[Exception]:
        """The database driver's base error (sqlite3.Error, psycopg.Error)."""
        raise NotImplementedError

    def _error_words(self, exc: Exception) -> str:
        """A driver error as a StateError says it."""
        return str(exc)

    def _exists(self) -> bool:
        """Whether there is a database to read (a missing SQLite file is not created by a read)."""
        return True

    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _try_lock(self) -> bool:
        raise NotImplementedError

    def _unlock(self) -> None:
        raise NotImplementedError

    def _holder_connection_pid(self) -> int | None:
        """The server process of our connection, for a force-unlock to end (SQLite: none)."""
        return None

    def force_unlock(self, lock_id: str) -> LockInfo:
        raise NotImplementedError

    # SQL

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        connection = self._connection()
        try:
            return connection.execute(self._sql(statement), params)
        except self._driver_error() as exc:
            raise StateError(f"the state {self.describe()}: {self._error_words(exc)}") from None

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        connection = self._connection()
        try:
            connection.cursor().executemany(self._sql(statement), rows)
        except self._driver_error() as exc:
            raise StateError(f"the state {self.describe()}: {self._error_words(exc)}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _migrate(self, connection: Any, guard: str | None = None) -> None:
        """Bring the schema to SCHEMA_VERSION, in one transaction; refuse a newer one."""
        run = connection.execute
        if guard:
            run(guard)  # serialises concurrent first connections
        run("CREATE TABLE IF NOT EXISTS iasync_schema (version BIGINT NOT NULL)")
        row = run("SELECT max(version) FROM iasync_schema").fetchone()
        version = row[0] if row and row[0] is not None else 0
        if version > SCHEMA_VERSION:
            raise StateCorruptError(
                f"the state {self.describe()} has schema version {version}, made by a newer "
                f"iasync (this iasync {__version__} knows version {SCHEMA_VERSION}). "
                "Upgrade iasync; the state has been left untouched."
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                if isinstance(statement, str):
                    run(statement)
                else:
                    statement(connection, self._sql)
        if version < SCHEMA_VERSION:
            run("DELETE FROM iasync_schema")
            run(self._sql("INSERT INTO iasync_schema (version) VALUES (?)"), (SCHEMA_VERSION,))

    # reading

    def read(self, *, bodies: bool = False) -> State:
        """The state; each body is fetched when first used unless `bodies` (then all at once)."""
        with self._mutex:
            if not self._exists():
                return self._new_state()
            head = self._execute(
                "SELECT lineage, serial, canonical_format FROM iasync_states WHERE workspace = ?",
                (self.workspace,),
            ).fetchone()
            if head is None:
                return self._new_state()
            lineage, serial, canonical_format = head
            with gc_paused():  # 100,000 records hold no cycles: no collection while made
                rows = self._execute(
                    f"SELECT {_INDEX_COLUMNS} FROM iasync_accounts WHERE workspace = ?",
                    (self.workspace,),
                ).fetchall()
                records = _lazy_records(rows, self)
                del rows
                if bodies:
                    self._fetch_all_details(records)
                    self._fetch_all_bodies(records)
            self._remember(lineage, serial, records)
            self._details_asked = 0
            state = State(lineage, serial, records, canonical_format)
            state.index = _DatabaseIndex(self, records)
            return state

    def _new_state(self) -> State:
        """Nothing stored yet: a fresh lineage, whose records are noted from the first write."""
        state = State.new()
        state.accounts = _TrackedAccounts()
        return state

    def _fetch_body(self, lusid_id: str) -> dict[str, Any]:
        with self._mutex:
            row = self._execute(
                "SELECT body FROM iasync_accounts WHERE workspace = ? AND lusid_id = ?",
                (self.workspace, lusid_id),
            ).fetchone()
        if row is None:
            raise StateError(
                f"the record of {lusid_id} left the state {self.describe()} while in use; "
                "run the command again"
            )
        body: dict[str, Any] = _from_json(row[0])
        return body

    def _fetch_details(self, rec: AccountRecord) -> None:
        """A read record's identifiers, when applied and commit: of it alone for the first few
        records asked for (a plan's changed accounts), then of every record read (a listing)."""
        with self._mutex:
            self._details_asked += 1
            if self._details_asked > _DETAILS_ONE_BY_ONE and self._tracked is not None:
                self._fetch_all_details(self._stored)
                if "identifiers" in rec.__dict__:
                    return
            row = self._execute(
                f"SELECT {_DETAILS_SQL} FROM iasync_accounts WHERE workspace = ? AND lusid_id = ?",
                (self.workspace, rec.lusid_id),
            ).fetchone()
        if row is None:
            raise StateError(
                f"the record of {rec.lusid_id} left the state {self.describe()} while in use; "
                "run the command again"
            )
        _set_details(rec, *row)

    def _fetch_all_details(self, records: dict[str, AccountRecord]) -> None:
        rows = self._execute(
            f"SELECT lusid_id, {_DETAILS_SQL} FROM iasync_accounts WHERE workspace = ?",
            (self.workspace,),
        )
        with gc_paused():
            for lusid_id, identifiers, applied_at, commit in rows:
                rec = records.get(lusid_id)
                if isinstance(rec, _LazyRecord):
                    _set_details(rec, identifiers, applied_at, commit)

    def _property_keys(self) -> set[str]:
        """The keys of every record's `properties`, listed by the database's own JSON functions
        (`property_keys_sql`): the bodies stay in the database."""
        with self._mutex:
            rows = self._execute(self.property_keys_sql, (self.workspace,)).fetchall()
            return {row[0] for row in rows}

    def _any_identifier_shared(self) -> bool:
        """Whether two records hold one identifier in one scope (under the scoped API, one
        identifier in two scopes is two accounts: LUSID's own rule, no share)."""
        with self._mutex:
            row = self._execute(
                "SELECT 1 FROM iasync_identifiers WHERE workspace = ? "
                "GROUP BY key, value HAVING count(*) > 1 LIMIT 1",
                (self.workspace,),
            ).fetchone()
            if row is None:  # the index alone says no: no scope need be looked at
                return False
            row = self._execute(
                "SELECT 1 FROM iasync_identifiers i JOIN iasync_accounts a "
                "ON a.workspace = i.workspace AND a.lusid_id = i.lusid_id "
                "WHERE i.workspace = ? GROUP BY a.scope, i.key, i.value HAVING count(*) > 1 "
                "LIMIT 1",
                (self.workspace,),
            ).fetchone()
        return row is not None

    def _fetch_all_bodies(self, records: dict[str, AccountRecord]) -> None:
        rows = self._execute(
            "SELECT lusid_id, body FROM iasync_accounts WHERE workspace = ?", (self.workspace,)
        )
        for lusid_id, body in rows:
            if lusid_id in records:
                records[lusid_id].body = _from_json(body)

    def lookup(self, key: str, value: str) -> list[str]:
        """The LUSID ids of the records holding identifier `key` = `value` (an index lookup)."""
        with self._mutex:
            if not self._exists():
                return []
            # Sorted here: with ORDER BY, SQLite may walk the primary key in lusid_id order
            # instead of looking the identifier up (0.4 s a lookup at 100,000 records).
            rows = self._execute(
                "SELECT lusid_id FROM iasync_identifiers "
                "WHERE workspace = ? AND key = ? AND value = ?",
                (self.workspace, key, value),
            ).fetchall()
        return sorted(row[0] for row in rows)

    # writing

    def write(self, state: State) -> None:
        """Store what changed in `state` since it was read, with serial + 1, in one transaction."""
        with self._mutex:
            if self._held is not None:
                self._write(state, self._held.operation)
                return
            # Not under the caller's lock: take it for the write alone, so that no apply holding
            # it is written across (the serial check alone would only catch it afterwards).
            with self.lock("write", timeout=_BRIEF_LOCK_WAIT_SECONDS):
                self._write(state, "write")

    def replace(self, state: State, operation: str) -> None:
        """Store `state` whole, lineage and serial as they are (push, import); under the lock."""
        with self._mutex, self._transaction():
            self._execute("DELETE FROM iasync_accounts WHERE workspace = ?", (self.workspace,))
            self._execute("DELETE FROM iasync_identifiers WHERE workspace = ?", (self.workspace,))
            self._store_head(state, state.serial, exists=self._head() is not None)
            records = list(state.accounts.values())
            self._store_records(records)
            self._add_history(state, state.serial, operation, records, 0)
        self._remember(state.lineage, state.serial, state.accounts)

    def _write(self, state: State, operation: str) -> None:
        everything = self._seen != (state.lineage, state.serial)
        changed, removed = self._changes(state, everything)
        new_serial = state.serial + 1
        with self._transaction():
            head = self._head(for_update=True)
            if head is not None:
                check_same_history(self.describe(), *head, state)
            if everything:
                # Not the state this backend holds the stamps of: store all of it.
                self._execute("DELETE FROM iasync_accounts WHERE workspace = ?", (self.workspace,))
                self._execute(
                    "DELETE FROM iasync_identifiers WHERE workspace = ?", (self.workspace,)
                )
            self._remove_records(removed)
            self._store_records(changed)
            self._store_head(state, new_serial, exists=head is not None)
            self._add_history(state, new_serial, operation, changed, len(removed))
        state.serial = new_serial
        if everything:
            self._remember(state.lineage, new_serial, state.accounts)
        else:
            self._seen = (state.lineage, new_serial)
            for lusid_id in removed:
                self._stored.pop(lusid_id, None)
            self._stored.update((rec.lusid_id, rec) for rec in changed)
            self._mutated.clear()
            if self._tracked is not None:
                self._tracked.touched.clear()

    def _remember(self, lineage: str, serial: int, records: dict[str, AccountRecord]) -> None:
        self._seen = (lineage, serial)
        self._stored = dict(records)
        self._mutated = set()
        self._tracked = records if isinstance(records, _TrackedAccounts) else None
        if self._tracked is not None:
            self._tracked.touched.clear()

    def _changes(self, state: State, everything: bool) -> tuple[list[AccountRecord], list[str]]:
        """The records to (re)write and the LUSID ids to remove since the last read or write.

        A record is new or changed when it is another object than the one stored (`State.record`
        replaces records: apply makes new ones), or was read from here and changed in place. Of
        a state read from here, only the ids its records noted as set or removed are looked at:
        a batch costs the same whatever the state's size (of any other state: one identity test
        per record). Contents are never compared, so a record this backend wrote must be
        replaced, not changed in place, as all iasync code does.
        """
        if everything:
            return list(state.accounts.values()), []
        stored, accounts = self._stored, state.accounts
        if accounts is self._tracked:
            # The records read from here, which noted every id set or removed since.
            touched = self._tracked.touched
            changed = [
                accounts[lusid_id]
                for lusid_id in touched
                if lusid_id in accounts and stored.get(lusid_id) is not accounts[lusid_id]
            ]
            gone = [lusid_id for lusid_id in touched if lusid_id not in accounts]
        else:
            changed = [rec for lusid_id, rec in accounts.items() if stored.get(lusid_id) is not rec]
            gone = [lusid_id for lusid_id in stored if lusid_id not in accounts]
        changed += [
            accounts[lusid_id]
            for lusid_id in self._mutated
            if lusid_id in accounts and stored.get(lusid_id) is accounts[lusid_id]
        ]
        removed = [lusid_id for lusid_id in gone if lusid_id in stored]
        return changed, removed

    def _head(self, for_update: bool = False) -> tuple[str, int] | None:
        lock = " FOR UPDATE" if for_update and self.placeholder != "?" else ""
        row = self._execute(
            f"SELECT lineage, serial FROM iasync_states WHERE workspace = ?{lock}",
            (self.workspace,),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def _store_head(self, state: State, serial: int, exists: bool) -> None:
        values = (state.lineage, serial, state.canonical_format, __version__, self.workspace)
        if exists:
            self._execute(
                "UPDATE iasync_states SET lineage = ?, serial = ?, canonical_format = ?, "
                "iasync_version = ? WHERE workspace = ?",
                values,
            )
        else:
            self._execute(
                "INSERT INTO iasync_states "
                "(lineage, serial, canonical_format, iasync_version, workspace) "
                "VALUES (?, ?, ?, ?, ?)",
                values,
            )

    def _remove_records(self, lusid_ids: Sequence[str]) -> None:
        rows = [(self.workspace, lusid_id) for lusid_id in lusid_ids]
        self._executemany("DELETE FROM iasync_accounts WHERE workspace = ? AND lusid_id = ?", rows)
        self._executemany(
            "DELETE FROM iasync_identifiers WHERE workspace = ? AND lusid_id = ?", rows
        )

    def _store_records(self, records: Sequence[AccountRecord]) -> None:
        ws = self.workspace
        self._executemany(
            "INSERT INTO iasync_accounts (workspace, lusid_id, version, identifiers, body, "
            "body_hash, source, source_hash, applied_at, applied_commit, source_blob, scope) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace, lusid_id) DO UPDATE SET version = excluded.version, "
            "identifiers = excluded.identifiers, body = excluded.body, "
            "body_hash = excluded.body_hash, source = excluded.source, "
            "source_hash = excluded.source_hash, applied_at = excluded.applied_at, "
            "applied_commit = excluded.applied_commit, source_blob = excluded.source_blob, "
            "scope = excluded.scope",
            [
                (
                    ws,
                    rec.lusid_id,
                    rec.version,
                    _json_text(rec.identifiers),
                    _body_json(rec),
                    rec.body_hash,
                    rec.source,
                    rec.source_hash,
                    rec.applied_at,
                    rec.commit,
                    rec.source_blob,
                    rec.scope,  # the body's, fetched above
                )
                for rec in records
            ],
        )
        self._executemany(
            "DELETE FROM iasync_identifiers WHERE workspace = ? AND lusid_id = ?",
            [(ws, rec.lusid_id) for rec in records],
        )
        self._executemany(
            "INSERT INTO iasync_identifiers (workspace, key, value, lusid_id) VALUES (?, ?, ?, ?)",
            [
                (ws, key, value, rec.lusid_id)
                for rec in records
                for key, value in rec.identifiers.items()
            ],
        )

    def _add_history(
        self,
        state: State,
        serial: int,
        operation: str,
        written: Sequence[AccountRecord],
        removed: int,
    ) -> None:
        me = self._held or LockInfo.mine(operation)
        commits = {rec.commit for rec in written if rec.commit}
        self._execute(
            "INSERT INTO iasync_history (workspace, serial, lineage, written_at, operation, who, "
            "host, accounts_written, accounts_removed, applied_commit, iasync_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace, lineage, serial) DO NOTHING",
            (
                self.workspace,
                serial,
                state.lineage,
                LockInfo.mine(operation).created,
                operation,
                me.who,
                me.host,
                len(written),
                removed,
                next(iter(commits)) if len(commits) == 1 else None,
                __version__,
            ),
        )

    def history(self) -> list[dict[str, Any]]:
        """The writes of this workspace's current lineage, oldest first."""
        with self._mutex:
            if not self._exists():
                return []
            rows = self._execute(
                "SELECT h.serial, h.written_at, h.operation, h.who, h.host, h.accounts_written, "
                "h.accounts_removed, h.applied_commit FROM iasync_history h "
                "JOIN iasync_states s ON s.workspace = h.workspace AND s.lineage = h.lineage "
                "WHERE h.workspace = ? ORDER BY h.serial",
                (self.workspace,),
            ).fetchall()
        names = ("serial", "written_at", "operation", "who", "host", "written", "removed")
        return [dict(zip((*names, "commit"), row, strict=True)) for row in rows]

    # the audit trail

    def record_apply(self, entry: Mapping[str, Any]) -> None:
        """Keep one apply's audit entry (`iasync.audit.apply_entry`): a row of its own, numbered
        after the last in one transaction (applies hold the state's lock, so none race)."""
        with self._mutex, self._transaction():
            row = self._execute(
                "SELECT max(number) FROM iasync_applies WHERE workspace = ?", (self.workspace,)
            ).fetchone()
            number = (row[0] if row and row[0] is not None else 0) + 1
            self._execute(
                "INSERT INTO iasync_applies (workspace, number, applied_at, lineage, serial, "
                "applied_commit, ci_run_url, actor, plan_hash, counts, entry) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.workspace,
                    number,
                    str(entry.get("applied_at") or LockInfo.mine("apply").created),
                    entry.get("lineage"),
                    entry.get("serial"),
                    entry.get("commit"),
                    entry.get("ci_run_url"),
                    entry.get("actor"),
                    entry.get("plan_hash"),
                    _json_text(entry.get("counts") or {}),
                    _json_text(dict(entry)),
                ),
            )

    def applies(self) -> list[dict[str, Any]]:
        """Every apply's audit entry in this workspace, oldest first (`iasync state history`)."""
        with self._mutex:
            if not self._exists():
                return []
            rows = self._execute(
                "SELECT entry FROM iasync_applies WHERE workspace = ? ORDER BY number",
                (self.workspace,),
            ).fetchall()
        entries = [_from_json(row[0]) for row in rows]
        return [entry for entry in entries if isinstance(entry, dict)]

    # locking

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Hold the workspace's lock for the block: released when the block ends, and by the
        operating system or the server when the process dies (nothing left to force-unlock)."""
        with self._mutex:
            info = self._acquire(operation, timeout)
            self._held = info
        try:
            yield info
        finally:
            with self._mutex:
                self._held = None
                self._release(info)

    def _acquire(self, operation: str, timeout: float) -> LockInfo:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._try_lock():
            if time.monotonic() >= deadline:
                holder = self.lock_holder() or LockInfo.unknown()
                raise StateLockedError(locked_message(self.describe(), holder), holder)
            time.sleep(min(_LOCK_POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
        info = LockInfo.mine(operation)
        try:
            # Only names the holder for whoever is locked out; a row a killed holder left is
            # simply replaced.
            self._execute("DELETE FROM iasync_lock_holders WHERE workspace = ?", (self.workspace,))
            self._execute(
                "INSERT INTO iasync_lock_holders "
                "(workspace, id, operation, who, host, pid, created, connection_pid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.workspace,
                    info.id,
                    info.operation,
                    info.who,
                    info.host,
                    info.pid,
                    info.created,
                    self._holder_connection_pid(),
                ),
            )
        except BaseException:
            self._unlock()
            raise
        return info

    def _release(self, info: LockInfo) -> None:
        try:
            self._execute(
                "DELETE FROM iasync_lock_holders WHERE workspace = ? AND id = ?",
                (self.workspace, info.id),
            )
        finally:
            self._unlock()

    def lock_holder(self) -> LockInfo | None:
        """Who the holder row names (it may be stale: the lock itself is what counts)."""
        row = self._holder_row()
        return None if row is None else LockInfo(*row[:6])

    def _holder_row(self) -> tuple[Any, ...] | None:
        if not self._exists():
            return None
        row = self._execute(
            "SELECT id, operation, who, host, pid, created, connection_pid "
            "FROM iasync_lock_holders WHERE workspace = ?",
            (self.workspace,),
        ).fetchone()
        return None if row is None else tuple(row)

    def _not_locked(self) -> StateError:
        """A force-unlock of a workspace no process holds: clear a stale holder row, say so."""
        self._execute("DELETE FROM iasync_lock_holders WHERE workspace = ?", (self.workspace,))
        return StateError(f"the state {self.describe()} is not locked; nothing to do")

    def _check_lock_id(self, holder: LockInfo | None, lock_id: str) -> LockInfo:
        if holder is None:
            return LockInfo.unknown()
        if holder.id != lock_id:
            raise StateError(
                f"the state {self.describe()} is locked by {holder.describe()}, not with lock "
                f"id {lock_id}; nothing was released. Check which lock you mean to release."
            )
        return holder


def _body_json(rec: AccountRecord) -> str:
    return _json_text(rec.body)


def _from_json(text: str | bytes) -> Any:
    # The stdlib, not orjson, which reads an integer beyond 64 bits as a float: a body must come
    # back exactly as recorded. Only changed accounts' bodies are read, so speed matters little.
    return json.loads(text)


def _json_text(value: Any) -> str:
    """Compact JSON, key order kept; the stdlib for what orjson refuses (ints beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        pass
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot serialise the state: {exc}") from None
