"""The real CLI with its state in a database, against the emulator: SQLite (the default) and a
real PostgreSQL on loopback, the same tests on both."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from iasync.states import backend_for
from tests.e2e.conftest import Project, clean_environ, make_project


@pytest.fixture(params=["sqlite", "postgres"])
def db_project(request: pytest.FixtureRequest, tmp_path: Path, emulator: Any) -> Project:
    """Three account files; the state in `.iasync/state.db` (the default) or in PostgreSQL."""
    project = make_project(
        tmp_path / "project", clean_environ() | emulator.env(), emulator, range(3)
    )
    settings = 'accounts_dir = "accounts"\n'
    if request.param == "postgres":
        settings += f'state = "{request.getfixturevalue("postgres_dsn")}"\n'
    (project.root / "iasync.toml").write_text(settings, encoding="utf-8")
    return project


def location(project: Project) -> str:
    """The project's state, as its iasync.toml names it."""
    for line in (project.root / "iasync.toml").read_text().splitlines():
        if line.startswith("state = "):
            return line.split('"')[1]
    return str(project.root / ".iasync" / "state.db")


def pulled(project: Project) -> dict[str, Any]:
    done = project.iasync("state", "pull")
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_apply_records_in_the_database_and_the_next_plan_has_nothing_to_do(
    db_project: Project,
) -> None:
    first = db_project.iasync("apply", "--auto-approve")
    assert first.returncode == 0, first.stderr
    assert "3 created" in first.stdout
    assert not db_project.state_path.exists()  # no JSON file: the state is in the database
    unchanged = db_project.iasync("plan", "-detailed-exitcode")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr

    db_project.write(1, suffix=" renamed")
    plan = db_project.plan_json()
    assert [c["action"] for c in plan["changes"] if c["action"] != "unchanged"] == ["update"]
    second = db_project.iasync("apply", "--auto-approve")
    assert second.returncode == 0, second.stderr

    doc = pulled(db_project)
    assert doc["format_version"] == 1 and doc["serial"] == 2
    names = sorted(rec["body"]["displayName"] for rec in doc["accounts"].values())
    assert names == ["Account 0", "Account 1 renamed", "Account 2"]
    history = backend_for(location(db_project), db_project.root).history()  # type: ignore[attr-defined]
    assert [(h["serial"], h["operation"], h["written"]) for h in history] == [
        (1, "apply", 3),
        (2, "apply", 1),  # only the changed account was written
    ]


def _wait_for_holder(project: Project) -> Any:
    backend = backend_for(location(project), project.root)
    deadline = time.monotonic() + 60
    while (holder := backend.lock_holder()) is None:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the apply never took the lock"
        time.sleep(0.05)
    return holder


def test_a_second_apply_is_locked_out_and_after_a_kill_9_the_next_one_simply_runs(
    db_project: Project, emulator: Any
) -> None:
    emulator.add_fault(kind="hang", seconds=30, count=1, commit=False)
    first = db_project.popen("apply", "--auto-approve")
    try:
        holder = _wait_for_holder(db_project)
        assert holder.pid == first.pid and holder.operation == "apply"
        second = db_project.iasync("apply", "--auto-approve")
        assert second.returncode == 1
        assert "is locked by" in second.stderr and f"process {first.pid}" in second.stderr
    finally:
        first.kill()  # SIGKILL: no clean-up of any kind
        first.communicate(timeout=30)

    # No force-unlock: the lock died with the process (the server may take a moment to notice).
    third = db_project.iasync("apply", "--auto-approve", "-lock-timeout", "30")
    assert third.returncode == 0, third.stderr
    assert "3 created" in third.stdout
    assert len(pulled(db_project)["accounts"]) == 3


def test_pull_then_push_moves_the_state_and_push_refuses_another_history(
    db_project: Project, tmp_path: Path
) -> None:
    assert db_project.iasync("apply", "--auto-approve").returncode == 0
    doc = pulled(db_project)
    document = tmp_path / "pulled.json"
    document.write_text(json.dumps(doc))

    elsewhere = tmp_path / "elsewhere.db"
    pushed = db_project.iasync("state", "push", str(document), "--state", str(elsewhere))
    assert pushed.returncode == 0, pushed.stderr
    assert f"3 accounts, lineage {doc['lineage']}, serial 1" in pushed.stdout
    listed = db_project.iasync("state", "list", "-json", "--state", str(elsewhere))
    assert len(json.loads(listed.stdout)["accounts"]) == 3

    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps(doc | {"lineage": "another-lineage"}))
    refused = db_project.iasync("state", "push", str(stranger))
    assert refused.returncode == 1
    assert "another history" in refused.stderr and "--force" in refused.stderr
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc | {"serial": 0}))
    assert "older than the stored one" in db_project.iasync("state", "push", str(older)).stderr
    assert pulled(db_project)["lineage"] == doc["lineage"]  # untouched by either

    forced = db_project.iasync("state", "push", str(stranger), "--force")
    assert forced.returncode == 0, forced.stderr
    after = pulled(db_project)
    assert after["lineage"] == "another-lineage" and after["serial"] == 2  # above the replaced


def test_workspaces_keep_separate_states(postgres_dsn: str, tmp_path: Path, emulator: Any) -> None:
    project = make_project(tmp_path / "project", clean_environ() | emulator.env(), emulator, [1])
    (project.root / "iasync.toml").write_text(f'state = "{postgres_dsn}"\n', encoding="utf-8")
    done = project.iasync("apply", "--auto-approve", "--workspace", "staging")
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout
    staging = project.iasync("state", "list", "-json", "--workspace", "staging")
    assert len(json.loads(staging.stdout)["accounts"]) == 1
    default = project.iasync("state", "list", "-json")
    assert json.loads(default.stdout)["accounts"] == []


def test_a_first_format_state_is_imported_once_and_kept(tmp_path: Path, emulator: Any) -> None:
    project = make_project(
        tmp_path / "project", clean_environ() | emulator.env(), emulator, range(3)
    )
    assert project.iasync("apply", "--auto-approve").returncode == 0  # into state.json
    before = project.state()
    (project.root / "iasync.toml").write_text('accounts_dir = "accounts"\n')  # the new default

    first = project.iasync("plan", "-detailed-exitcode")
    assert first.returncode == 0, first.stdout + first.stderr  # the same state: nothing to do
    imported = [line for line in first.stderr.splitlines() if line.startswith("Imported")]
    assert len(imported) == 1 and "(3 accounts, serial 1)" in imported[0]
    assert not project.state_path.exists()
    kept = project.root / ".iasync" / "state.json.imported"
    assert json.loads(kept.read_text()) == before
    doc = pulled(project)
    assert (doc["lineage"], doc["serial"], doc["accounts"]) == (
        before["lineage"],
        before["serial"],
        before["accounts"],
    )
    again = project.iasync("plan")
    assert "Imported" not in again.stderr


def test_a_password_in_the_settings_file_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", clean_environ(), None, [1])
    (project.root / "iasync.toml").write_text('state = "postgresql://ci:s3cret@db/iasync"\n')
    done = project.iasync("state", "list")
    assert done.returncode == 1
    assert "PGPASSWORD" in done.stderr and "s3cret" not in done.stderr


def test_a_plan_reads_the_bodies_of_changed_accounts_only(db_project: Project) -> None:
    from iasync.accounts.loader import load_accounts
    from iasync.plans.plan import make_plan, reusable_files
    from iasync.settings import load_settings
    from iasync.states import open_backend

    assert db_project.iasync("apply", "--auto-approve").returncode == 0
    db_project.write(2, suffix=" renamed")
    settings = load_settings(db_project.root, env={})
    state = open_backend(settings).read()
    plan = make_plan(load_accounts([], settings, reuse=reusable_files(state)), state)

    assert [c.action for c in plan.changes] == ["unchanged", "unchanged", "update"]
    fetched = sorted(rec.source for rec in state.accounts.values() if "body" in vars(rec))
    assert fetched == ["accounts/account-0002.yaml"]


def test_a_saved_plan_applies_as_reviewed_and_is_refused_once_the_state_moved(
    db_project: Project,
) -> None:
    assert db_project.iasync("plan", "-out", "first.plan").returncode == 0
    applied = db_project.iasync("apply", "first.plan")
    assert applied.returncode == 0, applied.stderr
    assert "3 created" in applied.stdout

    db_project.write(1, suffix=" renamed")
    assert db_project.iasync("plan", "-out", "second.plan").returncode == 0
    db_project.write(2, suffix=" renamed")
    assert db_project.iasync("apply", "--auto-approve").returncode == 0  # the state moves on
    stale = db_project.iasync("apply", "second.plan")
    assert stale.returncode == 1
    assert "(serial 1 -> 2); run iasync plan again" in stale.stderr
    assert len(db_project.upserts()) == 2  # nothing more was sent
    assert pulled(db_project)["serial"] == 2
