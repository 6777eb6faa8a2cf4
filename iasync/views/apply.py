"""What `iasync apply` says: the plan before it asks, the question, progress while batches are
in flight (a bar on a terminal, a line a batch in CI), warnings above it, and the result (text,
or JSON with `format_version`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from iasync.errors import IasyncError
from iasync.views.documents import JSON_FORMAT_VERSION
from iasync.views.plan import NO_CHANGES, plural, render_plan, target_line
from iasync.views.terminal import use_colour

if TYPE_CHECKING:
    from iasync.applying import ApplyResult, BatchOutcome
    from iasync.lusid import RetryEvent
    from iasync.plans.plan import Plan
    from iasync.settings import Settings


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

    @classmethod
    def for_terminal(cls, as_json: bool, no_color: bool) -> Output:
        terminal = sys.stdout.isatty() and sys.stderr.isatty()
        interactive = terminal and not os.environ.get("CI") and not as_json
        return cls(as_json=as_json, color=use_colour(no_color), interactive=interactive)

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


def require_terminal(as_json: bool) -> None:
    """Apply without a plan file asks first: refuse when it cannot ask."""
    if as_json:
        raise IasyncError("-json needs --auto-approve or a saved plan file: no prompt can be shown")
    if not sys.stdin.isatty():
        raise IasyncError(
            "apply asks for confirmation, but there is no terminal to ask on. "
            "Review the changes with `iasync plan`, then run `iasync apply --auto-approve`, "
            "or save a plan with `iasync plan -out FILE` and run `iasync apply FILE`."
        )


def show_plan(plan: Plan, output: Output, target: str | None = None) -> None:
    """The plan, before asking; `target`: the LUSID (and where its credentials came from)."""
    if output.as_json:
        return
    text = render_plan(plan, color=output.color, target=target)
    if plan.has_changes:
        # The plan's last line says "Run `iasync apply` to ...": that is what is happening now.
        # A blank line parts the plan from what apply says next.
        text = text.rstrip("\n").rpartition("\n")[0].rstrip("\n") + "\n\n"
    click.echo(text, color=output.color, nl=False)


def say_target(output: Output, target: str) -> None:
    """Which LUSID a saved plan is about to be applied to (no plan is shown to say it)."""
    output.say(target_line(target))


def confirmed() -> bool:
    click.echo("Do you want to perform these actions? Only 'yes' will be accepted to approve.")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except click.Abort:  # Ctrl-C or Ctrl-D at the prompt: a no
        click.echo()
        return False
    return str(answer).strip() == "yes"


def warn_atomic_batches(settings: Settings, output: Output, to_send: int) -> None:
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


class Progress:
    """Apply under way: what is about to be sent, then a rich progress bar on a terminal or one
    plain line per batch otherwise (CI logs); what to say when Ctrl-C stops it."""

    def __init__(self, output: Output, plan: Plan, settings: Settings) -> None:
        self.output, self.plan, self.settings = output, plan, settings
        self.accounts = len(plan.to_send)
        self.batches = -(-self.accounts // settings.batch_size)
        # Accounts recorded so far by batch number, for the message of a Ctrl-C. By number: a
        # Ctrl-C just after a batch was recorded has it recorded (and reported) once more.
        self.recorded: dict[int, int] = {}
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Progress:
        if self.plan.to_send:
            self.output.say(
                f"Applying {plural(self.accounts, 'account')} in "
                f"{plural(self.batches, 'batch', 'batches')} "
                f"(successMode={self.settings.success_mode}, "
                f"concurrency={self.settings.concurrency})."
            )
        if self.plan.moves:
            moved = plural(len(self.plan.moves), "moved file")
            self.output.say(f"Recording {moved} in the state (not sent).")
        if self.output.interactive:
            from rich.console import Console
            from rich.progress import Progress as Bar

            # On stderr, as the warnings (retries) that it shows above itself.
            console = Console(file=sys.stderr, no_color=not self.output.color)
            self.bar = Bar(console=console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("Applying", total=self.accounts)
            self.output.console = console
        return self

    def on_batch(self, outcome: BatchOutcome) -> None:
        if outcome.number in self.recorded:
            return  # recorded again after a Ctrl-C: counted and shown already
        self.recorded[outcome.number] = len(outcome.accepted)
        if self.bar is not None:
            self.bar.advance(self.task, len(outcome.changes))
            return
        self.output.say(
            f"batch {outcome.number}/{self.batches}: {len(outcome.accepted):,} accepted, "
            f"{len(outcome.failures):,} failed"
        )

    def on_interrupt(self, in_flight: int) -> None:
        if in_flight:
            self.output.warn(
                f"interrupted: no new batch is sent. Waiting for the "
                f"{plural(in_flight, 'batch', 'batches')} LUSID is processing, to record what "
                "it accepts."
            )

    def interrupted(self) -> Interrupted:
        """The error that ends an apply stopped by Ctrl-C, saying what was recorded."""
        accepted = sum(self.recorded.values())
        return Interrupted(
            f"interrupted: no new batch was sent; {plural(accepted, 'account')} of "
            f"{self.accounts:,} {'was' if accepted == 1 else 'were'} applied and recorded in "
            "the state. Run `iasync plan` to see what is left, and `iasync apply` to send it."
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.output.console = None


@contextmanager
def sending(output: Output, plan: Plan, settings: Settings) -> Iterator[Progress]:
    """What apply says while it sends: the warning of Atomic batches that may part, then its
    `Progress`; a Ctrl-C becomes the `Interrupted` that says what was recorded."""
    warn_atomic_batches(settings, output, len(plan.to_send))
    progress = Progress(output, plan, settings)
    try:
        with progress:
            yield progress
    except KeyboardInterrupt:
        raise progress.interrupted() from None


def report_no_changes(output: Output, plan: Plan, shown: bool) -> None:
    if output.as_json:
        from iasync.applying import ApplyResult

        click.echo(json.dumps(_result_json(ApplyResult(), plan), indent=2))
        return
    if not shown:  # the plan shown already ends with the same words
        output.say(f"{NO_CHANGES} Nothing was sent.")
        _report_orphans(output, plan)


def report(output: Output, plan: Plan, result: ApplyResult) -> None:
    if output.as_json:
        click.echo(json.dumps(_result_json(result, plan), indent=2))
        return
    moved = f"{len(result.moved):,} moved, " if result.moved else ""
    gone = result.deleted + result.already_absent
    deleted = f"{len(gone):,} deleted, " if plan.to_delete else ""
    output.say(
        f"Apply {'complete' if result.ok else 'finished with failures'}: "
        f"{len(result.created):,} created, {len(result.updated):,} updated, {moved}"
        f"{deleted}{len(result.failures):,} failed."
    )
    _report_deleted(output, result)
    _report_existing(output, result)
    _report_failures(output, result)
    _report_orphans(output, plan)
    if not result.ok:
        click.echo(
            "Error: some accounts were not applied; they are not recorded, so the next "
            "`iasync plan` shows them again.",
            err=True,
        )


def _result_json(result: ApplyResult, plan: Plan) -> dict[str, Any]:
    """`iasync apply -json`: one object with `format_version`."""
    return (
        {"format_version": JSON_FORMAT_VERSION, "ok": result.ok, "error": None}
        | result.as_json()
        | {"orphaned": _orphans(plan)}
    )


def report_error_json(error: IasyncError) -> None:
    """`iasync apply -json` when the run failed as a whole (LUSID unreachable, credentials
    refused, a stale plan...): still one document on stdout, for CI to parse, with the error.
    Accounts LUSID accepted before a failure are recorded in the state: `iasync plan` shows
    what is left."""
    document = {
        "format_version": JSON_FORMAT_VERSION,
        "ok": False,
        "error": {"message": str(error), "status": getattr(error, "status", None)},
    }
    click.echo(json.dumps(document, indent=2))


def warn_pending(output: Output, plan: Plan) -> None:
    """A subset (--target/--exclude) leaves the rest pending: say so, whatever the output."""
    from iasync.views.plan import pending_text

    pending = pending_text(plan)
    if pending:
        output.warn(pending)


def _report_deleted(output: Output, result: ApplyResult) -> None:
    for path in sorted(result.deleted):
        output.say(f"  - {path}: deleted from LUSID and forgotten in the state")
    for path in sorted(result.already_absent):
        output.say(f"  - {path}: LUSID no longer had it; forgotten in the state")


def _report_existing(output: Output, result: ApplyResult) -> None:
    """Creates that LUSID matched to an account it had already: say so, it was overwritten."""
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
    return sorted(c.path for c in plan.changes if c.action == "orphaned" and not c.delete)


def _report_orphans(output: Output, plan: Plan) -> None:
    orphans = _orphans(plan)
    if orphans:
        one = len(orphans) == 1
        output.say(
            f"{len(orphans)} orphaned account{'' if one else 's'} (in the state, no longer in "
            f"the files) left as {'it is' if one else 'they are'} in LUSID "
            "(`iasync apply --prune` deletes orphans):"
        )
        for path in orphans:
            output.say(f"  - {path}")
