"""What each command does, without click and without printing: plan now, load a saved plan,
apply a plan. Commands wire options to these and show what they return through `views`.

Making a plan is written once here: `iasync plan` and `iasync apply` both load the files the
same way (files as applied are not read again) and so always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadResult
    from iasync.applying import ApplyResult, BatchOutcome
    from iasync.lusid import LusidClient
    from iasync.plans.plan import Plan
    from iasync.settings import Settings
    from iasync.states import State, StateBackend


class InvalidAccountFiles(IasyncError):
    """The account files have problems: no plan can be made of them. `load` holds them."""

    def __init__(self, load: LoadResult) -> None:
        count = len(load.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the account files")
        self.load = load


def state_backend(
    state_file: str | Path | None,
    settings: Settings | None = None,
    workspace: str | None = None,
) -> StateBackend:
    """The backend of `--state PATH|URL` when given (a path from the working directory), else
    the one the settings name; in `--workspace` when given."""
    from iasync.settings import load_settings
    from iasync.states import backend_for, open_backend

    if state_file:
        return backend_for(state_file, Path.cwd(), workspace or "default")
    return open_backend(settings or load_settings(workspace=workspace))


def load_for_plan(settings: Settings, state: State, paths: Sequence[Path] = ()) -> LoadResult:
    """The account files under `paths` (all of them when none), reusing files as applied."""
    from iasync.accounts.loader import load_accounts
    from iasync.plans.plan import reusable_files

    reuse = reusable_files(state, api=settings.api, scope=settings.scope)
    return load_accounts(list(paths), settings, reuse=reuse)


def plan_now(settings: Settings, state: State, paths: Sequence[Path] = ()) -> Plan:
    """The plan of the files under `paths` against `state`; `InvalidAccountFiles` if any is bad."""
    from iasync.accounts.loader import display_path
    from iasync.plans.plan import make_plan

    load = load_for_plan(settings, state, paths)
    if not load.ok:
        raise InvalidAccountFiles(load)
    _refuse_files_outside(settings, [account.path for account in load.accounts])
    return make_plan(
        load,
        state,
        success_mode=settings.success_mode,
        batch_size=settings.batch_size,
        paths=[display_path(path, settings) for path in paths],
    )


def _refuse_files_outside(settings: Settings, shown: Sequence[str]) -> None:
    """Plans and the state name account files by their path in the repository: a file outside
    it (named on the command line) could be applied from, and recorded, anywhere."""
    from iasync.accounts.finding import in_repository

    outside = [path for path in shown if not in_repository(path)]
    if outside:
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        raise IasyncError(
            f"{outside[0]}{more} is outside the repository ({settings.root}); plan and apply "
            "account files kept in the repository (iasync validate checks any file)"
        )


def load_saved_plan(settings: Settings, state: State, planfile: Path) -> Plan:
    """The saved plan, once shown to be made against this very state and these very files."""
    from iasync.plans.planfile import StalePlanError, check_fresh, load_plan

    plan = load_plan(planfile)
    load = load_for_plan(settings, state, [settings.resolve(Path(path)) for path in plan.paths])
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


def settings_of_plan(settings: Settings, plan: Plan, overridden: Collection[str]) -> Settings:
    """A saved plan is applied as reviewed: its success mode and batch size, unless `overridden`
    names them (set on the command line, and already applied to `settings` then)."""
    return settings.with_overrides(
        success_mode=None if "success_mode" in overridden else plan.success_mode,
        batch_size=None if "batch_size" in overridden else plan.batch_size,
    )


def _nothing_left(plan: Plan, state: State, load: LoadResult) -> bool:
    """True when a plan made now, of the saved plan's paths, would have no changes."""
    from iasync.plans.plan import PlanError, make_plan

    if not load.ok:
        return False
    try:
        return not make_plan(load, state, paths=plan.paths).has_changes
    except PlanError:
        return False


def apply_plan(
    settings: Settings,
    plan: Plan,
    state: State,
    backend: StateBackend,
    client: LusidClient,
    *,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    on_interrupt: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Send the plan's creates and updates, record what LUSID accepted (and the moves) in the
    state. The caller holds the state lock."""
    from iasync.applying import apply_changes
    from iasync.gitinfo import current_commit

    return apply_changes(
        plan.changes,
        client=client,
        backend=backend,
        state=state,
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        success_mode=settings.success_mode,
        commit=current_commit(settings.root),
        on_batch=on_batch,
        on_interrupt=on_interrupt,
    )
