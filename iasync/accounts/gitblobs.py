"""What git already knows of the account files, so that a plan need not open unchanged ones.

In a git work tree, the index holds the blob id of every tracked file, and git tells which
tracked files differ from their index entry: one `git ls-files` gives both, for 100,000 files in
a fraction of the time it takes to read them. A file git reports unmodified holds the content of
its index blob; when that blob id is the one recorded when the file was applied, the file is as
applied, unread.

Only regular files that git reports clean count (not modified, deleted, unmerged, marked
assume-unchanged or skip-worktree: git does not look at those): whatever git does not vouch for
is read and hashed, as outside git. Git compares content after its filters (line endings,
clean filters), so a blob id is trusted only as git gives it for a clean file; the blob id of
bytes read (`blob_id`) is the formula of `git hash-object --no-filters`, which may differ from
git's under filters: then the file is read, never wrongly taken as unchanged.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Git is asked once a run; past this it is given up on (and the files are hashed).
GIT_TIMEOUT_SECONDS = 60.0
_REGULAR_MODES = ("100644", "100755")
# `ls-files -s -v -z` entries: tag, mode, object id, stage, TAB, path, NUL; an untracked file's
# is `? path` NUL (then tag, mode, object id and stage are empty).
_ENTRY = re.compile(r"(?:([A-Za-z]) (\d+) ([0-9a-f]+) (\d)\t|\? )([^\0]*)\0")


def blob_id(raw: bytes) -> str:
    """The git blob id of `raw`: sha1("blob <length>\\0" + bytes), as `git hash-object`."""
    digest = hashlib.sha1(b"blob %d\0" % len(raw), usedforsecurity=False)
    digest.update(raw)
    return digest.hexdigest()


@dataclass(frozen=True)
class GitListing:
    """What one `git ls-files` says of the account paths, every path absolute.

    `clean`: the blob id of each tracked regular file git reports unmodified. `files`: every
    file git sees in the work tree under the paths (tracked and present, or untracked, ignored
    ones included, as a walk of the tree would find them), so that finding the account files
    needs no walk. `unsure`: those of `files` that may be directories or absent (symlinks,
    untracked entries, entries git does not look at), for the finder to check. `opaque`:
    directories git does not look into (submodules, nested repositories), for the finder to walk.
    """

    clean: dict[str, str]
    files: list[str]
    unsure: frozenset[str]
    opaque: list[str]


class CleanBlobs:
    """`git ls-files` of the account paths, started at once and read when first needed, so that
    git runs while other work is done. `listing()`: what git knows (`GitListing`); `blobs()`:
    its `clean` part. Both None outside a git work tree, or without git."""

    def __init__(self, root: str, paths: Sequence[str]) -> None:
        self._root = os.path.abspath(root)
        self._result: GitListing | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # -c: every index entry, tagged H (a tracked file; h: assume-unchanged, S: skip-worktree);
        # -m: each modified one again, tagged C; -d: each deleted one again, tagged R (and C);
        # -o: every untracked file, tagged ?, ignored ones too (no --exclude-standard): the
        # files a walk of the tree finds. --literal-pathspecs: paths, not globs.
        command = [
            "git",
            "--literal-pathspecs",
            "ls-files",
            "-c",
            "-d",
            "-m",
            "-o",
            "-s",
            "-v",
            "-z",
            "--",
            *[os.path.abspath(path) for path in paths],
        ]
        try:
            self._process = subprocess.Popen(
                command,
                cwd=self._root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:  # no git
            self._process = None

    def listing(self) -> GitListing | None:
        process, self._process = self._process, None
        if process is not None:
            self._result = self._collect(process)
        return self._result

    def blobs(self) -> dict[str, str] | None:
        listing = self.listing()
        return None if listing is None else listing.clean

    def _collect(self, process: subprocess.Popen[bytes]) -> GitListing | None:
        try:
            output, _ = process.communicate(timeout=GIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return None
        if process.returncode != 0:  # not a work tree, a path outside it, a dubious owner...
            return None
        return _listing(os.fsdecode(output), self._root)


_SUBMODULE = "160000"


def _listing(listing: str, root: str) -> GitListing:
    absolute = _absolute_paths(root)
    clean: dict[str, str] = {}
    present: dict[str, None] = {}  # ordered, each once: a modified file is listed twice
    doubtful: list[str] = []
    unsure: list[str] = []
    opaque: list[str] = []
    for tag, mode, blob, stage, path in _ENTRY.findall(listing):
        if not tag:  # untracked
            if path.endswith("/"):  # a nested repository: git does not look inside
                opaque.append(path)
            else:
                present[path] = None
                unsure.append(path)
        elif tag == "R":  # deleted from the work tree
            doubtful.append(path)
            present.pop(path, None)
        elif mode == _SUBMODULE:
            opaque.append(path)
        else:
            if tag == "H" and stage == "0" and mode in _REGULAR_MODES:
                clean[path] = blob
            else:
                doubtful.append(path)
            if mode not in _REGULAR_MODES or tag != "H":  # a link; a file git does not look at
                unsure.append(path)
            if tag != "C":
                present[path] = None
    for path in doubtful:  # after its H entry
        clean.pop(path, None)
    return GitListing(
        clean={absolute(path): blob for path, blob in clean.items()},
        files=[absolute(path) for path in present],
        unsure=frozenset(absolute(path) for path in unsure),
        opaque=[absolute(path.rstrip("/")) for path in opaque],
    )


def _absolute_paths(root: str) -> Callable[[str], str]:
    """The absolute path of a path git printed, relative to `root` (its working directory)."""
    base = root if root.endswith(os.sep) else root + os.sep
    if os.sep != "/":
        return lambda path: os.path.join(root, os.path.normpath(path))

    def absolute(path: str) -> str:
        return base + path if not path.startswith("../") else os.path.normpath(base + path)

    return absolute
