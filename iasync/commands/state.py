"""`iasync state list/show/rm/pull/push`: read, edit and move the last-applied state."""

from __future__ import annotations

from pathlib import Path

import click

from iasync.commands.options import lock_timeout_option, state_option, workspace_option

_json_option = click.option(
    "-json", "--json", "as_json", is_flag=True, help="Print JSON instead of text."
)


@click.group("state")
def command() -> None:
    """Inspect the last-applied state; forget accounts in it."""


@command.command("list")
@state_option
@workspace_option
@_json_option
def list_command(state_file: str | None, workspace: str | None, as_json: bool) -> int:
    """List the accounts in the state, one per line."""
    from iasync.operations import state_backend
    from iasync.views.state import state_list_json, state_list_lines

    backend = state_backend(state_file, workspace=workspace)
    state = backend.read()
    records = sorted(state.accounts.values(), key=lambda rec: (rec.source, rec.lusid_id))
    if as_json:
        click.echo(state_list_json(state, records))
    elif not records:
        click.echo(f"The state {backend.describe()} holds no accounts.")
    else:
        for line in state_list_lines(records):
            click.echo(line)
    return 0


@command.command("history")
@state_option
@_json_option
def history_command(state_file: Path | None, as_json: bool) -> int:
    """List every apply: when, the git commit, the CI run and who ran it, the plan's hash and
    what came of it (oldest first)."""
    from iasync.operations import state_backend
    from iasync.views.state import history_json, history_lines

    backend = state_backend(state_file)
    entries = backend.applies()
    if as_json:
        click.echo(history_json(backend.describe(), entries))
    elif not entries:
        click.echo(f"No apply is recorded for the state {backend.describe()}.")
    else:
        for line in history_lines(entries):
            click.echo(line)
    return 0


@command.command("show")
@click.argument("account")
@state_option
@workspace_option
def show_command(account: str, state_file: str | None, workspace: str | None) -> int:
    """Print one account's record as JSON.

    ACCOUNT is its LUSID id, an identifier value, KEY=VALUE, or its source file. A
    `source_hash` of null: the file's bytes are not vouched for (the record was kept across a
    change of iasync's canonical format), so the next plan reads the file afresh.
    """
    from iasync.operations import state_backend
    from iasync.settings import load_settings
    from iasync.states.lookup import one_record
    from iasync.views.state import record_json

    settings = load_settings(workspace=workspace)  # the root: source paths are read from it
    backend = state_backend(state_file, settings, workspace)
    rec = one_record(backend.read(), account, settings.root, backend)
    click.echo(record_json(rec))
    return 0


@command.command("rm")
@click.argument("accounts", nargs=-1, required=True, metavar="ACCOUNT...")
@state_option
@workspace_option
@lock_timeout_option
def rm_command(
    accounts: tuple[str, ...], state_file: str | None, workspace: str | None, lock_timeout: float
) -> int:
    """Forget accounts: remove their records from the state; LUSID is not changed.

    For an orphan (its file is gone) whose account was deleted in LUSID, or that iasync is no
    longer to manage. ACCOUNT is named as for `iasync state show`; each must name one record.
    """
    from iasync.operations import state_backend
    from iasync.settings import load_settings
    from iasync.states.lookup import one_record

    settings = load_settings(workspace=workspace)
    backend = state_backend(state_file, settings, workspace)
    with backend.lock("state rm", timeout=lock_timeout):
        state = backend.read()
        records = [one_record(state, account, settings.root, backend) for account in accounts]
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


@command.command("pull")
@state_option
@workspace_option
def pull_command(state_file: str | None, workspace: str | None) -> int:
    """Print the whole state as one JSON document (the format of a .json state file)."""
    from iasync.operations import state_backend
    from iasync.states.transfer import pull

    click.echo(pull(state_backend(state_file, workspace=workspace)), nl=False)
    return 0


@command.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@state_option
@workspace_option
@lock_timeout_option
@click.option(
    "-force", "--force", is_flag=True, help="Push even another lineage or an older serial."
)
def push_command(
    file: Path, state_file: str | None, workspace: str | None, lock_timeout: float, force: bool
) -> int:
    """Replace the state with the JSON document FILE (from `iasync state pull`, or a .json
    state file). Refused when FILE holds another lineage or an older serial, unless --force."""
    from iasync.errors import IasyncError
    from iasync.operations import state_backend
    from iasync.states.statefile import parse_state
    from iasync.states.transfer import push

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise IasyncError(f"cannot read {file}: {exc.strerror}") from None
    backend = state_backend(state_file, workspace=workspace)
    stored = push(backend, parse_state(data, str(file)), force=force, timeout=lock_timeout)
    click.echo(
        f"Pushed {file} to the state {backend.describe()}: {len(stored.accounts)} accounts, "
        f"lineage {stored.lineage}, serial {stored.serial}."
    )
    return 0
