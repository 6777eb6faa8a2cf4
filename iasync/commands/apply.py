"""`iasync apply [PLANFILE]`: send the changed accounts to LUSID and record what it accepted.

Without PLANFILE it plans first, shows the plan and asks for confirmation (like Terraform);
with PLANFILE it applies exactly that saved plan once it is shown to be fresh, with no prompt.
Heavy modules are imported inside the functions so that the CLI starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from iasync.commands.options import lock_timeout_option, no_color_option, state_option
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadResult
    from iasync.apply import ApplyResult, BatchOutcome
    from iasync.lusid import RetryEvent
    from iasync.plans.plan import Plan
    from iasync.settings import Settings
    from iasync.states import State, StateBackend


class Interrupted(IasyncError):
    """Ctrl-C: the message says what became of the apply; the exit code is the shell's for it."""

    exit_code = 130


@dataclass
class Output:
    """Where and how to talk: JSON for machines, colour and a progress bar on a terminal only."""

    as_json: bool
    color: bool
    interactive: bool  # a terminal, not in CI: a progress bar (on stderr) instead of lines
    # The progress bar's rich console while the bar is shown: warnings go above the bar
    # through it, or they would be written into the bar's line.
    console: Any = None

    def say(self, text: str = "") -> None:
        if not self.as_json:
            click.echo(text, color=self.color)

    def warn(self, text: str) -> None:
        if self.console is not None:
            self.console.print(f"Warning: {text}", markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(f"Warning: {text}", err=True)

    def retrying(self, event: RetryEvent) -> None:
        """A request LUSID refused for now (429, 503, a dropped connection) is about to be
        retried: say so, or a long wait looks like a hang. The event's text holds no secret."""
        self.warn(str(event))


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
    type=click.Choice(["Partial", "Atomic"]),
    help="Partial: good accounts are kept when others fail; Atomic: each batch all or nothing.",
)
@state_option
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the result as JSON.")
@no_color_option
def command(
    planfile: Path | None,
    auto_approve: bool,
    lock_timeout: float,
    batch_size: int | None,
    concurrency: int | None,
    success_mode: str | None,
    state_file: Path | None,
    as_json: bool,
    no_color: bool,
) -> int:
    """Send the changed accounts to LUSID and record them in the state.

    With PLANFILE (from `iasync plan -out PLANFILE`), apply exactly that plan, refusing it if the
    state or the files changed since. Without it, plan now, show the plan and ask to confirm.
    """
    from iasync.settings import load_settings

    settings = load_settings(
        batch_size=batch_size, concurrency=concurrency, success_mode=success_mode, state=state_file
    )
    output = _output(as_json, no_color)
    if planfile is None and not auto_approve:
        _require_terminal(as_json)
    try:
        return _run(settings, output, planfile, auto_approve, lock_timeout)
    except KeyboardInterrupt:  # before any batch was sent (once sending, `_apply` says more)
        raise Interrupted("interrupted; nothing was sent to LUSID") from None


def _output(as_json: bool, no_color: bool) -> Output:
    from iasync.commands.plan import use_colour

    terminal = sys.stdout.isatty() and sys.stderr.isatty()
    interactive = terminal and not os.environ.get("CI") and not as_json
    return Output(as_json=as_json, color=use_colour(no_color), interactive=interactive)


def _require_terminal(as_json: bool) -> None:
    if as_json:
        raise IasyncError("-json needs --auto-approve or a saved plan file: no prompt can be shown")
    if not sys.stdin.isatty():
        raise IasyncError(
            "apply asks for confirmation, but there is no terminal to ask on. "
            "Review the changes with `iasync plan`, then run `iasync apply --auto-approve`, "
            "or save a plan with `iasync plan -out FILE` and run `iasync apply FILE`."
        )


def _run(
    settings: Settings, output: Output, planfile: Path | None, auto_approve: bool, timeout: float
) -> int:
    from iasync.lusid import LusidClient, load_lusid_config
    from iasync.states import open_backend

    config = load_lusid_config()  # before the lock: a missing credential fails fast
    backend = open_backend(settings)
    with backend.lock("apply", timeout=timeout):
        state = backend.read()
        if planfile is None:
            plan = _plan_now(settings, output, state)
        else:
            plan = _saved_plan(settings, state, planfile)
            settings = _settings_of_plan(settings, plan)
        if not plan.has_changes:
            _report_no_changes(output, plan, shown=planfile is None)
            return 0
        if planfile is None and not auto_approve and not _confirmed():
            output.say("Apply cancelled.")
            return 1
        _warn_atomic_batches(settings, output, len(plan.to_send))
        with LusidClient(config, on_retry=output.retrying) as client:
            result = _apply(settings, output, plan, state, backend, client)
    _report(output, plan, result)
    return 0 if result.ok else 1


