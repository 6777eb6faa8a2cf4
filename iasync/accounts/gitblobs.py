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
from collections.abc import Sequence

#: Git is asked once a run; past this it is given up on (and the files are hashed).
GIT_TIMEOUT_SECONDS = 60.0
_REGULAR_MODES = ("100644", "100755")
# `ls-files -s -v -z` entries: tag, mode, object id, stage, TAB, path, NUL.
_ENTRY = re.compile(r"(\S) (\d+) ([0-9a-f]+) (\d)\t([^\0]*)\0")


def blob_id(raw: bytes) -> str:
    """The git blob id of `raw`: sha1("blob <length>\\0" + bytes), as `git hash-object`."""
    digest = hashlib.sha1(b"blob %d\0" % len(raw), usedforsecurity=False)
    digest.update(raw)
    return digest.hexdigest()


class CleanBlobs:
    """`git ls-files` of the account paths, started at once and read when first needed, so that
    git runs while the tree is walked. `blobs()`: absolute path -> blob id of each tracked
    regular file git reports unmodified; None outside a git work tree, or without git."""

    def __init__(self, root: str, paths: Sequence[str]) -> None:
        self._root = os.path.abspath(root)
        self._result: dict[str, str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # -c: every index entry, tagged H (a tracked file; h: assume-unchanged, S: skip-worktree);
        # -m: each modified or deleted one again, tagged C. --literal-pathspecs: paths, not globs.
        command = [
            "git",
            "--literal-pathspecs",
            "ls-files",
            "-c",
            "-m",
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

    def blobs(self) -> dict[str, str] | None:
        process, self._process = self._process, None
        if process is not None:
            self._result = self._collect(process)
        return self._result

    def _collect(self, process: subprocess.Popen[bytes]) -> dict[str, str] | None:
        try:
            output, _ = process.communicate(timeout=GIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return None
        if process.returncode != 0:  # not a work tree, a path outside it, a dubious owner...
            return None
        return _clean_blobs(os.fsdecode(output), self._root)


def _clean_blobs(listing: str, root: str) -> dict[str, str]:
    base = root if root.endswith(os.sep) else root + os.sep
    clean: dict[str, str] = {}
    doubtful: list[str] = []
    for tag, mode, blob, stage, path in _ENTRY.findall(listing):
        if tag == "H" and stage == "0" and mode in _REGULAR_MODES:
            clean[path] = blob
        else:
            doubtful.append(path)
    for path in doubtful:  # after its H entry: a modified file is listed twice
        clean.pop(path, None)
    if os.sep != "/":
        return {os.path.join(root, os.path.normpath(path)): blob for path, blob in clean.items()}
    return {
        base + path if not path.startswith("../") else os.path.normpath(base + path): blob
        for path, blob in clean.items()
    }
