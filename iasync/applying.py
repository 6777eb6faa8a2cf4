"""Send a plan's creates and updates to LUSID in batches, and record what LUSID accepted.

The changes are cut into batches of `batch_size`; up to `concurrency` batches are in flight at once
(threads sharing one thread-safe `LusidClient`). Each batch's correlation ids are the accounts' file
paths, so every failure LUSID reports maps back to a file.

Recording is done by one writer, the calling thread: as each batch comes back, the accounts LUSID
accepted are put in the state and the state is written at once. A batch that fails, a crash or a
kill -9 therefore loses nothing that LUSID accepted before it, and records nothing it did not.

Moves (an unchanged account whose file was renamed) are recorded without a word to LUSID: the
record takes the new file's path and hash, so the next plan neither says "moved" again nor reads
the file again.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from iasync.accounts.model import canonical_json
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.lusid import LusidClient, UpsertResponse
    from iasync.plans.plan import AccountChange
    from iasync.states import State, StateBackend

#: Answers that every other batch would get too (bad credentials, no access, wrong URL): apply
#: stops at the first instead of sending every batch to be refused, and reports it once. So does
#: a LUSID that could not be reached at all, after its retries (`LusidApiError.unreachable`),
#: and a token endpoint that refused the credentials (`LusidApiError.fatal`).
FATAL_STATUSES = frozenset({401, 403, 404})


def _is_fatal(error: IasyncError) -> bool:
    # `fatal`: a refused password grant; `wrong_api`: LUSID speaks the other API generation.
    return (
        getattr(error, "status", None) in FATAL_STATUSES
        or getattr(error, "unreachable", False)
        or getattr(error, "fatal", False)
        or getattr(error, "wrong_api", False)
    )


@dataclass(frozen=True)
class Failure:
    """One account LUSID did not accept: its file, LUSID's error type and detail."""

    path: str
    error_type: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "type": self.error_type, "detail": self.detail}


@dataclass(frozen=True)
class BatchOutcome:
    """What came back for one batch: accepted accounts (corrId -> LUSID account) and failures."""

    number: int  # 1-based, in the order the batches were cut
    changes: Sequence[AccountChange]
    accepted: Mapping[str, dict[str, Any]]
    failures: Sequence[Failure]
    bytes_sent: int = 0


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # recorded in the state only, never sent
    # Of `created`, the files LUSID matched (by an identifier) to an account it already had,
    # made outside this state: it now holds the file's body, at a version above 1.
    existing: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # Orphans LUSID confirmed deleted (`--prune`), and those it no longer had: both forgotten.
    deleted: list[str] = field(default_factory=list)
    already_absent: list[str] = field(default_factory=list)
    batches: int = 0
    bytes_sent: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "moved": len(self.moved),
            "deleted": len(self.deleted),
            "already_absent": sorted(self.already_absent),
            "failed": len(self.failures),
            "already_in_lusid": sorted(self.existing),
            "batches": self.batches,
            "failures": [f.as_json() for f in self.failures],
        }


def changes_to_send(changes: Sequence[AccountChange]) -> list[AccountChange]:
    """Creates and updates; "unchanged" and "orphaned" are never sent (orphans never deleted)."""
    return [change for change in changes if change.sent]


