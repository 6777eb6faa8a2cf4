"""`iasync import`: write account files, one per account, in the canonical style; never
overwrite a file. Two modes: by default, from LUSID itself (each account no file manages, then
recorded as applied: the next plan shows no changes); with `--from-request FILE`, from a
`$batchUpsert` request body (nothing is read from LUSID or recorded). Heavy modules load inside
the functions.
"""

from __future__ import annotations

from pathlib import Path

import click

from iasync.commands.options import lock_timeout_option, state_option, workspace_option
from iasync.errors import IasyncError


@click.command("import")
@click.option(
    "--from-request",
    "from_request",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Split a $batchUpsert request body (a mapping of correlation ids to accounts, JSON or "
    "YAML) into account files instead of reading LUSID.",
)
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write the account files (default: the accounts directory).",
)
@click.option(
    "--property-key",
    "property_keys",
    multiple=True,
    metavar="KEY",
    help="Also read this property (InvestmentAccount/<scope>/<code>); repeatable. LUSID returns "
    "only the properties asked for: those the files and the state name are always asked.",
)
@state_option
@workspace_option
@lock_timeout_option
def command(
    from_request: Path | None,
    into: Path | None,
    property_keys: tuple[str, ...],
    state_file: str | None,
    workspace: str | None,
    lock_timeout: float,
) -> int:
    """Write account files, one per account, named from its first identifier (IA_12345678.yaml).

    By default, for each account in LUSID that no file manages, recorded as applied. With
    --from-request FILE, from a $batchUpsert request body instead (LUSID is not read).
    """
    if from_request is not None:
        if property_keys or state_file or workspace:
            raise IasyncError(
                "--from-request reads only FILE: --property-key, --state and --workspace are "
                "for importing from LUSID (without --from-request)"
            )
        return _from_request(from_request, into)
    return _from_lusid(into, property_keys, state_file, workspace, lock_timeout)


def _from_lusid(
    into: Path | None,
    property_keys: tuple[str, ...],
    state_file: str | None,
    workspace: str | None,
    lock_timeout: float,
) -> int:
    from iasync.accounts.finding import display_path
    from iasync.importing.from_lusid import import_accounts
    from iasync.lusid import LusidClient, LusidConfigError, as_api, load_lusid_config
    from iasync.operations import InvalidAccountFiles
    from iasync.settings import load_settings
    from iasync.states import open_backend
    from iasync.views.problems import report_problems

    settings = load_settings(state=state_file, workspace=workspace)
    target = into if into is not None else settings.accounts_path
    try:
        config = load_lusid_config(root=settings.root)
    except LusidConfigError as error:
        raise IasyncError(
            f"{error}. Importing from LUSID needs its URL and credentials; to split a "
            "$batchUpsert request body into account files instead, use "
            "`iasync import --from-request FILE [--into DIR]`"
        ) from None
    backend = open_backend(settings)
    client = LusidClient(config, api=as_api(settings.api))
    with client, backend.lock("import", timeout=lock_timeout):
        try:
            result = import_accounts(
                settings, backend.read(), backend, client, target.absolute(), property_keys
            )
        except InvalidAccountFiles as invalid:  # which files it manages is not known then
            return report_problems(invalid.load, False, "fix them, then import again")
    for path in result.written:
        click.echo(f"  + {path}")
    click.echo(
        f"Imported {len(result.written):,} account{'s' if len(result.written) != 1 else ''} "
        f"of the {result.listed:,} in LUSID ({result.managed:,} managed already)"
        + (f" into {display_path(target, settings)}." if result.written else ".")
    )
    if result.written and not _within(target.absolute(), settings.accounts_path.absolute()):
        click.echo(
            f"Warning: {display_path(target, settings)} is outside the accounts directory: "
            "plan and apply of the whole project do not read it; move the files there.",
            err=True,
        )
    return 0


def _from_request(from_request: Path, into: Path | None) -> int:
    from iasync.accounts.loader import display_path, load_accounts
    from iasync.importing.from_request import split_request
    from iasync.settings import load_settings

    settings = load_settings()
    target = into if into is not None else settings.accounts_path
    written = split_request(from_request, target, str(from_request))
    for file in written:
        click.echo(f"{display_path(file.path, settings)}  ({file.correlation_id})")
    click.echo(
        f"Wrote {len(written)} account file{'s' if len(written) != 1 else ''} to "
        f"{display_path(target, settings)}; run `iasync validate` and `iasync plan` next."
    )
    checked = load_accounts([file.path for file in written], settings, canonical=False)
    for problem in checked.problems:
        click.echo(str(problem), err=True)
    if not checked.ok:
        count = len(checked.problems)
        raise IasyncError(
            f"{count} problem{'s' if count != 1 else ''} in the files written (kept, to fix)"
        )
    return 0


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents
