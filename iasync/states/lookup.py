"""Which records of a state a name given on the command line means: a LUSID id, KEY=VALUE, an
identifier value or a source file."""

from __future__ import annotations

from pathlib import Path

from iasync.errors import IasyncError
from iasync.states.backend import StateBackend
from iasync.states.model import AccountRecord, State


def one_record(state: State, account: str, root: Path, backend: StateBackend) -> AccountRecord:
    """The one record `account` names; an `IasyncError` saying why otherwise."""
    matches = find_records(state, account, root)
    if not matches:
        raise IasyncError(
            f"no account in the state {backend.describe()} matches {account!r}; "
            "give a LUSID id, an identifier value, KEY=VALUE or a source file "
            "(`iasync state list` shows them)"
        )
    if len(matches) > 1:
        listed = ", ".join(f"{rec.lusid_id} ({rec.source})" for rec in matches)
        raise IasyncError(
            f"{account!r} matches {len(matches)} accounts: {listed}; give its LUSID id to pick one"
        )
    return matches[0]


def find_records(state: State, account: str, root: Path) -> list[AccountRecord]:
    """Records that `account` names, by LUSID id, KEY=VALUE, identifier value or source path."""
    if account in state.accounts:
        return [state.accounts[account]]
    key, sep, value = account.partition("=")
    if sep and "/" in key:
        return [rec for rec in state.accounts.values() if rec.identifiers.get(key) == value]
    by_value = [rec for rec in state.accounts.values() if account in rec.identifiers.values()]
    if by_value:
        return by_value
    source = _as_source(account, root)
    return [rec for rec in state.accounts.values() if rec.source in (account, source)]


def _as_source(account: str, root: Path) -> str:
    """A path given on the command line, as the state spells sources (root-relative, POSIX)."""
    try:
        return Path(account).resolve().relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return Path(account).as_posix()
