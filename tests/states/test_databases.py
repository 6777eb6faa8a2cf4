"""The state in a database, the same behaviour on both: SQLite (a file here) and PostgreSQL (a
real server on loopback, a database of its own per test). Other processes are real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.states import (
    AccountRecord,
    State,
    StateError,
    StateLockedError,
    backend_for,
)
from iasync.states.database import DatabaseStateBackend
from tests.pg import PostgresServer
from tests.states.lockholder import LockHolder

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def make_record(lusid_id: str = "LUID_00000001", **overrides: object) -> AccountRecord:
    fields: dict[str, object] = {
        "lusid_id": lusid_id,
        "version": 1,
        "identifiers": {EXT: f"IA_{lusid_id}"},
        "body": {"displayName": "Jane Doe", "accountType": "Personal"},
        "body_hash": "sha256:" + "a" * 64,
        "source": f"accounts/{lusid_id.lower()}.yaml",
        "source_hash": "sha256:" + "b" * 64,
        "applied_at": "2026-11-29T07:00:00+00:00",
        "commit": None,
    }
    fields.update(overrides)
    return AccountRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the state is: a SQLite file, or a PostgreSQL database made for this test."""
    if request.param == "sqlite":
        return str(tmp_path / ".iasync" / "state.db")
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


def open_at(location: str, workspace: str = "default") -> DatabaseStateBackend:
    backend = backend_for(location, Path.cwd(), workspace)
    assert isinstance(backend, DatabaseStateBackend)
    return backend


@pytest.fixture
def backend(location: str) -> Iterator[DatabaseStateBackend]:
    opened = open_at(location)
    yield opened
    opened.close()  # type: ignore[attr-defined]


def written_state(backend: DatabaseStateBackend, *records: AccountRecord) -> State:
    state = backend.read()
    for rec in records:
        state.record(rec)
    backend.write(state)
    return state


# --- reading and writing ----------------------------------------------------------------------


def test_no_state_yet_is_empty_with_a_fresh_lineage(backend: DatabaseStateBackend) -> None:
    first, second = backend.read(), backend.read()
    assert first.serial == 0 and first.accounts == {}
    assert first.lineage != second.lineage  # nothing stored: each read is a new history


def test_a_read_of_a_missing_sqlite_state_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / ".iasync" / "state.db"
    open_at(str(path)).read()
    assert not path.parent.exists()


def test_round_trip_keeps_every_field_exactly(backend: DatabaseStateBackend) -> None:
    body = {"z": 1, "displayName": "Zoë 名前", "big": 2**70, "nested": {"b": [1.5, None, True]}}
    rec = make_record(body=body, commit="c0ffee", version=None, source_hash="")
    state = written_state(backend, rec, make_record("LUID_2"))
    state.canonical_format = 7
    backend.write(state)
    again = open_at_same(backend).read()
    assert again.lineage == state.lineage and again.serial == 2 and again.canonical_format == 7
    assert again.accounts["LUID_00000001"] == rec
    assert list(again.accounts["LUID_00000001"].body) == ["z", "displayName", "big", "nested"]
    assert again.accounts["LUID_00000001"].body["big"] == 2**70  # an int, not a float


def open_at_same(backend: DatabaseStateBackend) -> DatabaseStateBackend:
    """A second backend on the same state, as another process would have."""
    where = backend.url if hasattr(backend, "url") else str(backend.path)  # type: ignore[attr-defined]
    return open_at(where, backend.workspace)


def test_serial_goes_up_by_one_per_write_and_lineage_stays(backend: DatabaseStateBackend) -> None:
    state = written_state(backend, make_record())
    lineage = state.lineage
    for expected in (2, 3):
        backend.write(state)
        assert state.serial == expected
    assert open_at_same(backend).read().serial == 3
    assert open_at_same(backend).read().lineage == lineage


def test_a_read_fetches_bodies_only_when_used(backend: DatabaseStateBackend) -> None:
    written_state(backend, make_record("LUID_1"), make_record("LUID_2", body={"x": 1}))
    lazy = open_at_same(backend).read()
    assert all("body" not in vars(rec) for rec in lazy.accounts.values())
    assert lazy.accounts["LUID_2"].body == {"x": 1}  # fetched now, for this record alone
    assert "body" not in vars(lazy.accounts["LUID_1"])
    whole = open_at_same(backend).read(bodies=True)
    assert all("body" in vars(rec) for rec in whole.accounts.values())


