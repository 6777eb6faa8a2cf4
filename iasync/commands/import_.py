"""`iasync import --from-request FILE [--into DIR]`: write account files from a `$batchUpsert`
request body, one file per account. (Importing from LUSID itself is to come, as another mode of this
command.) Heavy modules load inside the function."""

from __future__ import annotations

from pathlib import Path

import click

from iasync.errors import IasyncError


@click.command("import")
@click.option(
    "--from-request",
    "from_request",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A $batchUpsert request body (a mapping of correlation ids to accounts), JSON or YAML.",
)
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write the account files (default: the accounts directory).",
)
def command(from_request: Path | None, into: Path | None) -> int:
    """Write account files, one per account, in the canonical style; never overwrite a file.

    With --from-request FILE, from a $batchUpsert request body: each account goes to its own
    file, named from its first identifier (IA_12345678.yaml).
    """
    if from_request is None:
        raise IasyncError(
            "importing from LUSID is not available yet; to split a $batchUpsert request body "
            "into account files, use `iasync import --from-request FILE [--into DIR]`"
        )
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
