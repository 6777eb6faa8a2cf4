"""`iasync fmt [--check] [PATH...]`: rewrite account files in the canonical style.

Prints the files it rewrote (or, with `--check`, the files it would rewrite), one per line.
Exit codes: 0 fine (and, with --check, nothing to change); 1 a file is not valid (its problems are
printed as `path:line:col: message`, and it is not touched) or, with --check, a file would change.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH...]")
@click.option(
    "-check",
    "--check",
    is_flag=True,
    help="Change nothing; name the files that would change and exit 1 if there are any.",
)
def command(paths: tuple[Path, ...], check: bool) -> int:
    """Rewrite account files (default: the accounts directory) in the canonical style.

    Key order, the short form, two-space indentation and quoting are made uniform; comments are
    kept and the meaning of a file never changes. Files that are not valid are left untouched.
    """
    from iasync.accounts.fmt import format_files
    from iasync.settings import load_settings

    settings = load_settings()
    if not paths:
        settings.require_accounts_dir(to="format")
    results = format_files(list(paths), settings, check=check)
    problems = sorted(problem for result in results for problem in result.problems)
    for problem in problems:
        click.echo(str(problem), err=True)
    changed = [result.shown for result in results if result.changed and not result.problems]
    for shown in changed:
        click.echo(shown)
    if problems:
        failed = len({problem.path for problem in problems})
        # Not "not valid": a file fmt refused to rewrite (see its line above) may be valid.
        click.echo(f"{_files(failed)} not formatted: see the problems above.", err=True)
        return 1
    if check and changed:
        them = "it" if len(changed) == 1 else "them"
        click.echo(
            f"{_files(len(changed))} would be reformatted; run `iasync fmt` to rewrite {them}.",
            err=True,
        )
        return 1
    return 0


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"
