"""`iasync init [DIR]`: scaffold a repository of account files, with CI pipelines.

Writes the settings, an example account, `.gitignore`, the pre-commit hooks, the JSON Schema for
editors and the GitHub Actions and GitLab CI pipelines (with the scripts they share, in `ci/`).
Refuses, writing nothing, when any of those files exists: it never overwrites.
"""

from __future__ import annotations

from pathlib import Path

import click

from iasync.scaffold import CI_CHOICES


@click.command("init")
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="[DIR]",
)
@click.option(
    "--ci",
    type=click.Choice(CI_CHOICES),
    default="both",
    show_default=True,
    help="Which CI pipelines to write: GitHub Actions, GitLab CI or both.",
)
@click.option(
    "--api",
    type=click.Choice(["scoped", "unscoped"]),
    default="scoped",
    show_default=True,
    help="The LUSID API: scoped (today's LUSID) or unscoped (the API reference page's).",
)
@click.option(
    "--scope",
    default="default",
    show_default=True,
    help="Under --api scoped: the accounts' LUSID scope (the `scope` setting).",
)
def command(directory: Path, ci: str, api: str, scope: str) -> int:
    """Scaffold a repository of account files in DIR (default: here), with CI pipelines.

    Never overwrites: if any file it would write exists, it lists them and writes nothing.
    """
    from iasync.scaffold import write_scaffold

    written = write_scaffold(directory, ci=ci, api=api, scope=scope)
    where = "" if directory == Path() else f" in {directory}"
    click.echo(f"Wrote {len(written)} files{where}:")
    for target in written:
        click.echo(f"  {target}")
    click.echo()
    click.echo("Next:")
    for step in _next_steps(directory):
        click.echo(f"  {step}")
    return 0


def _next_steps(directory: Path) -> list[str]:
    steps = [] if directory == Path() else [f"cd {directory}"]
    return [
        *steps,
        "edit accounts/example.yaml into one of your accounts (or delete it), "
        "then `iasync validate` and `iasync plan`",
        "`pre-commit install` to check the account files at every commit",
        "set the CI secrets and choose where the state lives: see ci/README.md",
    ]
