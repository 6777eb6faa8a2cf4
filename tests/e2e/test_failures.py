"""When LUSID fails: only what it accepted is recorded, and the next apply finishes the rest."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import Project

ALL = [f"accounts/account-{n:04d}.yaml" for n in range(3)]


def test_partial_failure_records_only_the_successes_and_the_next_apply_finishes(
    project: Project, emulator: Any
) -> None:
    emulator.add_fault(
        kind="fail-account",
        identifier="IA_0001",
        errorType="PropertyNotDefined",
        detail="Property InvestmentAccount/Details/Name is not defined",
        count=None,
    )
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 1
    assert "2 created, 0 updated, 1 failed" in done.stdout
    assert (
        "accounts/account-0001.yaml: PropertyNotDefined: "
        "Property InvestmentAccount/Details/Name is not defined"
    ) in done.stdout
    assert project.recorded_sources() == [ALL[0], ALL[2]]

    plan = project.plan_json()
    assert plan["counts"]["create"] == 1
    assert [c["path"] for c in plan["changes"]] == [ALL[1]]

    emulator.clear_faults()
    emulator.clear_requests()
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.sent_ids() == [ALL[1]]
    assert project.recorded_sources() == ALL


def test_atomic_failure_records_nothing(project: Project, emulator: Any) -> None:
    emulator.add_fault(kind="fail-account", identifier="IA_0002", errorType="ValidationError")
    done = project.iasync("apply", "--auto-approve", "--success-mode", "Atomic")
    assert done.returncode == 1
    assert "0 created, 0 updated, 3 failed" in done.stdout
    assert "accounts/account-0002.yaml: ValidationError" in done.stdout
    assert not project.state_path.exists()
    assert emulator.accounts() == []


def test_atomic_over_several_batches_warns(project: Project, emulator: Any) -> None:
    done = project.iasync(
        "apply", "--auto-approve", "--success-mode", "Atomic", "--batch-size", "2"
    )
    assert done.returncode == 0, done.stderr
    assert "each batch is atomic on its own" in done.stderr
    assert all(r["query"]["successMode"] == "Atomic" for r in project.upserts())


def test_429_and_503_bursts_are_retried_to_success(project: Project, emulator: Any) -> None:
    emulator.add_fault(kind="status", status=429, count=2, retryAfter=0, method="POST")
    emulator.add_fault(kind="status", status=503, count=2, retryAfter=0, method="POST")
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = [r["status"] for r in project.upserts()]
    assert statuses == [429, 429, 503, 503, 201]
    assert project.recorded_sources() == ALL
    # Each retry is told as it happens, so a long wait never looks like a hang.
    retries = [line for line in done.stderr.splitlines() if "; retrying in " in line]
    assert len(retries) == 4, done.stderr
    assert "429 Too Many Requests; retrying in 0.0s (attempt 2 of 6)" in retries[0]
    assert "503 Service Unavailable; retrying in 0.0s (attempt 4 of 6)" in retries[2]
    assert all(line.startswith("Warning: the batch upsert of 3 accounts at ") for line in retries)
    assert emulator.token not in done.stdout + done.stderr


@pytest.mark.parametrize("committed", [True, False], ids=["after-commit", "before-commit"])
def test_a_dropped_connection_is_retried_and_ends_right(
    project: Project, emulator: Any, committed: bool
) -> None:
    emulator.add_fault(kind="drop", commit=committed, count=1, method="POST")
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.recorded_sources() == ALL
    # Whether or not the dropped request was committed, the retry matched or created each
    # account once: no duplicates, each at its first version.
    lusid_ids = {a["lusidInvestmentAccountId"] for a in emulator.accounts()}
    assert len(lusid_ids) == 3
    assert set(project.state()["accounts"]) == lusid_ids
    assert all(record["version"] == 1 for record in project.state()["accounts"].values())
    assert project.plan_json()["counts"]["create"] == 0


def test_kill_9_during_apply_then_the_next_plan_shows_exactly_what_is_left(
    project: Project, emulator: Any
) -> None:
    _signal_a_slow_apply(project, emulator, signal.SIGKILL)

    recorded = project.recorded_sources()
    assert 0 < len(recorded) < 8
    plan = project.plan_json()
    expected_left = sorted(set(f"accounts/account-{n:04d}.yaml" for n in range(8)) - set(recorded))
    to_create = sorted(c["path"] for c in plan["changes"] if c["action"] == "create")
    assert to_create == expected_left
    assert plan["counts"]["update"] == 0

    # The killed apply could not release its lock: the next one says so and how to release it.
    locked = project.iasync("apply", "--auto-approve")
    assert locked.returncode == 1
    assert "no longer running" in locked.stderr
    lock_id = json.loads((project.root / ".iasync" / "state.json.lock").read_text())["id"]
    assert f"iasync force-unlock {lock_id}" in locked.stderr
    assert project.iasync("force-unlock", lock_id, "-force").returncode == 0

    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(emulator.accounts()) == 8  # the batch in flight at the kill was matched, not doubled
    assert project.plan_json()["counts"]["create"] == 0


def _signal_a_slow_apply(
    project: Project, emulator: Any, sig: signal.Signals, times: int = 1
) -> subprocess.CompletedProcess:
    """Send `sig` (`times` times, a moment apart) to an apply of 8 accounts (4 batches of 2, one
    at a time) once it has recorded a batch; what it did when it ended."""
    for n in range(3, 8):
        project.write(n)
    # Every batch hangs a while before LUSID commits it: time to signal between two batches.
    emulator.add_fault(kind="hang", seconds=1.5, count=100, commit=True, method="POST")
    args = ("apply", "--auto-approve", "--batch-size", "2", "--concurrency", "1")
    process = project.popen(*args)
    try:
        _wait_for_a_recorded_batch(project)
        # Every batch hangs 1.5 s, so the apply is never done after its first batch.
        assert process.poll() is None, "the apply ended before it could be signalled"
        for _ in range(times):
            process.send_signal(sig)
            time.sleep(0.3)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    emulator.clear_faults()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def _wait_for_a_recorded_batch(project: Project) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if project.state_path.exists():
            try:
                if json.loads(project.state_path.read_text())["accounts"]:
                    return
            except (ValueError, OSError):
                pass  # never half-written (atomic rename), but be patient with the filesystem
        time.sleep(0.05)
    raise AssertionError("apply recorded no batch within 60 seconds")


@pytest.mark.parametrize("presses", [1, 2], ids=["once", "twice"])
def test_ctrl_c_sends_no_new_batch_and_records_the_one_in_flight(
    project: Project, emulator: Any, presses: int
) -> None:
    done = _signal_a_slow_apply(project, emulator, signal.SIGINT, times=presses)

    assert done.returncode == 130  # the shell's code for an interrupt
    assert "Traceback" not in done.stderr
    assert "Waiting for the 1 batch LUSID is processing" in done.stderr
    assert "Run `iasync plan` to see what is left" in done.stderr
    assert not (project.root / ".iasync" / "state.json.lock").exists()  # released on the way out
    # Whatever LUSID was sent it accepted, and all of it is recorded: no batch is lost.
    sent = project.sent_ids()
    assert project.recorded_sources() == sent
    assert 2 <= len(sent) < 8
    assert f"no new batch was sent; {len(sent)} accounts of 8 were applied" in done.stderr
    # The audit trail has it too: what was applied before the interrupt, and that it was one.
    (entry,) = json.loads(project.iasync("state", "history", "-json").stdout)["applies"]
    assert entry["counts"]["created"] == len(sent)
    assert entry["stopped"] == {
        "message": "interrupted (Ctrl-C): no new batch was sent",
        "status": None,
    }
    plan = project.plan_json()
    assert plan["counts"]["create"] == 8 - len(sent)