def cut_batches(changes: Sequence[AccountChange], size: int) -> list[list[AccountChange]]:
    """Consecutive batches of at most `size` changes, in plan order."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return [list(changes[start : start + size]) for start in range(0, len(changes), size)]


def apply_changes(
    changes: Sequence[AccountChange],
    *,
    client: LusidClient,
    backend: StateBackend,
    state: State,
    batch_size: int,
    concurrency: int,
    success_mode: str,
    commit: str | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
    on_interrupt: Callable[[int], None] | None = None,
    result: ApplyResult | None = None,
) -> ApplyResult:
    """Upsert the creates and updates among `changes`; record each accepted account in `state`.

    The counts go into `result` when given, as each batch is recorded: should the apply stop
    midway (an error, Ctrl-C), the caller still holds what was recorded before.

    Moved files of unchanged accounts are recorded without a word to LUSID. The caller holds the
    state lock. The state is written once per batch that LUSID accepted anything of (moves go
    with the first such write, or in a write of their own), and never when there is nothing to
    record. On Ctrl-C no new batch is sent; `on_interrupt(n)` is told how many batches are still
    in flight before they are waited for and recorded, then the KeyboardInterrupt goes on.
    """
    api = client.api  # the generation the bodies were made for: see `_stamp_format`
    batches = cut_batches(changes_to_send(changes), batch_size)
    result = ApplyResult() if result is None else result
    result.batches, result.moved = len(batches), record_moves(changes, state)
    # Records known to hold what this iasync makes of their files: see `_stamp_format`.
    current = {c.lusid_id for c in changes if c.action == "unchanged" and c.lusid_id}
    written = False

    def record(outcome: BatchOutcome) -> None:
        nonlocal written
        current.update(_record_outcome(outcome, state, commit, result))
        if outcome.accepted:
            _stamp_format(state, current, api)
            backend.write(state)
            written = True
        if on_batch is not None:
            on_batch(outcome)

    try:
        if batches:
            _run_batches(batches, client, success_mode, concurrency, record, on_interrupt)
    except BaseException:
        if not written:
            result.moved = []  # the moves go with the state's first write: none was made
        raise
    if result.moved and not written:
        _stamp_format(state, current, api)
        backend.write(state)
    return result


def refuse_deletes_without_endpoint(deletes: Sequence[AccountChange], client: LusidClient) -> None:
    """A plan that deletes needs an API that can: say so before anything is sent."""
    from iasync.lusid import LusidApiError

    if deletes and client.api != "scoped":
        raise LusidApiError(
            f"the plan deletes {len(deletes):,} orphaned account"
            f"{'s' if len(deletes) != 1 else ''}, but the reference-page LUSID API "
            '(api = "unscoped") has no delete endpoint; nothing was sent. Set api = "scoped" '
            "for today's LUSID, or plan without --prune (and delete them in LUSID's web app, "
            "then `iasync state rm` them)"
        )


def delete_orphans(
    orphans: Sequence[AccountChange],
    *,
    client: LusidClient,
    backend: StateBackend,
    state: State,
    result: ApplyResult,
) -> None:
    """Delete the orphans, one request each, forgetting in the state only those LUSID confirmed
    deleted (or no longer had); the state is written once, after the last answer. A failure is
    reported and its record kept, so the next plan shows it again."""
    forgotten = False
    try:
        for orphan in orphans:
            outcome = _delete_one(orphan, client)
            if isinstance(outcome, Failure):
                result.failures.append(outcome)
                continue
            (result.deleted if outcome else result.already_absent).append(orphan.path)
            if orphan.lusid_id is not None:
                state.forget(orphan.lusid_id)
                forgotten = True
    finally:
        if forgotten:  # even on Ctrl-C or a fatal answer: what LUSID deleted is forgotten
            backend.write(state)


def _delete_one(orphan: AccountChange, client: LusidClient) -> bool | Failure:
    """True: LUSID deleted it; False: LUSID had no such account; else why it failed."""
    if not orphan.identifiers:
        return Failure(orphan.path, "NoIdentifier", "the state holds no identifier for it")
    key, value = orphan.identifiers[0]
    scope = orphan.body.get("scope")
    if not isinstance(scope, str) or not scope:
        return Failure(orphan.path, "NoScope", "the state holds no scope for it")
    try:
        return client.delete_investment_account(key, value, scope=scope)
    except IasyncError as exc:
        if _is_fatal(exc):
            raise
        problem = getattr(exc, "problem", None) or {}
        return Failure(orphan.path, str(problem.get("name") or "DeleteFailed"), str(exc))


def record_moves(changes: Sequence[AccountChange], state: State) -> list[str]:
    """Point the records of unchanged accounts at their files as they are now; the moved paths.

    A renamed file sends nothing (LUSID holds the same account), but its record must name the new
    file, or every later plan would say "moved" again. A file edited without changing its body (a
    comment) gets its new bytes' hash too, so it is reused unread next time, and a file whose git
    blob id was not recorded yet (a state from before blob ids) gets it, so that the next plan
    need not open it; that alone is no move and is written only along with something else.
    """
    moved = []
    for change in changes:
        record = change.record
        if change.action != "unchanged" or record is None or change.file_hash is None:
            continue
        blob = change.file_blob or record.source_blob
        if (record.source, record.source_hash, record.source_blob) == (
            change.path,
            change.file_hash,
            blob,
        ):
            continue
        if record.source != change.path:
            moved.append(change.path)
        state.record(
            replace(record, source=change.path, source_hash=change.file_hash).with_blob(blob)
        )
    return moved


def _stamp_format(state: State, current: set[str], api: str) -> None:
    """Mark the state's bodies as made under this iasync's canonical format for `api`, before a
    write.

    A record is current when this run recorded it or it matched an unchanged account (its body
    equals what this iasync made of its file, now the record's source). The others (orphans,
    files outside the plan's paths) were made under another format: they lose their
    `source_hash` (no file's bytes have an empty hash), so the loader never takes one of them
    for a file; their files are read until a later apply records them again.
    """
    from iasync.accounts.model import canonical_format_for

    stamp = canonical_format_for(api)
    if state.canonical_format == stamp:
        return
    for lusid_id, record in list(state.accounts.items()):
        if lusid_id not in current and record.source_hash:
            state.record(replace(record, source_hash=""))  # and no blob id: vouches for nothing
    state.canonical_format = stamp


def _run_batches(
    batches: Sequence[Sequence[AccountChange]],
    client: LusidClient,
    success_mode: str,
    concurrency: int,
    record: Callable[[BatchOutcome], None],
    on_interrupt: Callable[[int], None] | None = None,
) -> None:
    """Send the batches, `concurrency` at a time; record each outcome as it arrives."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="batch") as pool:
        stop = threading.Event()  # set on a fatal answer: batches not yet sent are not sent
        futures = [
            pool.submit(_send_batch, number, batch, client, success_mode, stop)
            for number, batch in enumerate(batches, start=1)
        ]
        done: set[Future[BatchOutcome]] = set()
        try:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except IasyncError:
                    # Fatal (see `_send_batch`): no new batch; the ones in flight may still be
                    # accepted, and what LUSID accepts is recorded.
                    done.add(future)
                    _finish_in_flight(futures, done, record)
                    raise
                with ctrl_c_after_the_write():  # a Ctrl-C within comes once it is noted done
                    record(outcome)
                    done.add(future)
        except KeyboardInterrupt:
            stop.set()
            if on_interrupt is not None:
                on_interrupt(sum(1 for future in futures if future.running()))
            _finish_in_flight(futures, done, record)
            raise
        except BaseException:
            # A fatal answer, or recording failed (the state could not be written): send
            # nothing more. What was recorded so far stays recorded.
            for future in futures:
                future.cancel()
            raise


def _finish_in_flight(
    futures: Sequence[Future[BatchOutcome]],
    done: set[Future[BatchOutcome]],
    record: Callable[[BatchOutcome], None],
) -> None:
    """On Ctrl-C or a fatal answer: start no new batch, but record the ones LUSID is already
    processing."""
    for future in futures:
        future.cancel()
    for future in futures:
        if future in done or future.cancelled():
            continue
        try:
            outcome = _result_despite_interrupts(future)
        except IasyncError:
            continue  # it failed as a whole: nothing to record, and the interrupt goes on
        if outcome.accepted or outcome.failures:  # not a batch that saw the stop and sent nothing
            with ctrl_c_after_the_write(again=False):
                record(outcome)


@contextlib.contextmanager
def ctrl_c_after_the_write(again: bool = True) -> Iterator[None]:
    """Recording a batch is never cut short by Ctrl-C: a KeyboardInterrupt raised midway (the
    state file replaced, the backend not yet holding its new serial) would leave the state and
    what this run believes of it apart, and the next write refused. A Ctrl-C pressed meanwhile
    is raised once the write is whole (`again`), or dropped when the run is already stopping.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread hears signals
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed and again:
        raise KeyboardInterrupt


def _result_despite_interrupts(future: Future[BatchOutcome]) -> BatchOutcome:
    """The batch's outcome, however often Ctrl-C is pressed meanwhile: its thread cannot be
    stopped midway (the process waits for it on the way out regardless), so giving up the wait
    would only leave unrecorded what LUSID accepts."""
    while True:
        try:
            return future.result()
        except KeyboardInterrupt:
            continue


def _send_batch(
    number: int,
    batch: Sequence[AccountChange],
    client: LusidClient,
    success_mode: str,
    stop: threading.Event,
) -> BatchOutcome:
    if stop.is_set():
        return BatchOutcome(number, batch, {}, [])  # never recorded: the run is failing
    requests = {change.path: canonical_json(change.body) for change in batch}
    try:
        response = client.upsert_investment_accounts(requests, success_mode)
    except IasyncError as exc:
        if _is_fatal(exc):
            stop.set()
            raise
        return BatchOutcome(number, batch, {}, _batch_failures(batch, exc))
    return _outcome_of(number, batch, response)


def _outcome_of(
    number: int, batch: Sequence[AccountChange], response: UpsertResponse
) -> BatchOutcome:
    accepted: dict[str, dict[str, Any]] = {}
    failures: list[Failure] = []
    for change in batch:
        if change.path in response.values:
            accepted[change.path] = response.values[change.path]
        elif change.path in response.failed:
            failures.append(_item_failure(change.path, response.failed[change.path]))
        else:
            failures.append(
                Failure(change.path, "NotReported", "LUSID's answer did not mention this account")
            )
    return BatchOutcome(number, batch, accepted, failures, response.bytes_sent)


def _item_failure(path: str, detail: Any) -> Failure:
    """A Failure from LUSID's ErrorDetail `{"id", "type", "detail", "errorDetails"}`."""
    if not isinstance(detail, Mapping):
        return Failure(path, "Unknown", str(detail))
    return Failure(
        path,
        str(detail.get("type") or detail.get("name") or "Unknown"),
        str(detail.get("detail") or detail.get("title") or ""),
    )


def _aborted(culprits: Sequence[str]) -> str:
    """Why an account LUSID found no fault with was not applied: which ones in its batch had.
    (An Atomic batch is all or nothing; a request LUSID refuses as a whole is too.)"""
    shown = ", ".join(culprits[:3]) + (
        f" and {len(culprits) - 3:,} more" if len(culprits) > 3 else ""
    )
    return f"not applied: LUSID refused its whole batch because {shown} failed"


def _batch_failures(batch: Sequence[AccountChange], error: IasyncError) -> list[Failure]:
    """Every account of a batch that failed as a whole (Atomic 400, retries exhausted, ...).

    When LUSID named the items at fault, those get LUSID's detail; the rest of the batch failed
    only because of them (Atomic), or with the batch's own error.
    """
    named: Mapping[str, Any] = getattr(error, "failed", None) or {}
    problem: Mapping[str, Any] = getattr(error, "problem", None) or {}
    batch_type = str(problem.get("name") or type(error).__name__)
    failures = []
    culprits = sorted(change.path for change in batch if change.path in named) or sorted(named)
    for change in batch:
        if change.path in named:
            failures.append(_item_failure(change.path, named[change.path]))
        elif named:
            failures.append(Failure(change.path, "BatchOperationAborted", _aborted(culprits)))
        else:
            failures.append(Failure(change.path, batch_type, str(error)))
    return failures


def _record_outcome(
    outcome: BatchOutcome, state: State, commit: str | None, result: ApplyResult
) -> list[str]:
    """Record the accepted accounts of a batch; their LUSID ids."""
    from iasync.gitinfo import now_iso

    applied_at = now_iso()
    recorded = []
    for change in outcome.changes:
        account = outcome.accepted.get(change.path)
        if account is None:
            continue
        recorded.append(_record_account(change, account, state, commit, applied_at))
        (result.created if change.action == "create" else result.updated).append(change.path)
        if change.action == "create" and (_version_number(account) or 1) > 1:
            result.existing.append(change.path)
    result.failures.extend(outcome.failures)
    result.bytes_sent += outcome.bytes_sent
    return recorded


def _record_account(
    change: AccountChange,
    account: Mapping[str, Any],
    state: State,
    commit: str | None,
    applied_at: str,
) -> str:
    from iasync.states import AccountRecord

    lusid_id = str(account["lusidInvestmentAccountId"])
    previous = change.record
    if previous is not None and previous.lusid_id != lusid_id:
        # LUSID matched the account to another id than the state had (the old one was deleted
        # outside iasync, say): the old record no longer describes anything.
        state.forget(previous.lusid_id)
    state.record(
        AccountRecord(
            lusid_id=lusid_id,
            version=_version_number(account),
            identifiers={key: value for key, value in sorted(change.identity)},
            body=change.body,  # what was sent is what LUSID accepted
            body_hash=change.body_hash,
            source=change.path,
            # Creates and updates come from files and carry their hash; were one ever without,
            # "" vouches for no bytes: the file is read again next time, never wrongly reused.
            source_hash=change.file_hash or "",
            applied_at=applied_at,
            commit=commit,
        ).with_blob(change.file_blob)
    )
    return lusid_id


def _version_number(account: Mapping[str, Any]) -> int | None:
    version = account.get("version")
    number = version.get("asAtVersionNumber") if isinstance(version, Mapping) else None
    return number if isinstance(number, int) else None
