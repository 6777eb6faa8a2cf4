"""`iasync import`: write account files for the accounts LUSID holds that no file manages, and
record them as applied (the next plan shows no changes). Heavy modules load inside the function.

Reading LUSID is this command's default mode; a mode that reads request bodies from a file
(`--from-request FILE`, issue 8) is to sit beside it in this module.
"""

from __future__ import annotations

from pathlib import Path

import click

from iasync.commands.options import lock_timeout_option, state_option


@click.command("import")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write the files (default: the accounts directory).",
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
@lock_timeout_option
def command(
    into: Path | None,
    property_keys: tuple[str, ...],
    state_file: Path | None,
    lock_timeout: float,
) -> int:
    """Write a file for each account in LUSID that no file manages, and record it as applied.

    One file per account, named from its first identifier, in the short form `iasync fmt`
    writes; an existing file is never overwritten (nothing is written then).
    """
    from iasync.accounts.finding import display_path
    from iasync.importing import import_accounts
    from iasync.lusid import LusidClient, load_lusid_config
    from iasync.operations import InvalidAccountFiles
    from iasync.settings import load_settings
    from iasync.states import open_backend
    from iasync.views.problems import report_problems

    settings = load_settings(state=state_file)
    target = into if into is not None else settings.accounts_path
    config = load_lusid_config()
    backend = open_backend(settings)
    with LusidClient(config) as client, backend.lock("import", timeout=lock_timeout):
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


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents
