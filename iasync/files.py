"""Writing files so that a crash or a kill -9 leaves the old bytes or the new, never half.

The recipe: the new bytes go to a hidden temporary file beside the target (same file system, so
the rename or link onto the target's name is atomic), fsynced before they take the target's name,
and the directory is fsynced after, so the rename itself survives a crash. A temporary file is
removed whenever the write fails.

`write_atomically` is the whole recipe. Callers that must do something between writing and
renaming (keep a backup first) or that take the name with `os.link` (a lock: link fails when the
name exists, an atomic test-and-set) use the pieces: `write_temporary`, `new_temporary`,
`write_synced` and `fsync_directory`.

Only the standard library here: the emulator uses it and must stay free of iasync's model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO


def write_atomically(
    path: Path | str, data: bytes, *, mode: int | None = None, keep_mode: bool = False
) -> None:
    """Replace `path` with `data` all at once, making its directory if needed.

    `mode` sets the file's permission bits; `keep_mode` keeps those of the file being replaced
    (when there is one). With neither, a new file is readable by its owner only (0o600).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = write_temporary(target, data, mode=mode, keep_mode=keep_mode)
    try:
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def write_temporary(
    target: Path, data: bytes, *, mode: int | None = None, keep_mode: bool = False
) -> Path:
    """`data` in a new hidden temporary file beside `target`, on disk; `target` is untouched.

    The caller renames or links it onto `target` and removes it if that fails. If writing fails
    the temporary file is removed here and the error raised.
    """
    if keep_mode and target.exists():
        mode = target.stat().st_mode & 0o7777
    fd, temporary = _make_temporary(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_and_sync(handle, data)
        if mode is not None:
            os.chmod(temporary, mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def new_temporary(target: Path) -> Path:
    """A new, empty, hidden file beside `target`, named like `.<target name>.<random>.tmp`.

    For callers that must tell "cannot make a file here" apart from a later failure to write it.
    """
    fd, temporary = _make_temporary(target)
    try:
        os.close(fd)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def write_synced(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` (made by `new_temporary`) and fsync it before returning."""
    with open(path, "wb") as handle:
        _write_and_sync(handle, data)
    if mode is not None:
        os.chmod(path, mode)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable: on POSIX the directory entry needs its own fsync."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename itself is atomic
    finally:
        os.close(fd)


def _make_temporary(target: Path) -> tuple[int, Path]:
    # Hidden and ending in .tmp: tools that glob the directory skip it, and leftovers of a
    # killed process are easy to recognise and remove.
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    return fd, Path(name)


def _write_and_sync(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())