def test_a_write_stores_only_what_changed(backend: DatabaseStateBackend) -> None:
    state = written_state(backend, *(make_record(f"LUID_{i}") for i in range(10)))
    state = open_at_same(backend).read()
    other = open_at_same(backend)
    state = other.read()
    state.record(make_record("LUID_3", body={"changed": True}, body_hash="sha256:new"))
    state.record(make_record("LUID_NEW"))
    state.forget("LUID_7")
    other.write(state)
    last = other.history()[-1]
    assert (last["serial"], last["written"], last["removed"]) == (2, 2, 1)
    again = open_at_same(backend).read()
    assert sorted(again.accounts) == sorted(
        [f"LUID_{i}" for i in range(10) if i != 7] + ["LUID_NEW"]
    )
    assert again.accounts["LUID_3"].body == {"changed": True}
    # A body never fetched is left as it was stored, not lost.
    assert again.accounts["LUID_5"].body == make_record().body


def test_a_record_read_and_changed_in_place_is_written(backend: DatabaseStateBackend) -> None:
    written_state(backend, make_record("LUID_1"), make_record("LUID_2"))
    state = backend.read()
    state.accounts["LUID_2"].source_hash = ""
    backend.write(state)
    assert backend.history()[-1]["written"] == 1
    assert open_at_same(backend).read().accounts["LUID_2"].source_hash == ""


def test_a_records_scope_is_read_without_its_body(backend: DatabaseStateBackend) -> None:
    uk = {"scope": "uk", "displayName": "S", "accountType": "Personal"}
    written_state(backend, make_record("LUID_S", body=uk), make_record("LUID_U"))

    state = open_at_same(backend).read()

    assert {lusid_id: rec.scope for lusid_id, rec in state.accounts.items()} == {
        "LUID_S": "uk",
        "LUID_U": None,  # the reference page's API: no scope
    }
    assert all("body" not in vars(rec) for rec in state.accounts.values())


def test_a_body_changed_in_place_writes_its_scope(backend: DatabaseStateBackend) -> None:
    uk = {"scope": "uk", "displayName": "S", "accountType": "Personal"}
    written_state(backend, make_record("LUID_S", body=uk))
    reader = open_at_same(backend)
    state = reader.read()

    state.accounts["LUID_S"].body = uk | {"scope": "eu"}

    assert state.accounts["LUID_S"].scope == "eu"  # the body's, once at hand
    reader.write(state)
    assert open_at_same(backend).read().accounts["LUID_S"].scope == "eu"


def test_records_sharing_an_identifier_in_two_scopes_share_none(
    backend: DatabaseStateBackend,
) -> None:
    def scoped(lusid_id: str, scope: str) -> AccountRecord:
        body = {"scope": scope, "displayName": "S", "accountType": "Personal"}
        return make_record(lusid_id, body=body, identifiers={EXT: "IA_SAME"})

    written_state(backend, scoped("LUID_UK", "uk"), scoped("LUID_EU", "eu"))
    index = open_at_same(backend).read().index
    assert index is not None and not index.any_shared()  # two LUSID accounts, as LUSID has it

    written_state(backend, scoped("LUID_UK2", "uk"))
    index = open_at_same(backend).read().index
    assert index is not None and index.any_shared()


def test_a_write_with_nothing_changed_writes_no_record(backend: DatabaseStateBackend) -> None:
    state = written_state(backend, make_record())
    backend.write(state)
    assert [(h["serial"], h["written"]) for h in backend.history()] == [(1, 1), (2, 0)]


def test_identifiers_are_looked_up_by_index(backend: DatabaseStateBackend) -> None:
    written_state(
        backend,
        make_record("LUID_1", identifiers={EXT: "IA_1", "InvestmentAccount/I/Id": "x"}),
        make_record("LUID_2", identifiers={EXT: "IA_2", "InvestmentAccount/I/Id": "x"}),
    )
    assert backend.lookup(EXT, "IA_2") == ["LUID_2"]
    assert backend.lookup("InvestmentAccount/I/Id", "x") == ["LUID_1", "LUID_2"]
    assert backend.lookup(EXT, "IA_9") == []
    state = backend.read()
    state.record(make_record("LUID_2", identifiers={EXT: "IA_22"}))
    backend.write(state)
    assert backend.lookup(EXT, "IA_2") == [] and backend.lookup(EXT, "IA_22") == ["LUID_2"]


def test_another_lineage_is_not_overwritten(backend: DatabaseStateBackend) -> None:
    written_state(backend, make_record())
    with pytest.raises(StateError, match="another history"):
        backend.write(State.new())
    assert len(backend.read().accounts) == 1


