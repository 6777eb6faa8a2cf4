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
    lock_timeout_option,
    no_color_option,
    plan_options,
    state_option,
    workspace_option,
)
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.applying import ApplyResult
    from iasync.lusid import LusidClient
    from iasync.operations import PlanOptions
    from iasync.plans.plan import Plan
    from iasync.settings import Settings
    from iasync.states import State, StateBackend
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
        options = _plan_options(planfile, targets, excludes, refresh, prune, max_deletes)
        try:
            return _run(settings, output, planfile, auto_approve, lock_timeout, options)
        except KeyboardInterrupt:  # before any batch was sent (once sending, `_send` says more)
            raise Interrupted("interrupted; nothing was sent to LUSID") from None
    except IasyncError as error:
        if as_json:  # one document on stdout whatever happens; the error is on stderr too
            report_error_json(error)
        raise


def _plan_options(
    planfile: Path | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    refresh: bool,
    prune: bool,
    max_deletes: int,
) -> PlanOptions:
    """The options of the plan apply makes; refused with a saved plan, which has its own."""
    from iasync.operations import PlanOptions

    given = _given("targets", "excludes", "refresh", "prune", "max_deletes")
    if planfile is not None and given:
        shown = ", ".join("--" + name.rstrip("s").replace("_", "-") for name in sorted(given))
        raise IasyncError(
            f"{shown}: a saved plan is applied as it was made (its subset, refresh and prune "
            "are in it); give them to `iasync plan -out FILE` instead"
        )
    return PlanOptions(targets, excludes, refresh=refresh, prune=prune, max_deletes=max_deletes)


def _run(
    settings: Settings,
    output: Output,
    planfile: Path | None,
    auto_approve: bool,
    timeout: float,
    options: PlanOptions,
) -> int:
    from iasync.lusid import LusidClient, as_api, load_lusid_config
    from iasync.operations import check_unseen_creates, load_saved_plan, settings_of_plan
    from iasync.states import open_backend
    from iasync.views import apply as view

    # Before the lock: a missing credential fails fast. secrets.json is looked for at the
    # project root, where the settings are, whichever directory apply runs from.
    config = load_lusid_config(root=settings.root)
    backend = open_backend(settings)
    client = LusidClient(config, on_retry=output.retrying, api=as_api(settings.api))
    with client, backend.lock("apply", timeout=timeout):
        state = backend.read()
        if planfile is None:
            plan = _plan_now(settings, output, state, options, client, config.describe_target())
        else:
            plan = load_saved_plan(settings, state, planfile)
            settings = settings_of_plan(
                settings, plan, overridden=_given("success_mode", "batch_size")
            )
            check_unseen_creates(plan, state, client)
            if plan.has_changes:
                view.say_target(output, config.describe_target())
        if planfile is not None or output.as_json:  # a plan shown says it already
            view.warn_pending(output, plan)
        if not plan.has_changes:
            view.report_no_changes(output, plan, shown=planfile is None)
            return 0
        if planfile is None and not auto_approve and not view.confirmed():
            output.say("Apply cancelled.")
            return 1
        view.warn_atomic_batches(settings, output, len(plan.to_send))
        result = _send(settings, output, plan, state, backend, client)
    view.report(output, plan, result)
    return 0 if result.ok else 1


def _plan_now(
    settings: Settings,
    output: Output,
    state: State,
    options: PlanOptions,
    client: LusidClient,
    target: str,
) -> Plan:
    from iasync.operations import InvalidAccountFiles, plan_now
    from iasync.views.apply import show_plan
    from iasync.views.problems import report_problems

    settings.require_accounts_dir(to="plan (`iasync plan PATH... -out FILE`, then apply FILE)")
    try:
        plan = plan_now(settings, state, options=options, client=client)
    except InvalidAccountFiles as invalid:
        report_problems(invalid.load, as_json=False, then="apply again")
        raise
    show_plan(plan, output, target)
    return plan


def _send(
    settings: Settings,
    output: Output,
    plan: Plan,
    state: State,
    backend: StateBackend,
    client: LusidClient,
) -> ApplyResult:
    from iasync.operations import apply_plan
    from iasync.views.apply import Progress

    progress = Progress(output, plan, settings)
    try:
        with progress:
            return apply_plan(
                settings,
                plan,
                state,
                backend,
                client,
                on_batch=progress.on_batch,
                on_interrupt=progress.on_interrupt,
            )
    except KeyboardInterrupt:
        raise progress.interrupted() from None


def _given(*names: str) -> set[str]:
    """Which of the options `names` the command line itself sets."""
    ctx = click.get_current_context()
    source = click.core.ParameterSource.COMMANDLINE
    return {name for name in names if ctx.get_parameter_source(name) == source}
