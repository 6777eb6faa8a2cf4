"""Load account files into canonical request bodies, with every problem located.

Files are found (`finding`), each read and validated on its own (`validation`: reading, YAML,
rules and schema, model), many at once over a process pool (`pool`); files that claim the same
account identifier are reported after all files are read, each naming the other (`clashes`).

Given what the files gave when last applied (`reuse`, a `{path: (file hash, applied)}` view the
caller builds from the state), a file whose path and bytes are those it was applied from is not
read again: it gives the body it gave then. Only new, edited and moved files go through the
stages (10,000 files: ~3 s instead of ~13 s). In a git work tree, a file git reports unmodified
whose blob id is the one recorded is not even opened (`gitblobs`): only files git does not vouch
for are hashed. `iasync plan` and `iasync apply` both load this way, so they always agree. The
caller offers records only when they were made under this iasync's `CANONICAL_FORMAT` (bodies
made by another iasync may not be what this one makes).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from pathlib import Path

from iasync.accounts.clashes import claimed_by_others, report_shared_identifiers
from iasync.accounts.finding import Found, display_path, find, find_account_files
from iasync.accounts.gitblobs import CleanBlobs
from iasync.accounts.loaded import (
    Applied,
    FileOutcome,
    LoadedAccount,
    LoadResult,
    Reusable,
    ReusableFiles,
    ReusedAccount,
)
from iasync.accounts.pool import load_all
from iasync.accounts.reading import HASH_BUFFER_BYTES, same_bytes
from iasync.errors import Problem
from iasync.lazybody import is_fetched
from iasync.settings import Settings

__all__ = [
    "LoadResult",
    "LoadedAccount",
    "Reusable",
    "display_path",
    "find_account_files",
    "load_accounts",
]


def load_accounts(
    paths: Sequence[Path],
    settings: Settings,
    *,
    canonical: bool = True,
    reuse: Reusable | None = None,
    git: CleanBlobs | None = None,
) -> LoadResult:
    """Read every account file under `paths`; valid ones become `LoadedAccount`s.

    Problems are sorted by file, line and column; a file with any problem gives no account.
    With `canonical=False` (`iasync validate`) only the problems are wanted: no account is built,
    and pydantic is never imported (a one-file validate starts in a fraction of the time). The
    model cannot refuse what the schema and the checks accept, so the problems are the same.

    With `reuse` (what the files gave when last applied), files as applied give that body unread
    (see the module docstring). The result is the one reading every file would give: a file read now
    that claims an identifier of a reused one has that one read too, so that the clash is
    reported in both files, located, as without reuse. The trade-off: an unchanged file is not
    validated again, so a stricter setting (fewer `account_types`) shows up in `iasync validate`.
    """
    # In a git work tree, git lists the files (no walk of the tree) and which are as committed;
    # `git`, when given, was started earlier by the caller (`ask_git`), to run meanwhile.
    if git is None and canonical and reuse:
        git = ask_git(paths, settings)
    listing = git.listing() if git is not None else None
    hidden: list[str] = []
    found = find(paths, settings, hidden, listing)
    blobs = listing.clean if listing is not None else None
    # Thousands of small trees stay alive while loading: the cyclic GC would rescan them over
    # and over for nothing (the data has no cycles). A third of the time, without this.
    collecting = gc.isenabled()
    gc.disable()
    try:
        reused = _reusable(found, settings, reuse, blobs) if canonical and reuse else {}
        to_read = [file for file in found if file.given not in reused]
        outcomes = _load_found(to_read, settings, canonical)
        claiming = reuse.claiming if isinstance(reuse, ReusableFiles) else None
        clashing = claimed_by_others(outcomes.values(), reused, claiming)
        outcomes.update(_load_found(clashing, settings, canonical))
        for file in clashing:
            del reused[file.given]
    finally:
        if collecting:
            gc.enable()
    report_shared_identifiers(list(outcomes.values()))
    result = LoadResult(files=len(found), reused=len(reused))
    for file in found:  # the accounts in file order, whichever way each was had
        outcome = outcomes.get(file.given)
        if outcome is None:
            result.accounts.append(reused[file.given])
            continue
        result.problems.extend(outcome.problems)
        if outcome.account is not None and not outcome.problems:
            result.accounts.append(outcome.account)
    result.problems.extend(_hidden_files(hidden, settings))
    result.problems.sort()
    return result


def _hidden_files(hidden: list[str], settings: Settings) -> list[Problem]:
    """A hidden file named like an account file is refused, not skipped without a word: it is
    a leftover or a mistake (an editor's file, `.x.yaml` for `x.yaml`), never an account."""
    return [
        Problem(
            display_path(Path(given), settings),
            1,
            1,
            "a hidden file (its name starts with '.'): iasync does not apply hidden files; "
            "rename it to apply it, or move it out of the accounts directory",
        )
        for given in hidden
    ]


def ask_git(paths: Sequence[Path], settings: Settings) -> CleanBlobs:
    """`git ls-files` of the account paths, started now and read by `load_accounts`."""
    return CleanBlobs(str(settings.root), [str(path) for path in paths or [settings.accounts_path]])


def _reusable(
    files: Sequence[Found], settings: Settings, reuse: Reusable, blobs: dict[str, str] | None
) -> dict[str, LoadedAccount]:
    """The files as they were applied from: file -> the account they gave then.

    A file git reports clean, whose blob id is the one recorded, is not opened; any other file
    applied from is hashed and compared (`blobs` is None outside git: every one is hashed).
    """
    # A file applied is the root + its path; files are matched by absolute path, so PATH
    # arguments relative to the working directory find theirs too. A file that does not match
    # (through a symlinked directory, say) is simply read: slower, never wrong.
    root = os.path.abspath(settings.root)
    prefix = root if root.endswith(os.sep) else root + os.sep
    start = len(prefix)
    git = blobs or {}
    buffer = bytearray(HASH_BUFFER_BYTES)
    reused = {}
    for file in files:
        absolute = file.absolute
        if not absolute.startswith(prefix):
            continue
        source = absolute[start:] if os.sep == "/" else absolute[start:].replace(os.sep, "/")
        entry = reuse.get(source)
        if entry is None:
            continue
        hash_applied, account = entry
        blob = git.get(absolute)
        # Unless git vouches for the very content applied, the bytes decide.
        vouched = blob is not None and blob == account.source_blob
        if not vouched and not same_bytes(file.given, hash_applied, buffer):
            continue
        reused[file.given] = _as_loaded(source, hash_applied, account, blob or account.source_blob)
    return reused


def _load_found(files: list[Found], settings: Settings, canonical: bool) -> dict[str, FileOutcome]:
    """Each file's outcome, by the file as named."""
    paths = [Path(file.given) if file.path is None else file.path for file in files]
    outcomes = load_all(paths, settings, canonical)
    return {file.given: outcome for file, outcome in zip(files, outcomes, strict=True)}


def _as_loaded(
    source: str, file_hash: str, applied: Applied, file_blob: str | None
) -> LoadedAccount:
    """The account a file gave when applied, with the hash and identity known then.

    `body_hash` and `identity` are cached properties: given here, they need not be computed
    again for thousands of unchanged accounts. The fields are set as `__init__` would set them,
    without its `object.__setattr__` calls (a frozen dataclass's): thousands a run.
    """
    fetched = is_fetched(applied)
    account = object.__new__(LoadedAccount if fetched else ReusedAccount)
    account.__dict__.update(
        path=source,
        file_hash=file_hash,
        file_blob=file_blob,
        applied=applied,
        body_hash=applied.body_hash,
    )
    if fetched:
        account.__dict__.update(body=applied.body, identity=applied.identity)
    # else a database state's record: its body and identifiers are fetched only if used
    return account
