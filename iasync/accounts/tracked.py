"""Validation for a commit (`iasync validate --pre-commit FILE...`): exactly the files named,
their identifiers compared with the account files git tracks.

pre-commit passes the files being committed and stashes unstaged changes first, so a tracked file
reads as it is staged. An untracked file is not part of the repository: its problems are not the
commit's, and an identifier it shares with a committed file is no clash yet. A settings file among
those named (iasync.toml, pyproject.toml) can change what every account file must be: then every
tracked account file is checked.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from iasync.accounts.clashes import report_shared_identifiers
from iasync.accounts.finding import ACCOUNT_SUFFIXES, within
from iasync.accounts.loaded import LoadResult
from iasync.accounts.pool import load_all
from iasync.errors import IasyncError
from iasync.settings import Settings

#: Files whose change can change the verdict on every account file.
SETTINGS_FILES = frozenset({"iasync.toml", "pyproject.toml"})


def load_for_commit(paths: Sequence[Path], settings: Settings) -> LoadResult:
    """The problems of the account files among `paths` (or of every tracked one, when a settings
    file is named), with identifiers they share with tracked account files reported in them.
    `files` counts the files checked; files outside the accounts directory are skipped."""
    tracked = tracked_account_files(settings)
    if any(path.name in SETTINGS_FILES for path in paths):
        named = tracked
    else:
        named = [path for path in paths if is_account_file(path, settings)]
    named_files = {os.path.abspath(path) for path in named}
    others = [path for path in tracked if os.path.abspath(path) not in named_files]
    # The others are read for their identifiers only: their own problems are not this commit's.
    outcomes = load_all([*named, *others], settings, canonical=False)
    report_shared_identifiers(outcomes)
    problems = sorted(problem for outcome in outcomes[: len(named)] for problem in outcome.problems)
    return LoadResult(problems=problems, files=len(named))


def is_account_file(path: Path, settings: Settings) -> bool:
    """An account file by its place: a .yaml or .yml file under the accounts directory, in no
    hidden directory (as `iasync validate` finds them)."""
    accounts = os.path.abspath(settings.accounts_path)
    absolute = os.path.abspath(path)
    if not absolute.endswith(ACCOUNT_SUFFIXES) or not within(absolute, accounts):
        return False
    inside = Path(os.path.relpath(absolute, accounts)).parts
    return not any(part.startswith(".") for part in inside)


def tracked_account_files(settings: Settings) -> list[Path]:
    """The account files git tracks (its index, as staged) under the accounts directory."""
    accounts = settings.accounts_path
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--", str(accounts)],
            cwd=settings.root,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise IasyncError(f"--pre-commit needs git to list the tracked files: {exc}") from None
    if listed.returncode != 0:
        detail = listed.stderr.decode(errors="replace").strip().splitlines()
        raise IasyncError(
            f"--pre-commit compares the files with those git tracks, but git could not list "
            f"them in {settings.root}: {detail[-1] if detail else 'git ls-files failed'}"
        )
    names = listed.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    files = [settings.root / name for name in names if name]
    # A file deleted from the work tree but not yet from the index is not there to read.
    return sorted(path for path in files if is_account_file(path, settings) and path.is_file())
