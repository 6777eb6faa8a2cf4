"""The state on real files: round trip, atomic writes, refusals, the lock across processes."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from iasync.states import (
    FORMAT_VERSION,
    AccountRecord,
    LocalStateBackend,
    State,
    StateCorruptError,
    StateError,
    StateLockedError,
    open_backend,
)
from tests.states.lockholder import LockHolder


def make_record(lusid_id: str = "LUID_00000001", **overrides: object) -> AccountRecord:
    fields: dict[str, object] = {
        "lusid_id": lusid_id,
        "version": 1,
        "identifiers": {"InvestmentAccount/ExternalIdentifier/ExternalIAId": f"IA_{lusid_id}"},
        "body": {"displayName": "Jane Doe", "accountType": "Personal"},
        "body_hash": "sha256:" + "a" * 64,
        "source": f"accounts/{lusid_id.lower()}.yaml",
        "source_hash": "sha256:" + "b" * 64,
        "applied_at": "2026-11-29T07:00:00+00:00",
        "commit": None,
    }
    fields.update(overrides)
    return AccountRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def backend(tmp_path: Path) -> LocalStateBackend:
    return LocalStateBackend(tmp_path / ".iasync" / "state.json")


def written_state(backend: LocalStateBackend, *records: AccountRecord) -> State:
    state = backend.read()
    for rec in records:
        state.record(rec)
    backend.write(state)
    return state


# --- reading and writing ----------------------------------------------------------------------


def test_no_state_yet_is_empty_with_fresh_lineage_and_creates_nothing(
    backend: LocalStateBackend,
) -> None:
    first, second = backend.read(), backend.read()
    assert first.serial == 0 and first.accounts == {}
    assert first.lineage != second.lineage  # a lineage exists only once written
    assert not backend.path.parent.exists()


def test_round_trip_keeps_every_field(backend: LocalStateBackend) -> None:
    rec = make_record(version=None, commit="0123abcd" * 5)
    state = written_state(backend, rec, make_record("LUID_00000002"))
    again = backend.read()
    assert again == state
    assert again.accounts["LUID_00000001"] == rec
    assert again.serial == 1 and state.serial == 1


@pytest.mark.parametrize("canonical_format", [None, 1, 7])
def test_canonical_format_and_an_empty_source_hash_survive_write_and_read(
    backend: LocalStateBackend, canonical_format: int | None
) -> None:
    state = backend.read()
    state.record(make_record(source_hash=""))  # a record whose file is not vouched for
    state.canonical_format = canonical_format
    backend.write(state)
    again = backend.read()
    assert again.canonical_format == canonical_format
    assert json.loads(backend.path.read_text())["canonical_format"] == canonical_format
    assert again.accounts["LUID_00000001"].source_hash == ""
    backend.write(again)  # a state read back writes the same again
    assert backend.read().canonical_format == canonical_format


def test_a_state_written_before_canonical_format_existed_reads_as_none(
    backend: LocalStateBackend,
) -> None:
    state = written_state(backend, make_record())
    doc = json.loads(backend.path.read_text())
    del doc["canonical_format"]
    backend.path.write_text(json.dumps(doc))
    again = backend.read()
    assert again.canonical_format is None  # so no record is reused for a file
    assert again.accounts == state.accounts


def test_serial_goes_up_by_one_per_write_and_lineage_stays(backend: LocalStateBackend) -> None:
    state = written_state(backend, make_record())
    lineage = state.lineage
    backend.write(state)
    backend.write(state)
    stored = backend.read()
    assert (stored.serial, stored.lineage) == (3, lineage)


def test_file_is_deterministic_sorted_indented_json(backend: LocalStateBackend) -> None:
    state = written_state(backend, make_record("LUID_00000002"), make_record("LUID_00000001"))
    text = backend.path.read_text()
    doc = json.loads(text)
    assert text == json.dumps(doc, sort_keys=True, indent=2) + "\n"
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["lineage"] == state.lineage
    assert list(doc["accounts"]) == ["LUID_00000001", "LUID_00000002"]


def test_non_ascii_and_numbers_beyond_64_bits_are_written_faithfully(
    backend: LocalStateBackend,
) -> None:
    body = {"displayName": "Zoë Ångström", "metric": 10**20, "small": 1.5, "empty": {}}
    state = written_state(backend, make_record(body=body))
    text = backend.path.read_text(encoding="utf-8")
    assert "Zoë Ångström" in text and "100000000000000000000" in text
    assert backend.read() == state
    doc = json.loads(text)
    assert text == json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_a_change_made_behind_the_backend_is_noticed(backend: LocalStateBackend) -> None:
    state = written_state(backend, make_record())
    # Another writer (another backend object, e.g. another process) moves the state on.
    other = LocalStateBackend(backend.path)
    theirs = other.read()
    theirs.record(make_record("LUID_00000002"))
    other.write(theirs)
    with pytest.raises(StateError, match="changed since it was read"):
        backend.write(state)
    assert set(backend.read().accounts) == {"LUID_00000001", "LUID_00000002"}


def test_previous_state_is_kept_as_backup(backend: LocalStateBackend) -> None:
    state = written_state(backend, make_record())
    first = backend.path.read_bytes()
    assert not backend.backup_path.exists()
    state.record(make_record("LUID_00000002"))
    backend.write(state)
    assert backend.backup_path.read_bytes() == first
    assert json.loads(backend.path.read_bytes())["serial"] == 2


def test_a_write_removes_temp_files_left_by_killed_writes_but_not_lock_attempts(
    backend: LocalStateBackend,
) -> None:
    written_state(backend)
    directory = backend.path.parent
    leftovers = [directory / ".state.json.abc123.tmp", directory / ".state.json.backup.x.tmp"]
    for leftover in leftovers:
        leftover.write_text("half a state")
    contender = directory / ".state.json.lock.q1w2.tmp"  # another process's lock attempt
    contender.write_text("{}")
    killed = directory / ".state.json.lock.e3r4.tmp"  # one killed while locking, long ago
    killed.write_text("{}")
    os.utime(killed, (0, 0))
    backend.write(backend.read())
    assert not any(leftover.exists() for leftover in [*leftovers, killed])
    assert contender.exists()


def test_failed_write_leaves_previous_state_intact(backend: LocalStateBackend) -> None:
    state = written_state(backend, make_record())
    before = backend.path.read_bytes()
    state.record(make_record("LUID_00000002", body={"not json": {1, 2}}))
    with pytest.raises(StateError, match="cannot serialise"):
        backend.write(state)
    assert backend.path.read_bytes() == before
    assert state.serial == 1  # nothing was stored, so the serial did not move
    assert sorted(p.name for p in backend.path.parent.iterdir()) == ["state.json"]


def test_a_write_the_filesystem_refuses_is_a_state_error_and_keeps_the_state(
    backend: LocalStateBackend,
) -> None:
    state = written_state(backend, make_record())
    before = backend.path.read_bytes()
    backend.backup_path.mkdir()  # the backup cannot be replaced: the write fails midway
    state.record(make_record("LUID_00000002"))
    with pytest.raises(StateError, match=r"cannot write the state .*state\.json: "):
        backend.write(state)
    assert backend.path.read_bytes() == before
    assert state.serial == 1
    assert not backend.lock_path.exists()  # the write's own lock was released


@pytest.mark.parametrize("operation", ["write", "lock"])
def test_a_state_under_a_file_is_a_state_error_naming_it(tmp_path: Path, operation: str) -> None:
    (tmp_path / "iasync.toml").write_text("")
    backend = LocalStateBackend(tmp_path / "iasync.toml" / "state.json")
    with pytest.raises(StateError) as caught:
        if operation == "lock":
            with backend.lock("apply"):
                pass
        else:
            backend.write(State.new())
    assert f"{tmp_path / 'iasync.toml'} is a file, not a directory" in str(caught.value)


def test_kill_9_during_writes_never_leaves_a_half_written_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITE_FOREVER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        for _ in range(5):  # let it finish a few large writes, then kill it mid-stream
            assert writer.stdout.readline().strip().isdigit()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    state = LocalStateBackend(path).read()
    assert state.serial >= 5
    assert len(state.accounts) == 2000
    backup = json.loads((tmp_path / "state.json.backup").read_bytes())
    assert backup["lineage"] == state.lineage
    # Killed inside a write, it left that write's lock: visible, and released by its id.
    backend = LocalStateBackend(path)
    if backend.lock_path.exists():
        stale = json.loads(backend.lock_path.read_text())
        assert stale["operation"] == "write" and stale["pid"] == writer.pid
        backend.force_unlock(stale["id"])
    # The next write clears whatever the killed one left half-written beside the state.
    backend.write(backend.read())
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".state.json.lock."))
    assert left == ["state.json", "state.json.backup"]


_WRITE_FOREVER = """
import sys
from pathlib import Path
from iasync.states import AccountRecord, LocalStateBackend
backend = LocalStateBackend(Path(sys.argv[1]))
state = backend.read()
for i in range(2000):
    state.record(AccountRecord(f"LUID_{i:08d}", 1, {"InvestmentAccount/A/B": str(i)},
                 {"displayName": "x" * 500}, "sha256:0", f"accounts/{i}.yaml", "sha256:1",
                 "2026-11-29T07:00:00+00:00", None))
