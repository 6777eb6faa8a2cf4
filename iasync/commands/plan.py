"""`iasync plan [PATH...]`: show what apply would change in LUSID, and optionally save it.

Exit codes follow Terraform's: 0 success, 1 error; with `-detailed-exitcode`, 0 means no changes,
1 an error and 2 that there are changes to apply. Heavy modules load inside the function.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from iasync.commands.options import no_color_option, state_option
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadResult
    from iasync.plans.plan import Plan
    from iasync.settings import Settings
    from iasync.states import State


@click.command("plan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH...]")
@state_option
@click.option(
    "-out",
    "--out",
    "out",
    type=click.Path(dir_okay=False),  # a str: `save_plan` refuses "dir/" (a Path drops the "/")
    metavar="FILE",
    help="Save the plan to FILE, for `iasync apply FILE` to apply exactly it.",
)
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--markdown", is_flag=True, help="Print the plan as Markdown, for a pull-request comment."
)
@click.option(
    "-detailed-exitcode",
    "--detailed-exitcode",
    "detailed_exitcode",
    is_flag=True,
    help="Exit 0 when there is nothing to apply, 1 on error, 2 when there are changes.",
)
@no_color_option
def command(
    paths: tuple[Path, ...],
    state_file: Path | None,
    out: str | None,
    as_json: bool,
    markdown: bool,
    detailed_exitcode: bool,
    no_color: bool,
) -> int:
    """Show what `iasync apply` would change in LUSID.

    Compares the account files (all under the accounts directory, or those under PATH) with the
    last-applied state: accounts to create, to update (with each changed attribute), moved to
    another file (recorded in the state, not sent), unchanged, and orphaned (in the state, no
    longer in the files).
    """
    from iasync.accounts.loader import display_path, load_accounts
    from iasync.plans.plan import reusable_files
    from iasync.settings import load_settings
    from iasync.states import open_backend

    # Errors exit 1, never click's usage code 2: with -detailed-exitcode, 2 means "changes".
    if as_json and markdown:
        raise IasyncError("choose one of -json and --markdown")
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise IasyncError(f"no such file or directory: {', '.join(missing)}")
    settings = load_settings(state=state_file)
    if not paths:
        settings.require_accounts_dir(to="plan")
    state = open_backend(settings).read()
    # Files as applied are not read again: the one way plan and apply both load (same result).
    load = load_accounts(list(paths), settings, reuse=reusable_files(state))
    if not load.ok:
        return report_problems(load, as_json, "run iasync plan again")
    plan = _make_plan(load, state, settings, [display_path(path, settings) for path in paths])
    if out is not None:
        from iasync.plans.planfile import save_plan

        save_plan(plan, out)
    _show(plan, as_json, markdown, no_color, None if out is None else str(out))
    if detailed_exitcode and plan.has_changes:
        return 2
    return 0


def _make_plan(load: LoadResult, state: State, settings: Settings, paths: list[str]) -> Plan:
    from iasync.plans.plan import make_plan

    return make_plan(
        load,
        state,
        success_mode=settings.success_mode,
        batch_size=settings.batch_size,
        paths=paths,
    )


def report_problems(load: LoadResult, as_json: bool, then: str) -> int:
    """Invalid files: the located problems (as `iasync validate` prints them), exit 1.

    As JSON they are the output (exit 1); otherwise they go to stderr and an `IasyncError`
    ends the command, saying what to do `then`.
    """
    if as_json:
        from iasync.render import problems_json, render_json

        click.echo(render_json(problems_json(load.problems)), nl=False)
        return 1
    for problem in load.problems:
        click.echo(str(problem), err=True)
    count = len(load.problems)
    raise IasyncError(
        f"{count} problem{'s' if count != 1 else ''} in the account files; "
        f"fix them (see `iasync validate`) and {then}"
    )


def _show(plan: Plan, as_json: bool, markdown: bool, no_color: bool, saved_to: str | None) -> None:
    from iasync import render

    if as_json:
        click.echo(render.render_json(render.plan_json(plan)), nl=False)
    elif markdown:
        click.echo(render.render_markdown(plan), nl=False)
    else:
        color = use_colour(no_color)
        click.echo(render.render_plan(plan, color=color, saved_to=saved_to), color=color, nl=False)


def use_colour(no_color: bool) -> bool:
    """Colour only on a terminal, and never when asked not to (https://no-color.org)."""
    return not no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
