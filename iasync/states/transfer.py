"""`state pull` and `state push`: the whole state as the first format's JSON document, out and in.

As `terraform state push`: a pushed state must be the stored one's history (same lineage) and not
older (serial); `force` overrides both. The stored serial ends above the one it replaces, so a
plan saved against the replaced state is refused as stale.
"""

from __future__ import annotations

from dataclasses import replace

from iasync.states.backend import StateBackend
from iasync.states.model import State, StateError
from iasync.states.statefile import dump_state


def pull(backend: StateBackend) -> bytes:
    """The stored state, whole, as the JSON document (bytes, ending in a newline)."""
    return dump_state(backend.read(bodies=True))


def push(backend: StateBackend, pushed: State, *, force: bool, timeout: float = 0.0) -> State:
    """Store `pushed` in place of the stored state, under the lock; what was stored."""
    with backend.lock("state push", timeout=timeout):
        current = backend.read()
        stored_before = current.serial > 0 or bool(current.accounts)
        if stored_before and not force:
            _check_may_replace(backend, current, pushed)
        serial = max(pushed.serial, current.serial + 1) if stored_before else pushed.serial
        stored = replace(pushed, serial=serial)
        backend.replace(stored, "state push")
    return stored


def _check_may_replace(backend: StateBackend, current: State, pushed: State) -> None:
    if pushed.lineage != current.lineage:
        raise StateError(
            f"the state {backend.describe()} has lineage {current.lineage}, the pushed one "
            f"{pushed.lineage}: another history. Nothing was pushed; --force replaces it anyway."
        )
    if pushed.serial < current.serial:
        raise StateError(
            f"the pushed state has serial {pushed.serial}, older than the stored one's "
            f"({current.serial}) at {backend.describe()}. Nothing was pushed; --force replaces "
            "it anyway."
        )