while True:
    backend.write(state)
    print(state.serial, flush=True)
"""


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format_version": 1, "lineage": ', "not valid JSON"),
        (b"[]", "top level is not a JSON object"),
        (b'{"format_version": 1, "serial": 0, "accounts": {}}', "lineage is missing"),
        (b'{"format_version": 1, "lineage": "x", "serial": "2", "accounts": {}}', "serial should"),
        (
            b'{"format_version": 1, "lineage": "x", "serial": 1,'
            b' "accounts": {"L": {"lusid_id": "L"}}}',
            "accounts.L.identifiers is missing",
        ),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"format_version": 0, "lineage": "x", "serial": 0, "accounts": {}}', "not a known"),
        (b'{"format_version": 1, "lineage": "x", "serial": -1, "accounts": {}}', "negative"),
        (b'{"format_version": true, "lineage": "x", "serial": 0, "accounts": {}}', "an integer"),
        (
            b'{"format_version": 1, "lineage": "x", "serial": 0, "accounts": {"L": []}}',
            "accounts.L",
        ),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "lineage": "x",
                    "serial": 1,
                    "accounts": {"L": {**make_record("M").to_json()}},
                }
            ).encode(),
            "accounts.L.lusid_id is 'M', not its key",
        ),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "lineage": "x",
                    "serial": 1,
                    "accounts": {"M": {**make_record("M").to_json(), "identifiers": {"k": 1}}},
                }
            ).encode(),
            "every value must be a string",
        ),
    ],
)
def test_corrupt_state_is_refused_and_never_overwritten(
    backend: LocalStateBackend, content: bytes, reason: str
) -> None:
    backend.path.parent.mkdir(parents=True)
    backend.path.write_bytes(content)
    with pytest.raises(StateCorruptError) as caught:
        backend.read()
    message = str(caught.value)
    assert str(backend.path) in message and reason in message and "backup" in message
    with pytest.raises(StateCorruptError):
        backend.write(State.new())
    assert backend.path.read_bytes() == content


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("lusid_id", None, "accounts.M.lusid_id should be a string, not None"),
        ("version", "1", "accounts.M.version should be an integer"),
        ("version", True, "accounts.M.version should be an integer, not True"),
        ("body", [], "accounts.M.body should be a JSON object"),
        ("body_hash", 1, "accounts.M.body_hash should be a string"),
        ("source", None, "accounts.M.source should be a string"),
        ("source_hash", {}, "accounts.M.source_hash should be a string"),
        ("applied_at", 0, "accounts.M.applied_at should be a string"),
        ("commit", 7, "accounts.M.commit should be a string"),
    ],
)
def test_each_record_field_of_the_wrong_type_is_named(
    backend: LocalStateBackend, field: str, value: object, reason: str
) -> None:
    record = {**make_record("M").to_json(), field: value}
    doc = {"format_version": 1, "lineage": "x", "serial": 1, "accounts": {"M": record}}
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text(json.dumps(doc))
    with pytest.raises(StateCorruptError, match=re.escape(reason)):
        backend.read()


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(AccountRecord)])
def test_each_missing_record_field_is_named(backend: LocalStateBackend, field: str) -> None:
    record = make_record("M").to_json()
    del record[field]
    doc = {"format_version": 1, "lineage": "x", "serial": 1, "accounts": {"M": record}}
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text(json.dumps(doc))
    with pytest.raises(StateCorruptError, match=f"accounts.M.{field} is missing"):
        backend.read()


def test_garbage_collection_is_on_again_after_reads_and_writes(
    backend: LocalStateBackend,
) -> None:
    # The state pauses it while building a state's objects; it must never stay paused.
    written_state(backend, make_record())
    backend.read()
    assert gc.isenabled()
    backend.path.write_bytes(b'{"format_version": 1, "lineage": ')
    with pytest.raises(StateCorruptError):
        backend.read()
    assert gc.isenabled()


def test_newer_format_is_refused_with_upgrade_hint(backend: LocalStateBackend) -> None:
    newer = {"format_version": FORMAT_VERSION + 1, "lineage": "x", "serial": 9, "accounts": {}}
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text(json.dumps(newer))
    before = backend.path.read_bytes()
    with pytest.raises(StateCorruptError, match=r"newer iasync.*Upgrade iasync"):
        backend.read()
    with pytest.raises(StateCorruptError):
        backend.write(State.new())
    assert backend.path.read_bytes() == before


def test_another_lineage_is_not_overwritten(backend: LocalStateBackend) -> None:
    written_state(backend, make_record())
    before = backend.path.read_bytes()
    with pytest.raises(StateError, match="another history"):
        backend.write(State.new())
    assert backend.path.read_bytes() == before


def test_state_changed_since_read_is_not_overwritten(backend: LocalStateBackend) -> None:
    written_state(backend, make_record())
    mine, theirs = backend.read(), backend.read()
    theirs.record(make_record("LUID_00000002"))
    backend.write(theirs)
    with pytest.raises(StateError, match="changed since it was read"):
        backend.write(mine)
    assert "LUID_00000002" in backend.read().accounts


def test_open_backend_uses_the_state_setting(tmp_path: Path) -> None:
    from iasync.settings import Settings

    backend = open_backend(Settings(root=tmp_path, state=Path("custom/s.json")))
    assert backend.describe() == str(tmp_path / "custom" / "s.json")


# --- the lock ---------------------------------------------------------------------------------


@pytest.fixture
def holder(backend: LocalStateBackend):  # type: ignore[no-untyped-def]
    held = LockHolder(backend.path)
    yield held
    if held.process.poll() is None:
        held.kill()


def test_lock_held_by_another_process_fails_at_once_naming_the_holder(
    backend: LocalStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateLockedError) as caught, backend.lock("apply"):
        pass
    message = str(caught.value)
    info = holder.info
    for part in (info["who"], info["host"], "operation apply", info["created"], info["id"]):
        assert part in message
    assert f"iasync force-unlock {info['id']}" in message
    assert caught.value.holder is not None and caught.value.holder.id == info["id"]
    assert json.loads(backend.lock_path.read_text())["id"] == info["id"]  # untouched


def test_write_is_refused_while_another_process_holds_the_lock(
    backend: LocalStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateLockedError):
        backend.write(State.new())
    assert not backend.path.exists()


def test_lock_waits_until_the_holder_releases(
    backend: LocalStateBackend, holder: LockHolder
) -> None:
    releaser = threading.Timer(0.3, holder.release)
    releaser.start()
    try:
        with backend.lock("apply", timeout=60) as info:
            assert json.loads(backend.lock_path.read_text())["id"] == info.id
    finally:
        releaser.join()
    assert not backend.lock_path.exists()


_LOCKED_INCREMENTS = """
import os, sys
from pathlib import Path
from iasync.states import AccountRecord, LocalStateBackend
backend = LocalStateBackend(Path(sys.argv[1]))
for i in range(5):
    with backend.lock("apply", timeout=120):
        state = backend.read()
        lusid_id = f"LUID_{os.getpid()}_{i}"
        state.record(AccountRecord(lusid_id, 1, {"InvestmentAccount/A/B": lusid_id}, {}, "sha256:0",
                                   f"accounts/{lusid_id}.yaml", "sha256:1", "2026-11-29", None))
        backend.write(state)
