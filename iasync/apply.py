"""Send a plan's creates and updates to LUSID in batches, and record what LUSID accepted.

The changes are cut into batches of `batch_size`; up to `concurrency` batches are in flight at once
(threads sharing one thread-safe `LusidClient`). Each batch's correlation ids are the accounts' file
paths, so every failure LUSID reports maps back to a file.

Recording is done by one writer, the calling thread: as each batch comes back, the accounts LUSID
accepted are put in the state and the state is written at once. A batch that fails, a crash or a
kill -9 therefore loses nothing that LUSID accepted before it, and records nothing it did not.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iasync.errors import IasyncError
from iasync.model import canonical_json

if TYPE_CHECKING:
    from pathlib import Path

    from iasync.loader import LoadedAccount, LoadResult
    from iasync.lusid import LusidClient, UpsertResponse
    from iasync.plan import AccountChange
    from iasync.settings import Settings
    from iasync.state import AccountRecord, State, StateBackend

#: Answers that every other batch would get too (bad credentials, no access, wrong URL): apply
#: stops at the first instead of sending every batch to be refused, and reports it once.
FATAL_STATUSES = frozenset({401, 403, 404})


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
    failures: list[Failure] = field(default_factory=list)
    batches: int = 0
    bytes_sent: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "failed": len(self.failures),
            "batches": self.batches,
            "failures": [f.as_json() for f in self.failures],
        }


def load_desired(paths: Sequence[Path], settings: Settings, state: State) -> LoadResult:
    """`load_accounts`, without parsing again the files that are byte for byte as applied.

    A file whose path and bytes (sha256) are those a state record was applied from gives that
    record's canonical body, which is what the file gave then: in the steady state (a few files
    edited among thousands) only the edited files are parsed and validated. Moved, renamed,
    new and edited files, and symlinks, go through the loader as usual; its cross-file check of
    shared identifiers sees only those, and the plan refuses a file that matches the same
    account as another one.

    The trade-off: an unchanged file is not validated again, so a stricter setting (fewer
    `account_types`) shows up in `iasync validate` (CI, pre-commit), not here; and it keeps the
    body it was applied with, so a new iasync never re-sends accounts nobody edited.
    """
    from iasync.loader import (
        LoadedAccount,
        LoadResult,
        display_path,
        find_account_files,
        load_accounts,
    )

    files = find_account_files(paths, settings)
    # Files are found under the root as given, so a record's file is root + its source. A file
    # that does not look like that is simply loaded: slower, never wrong.
    root = str(settings.root)
    applied = {os.path.join(root, record.source): record for record in state.accounts.values()}
    order: dict[str, int] = {}  # display path -> position: the loader's own file order
    reused: list[LoadedAccount] = []
    to_load: list[Path] = []
    for index, path in enumerate(files):
        record = applied.get(str(path))
        if record is not None and _same_bytes(path, record):
            reused.append(_as_loaded(LoadedAccount, record))
            order[record.source] = index
        else:
            to_load.append(path)
            order[display_path(path, settings)] = index
    # load_accounts([]) would mean "the whole accounts directory": only call it with files.
    result = load_accounts(to_load, settings) if to_load else LoadResult()
    result.accounts = sorted(result.accounts + reused, key=lambda a: order.get(a.path, -1))
    result.files = len(files)
    return result


def _as_loaded(loaded_account: type[LoadedAccount], record: AccountRecord) -> LoadedAccount:
    """The account a file gave when applied, with the hash and identity the state knows.

    `body_hash` and `identity` are cached properties: given here, they need not be computed
    again for thousands of unchanged accounts.
    """
    account = loaded_account(record.source, record.source_hash, record.body)
    account.__dict__.update(body_hash=record.body_hash, identity=record.identity)
    return account


def _same_bytes(path: Path, record: AccountRecord) -> bool:
    import hashlib

    try:
        # O_NOFOLLOW: a symlink is left to the loader, which checks where it leads.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False  # a symlink, or unreadable: the loader reports it
    try:
        digest = hashlib.file_digest(os.fdopen(fd, "rb", closefd=False), "sha256").hexdigest()
    except OSError:
        return False
    finally:
        os.close(fd)
    return f"sha256:{digest}" == record.source_hash


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
) -> ApplyResult:
    """Upsert the creates and updates among `changes`; record each accepted account in `state`.

    The caller holds the state lock. The state is written once per batch that LUSID accepted
    anything of, and never when nothing was accepted.
    """
    batches = cut_batches(changes_to_send(changes), batch_size)
    result = ApplyResult(batches=len(batches))

    def record(outcome: BatchOutcome) -> None:
        _record_outcome(outcome, state, commit, result)
        if outcome.accepted:
            backend.write(state)
        if on_batch is not None:
            on_batch(outcome)

    if batches:
        _run_batches(batches, client, success_mode, concurrency, record)
    return result


def _run_batches(
    batches: Sequence[Sequence[AccountChange]],
    client: LusidClient,
    success_mode: str,
    concurrency: int,
    record: Callable[[BatchOutcome], None],
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
                record(future.result())
                done.add(future)
        except KeyboardInterrupt:
            stop.set()
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
    """On Ctrl-C: start no new batch, but record the ones LUSID is already processing."""
    for future in futures:
        future.cancel()
    for future in futures:
        if future in done or future.cancelled():
            continue
        try:
            outcome = future.result()
        except IasyncError:
            continue  # it failed as a whole: nothing to record, and the interrupt goes on
        record(outcome)


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
        if getattr(exc, "status", None) in FATAL_STATUSES:
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


def _batch_failures(batch: Sequence[AccountChange], error: IasyncError) -> list[Failure]:
    """Every account of a batch that failed as a whole (Atomic 400, retries exhausted, ...).

    When LUSID named the items at fault, those get LUSID's detail; the rest of the batch failed
    only because of them (Atomic), or with the batch's own error.
    """
    named: Mapping[str, Any] = getattr(error, "failed", None) or {}
    problem: Mapping[str, Any] = getattr(error, "problem", None) or {}
    batch_type = str(problem.get("name") or type(error).__name__)
    failures = []
    for change in batch:
        if change.path in named:
            failures.append(_item_failure(change.path, named[change.path]))
        elif named:
            failures.append(
                Failure(change.path, "BatchOperationAborted", "not applied: another item failed")
            )
        else:
            failures.append(Failure(change.path, batch_type, str(error)))
    return failures


def _record_outcome(
    outcome: BatchOutcome, state: State, commit: str | None, result: ApplyResult
) -> None:
    from iasync.state import now_iso

    applied_at = now_iso()
    for change in outcome.changes:
        account = outcome.accepted.get(change.path)
        if account is None:
            continue
        _record_account(change, account, state, commit, applied_at)
        (result.created if change.action == "create" else result.updated).append(change.path)
    result.failures.extend(outcome.failures)
    result.bytes_sent += outcome.bytes_sent


def _record_account(
    change: AccountChange,
    account: Mapping[str, Any],
    state: State,
    commit: str | None,
    applied_at: str,
) -> None:
    from iasync.state import AccountRecord

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
            source_hash=change.file_hash,
            applied_at=applied_at,
            commit=commit,
        )
    )


def _version_number(account: Mapping[str, Any]) -> int | None:
    version = account.get("version")
    if isinstance(version, Mapping) and isinstance(version.get("asAtVersionNumber"), int):
        return version["asAtVersionNumber"]
    return None
