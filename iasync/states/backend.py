"""Where a state lives, as its callers see it: the `StateBackend` protocol and `open_backend`.

Storage sits behind `StateBackend`, which knows nothing of files: a shared database backend can
take the place of `LocalStateBackend` without its callers changing.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from iasync.settings import Settings
    from iasync.states.locking import LockInfo
    from iasync.states.model import State


class StateBackend(Protocol):
    """Where the state lives: `SQLiteStateBackend` (the default), `PostgresStateBackend`
    (shared), `LocalStateBackend` (the first format, a JSON file)."""

    def read(self, *, bodies: bool = False) -> State:
        """The current state; a fresh lineage with serial 0 when none exists yet.

        A database backend fetches a record's body when it is first used, unless `bodies`.
        """
        ...

    def write(self, state: State) -> None:
        """Store `state` atomically with serial + 1 (set on `state` once stored)."""
        ...

    def replace(self, state: State, operation: str) -> None:
        """Store `state` whole, its lineage and serial as they are (push, import)."""
        ...

    def lock(self, operation: str, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the lock for the block; wait up to `timeout` seconds, then `StateLockedError`."""
        ...

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Release a lock left behind, only if `lock_id` is its id; returns what was released."""
        ...

    def describe(self) -> str:
        """Where the state is, in words for messages."""
        ...

    def record_apply(self, entry: Mapping[str, Any]) -> None:
        """Keep one apply's audit entry (`iasync.audit.apply_entry`) beside the state."""
        ...

    def applies(self) -> list[dict[str, Any]]:
        """Every apply's audit entry, oldest first (`iasync state history`)."""
        ...


DEFAULT_WORKSPACE = "default"


def open_backend(settings: Settings) -> StateBackend:
    """The backend the settings name (`state`, `workspace`)."""
    return backend_for(settings.state, settings.root, settings.workspace)


def backend_for(
    location: str | Path, root: Path, workspace: str = DEFAULT_WORKSPACE
) -> StateBackend:
    """A `postgresql://` URL is PostgreSQL; a path ending in .json the first format's file;
    any other path a SQLite database (relative paths from `root`).

    A SQLite database not there yet, with a first-format state beside it (state.json beside
    state.db), is made from that state on the spot; the file is kept, renamed.
    """
    from iasync.states.model import StateError
    from iasync.states.postgres import PostgresStateBackend, is_postgres_url

    text = str(location)
    if is_postgres_url(text):
        return PostgresStateBackend(text, workspace or DEFAULT_WORKSPACE)
    path = Path(text)
    path = path if path.is_absolute() else root / path
    if workspace not in ("", DEFAULT_WORKSPACE):
        raise StateError(
            f"the state {path} is a local file with one workspace; workspaces ({workspace!r}) "
            "are for a state in PostgreSQL (--state postgresql://...)"
        )
    if path.suffix == ".json":
        from iasync.states.local import LocalStateBackend

        return LocalStateBackend(path)
    from iasync.states.sqlite import SQLiteStateBackend

    backend = SQLiteStateBackend(path)
    first_format = path.with_suffix(".json")
    if not path.exists() and first_format.is_file():
        backend.import_first_format(first_format)
    return backend
