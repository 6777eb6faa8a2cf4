"""`iasync plan [PATH...]`: show what apply would change in LUSID, and optionally save it.

Exit codes follow Terraform's: 0 success, 1 error; with `-detailed-exitcode`, 0 means no changes,
1 an error and 2 that there are changes to apply. Heavy modules load inside the function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from iasync.commands.options import (
    no_color_option,
    plan_options,
    state_option,
    workspace_option,
)
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.plans.plan import Plan


@click.command("plan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH...]")
@state_option
@workspace_option
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
@plan_options(offline=True)
@no_color_option
def command(
    paths: tuple[Path, ...],
    state_file: str | None,
    workspace: str | None,
    out: str | None,
    as_json: bool,
    markdown: bool,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    offline: bool,
    refresh: bool,
    prune: bool,
    max_deletes: int,
    no_color: bool,
) -> int:
    """Show what `iasync apply` would change in LUSID.

    Compares the account files (all under the accounts directory, or those under PATH) with the
    last-applied state: accounts to create, to update (with each changed attribute), moved to
    another file (recorded in the state, not sent), unchanged, and orphaned (in the state, no
    longer in the files; deleted with --prune).

    Accounts to create are looked up in LUSID (unless --offline): one that exists there
    already is shown with what apply would overwrite.
    """
    from iasync.lusid import lusid_target
    from iasync.operations import InvalidAccountFiles, PlanOptions, lusid_client, plan_now
    from iasync.settings import load_settings
    from iasync.states import open_backend
    from iasync.views.problems import report_problems

    # Errors exit 1, never click's usage code 2: with -detailed-exitcode, 2 means "changes".
    if as_json and markdown:
        raise IasyncError("choose one of -json and --markdown")
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise IasyncError(f"no such file or directory: {', '.join(missing)}")
    settings = load_settings(state=state_file, workspace=workspace)
    if not paths:
        settings.require_accounts_dir(to="plan")
    options = PlanOptions(targets, excludes, offline, refresh, prune, max_deletes)
    state = open_backend(settings).read()
    client, unread = (None, "--offline") if offline else lusid_client(settings)
    try:
        plan = plan_now(settings, state, paths, options, client=client, unread=unread)
    except InvalidAccountFiles as invalid:
        return report_problems(invalid.load, as_json, "run iasync plan again")
    finally:
        if client is not None:
            client.close()
    if out is not None:
        from iasync.plans.planfile import save_plan

        save_plan(plan, out)
    target = lusid_target(root=settings.root)
    _show(plan, as_json, markdown, no_color, None if out is None else str(out), target)
    if detailed_exitcode and plan.has_changes:
        return 2
    return 0


def _show(
    plan: Plan, as_json: bool, markdown: bool, no_color: bool, saved_to: str | None, target: str
) -> None:
    if as_json:
        from iasync.views.plan_json import plan_json, render_json

        click.echo(render_json(plan_json(plan, target)), nl=False)
    elif markdown:
        from iasync.views.markdown import render_markdown

        click.echo(render_markdown(plan, target=target), nl=False)
    else:
        from iasync.views.plan import render_plan
        from iasync.views.terminal import use_colour

        color = use_colour(no_color)
        text = render_plan(plan, color=color, saved_to=saved_to, target=target)
        click.echo(text, color=color, nl=False)
