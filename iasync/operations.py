"""What each command does, without click and without printing: plan now, load a saved plan,
apply a plan (`open_apply`: under the state's lock). Commands wire options to these and show what
they return through `views`.

Making a plan is written once here: `iasync plan` and `iasync apply` both load the files the
same way (files as applied are not read again) and so always agree.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadResult
    from iasync.applying import ApplyResult, BatchOutcome
    from iasync.lusid import LusidClient, RetryEvent
    from iasync.plans.plan import Plan
    from iasync.settings import Settings
    from iasync.states import State, StateBackend


class InvalidAccountFiles(IasyncError):
    """The account files have problems: no plan can be made of them. `load` holds them."""

    def __init__(self, load: LoadResult) -> None:
        count = len(load.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the account files")
        self.load = load


@dataclass(frozen=True)
class PlanOptions:
    """How a plan is made beyond its paths: the subset (`--target`, `--exclude`), what is read
    from LUSID (`--offline`, `--refresh`) and whether orphans are deleted (`--prune`)."""

    targets: Sequence[str] = ()
    excludes: Sequence[str] = ()
    offline: bool = False
    refresh: bool = False
    prune: bool = False
    max_deletes: int = 10

    def __post_init__(self) -> None:
        if self.offline and self.refresh:
            raise IasyncError("--offline reads nothing from LUSID, --refresh reads it: choose one")
        if self.max_deletes < 0:
            raise IasyncError("--max-deletes must be 0 or more")


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
    from iasync.accounts.loader import ask_git, load_accounts
    from iasync.plans.plan import reusable_files

    git = ask_git(paths, settings)  # it lists the files while the state's are gathered
    reuse = reusable_files(state, api=settings.api, scope=settings.scope)
    return load_accounts(list(paths), settings, reuse=reuse, git=git)


def plan_now(
    settings: Settings,
    state: State,
    paths: Sequence[Path] = (),
    options: PlanOptions | None = None,
    *,
    client: LusidClient | LusidAccess | None = None,
    unread: str = "LUSID was not asked",
) -> Plan:
    """The plan of the files under `paths` against `state`; `InvalidAccountFiles` if any is bad.

    With a `client` (and not `options.offline`) LUSID is read: do the accounts to create exist
    there already, and with `options.refresh`, did the managed ones change outside iasync.
    Without one, the plan says it did not read LUSID, and why (`unread`).
    """
    # 100,000 accounts make some million objects, alive until the command ends and free of
    # cycles: the cyclic GC would scan them again and again for nothing. It is paused while they
    # are made, and they are then set aside (`gc.freeze`) so no later collection scans them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _plan_now(settings, state, paths, options, client, unread)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _plan_now(
    settings: Settings,
    state: State,
    paths: Sequence[Path],
    options: PlanOptions | None,
    client: LusidClient | LusidAccess | None,
    unread: str,
) -> Plan:
    from iasync.accounts.loader import display_path
    from iasync.plans.plan import make_plan
    from iasync.plans.pruning import mark_deletions
    from iasync.plans.subset import select

    options = options or PlanOptions()
    load = load_for_plan(settings, state, paths)
    if not load.ok:
        raise InvalidAccountFiles(load)
    _refuse_files_outside(settings, [account.path for account in load.accounts])
    plan = make_plan(
        load,
        state,
        success_mode=settings.success_mode,
        batch_size=settings.batch_size,
        paths=[display_path(path, settings) for path in paths],
    )
    select(plan, options.targets, options.excludes)
    if options.prune:
        mark_deletions(
            plan,
            managed=len(state.accounts),
            max_deletes=options.max_deletes,
            protected=settings.protected,
        )
    access = _access(client)
    read_lusid_for(plan, load, state, options, access, unread)
    return plan


def _access(client: LusidClient | LusidAccess | None) -> LusidAccess | None:
    if client is None or isinstance(client, LusidAccess):
        return client
    return LusidAccess(lambda: client)


def read_lusid_for(
    plan: Plan,
    load: LoadResult,
    state: State,
    options: PlanOptions,
    client: LusidAccess | None,
    unread: str,
) -> None:
    """Ask LUSID what the plan needs to know (see `plans.remote`), or say why it was not."""
    from iasync.plans.remote import managed_property_keys, read_lusid

    plan.offline = options.offline
    if options.offline:
        plan.lusid_skipped = "--offline"
        return
    if not plan.of("create") and not options.refresh:
        return
    if client is None:
        if options.refresh:
            raise IasyncError(f"--refresh reads LUSID, but {unread}")
        plan.lusid_skipped = unread
        return
    from iasync.lazybody import is_fetched

    # The files read now name their keys; those reused unread, their records' (the state's).
    read_now = (account.body for account in load.accounts if is_fetched(account))
    keys = managed_property_keys(read_now, state)
    plan.lusid_read = read_lusid(plan, client.client(), keys, refresh=options.refresh).reads
    plan.refreshed = options.refresh


class LusidAccess:
    """LUSID's client, made when first asked for (`client()`): a plan with nothing to look up in
    LUSID (no account to create, no --refresh) never imports httpx, a fifth of its start-up."""

    def __init__(self, make: Callable[[], LusidClient]) -> None:
        self._make = make
        self._client: LusidClient | None = None

    def client(self) -> LusidClient:
        if self._client is None:
            self._client = self._make()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def lusid_client(settings: Settings) -> tuple[LusidAccess | None, str]:
    """Access to LUSID as configured (its client made when first used), or None and why there is
    none (for a plan, which goes on without reading LUSID, saying so)."""
    from iasync.lusid import LusidConfigError, load_lusid_config

    def connect() -> LusidClient:
        from iasync.lusid import LusidClient, as_api

        return LusidClient(config, api=as_api(settings.api))

    try:
        config = load_lusid_config(root=settings.root)
        return LusidAccess(connect), ""
    except LusidConfigError:
        # Not the error's words: they name the credentials file, which a plan must not carry.
        return None, "LUSID is not configured (FBN_LUSID_URL and credentials; --offline to skip)"


def check_unseen_creates(plan: Plan, state: State, client: LusidClient) -> None:
    """Refuse a saved plan whose accounts to create were not checked against LUSID (made
    `--offline` or without credentials) when LUSID holds any of them: applying it would
    overwrite them unseen."""
    from iasync.plans.remote import MAX_GETS, get_each, list_all, managed_property_keys

    unchecked = [c for c in plan.of("create") if c.remote is None]
    if not unchecked:
        return
    keys = managed_property_keys((c.body for c in unchecked), state)
    if len(unchecked) > MAX_GETS:
        index = list_all(client, keys)
    else:
        index = get_each(client, [(c.identity, c.scope) for c in unchecked], keys)
    existing = [c.path for c in unchecked if index.find(c.identity, scope=c.scope)]
    if existing:
        more = len(existing) - 5
        shown = ", ".join(existing[:5]) + (f" and {more} more" if more > 0 else "")
        raise IasyncError(
            f"{shown} exist{'s' if len(existing) == 1 else ''} in LUSID, not in the state, and "
            "the plan did not show it (it was made without reading LUSID): applying it would "
            "overwrite them unseen. Nothing was sent. Run `iasync plan` with LUSID's "
            "credentials, review what it shows, and apply that plan"
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
    from iasync.plans.subset import select

    try:
        again = make_plan(load, state, paths=plan.paths)
    except PlanError:
        return False
    select(again, plan.targets, plan.excludes)
    return not again.has_changes and not (plan.prune and again.of("orphaned"))


@dataclass
class ApplyRun:
    """An apply under way, within `open_apply`: the settings it applies with, LUSID's client and
    where it is (`target`, to say before anything is sent), and the state read under the lock."""

    settings: Settings
    target: str
    client: LusidClient
    backend: StateBackend
    state: State

    def plan_every_file(self, options: PlanOptions) -> Plan:
        """The plan of every account file, made now (apply without a saved plan)."""
        self.settings.require_accounts_dir(
            to="plan (`iasync plan PATH... -out FILE`, then apply FILE)"
        )
        return plan_now(self.settings, self.state, options=options, client=self.client)

    def open_saved_plan(self, planfile: Path, overridden: Collection[str]) -> Plan:
        """The saved plan, once fresh and checked against LUSID. From now on the run applies
        with its success mode and batch size, unless `overridden` (see `settings_of_plan`)."""
        plan = load_saved_plan(self.settings, self.state, planfile)
        self.settings = settings_of_plan(self.settings, plan, overridden)
        check_unseen_creates(plan, self.state, self.client)
        return plan

    def apply(
        self,
        plan: Plan,
        *,
        on_batch: Callable[[BatchOutcome], None] | None = None,
        on_interrupt: Callable[[int], None] | None = None,
    ) -> ApplyResult:
        """`apply_plan` of `plan`, with this run's settings, client and state."""
        return apply_plan(
            self.settings,
            plan,
            self.state,
            self.backend,
            self.client,
            on_batch=on_batch,
            on_interrupt=on_interrupt,
        )


