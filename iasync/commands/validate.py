"""`iasync validate [PATH...]`: check account files; one `path:line:col: message` a problem."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(
    "validate",
    help="Check account files (default: the configured accounts directory) against the schema "
    "and the rules LUSID enforces; report every problem as path:line:col: message.",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one problem a line; json: one object, its problems a list of {path, line, column, "
    "message}.",
)
@click.option("--json", "-json", "as_json", is_flag=True, help="The same as --format json.")
@click.option(
    "--pre-commit",
    "pre_commit",
    is_flag=True,
    help="As the pre-commit hook runs it: check exactly the account files named (others, outside "
    "the accounts directory, are skipped), comparing their identifiers with the account files git "
    "tracks, never with untracked ones; a settings file named checks every tracked account file.",
)
def command(paths: tuple[Path, ...], output_format: str, as_json: bool, pre_commit: bool) -> int:
    from iasync.accounts.loader import display_path, load_accounts
    from iasync.settings import load_settings
    from iasync.views.problems import show_validation, validate_json

    settings = load_settings()
    if pre_commit:
        from iasync.accounts.tracked import load_for_commit

        result = load_for_commit(list(paths), settings)
    else:
        if not paths:
            settings.require_accounts_dir(to="validate")
        result = load_accounts(list(paths), settings, canonical=False)
    if as_json or output_format == "json":
        click.echo(validate_json(result))
    elif pre_commit and not result.files:
        click.echo("No account files among the files named.")
    else:
        searched = [display_path(path, settings) for path in paths or [settings.accounts_path]]
        show_validation(result, searched)
    return 0 if result.ok else 1
