"""`iasync apply [PLANFILE]`: send the changed accounts to LUSID and record what it accepted.

Without PLANFILE it plans first, shows the plan and asks for confirmation (like Terraform);
with PLANFILE it applies exactly that saved plan once it is shown to be fresh, with no prompt.
Heavy modules are imported inside the functions so that the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from iasync.commands.options import (
    given,
    lock_timeout_option,
    no_color_option,
    plan_options,
    refuse_plan_options_beside,
    state_option,
    workspace_option,
)
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.operations import ApplyRun, PlanOptions
    from iasync.plans.plan import Plan
    from iasync.settings import Settings
    from iasync.views.apply import Output


@click.command("apply")
@click.argument(
    "planfile",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="[PLANFILE]",
)
@click.option(
    "-auto-approve", "--auto-approve", is_flag=True, help="Apply without asking for confirmation."
)
@lock_timeout_option
@click.option("--batch-size", type=int, help="Accounts per request (1-2000; default 500).")
@click.option("--concurrency", type=int, help="Batches in flight at once (default 4).")
@click.option(
    "--success-mode",
    type=click.Choice(["Partial", "Atomic"], case_sensitive=False),
    help="Partial: good accounts are kept when others fail; Atomic: each batch all or nothing.",
)
@state_option
@workspace_option
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the result as JSON.")
@plan_options()
@no_color_option
def command(
    planfile: Path | None,
    auto_approve: bool,
    lock_timeout: float,
    batch_size: int | None,
    concurrency: int | None,
    success_mode: str | None,
    state_file: str | None,
    workspace: str | None,
    as_json: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    refresh: bool,
    prune: bool,
    max_deletes: int,
    no_color: bool,
) -> int:
    """Send the changed accounts to LUSID and record them in the state.

    With PLANFILE (from `iasync plan -out PLANFILE`), apply exactly that plan, refusing it if the
    state or the files changed since. Without it, plan now, show the plan and ask to confirm.
    """
    from iasync.operations import PlanOptions
    from iasync.settings import load_settings
    from iasync.views.apply import Interrupted, Output, report_error_json, require_terminal

    try:
        settings = load_settings(
            batch_size=batch_size,
            concurrency=concurrency,
            success_mode=success_mode,
            state=state_file,
            workspace=workspace,
        )
        output = Output.for_terminal(as_json, no_color)
        if planfile is None and not auto_approve:
            require_terminal(as_json)
        refuse_plan_options_beside(planfile)
        options = PlanOptions(
            targets, excludes, refresh=refresh, prune=prune, max_deletes=max_deletes
        )
        try:
            return _run(settings, output, planfile, auto_approve, lock_timeout, options)
        except KeyboardInterrupt:  # before any batch was sent (once sending, `sending` says more)
            raise Interrupted("interrupted; nothing was sent to LUSID") from None
    except IasyncError as error:
        if as_json:  # one document on stdout whatever happens; the error is on stderr too
            report_error_json(error)
        raise


def _run(
    settings: Settings,
    output: Output,
    planfile: Path | None,
    auto_approve: bool,
    timeout: float,
    options: PlanOptions,
) -> int:
    from iasync.operations import open_apply
    from iasync.views import apply as view

    with open_apply(settings, lock_timeout=timeout, on_retry=output.retrying) as run:
        if planfile is None:
            plan = _plan_now(run, output, options)
        else:
            plan = run.open_saved_plan(planfile, overridden=given("success_mode", "batch_size"))
            if plan.has_changes:
                view.say_target(output, run.target)
        if planfile is not None or output.as_json:  # a plan shown says it already
            view.warn_pending(output, plan)
        if not plan.has_changes:
            view.report_no_changes(output, plan, shown=planfile is None)
            return 0
        if planfile is None and not auto_approve and not view.confirmed():
            output.say("Apply cancelled.")
            return 1
        with view.sending(output, plan, run.settings) as progress:
            result = run.apply(plan, on_batch=progress.on_batch, on_interrupt=progress.on_interrupt)
    view.report(output, plan, result)
    return 0 if result.ok else 1


def _plan_now(run: ApplyRun, output: Output, options: PlanOptions) -> Plan:
    """The plan made now, shown before apply asks; invalid files are shown instead."""
    from iasync.operations import InvalidAccountFiles
    from iasync.views.apply import show_plan
    from iasync.views.problems import report_problems

    try:
        plan = run.plan_every_file(options)
    except InvalidAccountFiles as invalid:
        report_problems(invalid.load, as_json=False, then="apply again")
        raise
    show_plan(plan, output, run.target)
    return plan