def _plan_now(settings: Settings, output: Output, state: State) -> Plan:
    from iasync.accounts.loader import load_accounts
    from iasync.commands.plan import report_problems
    from iasync.plans.plan import make_plan, reusable_files

    settings.require_accounts_dir(to="plan (`iasync plan PATH... -out FILE`, then apply FILE)")
    load = load_accounts(
        [], settings, reuse=reusable_files(state)
    )  # as `iasync plan` loads: the same plan
    if not load.ok:
        report_problems(load, as_json=False, then="apply again")
    plan = make_plan(
        load, state, success_mode=settings.success_mode, batch_size=settings.batch_size
    )
    if not output.as_json:
        _show_plan(plan, output)
    return plan


def _saved_plan(settings: Settings, state: State, planfile: Path) -> Plan:
    """The saved plan, once shown to be made against this very state and these very files."""
    from iasync.accounts.loader import load_accounts
    from iasync.plans.plan import reusable_files
    from iasync.plans.planfile import StalePlanError, check_fresh, load_plan

    plan = load_plan(planfile)
    paths = [settings.resolve(Path(path)) for path in plan.paths]
    load = load_accounts(paths, settings, reuse=reusable_files(state))
    try:
        check_fresh(plan, state, load)
    except StalePlanError as stale:
        if _nothing_left(plan, state, load):
            # The usual reason: this plan was applied already (a job run twice, say).
            raise StalePlanError(
                f"{stale}. Nothing is left to do, though: the state already matches the account "
                "files (was this plan applied already?)"
            ) from None
        raise
    return plan


def _nothing_left(plan: Plan, state: State, load: LoadResult) -> bool:
    """True when a plan made now, of the saved plan's paths, would have no changes."""
    from iasync.plans.plan import PlanError, make_plan

    if not load.ok:
        return False
    try:
        return not make_plan(load, state, paths=plan.paths).has_changes
    except PlanError:
        return False


def _settings_of_plan(settings: Settings, plan: Plan) -> Settings:
    """A saved plan is applied as reviewed: its success mode and batch size, unless the command
    line names others (the command line has already been applied to `settings` then)."""
    ctx = click.get_current_context()
    given = {
        name: ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        for name in ("success_mode", "batch_size")
    }
    return settings.with_overrides(
        success_mode=None if given["success_mode"] else plan.success_mode,
        batch_size=None if given["batch_size"] else plan.batch_size,
    )


def _show_plan(plan: Plan, output: Output) -> None:
    from iasync.render import render_plan

    text = render_plan(plan, color=output.color)
    if plan.has_changes:
        # The plan's last line says "Run `iasync apply` to ...": that is what is happening now.
        # A blank line parts the plan from what apply says next.
        text = text.rstrip("\n").rpartition("\n")[0].rstrip("\n") + "\n\n"
    click.echo(text, color=output.color, nl=False)


def _confirmed() -> bool:
    click.echo("Do you want to perform these actions? Only 'yes' will be accepted to approve.")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except click.Abort:  # Ctrl-C or Ctrl-D at the prompt: a no
        click.echo()
        return False
    return str(answer).strip() == "yes"