"""


def test_processes_taking_turns_under_the_lock_lose_no_write(backend: LocalStateBackend) -> None:
    workers = [
        subprocess.Popen([sys.executable, "-c", _LOCKED_INCREMENTS, str(backend.path)])
        for _ in range(4)
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0, 0, 0, 0]
    state = backend.read()
    assert len(state.accounts) == 20 and state.serial == 20
    assert not backend.lock_path.exists()


_UNLOCKED_WRITES = """
import os, sys
from pathlib import Path
from iasync.states import AccountRecord, LocalStateBackend, StateError
backend = LocalStateBackend(Path(sys.argv[1]))
for i in range(10):
    try:
        state = backend.read()
        lusid_id = f"LUID_{os.getpid()}_{i}"
        state.record(AccountRecord(lusid_id, 1, {"InvestmentAccount/A/B": lusid_id}, {}, "sha256:0",
                                   f"accounts/{lusid_id}.yaml", "sha256:1", "2026-11-29", None))
        backend.write(state)
        print("written", flush=True)
    except StateError:
        print("refused", flush=True)
"""


def test_racing_writers_without_the_lock_are_refused_never_lost(
    backend: LocalStateBackend,
) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _UNLOCKED_WRITES, str(backend.path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=300)[0].split() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    written = sum(out.count("written") for out in outputs)
    assert written + sum(out.count("refused") for out in outputs) == 40
    state = backend.read()
    # Every write that reported success is in the state: none was silently overwritten.
    assert len(state.accounts) == state.serial == written


def test_lock_wait_gives_up_after_the_timeout(
    backend: LocalStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateLockedError, match=holder.info["id"]), backend.lock("apply", 0.2):
        pass


def test_lock_is_released_after_the_block_even_on_error(backend: LocalStateBackend) -> None:
    with pytest.raises(RuntimeError), backend.lock("apply") as info:
        assert info.operation == "apply" and info.pid == os.getpid()
        raise RuntimeError("boom")
    assert not backend.lock_path.exists()
    with backend.lock("apply"):  # free again
        pass


def test_writes_under_own_lock_succeed(backend: LocalStateBackend) -> None:
    with backend.lock("apply"):
        state = written_state(backend, make_record())
    assert backend.read().serial == state.serial == 1


def test_crashed_holder_leaves_a_visible_lock_that_force_unlock_removes(
    backend: LocalStateBackend, holder: LockHolder
) -> None:
    holder.kill()
    with pytest.raises(StateLockedError, match="no longer running") as caught, backend.lock("x"):
        pass
    assert f"iasync force-unlock {holder.info['id']}" in str(caught.value)
    with pytest.raises(StateError, match="nothing was released"):
        backend.force_unlock("not-the-id")
    assert backend.lock_path.exists()
    released = backend.force_unlock(holder.info["id"])
    assert released.id == holder.info["id"] and released.who == holder.info["who"]
    assert not backend.lock_path.exists()
    with backend.lock("apply"):
        pass


def test_force_unlock_without_a_lock_says_so(backend: LocalStateBackend) -> None:
    with pytest.raises(StateError, match="not locked"):
        backend.force_unlock("anything")


def test_release_of_a_stolen_lock_leaves_the_new_holders_lock(backend: LocalStateBackend) -> None:
    other = LocalStateBackend(backend.path)
    first_block = backend.lock("apply")
    first = first_block.__enter__()
    other.force_unlock(first.id)
    second_block = other.lock("apply")
    second = second_block.__enter__()
    first_block.__exit__(None, None, None)
    assert json.loads(backend.lock_path.read_text())["id"] == second.id
    second_block.__exit__(None, None, None)
    assert not backend.lock_path.exists()


@pytest.mark.parametrize(
    "content",
    [
        "held by a script",
        '{"id": "x", "operation": "apply", "who": "w", "host": "h", "pid": "1", "created": "c"}',
    ],
)
def test_a_foreign_lock_file_still_locks(backend: LocalStateBackend, content: str) -> None:
    backend.lock_path.parent.mkdir(parents=True)
    backend.lock_path.write_text(content)
    with pytest.raises(StateLockedError), backend.lock("apply"):
        pass
    with pytest.raises(StateError, match="delete it by hand"):
        backend.force_unlock("unknown")
    assert backend.lock_path.read_text() == content


def test_the_audit_trail_is_appended_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    from iasync.states import LocalStateBackend

    backend = LocalStateBackend(tmp_path / "state.json")
    assert backend.applies() == []
    backend.record_apply({"serial": 1, "actor": "alice"})
    backend.record_apply({"serial": 2, "actor": "bob"})
    with backend.history_path.open("ab") as out:
        out.write(b'{"serial": 3, "act')  # killed mid-append

    assert backend.applies() == [{"actor": "alice", "serial": 1}, {"actor": "bob", "serial": 2}]
    assert backend.history_path == tmp_path / "state.json.history"
