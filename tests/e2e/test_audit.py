"""The audit trail (issue 12, item 7): every apply records the git commit, the CI run and actor,
the plan's hash and the counts; `iasync state history` shows them, as text and JSON. An apply an
error stopped once it began sending is recorded too, with what it recorded and the error."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iasync.audit import plan_hash
from iasync.emulator.process import EmulatorProcess
from iasync.plans.planfile import load_plan
from tests.e2e.conftest import Project

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "team/accounts",
    "GITHUB_RUN_ID": "1234",
    "GITHUB_ACTOR": "alice",
}


def _git(project: Project, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_each_apply_is_recorded_with_its_commit_run_actor_plan_and_counts(
    project: Project,
) -> None:
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "accounts")
    commit = _git(project, "rev-parse", "HEAD")
    assert project.iasync("plan", "-out", "tf.plan").returncode == 0
    first = project.iasync("apply", "tf.plan", env=project.env | GITHUB)
    project.write(1, suffix=" renamed")
    second = project.iasync("apply", "--auto-approve")
    noop = project.iasync("apply", "--auto-approve")

    assert first.returncode == second.returncode == noop.returncode == 0
    doc = json.loads(project.iasync("state", "history", "-json").stdout)
    text = project.iasync("state", "history").stdout

    assert doc["format_version"] == 1
    one, two = doc["applies"]  # an apply with nothing to do records nothing
    assert one["commit"] == commit and one["actor"] == "alice"
    assert one["ci_run_url"] == "https://github.com/team/accounts/actions/runs/1234"
    assert one["plan_hash"] == plan_hash(load_plan(project.root / "tf.plan"))
    assert one["counts"] == {"created": 3, "updated": 0, "moved": 0, "deleted": 0, "failed": 0}
    assert one["serial"] == 1 and two["serial"] == 2
    assert two["counts"]["updated"] == 1 and two["ci_run_url"] is None and two["actor"]
    assert len(text.splitlines()) == 2
    assert "by alice" in text and f"commit {commit[:12]}" in text and "3 created" in text
    assert "actions/runs/1234" in text


def test_no_history_says_so(project: Project) -> None:
    done = project.iasync("state", "history")
    assert done.returncode == 0 and "No apply is recorded" in done.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def database_state(request: pytest.FixtureRequest, project: Project) -> Project:
    """`project` with its state in a database: the default SQLite file, or PostgreSQL."""
    if request.param == "sqlite":
        location = ".iasync/state.db"
    else:
        location = request.getfixturevalue("postgres_dsn")
    settings = project.root / "iasync.toml"
    text = settings.read_text().replace('state = ".iasync/state.json"', f'state = "{location}"')
    settings.write_text(text)
    return project


def test_the_history_of_a_database_state_lists_each_apply(database_state: Project) -> None:
    first = database_state.iasync("apply", "--auto-approve", env=database_state.env | GITHUB)
    database_state.write(1, suffix=" renamed")
    second = database_state.iasync("apply", "--auto-approve")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr

    doc = json.loads(database_state.iasync("state", "history", "-json").stdout)
    text = database_state.iasync("state", "history").stdout

    one, two = doc["applies"]
    assert one["actor"] == "alice" and one["counts"]["created"] == 3
    assert one["ci_run_url"] == "https://github.com/team/accounts/actions/runs/1234"
    assert two["counts"]["updated"] == 1 and two["serial"] > one["serial"]
    assert len(text.splitlines()) == 2 and "by alice" in text
    assert not (database_state.root / ".iasync" / "state.json.history").exists()


NOTHING = {"created": 0, "updated": 0, "moved": 0, "deleted": 0, "failed": 0}


def test_an_apply_stopped_by_a_refused_token_is_recorded_with_the_error(
    project: Project,
) -> None:
    assert project.iasync("plan", "-out", "tf.plan").returncode == 0
    wrong = project.env | {"FBN_ACCESS_TOKEN": "tok-wrong-7f3a"}
    done = project.iasync("apply", "tf.plan", env=wrong)
    assert done.returncode == 1

    (entry,) = json.loads(project.iasync("state", "history", "-json").stdout)["applies"]
    assert entry["counts"] == NOTHING
    assert entry["stopped"]["status"] == 401
    assert f"Error: {entry['stopped']['message']}" in done.stderr  # the words it printed
    assert entry["plan_hash"] == plan_hash(load_plan(project.root / "tf.plan"))
    (line,) = project.iasync("state", "history").stdout.splitlines()
    assert "nothing" in line and line.endswith("stopped: " + entry["stopped"]["message"])
    history = project.state_path.with_name("state.json.history").read_text(encoding="utf-8")
    assert "tok-wrong-7f3a" not in history


def test_an_apply_stopped_by_lusid_gone_midway_records_the_batch_it_accepted(
    tmp_path: Path,
    make_project: Any,
    clean_env: dict[str, str],
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emulator = emulator_factory()
    project = make_project(tmp_path / "project", clean_env | emulator.env(), emulator, range(3))
    emulator.add_fault(kind="hang", seconds=0, method="POST")  # the first batch goes through
    emulator.add_fault(kind="hang", seconds=300, commit=False, method="POST")  # the next hangs
    running = project.popen("apply", "--auto-approve", "--batch-size", "1", "--concurrency", "1")
    try:
        _wait_for(lambda: any(r["status"] == 201 for r in project.upserts()))
        time.sleep(1)  # the second batch hanging (or about to be sent: it fares the same)
        emulator.stop(signal.SIGKILL)  # LUSID gone: no answer, then no connection
        _, stderr = running.communicate(timeout=120)
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate()
    assert running.returncode == 1, stderr
    assert "that it can be reached from here" in stderr

    (entry,) = json.loads(project.iasync("state", "history", "-json").stdout)["applies"]
    assert entry["counts"] == NOTHING | {"created": 1}
    assert entry["stopped"]["status"] is None
    assert "that it can be reached from here" in entry["stopped"]["message"]
    assert len(project.recorded_sources()) == 1


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)