def _warn_atomic_batches(settings: Settings, output: Output, to_send: int) -> None:
    from iasync.settings import MAX_BATCH_SIZE

    batches = -(-to_send // settings.batch_size)
    if settings.success_mode == "Atomic" and batches > 1:
        advice = (
            f"Use --batch-size {to_send} to keep the change set in one batch."
            if to_send <= MAX_BATCH_SIZE
            else f"More than {MAX_BATCH_SIZE:,} accounts cannot be sent in one batch."
        )
        output.warn(
            f"successMode=Atomic with {to_send:,} accounts in {batches} batches: each batch is "
            f"atomic on its own, so some batches may be applied while another fails. {advice}"
        )


def _apply(
    settings: Settings,
    output: Output,
    plan: Plan,
    state: State,
    backend: StateBackend,
    client: Any,
) -> ApplyResult:
    from iasync.apply import apply_changes
    from iasync.gitinfo import current_commit
    from iasync.render import plural

    batches = -(-len(plan.to_send) // settings.batch_size)
    if plan.to_send:
        output.say(
            f"Applying {plural(len(plan.to_send), 'account')} in "
            f"{plural(batches, 'batch', 'batches')} "
            f"(successMode={settings.success_mode}, concurrency={settings.concurrency})."
        )
    if plan.moves:
        output.say(f"Recording {plural(len(plan.moves), 'moved file')} in the state (not sent).")
    accepted = [0]  # accounts recorded so far, for the message of a Ctrl-C

    def on_interrupt(in_flight: int) -> None:
        if in_flight:
            output.warn(
                f"interrupted: no new batch is sent. Waiting for the "
                f"{plural(in_flight, 'batch', 'batches')} LUSID is processing, to record what "
                "it accepts."
            )

    try:
        with _Progress(output, len(plan.to_send), batches) as on_batch:

            def counted(outcome: BatchOutcome) -> None:
                accepted[0] += len(outcome.accepted)
                on_batch(outcome)

            return apply_changes(
                plan.changes,
                client=client,
                backend=backend,
                state=state,
                batch_size=settings.batch_size,
                concurrency=settings.concurrency,
                success_mode=settings.success_mode,
                commit=current_commit(settings.root),
                on_batch=counted,
                on_interrupt=on_interrupt,
            )
    except KeyboardInterrupt:
        raise Interrupted(_interrupted(accepted[0], len(plan.to_send))) from None


def _interrupted(accepted: int, to_send: int) -> str:
    from iasync.render import plural

    return (
        f"interrupted: no new batch was sent; {plural(accepted, 'account')} of {to_send:,} "
        f"{'was' if accepted == 1 else 'were'} applied and recorded in the state. "
        "Run `iasync plan` to see what is left, and `iasync apply` to send it."
    )


class _Progress:
    """A rich progress bar on a terminal; one plain line per batch otherwise (CI logs)."""

    def __init__(self, output: Output, accounts: int, batches: int) -> None:
        self.output, self.accounts, self.batches = output, accounts, batches
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Callable[[BatchOutcome], None]:
        if self.output.interactive:
            from rich.console import Console
            from rich.progress import Progress

            # On stderr, as the warnings (retries) that it shows above itself.
            console = Console(file=sys.stderr, no_color=not self.output.color)
            self.bar = Progress(console=console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("Applying", total=self.accounts)
            self.output.console = console
        return self.on_batch

    def on_batch(self, outcome: BatchOutcome) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, len(outcome.changes))
            return
        self.output.say(
            f"batch {outcome.number}/{self.batches}: {len(outcome.accepted):,} accepted, "
            f"{len(outcome.failures):,} failed"
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.output.console = None


def _report_no_changes(output: Output, plan: Plan, shown: bool) -> None:
    if output.as_json:
        from iasync.apply import ApplyResult

        click.echo(json.dumps(ApplyResult().as_json() | {"orphaned": _orphans(plan)}, indent=2))
        return
    if not shown:  # the plan shown already ends with the same words
        output.say("No changes. LUSID matches the account files; nothing was sent.")
        _report_orphans(output, plan)


def _report(output: Output, plan: Plan, result: ApplyResult) -> None:
    if output.as_json:
        document = result.as_json() | {"orphaned": _orphans(plan)}
        click.echo(json.dumps(document, indent=2))
        return
    moved = f"{len(result.moved):,} moved, " if result.moved else ""
    output.say(
        f"Apply {'complete' if result.ok else 'finished with failures'}: "
        f"{len(result.created):,} created, {len(result.updated):,} updated, {moved}"
        f"{len(result.failures):,} failed."
    )
    _report_existing(output, result)
    _report_failures(output, result)
    _report_orphans(output, plan)
    if not result.ok:
        click.echo(
            "Error: some accounts were not applied; they are not recorded, so the next "
            "`iasync plan` shows them again.",
            err=True,
        )


def _report_existing(output: Output, result: ApplyResult) -> None:
    """Creates that LUSID matched to an account it had already: say so, it was overwritten."""
    from iasync.render import plural

    if not result.existing:
        return
    one = len(result.existing) == 1
    output.say(
        f"{plural(len(result.existing), 'account')} to create {'was' if one else 'were'} "
        "already in LUSID (made outside this state): LUSID matched "
        f"{'it' if one else 'them'} by identifier and now holds what the "
        f"{'file says' if one else 'files say'}:"
    )
    for path in sorted(result.existing):
        output.say(f"  = {path}")


def _report_failures(output: Output, result: ApplyResult) -> None:
    """Each failed file with LUSID's error; a reason shared by many files is said once."""
    groups: dict[tuple[str, str], list[str]] = {}
    for failure in result.failures:
        groups.setdefault((failure.error_type, failure.detail), []).append(failure.path)
    for (error_type, detail), paths in sorted(groups.items(), key=lambda g: min(g[1])):
        if len(paths) == 1:
            output.say(f"  ! {paths[0]}: {error_type}: {detail}")
            continue
        output.say(f"  ! {len(paths)} accounts: {error_type}: {detail}")
        for path in sorted(paths):
            output.say(f"      {path}")


def _orphans(plan: Plan) -> list[str]:
    return sorted(change.path for change in plan.changes if change.action == "orphaned")


def _report_orphans(output: Output, plan: Plan) -> None:
    orphans = _orphans(plan)
    if orphans:
        one = len(orphans) == 1
        output.say(
            f"{len(orphans)} orphaned account{'' if one else 's'} (in the state, no longer in "
            f"the files) left as {'it is' if one else 'they are'} in LUSID; iasync never deletes:"
        )
        for path in orphans:
            output.say(f"  - {path}")
