"""Where a state lives, as its callers see it: the `StateBackend` protocol and `open_backend`.

Storage sits behind `StateBackend`, which knows nothing of files: a shared database backend can
take the place of `LocalStateBackend` without its callers changing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

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


def open_backend(settings: Settings) -> StateBackend:
    """The backend the settings name: for now always the local file."""
    from iasync.states.local import LocalStateBackend

    return LocalStateBackend(settings.state_path)