def test_a_state_changed_since_read_is_not_overwritten(backend: DatabaseStateBackend) -> None:
    written_state(backend, make_record())
    mine = backend.read()
    theirs_backend = open_at_same(backend)
    theirs = theirs_backend.read()
    theirs.record(make_record("LUID_THEIRS"))
    theirs_backend.write(theirs)
    mine.record(make_record("LUID_MINE"))
    with pytest.raises(StateError, match=r"changed since it was read \(serial 2, expected 1\)"):
        backend.write(mine)
    assert sorted(backend.read().accounts) == ["LUID_00000001", "LUID_THEIRS"]


def test_replace_stores_a_whole_state_as_it_is(backend: DatabaseStateBackend) -> None:
    written_state(backend, make_record("LUID_OLD"))
    pushed = State("another-lineage", 41, {"LUID_1": make_record("LUID_1")}, 3)
    with backend.lock("state push"):
        backend.replace(pushed, "state push")
    again = open_at_same(backend).read()
    assert (again.lineage, again.serial, again.canonical_format) == ("another-lineage", 41, 3)
    assert list(again.accounts) == ["LUID_1"]
    assert backend.lookup(EXT, "IA_LUID_OLD") == []


_WRITE_FOREVER = """
import sys
from pathlib import Path
from iasync.states import AccountRecord, backend_for
backend = backend_for(sys.argv[1], Path.cwd())
state = backend.read()
n = 0
while True:
    n += 1
    for i in range(500):  # every record changes in every write: one transaction or nothing
        state.record(AccountRecord(f"LUID_{i:08d}", n, {"InvestmentAccount/A/B": str(i)},
                     {"displayName": "x" * 200, "n": n}, f"sha256:{n}", f"accounts/{i}.yaml",
                     "sha256:1", "2026-11-29T07:00:00+00:00", None))
    backend.write(state)
    print(state.serial, flush=True)
"""


def test_kill_9_during_writes_leaves_the_last_whole_write_and_no_lock(location: str) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITE_FOREVER, location], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        for _ in range(3):
            assert writer.stdout.readline().strip().isdigit()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    backend = open_at(location)
    state = backend.read(bodies=True)
    assert state.serial >= 3 and len(state.accounts) == 500
    # Each write changed every record: all of them are from the same (the last whole) write.
    assert {rec.version for rec in state.accounts.values()} == {state.serial}
    assert {rec.body["n"] for rec in state.accounts.values()} == {state.serial}
    # Killed inside a write, it held that write's lock: gone with the process.
    with backend.lock("apply", timeout=30):
        backend.write(state)


# --- the lock ---------------------------------------------------------------------------------


@pytest.fixture
def holder(location: str) -> Iterator[LockHolder]:
    held = LockHolder(location)
    yield held
    if held.process.poll() is None:
        held.kill()


def test_a_lock_held_by_another_process_fails_at_once_naming_the_holder(
    backend: DatabaseStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateLockedError) as caught, backend.lock("apply"):
        pass
    message = str(caught.value)
    info = holder.info
    for part in (info["who"], info["host"], "operation apply", info["created"], info["id"]):
        assert part in message
    assert str(info["pid"]) in message
    assert caught.value.holder is not None and caught.value.holder.id == info["id"]


def test_a_write_is_refused_while_another_process_holds_the_lock(
    backend: DatabaseStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateLockedError):
        backend.write(State.new())
    assert backend.read().serial == 0


def test_the_lock_waits_until_the_holder_releases(
    backend: DatabaseStateBackend, holder: LockHolder
) -> None:
    releaser = threading.Timer(0.3, holder.release)
    releaser.start()
    try:
        with backend.lock("apply", timeout=60) as info:
            assert backend.lock_holder() == info
    finally:
        releaser.join()
    assert backend.lock_holder() is None


def test_the_lock_wait_gives_up_after_the_timeout(
    backend: DatabaseStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateLockedError, match=holder.info["id"]), backend.lock("apply", 0.2):
        pass


def test_after_a_kill_9_the_next_lock_simply_runs(
    backend: DatabaseStateBackend, holder: LockHolder
) -> None:
    holder.kill()
    # The server notices a dropped connection a moment later: a short wait, no force-unlock.
    with backend.lock("apply", timeout=30) as info:
        assert backend.lock_holder() == info  # the killed holder's details replaced
        written_state(backend, make_record())
    assert backend.read().serial == 1