@contextmanager
def open_apply(
    settings: Settings, *, lock_timeout: float, on_retry: Callable[[RetryEvent], None]
) -> Iterator[ApplyRun]:
    """An apply's client for LUSID and its state, read under the state's lock (waiting up to
    `lock_timeout` seconds for it); the lock is held and the client open until the block ends.
    `on_retry` hears each request about to be retried."""
    from iasync.lusid import LusidClient, as_api, load_lusid_config
    from iasync.states import open_backend

    # Before the lock: a missing credential fails fast. secrets.json is looked for at the
    # project root, where the settings are, whichever directory apply runs from.
    config = load_lusid_config(root=settings.root)
    backend = open_backend(settings)
    client = LusidClient(config, on_retry=on_retry, api=as_api(settings.api))
    with client, backend.lock("apply", timeout=lock_timeout):
        state = backend.read()
        yield ApplyRun(settings, config.describe_target(), client, backend, state)


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
    state, then delete the orphans the plan prunes. The caller holds the state lock.

    The audit entry is recorded however the apply ends once it began sending: an error that
    stops it (LUSID unreachable, the credentials refused, the state not written) is recorded
    with what was recorded before it, then goes on."""
    from iasync.applying import (
        ApplyResult,
        apply_changes,
        ctrl_c_after_the_write,
        delete_orphans,
        refuse_deletes_without_endpoint,
    )
    from iasync.gitinfo import current_commit

    refuse_deletes_without_endpoint(plan.to_delete, client)  # before anything is sent
    commit = current_commit(settings.root)
    result = ApplyResult()  # filled as batches are recorded: what an error leaves is in it
    try:
        apply_changes(
            plan.changes,
            client=client,
            backend=backend,
            state=state,
            batch_size=settings.batch_size,
            concurrency=settings.concurrency,
            success_mode=settings.success_mode,
            commit=commit,
            on_batch=on_batch,
            on_interrupt=on_interrupt,
            result=result,
        )
        if plan.to_delete:
            delete_orphans(
                plan.to_delete, client=client, backend=backend, state=state, result=result
            )
    except (IasyncError, KeyboardInterrupt) as error:
        # Should recording fail too (the state's store gone, say), `error` is still the one to
        # tell: it is why the apply stopped. Another Ctrl-C meanwhile does not cut it short.
        with suppress(IasyncError), ctrl_c_after_the_write(again=False):
            record_apply(settings, plan, result, state, backend, stopped=error)
        raise
    record_apply(settings, plan, result, state, backend)
    return result


def record_apply(
    settings: Settings,
    plan: Plan,
    result: ApplyResult,
    state: State,
    backend: StateBackend,
    stopped: BaseException | None = None,
) -> None:
    """The audit entry of this apply: commit, CI run and actor, the plan's hash, the counts; and
    the error that `stopped` it, if one did."""
    from iasync.audit import apply_entry

    backend.record_apply(apply_entry(plan, result, state, settings.root, stopped))
