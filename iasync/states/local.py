"""The state as a JSON file on local disk, its backup beside it, and a lock file beside both.

The file is written atomically (temp file, fsync, rename, fsync of the directory) with the
previous version kept as `<name>.backup`, so a crash or a kill -9 leaves either the old or the new
state, never half of one. The lock is a file made with one `link()`, the atomic test-and-set.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from iasync.files import fsync_directory, new_temporary, write_synced, write_temporary
from iasync.states.locking import LockInfo, locked_message
from iasync.states.model import State, StateError, StateLockedError, check_same_history
from iasync.states.statefile import dump_state, parse_state

_LOCK_POLL_SECONDS = 0.1
_BRIEF_LOCK_WAIT_SECONDS = 2.0  # a write outside a held lock waits this long for one in progress
_STALE_LOCK_ATTEMPT_SECONDS = 60.0


class LocalStateBackend:
    """The state as a JSON file, its backup beside it, and a lock file `<name>.lock`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        # The audit trail: one JSON line per apply, only ever appended to.
        self.history_path = self.path.with_name(self.path.name + ".history")
        self._held: set[str] = set()  # ids of locks this backend holds
        self._write_mutex = threading.Lock()
        # (file signature, lineage, serial) of the state this backend last read or wrote.
        self._seen: tuple[tuple[int, int, int], str, int] | None = None

    def describe(self) -> str:
        return str(self.path)

    # reading and writing

    def read(self, *, bodies: bool = False) -> State:
        """The state in the file (all of it: `bodies` changes nothing here)."""
        try:
            with self.path.open("rb") as fh:
                signature = _signature(os.fstat(fh.fileno()))
                data = fh.read()
        except FileNotFoundError:
            return State.new()
        except OSError as exc:
            raise StateError(f"cannot read the state {self.path}: {exc.strerror}") from None
        state = parse_state(data, str(self.path))
        self._seen = (signature, state.lineage, state.serial)
        return state

    def write(self, state: State) -> None:
        with self._write_mutex:
            if self._held:
                self._write_or_say_why(state)
                return
            # Not under the caller's lock: take it for the write alone, so that checking the
            # serial and replacing the file are one step, and a concurrent writer cannot slip
            # between them (it would be a lost update).
            with self.lock("write", timeout=_BRIEF_LOCK_WAIT_SECONDS):
                self._write_or_say_why(state)

    def replace(self, state: State, operation: str) -> None:
        """Store `state` as it is, serial included (push); under the lock like any write."""
        with self._write_mutex:
            if self._held:
                self._replace_or_say_why(state)
                return
            with self.lock(operation, timeout=_BRIEF_LOCK_WAIT_SECONDS):
                self._replace_or_say_why(state)

    def _replace_or_say_why(self, state: State) -> None:
        self._check_not_locked_by_another()
        data = dump_state(state)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._replace_atomically(data)
        except OSError as exc:
            raise StateError(
                f"cannot write the state {self.path}: {_os_reason(exc, self.path)}"
            ) from None
        self._seen = (_signature(self.path.stat()), state.lineage, state.serial)

    def _write_or_say_why(self, state: State) -> None:
        try:
            self._write(state)
        except OSError as exc:  # a full disk, no permission, a folder that is a file
            raise StateError(
                f"cannot write the state {self.path}: {_os_reason(exc, self.path)}"
            ) from None

    def _write(self, state: State) -> None:
        self._check_not_locked_by_another()
        self._check_same_history(state)
        stored = replace(state, serial=state.serial + 1)  # shares the records: no copy
        data = dump_state(stored)  # fails before any file is touched
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        self._replace_atomically(data)
        state.serial = stored.serial
        self._seen = (_signature(self.path.stat()), stored.lineage, stored.serial)

    def _check_not_locked_by_another(self) -> None:
        holder = self._lock_holder()
        if holder is not None and holder.id not in self._held:
            raise StateLockedError(locked_message(str(self.path), holder), holder)

    def _check_same_history(self, state: State) -> None:
        """Refuse to overwrite a different lineage, or a state that moved since it was read."""
        try:
            signature = _signature(self.path.stat())
        except FileNotFoundError:
            return
        if self._seen is not None and self._seen[0] == signature:
            # The very file this backend last read or wrote: no need to parse it again.
            lineage, serial = self._seen[1], self._seen[2]
        else:
            current = self.read()  # raises on a corrupt file, which is thus never overwritten
            lineage, serial = current.lineage, current.serial
        check_same_history(str(self.path), lineage, serial, state)

    def _remove_leftovers(self) -> None:
        """Temp files of writes killed midway. Safe: every write holds the lock, as we do now.

        A lock attempt's temp file lives for milliseconds in a live process, so only old ones
        are removed: those are from processes killed while trying to lock.
        """
        stale_before = time.time() - _STALE_LOCK_ATTEMPT_SECONDS
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            try:
                attempt = leftover.name.startswith(f".{self.lock_path.name}.")
                if attempt and leftover.stat().st_mtime >= stale_before:
                    continue
                leftover.unlink()
            except FileNotFoundError:
                pass

    def _replace_atomically(self, data: bytes) -> None:
        temporary = write_temporary(self.path, data, mode=0o644)
        try:
            if self.path.exists():
                self._keep_backup()
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        fsync_directory(self.path.parent)

    def _keep_backup(self) -> None:
        """Make the current state `<name>.backup`, itself atomically.

        The state file is only ever replaced, never changed in place, so a hard link to it is a
        faithful backup at no cost; a copy where the filesystem has no hard links.
        """
        temporary = new_temporary(self.backup_path)  # beside the state: same directory
        try:
            os.unlink(temporary)
            try:
                os.link(self.path, temporary)
            except OSError:
                with open(temporary, "xb") as out, self.path.open("rb") as src:
                    shutil.copyfileobj(src, out)
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(temporary, self.backup_path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    # the audit trail

    def record_apply(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps(dict(entry), ensure_ascii=False, sort_keys=True).encode() + b"\n"
        try:
            self.history_path.parent.mkdir(parents=True, exist_ok=True)
            with self.history_path.open("ab") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise StateError(
                f"cannot record the apply in {self.history_path}: {_os_reason(exc, self.path)}"
            ) from None

    def applies(self) -> list[dict[str, Any]]:
        try:
            lines = self.history_path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(f"cannot read {self.history_path}: {exc.strerror}") from None
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash mid-append: the others stand
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    # locking

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        info = self._acquire(operation, timeout)
        self._held.add(info.id)
        try:
            yield info
        finally:
            self._held.discard(info.id)
            self._release(info)

    def _acquire(self, operation: str, timeout: float) -> LockInfo:
        info = LockInfo.mine(operation)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if self._try_create_lock(info):
                return info
            holder = self._lock_holder()
            if holder is None:
                continue  # released between our attempt and our look: try again at once
            if time.monotonic() >= deadline:
                raise StateLockedError(locked_message(str(self.path), holder), holder)
            time.sleep(min(_LOCK_POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))

    def _try_create_lock(self, info: LockInfo) -> bool:
        """Create the lock file with its contents in one step: never an empty lock file.

        The info goes to a temp file first, then a hard link gives it the lock's name; link()
        fails if the name exists, which makes it the atomic test-and-set.
        """
        data = json.dumps(asdict(info), sort_keys=True, indent=2).encode() + b"\n"
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = new_temporary(self.lock_path)
        except OSError as exc:
            raise StateError(
                f"cannot lock the state {self.path}: {_os_reason(exc, self.lock_path)}"
            ) from None
        try:
            write_synced(temporary, data)
            os.link(temporary, self.lock_path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise StateError(f"cannot create the lock {self.lock_path}: {exc.strerror}") from None
        finally:
            temporary.unlink(missing_ok=True)
        fsync_directory(self.lock_path.parent)
        return True

    def _lock_holder(self) -> LockInfo | None:
        try:
            data = self.lock_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            raw = json.loads(data)
            info = LockInfo(**{name: raw[name] for name in LockInfo.__dataclass_fields__})
            if isinstance(info.pid, int) and all(
                isinstance(getattr(info, name), str) for name in ("id", "who", "host", "created")
            ):
                return info
            raise ValueError("not a lock iasync wrote")
        except (ValueError, TypeError, KeyError, RecursionError):
            # Not written by iasync (the lock file is always complete): still a lock.
            return LockInfo.unknown()

    def _release(self, info: LockInfo) -> None:
        # Only our own lock: it may have been force-unlocked and taken by someone else since.
        holder = self._lock_holder()
        if holder is not None and holder.id == info.id:
            self.lock_path.unlink(missing_ok=True)

    def force_unlock(self, lock_id: str) -> LockInfo:
        holder = self._lock_holder()
        if holder is None:
            raise StateError(f"the state {self.path} is not locked; nothing to do")
        if holder.id == "unknown":
            raise StateError(
                f"the lock file {self.lock_path} is not one iasync wrote; "
                "delete it by hand if no iasync is running"
            )
        if holder.id != lock_id:
            raise StateError(
                f"the state {self.path} is locked by {holder.describe()}, not with lock id "
                f"{lock_id}; nothing was released. Check which lock you mean to release."
            )
        self.lock_path.unlink(missing_ok=True)
        return holder


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    """Changes whenever the file is replaced (new inode) or rewritten in place."""
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _os_reason(exc: OSError, path: Path) -> str:
    """Why a file could not be made at `path`, in words: a folder on the way that is a file
    says so (the OS only says "File exists" or "Not a directory")."""
    not_dir = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if not_dir is not None:
        return f"{not_dir} is a file, not a directory"
    return exc.strerror or str(exc)
