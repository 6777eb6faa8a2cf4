"""The state in PostgreSQL, shared by a team and its CI: `--state postgresql://...`, psycopg 3.

Several named workspaces live in one database (`--workspace`, default `default`), as in
Terraform's pg backend. The lock is a session advisory lock on the workspace: the server releases
it when the connection ends, so a killed process never leaves one behind. The password is never
a setting: libpq finds it (PGPASSWORD, ~/.pgpass, a service file), and it is never shown.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from iasync.states.database import DatabaseStateBackend
from iasync.states.locking import LockInfo
from iasync.states.model import StateError

URL_SCHEMES = ("postgresql", "postgres")
# Held (per transaction) while a first connection creates or migrates the tables.
_MIGRATION_LOCK_KEY = 0x1A5C_0000_0000_0001


def is_postgres_url(location: str) -> bool:
    return urlsplit(location).scheme in URL_SCHEMES and "://" in location


def url_without_password(url: str) -> str:
    """The URL as it may be shown: any password left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def advisory_key(workspace: str) -> int:
    """The workspace's advisory lock key: a stable signed 64-bit number."""
    digest = hashlib.sha256(b"iasync state workspace\0" + workspace.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresStateBackend(DatabaseStateBackend):
    """One workspace of the state in a PostgreSQL database."""

    placeholder = "%s"
    property_keys_sql = (
        "SELECT DISTINCT jsonb_object_keys(a.body::jsonb -> 'properties') "
        "FROM iasync_accounts AS a WHERE a.workspace = ? "
        "AND jsonb_typeof(a.body::jsonb -> 'properties') = 'object'"
    )

    def __init__(self, url: str, workspace: str = "default") -> None:
        super().__init__(workspace)
        self.url = url
        self._key = advisory_key(workspace)

    def describe(self) -> str:
        return f"{url_without_password(self.url)} (workspace {self.workspace})"

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._open()
        return self._conn

    def _open(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(
                self.url, autocommit=True, application_name="iasync", **_connect_timeout(self.url)
            )
        except psycopg.Error as exc:
            raise StateError(
                f"cannot connect to the state {self.describe()}: {_first_line(exc)}. "
                "Check the URL; the password comes from PGPASSWORD or ~/.pgpass, never the "
                "settings file."
            ) from None
        try:
            with conn.transaction():
                self._migrate(conn, guard=f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
        except psycopg.Error as exc:
            conn.close()
            raise StateError(f"cannot prepare the state {self.describe()}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _driver_error(self) -> type[Exception]:
        import psycopg

        return psycopg.Error

    def _error_words(self, exc: Exception) -> str:
        return _first_line(exc)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        import psycopg

        conn = self._connection()
        try:
            with conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise StateError(f"the state {self.describe()}: {_first_line(exc)}") from None

    # the lock: a session advisory lock, which ends with the connection

    def _try_lock(self) -> bool:
        row = self._execute("SELECT pg_try_advisory_lock(?)", (self._key,)).fetchone()
        return bool(row[0])

    def _unlock(self) -> None:
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(StateError):  # a dropped connection released it already
                self._execute("SELECT pg_advisory_unlock(?)", (self._key,))

    def _holder_connection_pid(self) -> int | None:
        row = self._execute("SELECT pg_backend_pid()").fetchone()
        return int(row[0])

    def _sessions_holding_lock(self) -> list[int]:
        # A bigint advisory key is shown in pg_locks as classid (high half), objid (low half).
        # Advisory locks belong to a database: the same workspace's lock in another database on
        # the server (another team's state) is not this one, and its session is left alone.
        rows = self._execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid::bigint = ? AND objid::bigint = ? AND objsubid = 1",
            ((self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF),
        ).fetchall()
        return [int(row[0]) for row in rows]

    def force_unlock(self, lock_id: str) -> LockInfo:
        """End the session holding the workspace's lock (its transaction is rolled back, so
        nothing half-written stays), if `lock_id` names it."""
        with self._mutex:
            sessions = self._sessions_holding_lock()
            if not sessions:
                raise self._not_locked()
            holder = self.lock_holder()
            if holder is None:
                raise StateError(
                    f"the state {self.describe()} is locked by a session that left no details "
                    f"(server process {', '.join(map(str, sessions))}); nothing was released"
                )
            holder = self._check_lock_id(holder, lock_id)
            for pid in sessions:
                self._execute("SELECT pg_terminate_backend(?)", (pid,))
            self._execute(
                "DELETE FROM iasync_lock_holders WHERE workspace = ? AND id = ?",
                (self.workspace, lock_id),
            )
        return holder


def _connect_timeout(url: str) -> dict[str, Any]:
    """A server that does not answer fails the command instead of hanging it, unless the URL
    or PGCONNECT_TIMEOUT says how long to wait."""
    import os

    if "connect_timeout" in url or "PGCONNECT_TIMEOUT" in os.environ:
        return {}
    return {"connect_timeout": 15}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
