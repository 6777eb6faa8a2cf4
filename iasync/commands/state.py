"""`iasync state list` and `iasync state show ACCOUNT`: read the last-applied state."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from iasync.commands.options import lock_timeout_option, state_option
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.settings import Settings
    from iasync.states import AccountRecord, State

_json_option = click.option(
    "-json", "--json", "as_json", is_flag=True, help="Print JSON instead of text."
)


@click.group("state")
def command() -> None:
    """Inspect the last-applied state; forget accounts in it."""


@command.command("list")
@state_option
@_json_option
def list_command(state_file: Path | None, as_json: bool) -> int:
    """List the accounts in the state, one per line."""
    backend, state = _read(state_file)
    records = sorted(state.accounts.values(), key=lambda rec: (rec.source, rec.lusid_id))
    if as_json:
        click.echo(
            _dumps(
                {
                    "lineage": state.lineage,
                    "serial": state.serial,
                    "canonical_format": state.canonical_format,
                    "accounts": [_summary(rec) for rec in records],
                }
            )
        )
    elif not records:
        click.echo(f"The state {backend.describe()} holds no accounts.")
    else:
        for line in _table([_row(rec) for rec in records]):
            click.echo(line)
    return 0


@command.command("show")
@click.argument("account")
@state_option
def show_command(account: str, state_file: Path | None) -> int:
    """Print one account's record as JSON.

    ACCOUNT is its LUSID id, an identifier value, KEY=VALUE, or its source file. A
    `source_hash` of null: the file's bytes are not vouched for (the record was kept across a
    change of iasync's canonical format), so the next plan reads the file afresh.
    """
    from iasync.settings import load_settings

    settings = load_settings()  # for the root, against which a source path is read
    backend, state = _read(state_file, settings)
    rec = _one_record(state, account, settings.root, backend)
    click.echo(_dumps(rec.to_json() | {"source_hash": _source_hash(rec)}))
    return 0


@command.command("rm")
@click.argument("accounts", nargs=-1, required=True, metavar="ACCOUNT...")
@state_option
@lock_timeout_option
def rm_command(accounts: tuple[str, ...], state_file: Path | None, lock_timeout: float) -> int:
    """Forget accounts: remove their records from the state; LUSID is not changed.

    For an orphan (its file is gone) whose account was deleted in LUSID, or that iasync is no
    longer to manage. ACCOUNT is named as for `iasync state show`; each must name one record.
    """
    from iasync.settings import load_settings

    settings = load_settings()
    backend, _ = _read(state_file, settings)
    with backend.lock("state rm", timeout=lock_timeout):
        state = backend.read()
        records = [_one_record(state, account, settings.root, backend) for account in accounts]
        for rec in records:
            state.forget(rec.lusid_id)
        backend.write(state)
    for rec in {rec.lusid_id: rec for rec in records}.values():
        click.echo(f"Removed {rec.lusid_id} ({rec.source}) from the state; LUSID still holds it.")
        if (settings.root / rec.source).exists():
            click.echo(
                f"Warning: {rec.source} still exists: the next plan shows it as a create, and "
                "apply then updates the account LUSID holds with those identifiers.",
                err=True,
            )
    return 0


def _one_record(state: State, account: str, root: Path, backend: Any) -> AccountRecord:
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


def _read(state_file: Path | None, settings: Settings | None = None) -> tuple[Any, State]:
    """The backend (`--state FILE`, else the settings' own) and the state it holds."""
    from iasync.settings import load_settings
    from iasync.states import LocalStateBackend, open_backend

    if state_file:
        backend: Any = LocalStateBackend(state_file)
    else:
        backend = open_backend(settings or load_settings())
    return backend, backend.read()


def main_identifier(rec: AccountRecord) -> str:
    """The first identifier by key: enough to recognise the account on a line."""
    if not rec.identifiers:
        return "-"
    key = min(rec.identifiers)
    return f"{key}={rec.identifiers[key]}"


def _row(rec: AccountRecord) -> list[str]:
    version = "-" if rec.version is None else f"v{rec.version}"
    return [rec.lusid_id, version, rec.source, main_identifier(rec), rec.applied_at]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _summary(rec: AccountRecord) -> dict[str, Any]:
    return {
        "lusid_id": rec.lusid_id,
        "version": rec.version,
        "source": rec.source,
        "identifiers": rec.identifiers,
        "applied_at": rec.applied_at,
        "commit": rec.commit,
        "body_hash": rec.body_hash,
        "source_hash": _source_hash(rec),
    }


def _source_hash(rec: AccountRecord) -> str | None:
    """The hash of the file's bytes as applied; None (JSON null) for "" (none vouched for)."""
    return rec.source_hash or None


def _dumps(doc: Any) -> str:
    import json

    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False)
