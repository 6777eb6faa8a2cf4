"""The last-applied state: what LUSID accepted, per account, and the lock held while applying.

The state is one JSON document (by default `.iasync/state.json`):

    {"format_version": 1, "lineage": "<uuid4>", "serial": 3, "iasync_version": "0.1.0",
     "accounts": {"LUID_00003D6X": {
         "lusid_id": "LUID_00003D6X", "version": 3, "identifiers": {...}, "body": {...},
         "body_hash": "sha256:..", "source": "accounts/..", "source_hash": "sha256:..",
         "applied_at": "..", "commit": ".."}}}

`lineage` names one state's history (made when it is first written); `serial` goes up by one on
every write, so a saved plan can tell that the state moved under it. The file is written atomically
(temp file, fsync, rename, fsync of the directory) with the previous version kept as
`<name>.backup`, so a crash or a kill -9 leaves either the old or the new state, never half of one.

Storage sits behind `StateBackend`, which knows nothing of files: a shared database backend can
take the place of `LocalStateBackend` without its callers changing.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from iasync import __version__
from iasync.errors import IasyncError
from iasync.files import fsync_directory, new_temporary, write_synced, write_temporary

if TYPE_CHECKING:
    from iasync.settings import Settings

FORMAT_VERSION = 1
_LOCK_POLL_SECONDS = 0.1
_BRIEF_LOCK_WAIT_SECONDS = 2.0  # a write outside a held lock waits this long for one in progress
_STALE_LOCK_ATTEMPT_SECONDS = 60.0


class StateError(IasyncError):
    """The state cannot be read, written or locked; the message says what to do."""


class StateCorruptError(StateError):
    """The state exists but is not a state this iasync can read. It is never overwritten."""


class StateLockedError(StateError):
    """Another process holds the state lock."""

    def __init__(self, message: str, holder: LockInfo | None = None) -> None:
        super().__init__(message)
        self.holder = holder


# --- records ----------------------------------------------------------------------------------


@dataclass
class AccountRecord:
    """One account as LUSID last accepted it, and where it came from."""

    lusid_id: str
    version: int | None  # version.asAtVersionNumber from LUSID's response
    identifiers: dict[str, str]  # identifier key -> label value
    body: dict[str, Any]  # the canonical request body LUSID accepted
    body_hash: str
    source: str  # the account file, relative to the project root, POSIX
    source_hash: str  # "sha256:<hex>" of the file's bytes when applied
    applied_at: str  # ISO 8601, UTC
    commit: str | None  # git commit of the files applied, None outside git

    @property
    def identity(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.identifiers.items())

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies every body (seconds for 5,000 accounts), and
        # not fields(self) each time, which costs as much again as building the dict.
        return {name: getattr(self, name) for name in _RECORD_FIELDS}


_RECORD_FIELDS = tuple(f.name for f in fields(AccountRecord))


@dataclass
class State:
    lineage: str
    serial: int = 0
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    # iasync.model.CANONICAL_FORMAT that every record's body was made under (None: not known,
    # e.g. a state written before the field existed): only then are records reused for files.
    canonical_format: int | None = None

    format_version: ClassVar[int] = FORMAT_VERSION

    @classmethod
    def new(cls) -> State:
        """An empty state with a fresh lineage: nothing applied yet."""
        return cls(lineage=str(uuid.uuid4()))

    def matching(self, identity: Iterable[tuple[str, str]]) -> list[AccountRecord]:
        """Records sharing any identifier (key and value) with `identity`, as LUSID matches."""
        wanted = set(identity)
        return [rec for rec in self.accounts.values() if wanted & rec.identity]

    def record(self, rec: AccountRecord) -> None:
        """Add `rec`, replacing the record with the same LUSID id."""
        self.accounts[rec.lusid_id] = rec

    def forget(self, lusid_id: str) -> None:
        """Drop a record (for an account deleted from LUSID); no error when absent."""
        self.accounts.pop(lusid_id, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "iasync_version": __version__,
            "canonical_format": self.canonical_format,
            "accounts": {lusid_id: rec.to_json() for lusid_id, rec in self.accounts.items()},
        }


def dump_state(state: State) -> bytes:
    """Deterministic JSON (sorted keys, indent 2, trailing newline), so states diff well.

    orjson writes the layout of `json.dumps(sort_keys=True, indent=2, ensure_ascii=False)` some
    30 times faster (the stdlib's indenting encoder is pure Python: a second per write of a
    5,000-account state). The stdlib is the fallback for what orjson refuses (integers beyond
    64 bits), so anything JSON can hold is written.
    """
    with _gc_paused():
        doc = state.to_json()
    try:
        import orjson

        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    except (ImportError, TypeError):
        pass
    try:
        text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot serialise the state: {exc}") from None
    return (text + "\n").encode()


def parse_state(data: bytes, where: str) -> State:
    """A state from its JSON bytes; `StateCorruptError` naming `where` if it is not one."""
    try:
        with _gc_paused():
            doc = json.loads(data)
            return _state_from_json(doc, where)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateCorruptError(_corrupt_message(where, f"it is not valid JSON ({exc})")) from None
    except _ShapeError as exc:
        raise StateCorruptError(_corrupt_message(where, str(exc))) from None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a state's objects are made: they hold no cycles.

    Building a 10,000-account state allocates some million dicts, lists and strings, each
    allocation counting towards a collection that then scans every object in the process, all
    of them still alive. That was over half of a read (0.8 s of which 0.5 s collecting).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _corrupt_message(where: str, what: str) -> str:
    return (
        f"the state {where} cannot be read: {what}. It has been left untouched. "
        f"Restore it (from {where}.backup or version control) and run again; moving it away "
        "instead makes iasync forget everything it has applied."
    )


class _ShapeError(ValueError):
    pass


def _state_from_json(doc: Any, where: str) -> State:
    if not isinstance(doc, dict):
        raise _ShapeError("the top level is not a JSON object")
    version = _get(doc, "format_version", int, "")
    if version > FORMAT_VERSION:
        raise StateCorruptError(
            f"the state {where} has format_version {version}, written by a newer iasync "
            f"(this iasync {__version__} reads format {FORMAT_VERSION}). "
            "Upgrade iasync; the state has been left untouched."
        )
    if version < 1:
        raise _ShapeError(f"format_version {version} is not a known format")
    lineage = _get(doc, "lineage", str, "")
    serial = _get(doc, "serial", int, "")
    if serial < 0:
        raise _ShapeError("serial is negative")
    accounts = _get(doc, "accounts", dict, "")
    records = {}
    for lusid_id, raw in accounts.items():
        rec = _record_from_json(raw, f"accounts.{lusid_id}.")
        if rec.lusid_id != lusid_id:
            raise _ShapeError(f"accounts.{lusid_id}.lusid_id is {rec.lusid_id!r}, not its key")
        records[lusid_id] = rec
    canonical_format = doc.get("canonical_format")
    if not isinstance(canonical_format, int) or isinstance(canonical_format, bool):
        canonical_format = None  # absent (an older state) or unreadable: reuse nothing
    return State(lineage, serial, records, canonical_format)


def _record_from_json(raw: Any, prefix: str) -> AccountRecord:
    if not isinstance(raw, dict):
        raise _ShapeError(f"{prefix.rstrip('.')} is not a JSON object")
    for key, kind, optional in _RECORD_SHAPE:
        value = raw.get(key, _MISSING)
        # The exact-type test is the fast path for 10,000 records; `_get` explains a failure.
        if value.__class__ is not kind and not (optional and value is None):
            _get(raw, key, kind, prefix, optional)
    if not all(value.__class__ is str for value in raw["identifiers"].values()):
        raise _ShapeError(f"{prefix}identifiers: every value must be a string")
    return AccountRecord(**{name: raw[name] for name in _RECORD_FIELDS})


_MISSING = object()

# field, type, may be null; in the order a faulty record is explained
_RECORD_SHAPE: tuple[tuple[str, type, bool], ...] = (
    ("identifiers", dict, False),
    ("lusid_id", str, False),
    ("version", int, True),
    ("body", dict, False),
    ("body_hash", str, False),
    ("source", str, False),
    ("source_hash", str, False),
    ("applied_at", str, False),
    ("commit", str, True),
)


def _get(doc: dict[str, Any], key: str, kind: type, prefix: str, optional: bool = False) -> Any:
    if key not in doc:
        raise _ShapeError(f"{prefix}{key} is missing")
    value = doc[key]
    if value is None and optional:
        return None
    # bool is an int to Python, never to the state format.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _ShapeError(f"{prefix}{key} should be {_KIND_NAMES[kind]}, not {value!r:.60}")
    return value


_KIND_NAMES = {int: "an integer", str: "a string", dict: "a JSON object"}


# --- locking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock: shown to anyone who finds the state locked."""

    id: str
    operation: str
    who: str
    host: str
    pid: int
    created: str  # ISO 8601, UTC

    @classmethod
    def mine(cls, operation: str) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            who=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        return (
            f"{self.who}@{self.host} (operation {self.operation}, since {self.created}, "
            f"process {self.pid}, lock id {self.id})"
        )

    def process_is_gone(self) -> bool:
        """True only when the holder ran on this host and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _os_reason(exc: OSError, path: Path) -> str:
    """Why a file could not be made at `path`, in words: a folder on the way that is a file
    says so (the OS only says "File exists" or "Not a directory")."""
    not_dir = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if not_dir is not None:
        return f"{not_dir} is a file, not a directory"
    return exc.strerror or str(exc)


def locked_message(where: str, holder: LockInfo) -> str:
    gone = (
        " That process is no longer running, so the lock is stale."
        if holder.process_is_gone()
        else " Wait for it to finish (-lock-timeout SECONDS waits for it to)."
    )
    return (
        f"the state {where} is locked by {holder.describe()}.{gone} "
        f"If no iasync is running on it, release the lock with: iasync force-unlock {holder.id}"
    )


# --- backends ---------------------------------------------------------------------------------


class StateBackend(Protocol):
    """Where the state lives. Implementations: `LocalStateBackend` (a JSON file)."""

    def read(self) -> State:
        """The current state; a fresh lineage with serial 0 when none exists yet."""
        ...

    def write(self, state: State) -> None:
        """Store `state` atomically with serial + 1 (set on `state` once stored)."""
        ...

    def lock(self, operation: str, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the lock for the block; wait up to `timeout` seconds, then `StateLockedError`."""
        ...

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Release a lock left behind, only if `lock_id` is its id; returns what was released."""
        ...

    def describe(self) -> str:
        """Where the state is, in words for messages."""
        ...


class LocalStateBackend:
    """The state as a JSON file, its backup beside it, and a lock file `<name>.lock`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._held: set[str] = set()  # ids of locks this backend holds
        self._write_mutex = threading.Lock()
        # (file signature, lineage, serial) of the state this backend last read or wrote.
        self._seen: tuple[tuple[int, int, int], str, int] | None = None

    def describe(self) -> str:
        return str(self.path)

    # reading and writing

    def read(self) -> State:
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
        if lineage != state.lineage:
            raise StateError(
                f"the state {self.path} has lineage {lineage}, not {state.lineage}: "
                "it belongs to another history and was not overwritten"
            )
        if serial != state.serial:
            raise StateError(
                f"the state {self.path} changed since it was read (serial {serial}, "
                f"expected {state.serial}); it was not overwritten. Run the command again."
            )

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
        except (ValueError, TypeError, KeyError):
            # Not written by iasync (the lock file is always complete): still a lock.
            return LockInfo(
                id="unknown",
                operation="unknown",
                who="unknown",
                host="unknown",
                pid=-1,
                created="unknown",
            )

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


def open_backend(settings: Settings) -> StateBackend:
    """The backend the settings name: for now always the local file."""
    return LocalStateBackend(settings.state_path)


def current_commit(root: Path) -> str | None:
    """The git commit checked out at `root`, or None outside git (or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def now_iso() -> str:
    """The `applied_at` timestamp: UTC, seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")
