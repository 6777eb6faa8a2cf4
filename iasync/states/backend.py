"""Where a state lives, as its callers see it: the `StateBackend` protocol and `open_backend`.

Storage sits behind `StateBackend`, which knows nothing of files: a shared database backend can
take the place of `LocalStateBackend` without its callers changing.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from iasync.settings import Settings
    from iasync.states.locking import LockInfo
    from iasync.states.model import State


class StateBackend(Protocol):
    """Where the state lives. Implementations: `LocalStateBackend` (a JSON file)."""

    def read(self) -> State:
        """The current state; a fresh lineage with serial 0 when none exists yet."""
        ...

    def write(self, state: State) -> None:
        """Store `state` atomically with serial + 1 (set on `state` once stored)."""
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


def open_backend(settings: Settings) -> StateBackend:
    """The backend the settings name: for now always the local file."""
    from iasync.states.local import LocalStateBackend

    return LocalStateBackend(settings.state_path)
