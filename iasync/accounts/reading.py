"""Reading an account file, guarded: a size cap, no symlink out of the project, UTF-8 only; and
telling, without reading it as YAML, whether a file holds the very bytes it held before.
"""

from __future__ import annotations

import hashlib
import os
import stat
from functools import lru_cache
from pathlib import Path

from iasync.accounts.finding import within
from iasync.settings import Settings

#: An account file is a few hundred bytes; anything past this is a mistake, not an account.
MAX_FILE_BYTES = 1024 * 1024
#: Files are hashed through one buffer this size: an account file takes one read (and one more
#: to see the end).
HASH_BUFFER_BYTES = 64 * 1024


def file_hash(raw: bytes) -> str:
    """How the state and the plan name a file's bytes: "sha256:<hex>"."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def read_bytes(path: Path, settings: Settings) -> tuple[bytes | None, str | None]:
    """The file's bytes, or why they cannot be read (a message for the user)."""
    try:
        escape = _symlink_escape(str(path), str(settings.root))
        if escape is not None:
            return None, (
                f"a symlink to {escape}, outside the project ({settings.root}); "
                "account files must live in the repository"
            )
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None, "not a regular file"
        if status.st_size > MAX_FILE_BYTES:
            return None, _too_big(status.st_size)
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, "no such file or directory"
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}"
    if len(raw) > MAX_FILE_BYTES:  # grew since stat
        return None, _too_big(len(raw))
    return raw, None


def _too_big(size: int) -> str:
    return (
        f"the file is {size:,} bytes; an account file may be at most {MAX_FILE_BYTES:,} bytes "
        "(1 MiB): is it really an account?"
    )


@lru_cache(maxsize=4096)
def _real_directory(directory: str) -> str:
    # Thousands of files share a few directories: resolve each directory once.
    return os.path.realpath(directory)


def _symlink_escape(path: str, root: str) -> str | None:
    """Where `path` really leads, when it lies in the project but resolves outside it."""
    absolute, root = os.path.abspath(path), os.path.abspath(root)
    real_root = _real_directory(root)
    if not (within(absolute, root) or within(absolute, real_root)):
        return None  # a file outside the project, named on purpose: read it as given
    directory, name = os.path.split(absolute)
    real = os.path.join(_real_directory(directory), name)
    if os.path.islink(real):
        real = os.path.realpath(real)
    return None if within(real, real_root) else real


def decode(raw: bytes) -> tuple[str, tuple[int, int, str] | None]:
    """UTF-8 text (without a byte-order mark), or where and why it is not UTF-8."""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start]
        return "", (
            line,
            column,
            f"not UTF-8 text (byte 0x{byte:02x}); save the file with UTF-8 encoding",
        )


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def same_bytes(path: str, expected: str, buffer: bytearray) -> bool:
    """Whether the file at `path` holds bytes of hash `expected` (a symlink never does)."""
    try:
        # O_NOFOLLOW: a symlink is left to be read, which checks where it leads.
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return False  # a symlink, or unreadable: reading it reports why
    # Reads into the caller's buffer: no file object, and no buffer allocated per file (as
    # `hashlib.file_digest` and `os.read` do; fresh 64 KiB blocks page-fault on every file).
    digest = hashlib.sha256()
    try:
        with memoryview(buffer) as view:
            while size := os.readv(fd, [view]):
                digest.update(view[:size])
    except OSError:
        return False
    finally:
        os.close(fd)
    return "sha256:" + digest.hexdigest() == expected
