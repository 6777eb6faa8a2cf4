"""The state in a local SQLite database (the default, `.iasync/state.db`), locked with an OS lock.

The standard library's sqlite3, in WAL mode with full synchronisation: a committed batch survives
a crash or a kill -9, a transaction cut short leaves nothing. The lock is an OS file lock on
`<name>.lock` (filelock): the kernel releases it when the process ends, however it ends, so a
kill -9 never leaves a lock to force-unlock. Who holds it is written in the database for whoever
finds the state locked.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iasync.states.database import DatabaseStateBackend
from iasync.states.locking import LockInfo
from iasync.states.model import StateCorruptError, StateError

_BUSY_TIMEOUT_SECONDS = 30.0  # a reader waits this long for a writer's transaction to end


class SQLiteStateBackend(DatabaseStateBackend):
    """The state in one SQLite file; one workspace (`default`)."""

    def __init__(self, path: Path) -> None:
        super().__init__("default")
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._conn: sqlite3.Connection | None = None
        self._file_lock: Any = None

    def describe(self) -> str:
        return str(self.path)

    def _exists(self) -> bool:
        return self._conn is not None or self.path.exists()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: transactions are begun explicitly (BEGIN IMMEDIATE), one per write.
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=_BUSY_TIMEOUT_SECONDS,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the state {self.path}: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._migrate(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StateCorruptError(
                f"the state {self.path} cannot be read: {exc}. It has been left untouched. "
                "Restore it (from a copy or `iasync state push`) and run again; moving it away "
                "instead makes iasync forget everything it has applied."
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _driver_error(self) -> type[Exception]:
        return sqlite3.Error

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        self._execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    # the lock: the kernel's, on <name>.lock

    def _try_lock(self) -> bool:
        from filelock import FileLock, Timeout

        if self._file_lock is None:
            try:
                self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateError(f"cannot lock the state {self.path}: {exc}") from None
            self._file_lock = FileLock(self.lock_path, thread_local=False)
        try:
            self._file_lock.acquire(blocking=False)
        except Timeout:
            return False
        except OSError as exc:
            raise StateError(f"cannot lock the state {self.path}: {exc}") from None
        return True

    def _unlock(self) -> None:
        if self._file_lock is not None and self._file_lock.is_locked:
            self._file_lock.release()

    def force_unlock(self, lock_id: str) -> LockInfo:
        with self._mutex:
            if self._try_lock():
                try:
                    raise self._not_locked()
                finally:
                    self._unlock()
            holder = self._check_lock_id(self.lock_holder(), lock_id)
        # The lock is the kernel's, held by a process that is running (one that ended, even by
        # kill -9, holds nothing): no other process can take it away.
        raise StateError(
            f"the state {self.path} is locked by {holder.describe()}, a process that is still "
            "running: its lock is the operating system's and ends with it. Let it finish, or "
            f"stop that process (e.g. `kill {holder.pid}` on {holder.host}); nothing was released."
        )

    def _not_locked(self) -> StateError:
        if not self._exists():
            return StateError(f"the state {self.path} is not locked; nothing to do")
        return super()._not_locked()

    # carrying over the first format

    def import_first_format(self, json_path: Path) -> None:
        """Load the JSON state at `json_path` into this (new) database, then rename the file to
        `<name>.imported`, kept. Says so in one line. Nothing happens once the database holds a
        state (another process imported it first)."""
        from iasync.states.local import LocalStateBackend

        with self.lock("import"):
            if self._head() is not None:
                return
            state = LocalStateBackend(json_path).read()  # a corrupt file stays, untouched
            self.replace(state, "import")
        kept = json_path.with_name(json_path.name + ".imported")
        os.replace(json_path, kept)
        print(
            f"Imported the state {json_path} into {self.path} ({len(state.accounts)} accounts, "
            f"serial {state.serial}); the old file is kept as {kept}.",
            file=sys.stderr,
        )