def test_the_lock_is_released_after_the_block_even_on_error(
    backend: DatabaseStateBackend,
) -> None:
    with pytest.raises(RuntimeError), backend.lock("apply") as info:
        assert info.operation == "apply" and info.pid == os.getpid()
        raise RuntimeError("boom")
    assert backend.lock_holder() is None
    other = open_at_same(backend)
    with other.lock("apply"):  # free for another process too
        pass


def test_force_unlock_without_a_lock_says_so(backend: DatabaseStateBackend) -> None:
    with pytest.raises(StateError, match="not locked"):
        backend.force_unlock("anything")


def test_force_unlock_with_another_lock_id_releases_nothing(
    backend: DatabaseStateBackend, holder: LockHolder
) -> None:
    with pytest.raises(StateError, match="nothing was released"):
        backend.force_unlock("not-the-id")
    with pytest.raises(StateLockedError):
        backend.write(State.new())


def test_force_unlock_in_postgres_ends_the_holders_session(postgres_dsn: str) -> None:
    holder = LockHolder(postgres_dsn)
    try:
        backend = open_at(postgres_dsn)
        released = backend.force_unlock(holder.info["id"])
        assert released.id == holder.info["id"]
        with backend.lock("apply", timeout=30):
            written_state(backend, make_record())
        holder.release(released=False)  # its session was ended: it cannot unlock, writes nothing
    finally:
        if holder.process.poll() is None:
            holder.kill()
    assert open_at(postgres_dsn).read().serial == 1


def test_force_unlock_leaves_the_same_workspace_of_another_database_alone(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    # The same advisory key is held in another database on the server: another team's state
    # (and, in this suite, another test's). Ending its session would break that team's apply.
    with postgres_server.database() as other_dsn:
        elsewhere = LockHolder(other_dsn)
        here = LockHolder(postgres_dsn)
        try:
            open_at(postgres_dsn).force_unlock(here.info["id"])
            with pytest.raises(StateLockedError):
                open_at(other_dsn).write(State.new())  # still held there
            elsewhere.release()
            assert elsewhere.process.returncode == 0  # its session was never ended
        finally:
            for held in (elsewhere, here):
                if held.process.poll() is None:
                    held.kill()


def test_force_unlock_in_sqlite_names_the_running_process_to_stop(tmp_path: Path) -> None:
    location = str(tmp_path / "state.db")
    holder = LockHolder(location)
    try:
        with pytest.raises(StateError, match=f"kill {holder.info['pid']}"):
            open_at(location).force_unlock(holder.info["id"])
    finally:
        holder.release()


_LOCKED_INCREMENTS = """
import os, sys
from pathlib import Path
from iasync.states import AccountRecord, backend_for
backend = backend_for(sys.argv[1], Path.cwd())
for i in range(5):
    with backend.lock("apply", timeout=120):
        state = backend.read()
        lusid_id = f"LUID_{os.getpid()}_{i}"
        state.record(AccountRecord(lusid_id, 1, {"InvestmentAccount/A/B": lusid_id}, {},
                     "sha256:0", f"accounts/{lusid_id}.yaml", "sha256:1", "2026-11-29", None))
        backend.write(state)
"""


def test_processes_taking_turns_under_the_lock_lose_no_write(location: str) -> None:
    workers = [
        subprocess.Popen([sys.executable, "-c", _LOCKED_INCREMENTS, location]) for _ in range(3)
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0, 0, 0]
    state = open_at(location).read()
    assert len(state.accounts) == 15 and state.serial == 15


_UNLOCKED_WRITES = """
import os, sys
from pathlib import Path
from iasync.states import AccountRecord, StateError, backend_for
backend = backend_for(sys.argv[1], Path.cwd())
for i in range(8):
    try:
        state = backend.read()
        lusid_id = f"LUID_{os.getpid()}_{i}"
        state.record(AccountRecord(lusid_id, 1, {"InvestmentAccount/A/B": lusid_id}, {},
                     "sha256:0", f"accounts/{lusid_id}.yaml", "sha256:1", "2026-11-29", None))
        backend.write(state)
        print("written", flush=True)
    except StateError:
        print("refused", flush=True)
"""


def test_racing_writers_without_the_lock_are_refused_never_lost(location: str) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _UNLOCKED_WRITES, location], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=300)[0].split() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    written = sum(out.count("written") for out in outputs)
    assert written + sum(out.count("refused") for out in outputs) == 24
    state = open_at(location).read()
    # Every write that reported success is in the state: none was silently overwritten.
    assert len(state.accounts) == state.serial == written


# --- workspaces (PostgreSQL) ------------------------------------------------------------------


