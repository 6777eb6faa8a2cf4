"""Guard rails: stale plans, the state lock, confirmation, and secrets kept out of everything."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iasync.states import LocalStateBackend
from tests.e2e.conftest import password_grant_emulator, password_grant_env

if TYPE_CHECKING:
    from tests.e2e.conftest import Project


def test_a_plan_made_before_a_file_changed_is_refused_as_stale(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    project.write(1, suffix=" (edited after the plan)")
    done = project.iasync("apply", "changes.plan")
    assert done.returncode == 1
    assert "stale plan" in done.stderr
    assert project.upserts() == []
    assert not project.state_path.exists()


def test_a_plan_made_before_another_apply_is_refused_as_stale(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    assert project.iasync("apply", "--auto-approve").returncode == 0
    emulator.clear_requests()
    done = project.iasync("apply", "changes.plan")
    assert done.returncode == 1
    assert "stale plan" in done.stderr
    assert project.upserts() == []


def test_a_saved_plan_applied_twice_is_stale_and_says_nothing_is_left_to_do(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    assert project.iasync("apply", "changes.plan").returncode == 0
    emulator.clear_requests()
    done = project.iasync("apply", "changes.plan")  # a CI job run again, say
    assert done.returncode == 1
    assert "stale plan" in done.stderr
    assert "Nothing is left to do" in done.stderr and "applied already?" in done.stderr
    assert project.upserts() == []
    # Only when that is so: after another edit the stale plan is just stale.
    project.write(1, suffix=" (edited)")
    done = project.iasync("apply", "changes.plan")
    assert done.returncode == 1
    assert "stale plan" in done.stderr and "Nothing is left" not in done.stderr


def test_without_a_terminal_apply_refuses_to_guess_a_yes(project: Project, emulator: Any) -> None:
    done = project.iasync("apply")  # stdin is /dev/null
    assert done.returncode == 1
    assert "--auto-approve" in done.stderr
    assert "no terminal" in done.stderr
    assert project.upserts() == []


def test_an_apply_is_locked_out_while_another_holds_the_lock(
    project: Project, emulator: Any
) -> None:
    backend = LocalStateBackend(project.state_path)
    with backend.lock("apply") as held:
        done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 1
    assert "locked" in done.stderr
    assert "-lock-timeout SECONDS waits for it" in done.stderr  # how to wait instead
    assert held.id in done.stderr  # so that force-unlock can be used if it was left behind
    assert project.upserts() == []


def test_lock_timeout_waits_for_the_lock_to_be_released(project: Project, emulator: Any) -> None:
    backend = LocalStateBackend(project.state_path)
    with backend.lock("apply"):
        waiting = project.popen("apply", "--auto-approve", "--lock-timeout", "60")
        try:
            time.sleep(3)  # long enough to find the lock taken (no timing is asserted)
            assert waiting.poll() is None  # still waiting, where without a timeout it fails
            assert project.upserts() == []
        except BaseException:
            waiting.kill()
            raise
    stdout, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr
    assert "3 created" in stdout
    assert len(project.recorded_sources()) == 3


def test_a_hanging_apply_locks_out_a_second_one(project: Project, emulator: Any) -> None:
    emulator.add_fault(kind="hang", seconds=30, count=1, commit=False, method="POST")
    first = project.popen("apply", "--auto-approve")
    try:
        _wait_for(lambda: (project.state_path.parent / "state.json.lock").exists())
        second = project.iasync("apply", "--auto-approve")
        assert second.returncode == 1
        assert "locked" in second.stderr
    finally:
        first.kill()
        first.communicate(timeout=30)


def _wait_for(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)


# --- secrets ----------------------------------------------------------------------------------

PASSWORD = "pw-Sup3r-s3cret-value"
CLIENT_SECRET = "cs-an0ther-s3cret-value"


def _written_text(root: Path) -> str:
    """Every file under the project (state, its backup, plan files), as text."""
    texts = []
    for path in root.rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


def test_the_token_appears_in_no_output_and_no_file(project: Project, emulator: Any) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    assert project.iasync("apply", "changes.plan").returncode == 0
    project.write(1, suffix=" (edited)")
    assert project.iasync("apply", "--auto-approve", "-json").returncode == 0
    emulator.add_fault(kind="fail-account", identifier="IA_0002", errorType="PropertyNotDefined")
    project.write(2, suffix=" (edited)")
    assert project.iasync("apply", "--auto-approve").returncode == 1

    token = project.env["FBN_ACCESS_TOKEN"]
    assert all(token not in text for text in project.outputs)
    assert token not in _written_text(project.root)


def test_the_password_flow_leaks_no_secret(
    tmp_path: Path, make_project: Any, clean_env: dict[str, str]
) -> None:
    with password_grant_emulator(PASSWORD, CLIENT_SECRET) as emulator:
        env = password_grant_env(emulator, clean_env, PASSWORD, CLIENT_SECRET)
        project = make_project(tmp_path / "project", env, emulator, range(2))
        assert project.iasync("plan", "-out", "changes.plan").returncode == 0
        done = project.iasync("apply", "changes.plan")
        assert done.returncode == 0, done.stderr
        assert len(emulator.accounts()) == 2

    written = _written_text(project.root)
    for secret in (PASSWORD, CLIENT_SECRET, "unused-static-token"):
        assert all(secret not in text for text in project.outputs), secret
        assert secret not in written, secret