# --- the audit trail (`iasync state history`) ---------------------------------------------------


def _entry(serial: int, actor: str) -> dict[str, Any]:
    return {
        "applied_at": f"2026-01-0{serial}T00:00:00Z",
        "lineage": "L",
        "serial": serial,
        "commit": f"c{serial}",
        "ci_run_url": f"https://ci.example.com/runs/{serial}",
        "actor": actor,
        "plan_hash": f"sha256:{serial}",
        "counts": {"created": serial, "updated": 0, "moved": 0, "deleted": 0, "failed": 0},
        "iasync_version": "0",
    }


def test_applies_are_kept_one_row_each_oldest_first(location: str) -> None:
    backend = open_at(location)
    assert backend.applies() == []
    backend.record_apply(_entry(1, "alice"))
    backend.record_apply(_entry(2, "bob"))

    again = open_at(location)  # another process's view: what was committed
    assert again.applies() == [_entry(1, "alice"), _entry(2, "bob")]
    columns = again._execute(
        "SELECT number, applied_commit, ci_run_url, actor, plan_hash, counts "
        "FROM iasync_applies ORDER BY number"
    ).fetchall()
    assert [tuple(row[:5]) for row in columns] == [
        (1, "c1", "https://ci.example.com/runs/1", "alice", "sha256:1"),
        (2, "c2", "https://ci.example.com/runs/2", "bob", "sha256:2"),
    ]
    assert json.loads(columns[1][5])["created"] == 2


def test_a_read_of_a_missing_sqlite_state_has_no_applies_and_creates_no_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".iasync" / "state.db"
    assert open_at(str(path)).applies() == []
    assert not path.exists()


def test_a_version_1_database_gains_the_audit_table_and_keeps_its_state(tmp_path: Path) -> None:
    import sqlite3

    from iasync.states.database import MIGRATIONS

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE iasync_schema (version BIGINT NOT NULL)")
    for statement in MIGRATIONS[0]:
        old.execute(statement)
    old.execute("INSERT INTO iasync_schema (version) VALUES (1)")
    old.commit()
    old.close()

    backend = open_at(str(path))
    written_state(backend, make_record())
    backend.record_apply(_entry(1, "alice"))

    assert open_at(str(path)).applies() == [_entry(1, "alice")]
    assert list(open_at(str(path)).read().accounts) == ["LUID_00000001"]


def test_workspaces_keep_their_own_applies(postgres_dsn: str) -> None:
    open_at(postgres_dsn, "staging").record_apply(_entry(1, "alice"))
    open_at(postgres_dsn, "production").record_apply(_entry(2, "bob"))
    assert open_at(postgres_dsn, "staging").applies() == [_entry(1, "alice")]
    assert open_at(postgres_dsn, "production").applies() == [_entry(2, "bob")]
    assert open_at(postgres_dsn).applies() == []


def test_workspaces_in_one_database_are_separate_states(postgres_dsn: str) -> None:
    staging, production = open_at(postgres_dsn, "staging"), open_at(postgres_dsn, "production")
    written_state(staging, make_record("LUID_S"))
    written_state(production, make_record("LUID_P1"), make_record("LUID_P2"))
    assert list(open_at(postgres_dsn, "staging").read().accounts) == ["LUID_S"]
    assert len(open_at(postgres_dsn, "production").read().accounts) == 2
    assert open_at(postgres_dsn).read().serial == 0  # `default` is untouched
    assert staging.lookup(EXT, "IA_LUID_P1") == []
    assert "workspace staging" in staging.describe()
    holder = LockHolder(postgres_dsn, "staging")
    try:
        with production.lock("apply"):  # another workspace's lock is another lock
            pass
        with pytest.raises(StateLockedError):
            staging.write(staging.read())
    finally:
        holder.release()


def test_a_local_state_has_no_workspaces(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="workspaces"):
        backend_for(str(tmp_path / "state.db"), tmp_path, "staging")


def test_the_password_of_a_postgres_url_is_never_described() -> None:
    backend = backend_for("postgresql://ci:s3cret@db.example:5433/iasync", Path.cwd())
    assert backend.describe() == "postgresql://ci@db.example:5433/iasync (workspace default)"


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    # Port 1 on loopback: nothing listens there.
    backend = backend_for("postgresql://u:s3cret@127.0.0.1:1/iasync", Path.cwd())
    with pytest.raises(StateError) as caught:
        backend.read()
    assert "cannot connect to the state postgresql://u@127.0.0.1:1/iasync" in str(caught.value)
    assert "s3cret" not in str(caught.value)
