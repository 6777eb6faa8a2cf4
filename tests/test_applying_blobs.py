"""apply records each file's git blob id, so that the next plan in git need not open it: the blob
id of the bytes sent, and for unchanged accounts of a state from before blob ids, git's, along with
the next write. Against the real emulator, in a real git repository, with a SQLite state."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.accounts.loader import load_accounts
from iasync.applying import apply_changes
from iasync.lusid import LusidClient, load_lusid_config
from iasync.plans.plan import Plan, make_plan, reusable_files
from iasync.settings import Settings
from iasync.states import State, backend_for
from iasync.states.database import DatabaseStateBackend

ACCOUNT = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_{n:04d}
displayName: Account {n}{suffix}
accountType: Personal
"""


def write_account(root: Path, n: int, suffix: str = "") -> None:
    path = root / "accounts" / f"account-{n:04d}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ACCOUNT.format(n=n, suffix=suffix), encoding="utf-8")


def git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=True).stdout


def git_blobs(root: Path) -> dict[str, str]:
    """file -> the blob id git holds for it."""
    listing = git(root, "ls-files", "-s", "accounts")
    return {line.split("\t")[1]: line.split()[1] for line in listing.splitlines() if "\t" in line}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for n in range(3):
        write_account(tmp_path, n)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "accounts")
    return tmp_path


@pytest.fixture
def backend(project: Path) -> Iterator[DatabaseStateBackend]:
    opened = backend_for(project / ".iasync" / "state.db", project)
    assert isinstance(opened, DatabaseStateBackend)
    yield opened
    opened.close()  # type: ignore[attr-defined]


@pytest.fixture
def client(emulator: Any) -> Iterator[LusidClient]:
    with LusidClient(load_lusid_config(env=emulator.env())) as lusid:
        yield lusid


def plan_for(project: Path, state: State) -> tuple[Plan, int]:
    """The plan, as `iasync plan` makes it, and how many files were reused unread or unparsed."""
    load = load_accounts([], Settings(root=project), reuse=reusable_files(state))
    assert load.ok, load.problems
    return make_plan(load, state), load.reused


def apply(project: Path, backend: DatabaseStateBackend, client: LusidClient) -> State:
    state = backend.read()
    plan, _ = plan_for(project, state)
    with backend.lock("apply"):
        apply_changes(
            plan.changes,
            client=client,
            backend=backend,
            state=state,
            batch_size=2,
            concurrency=2,
            success_mode="Partial",
        )
    return backend.read()


def test_apply_records_the_blob_id_of_the_bytes_sent(project: Path, backend, client) -> None:
    write_account(project, 3)  # untracked: its blob id is computed from its bytes

    stored = apply(project, backend, client)

    recorded = {rec.source: rec.source_blob for rec in stored.accounts.values()}
    hashed = git(project, "hash-object", "accounts/account-0003.yaml").strip()
    assert recorded == git_blobs(project) | {"accounts/account-0003.yaml": hashed}


def test_after_apply_a_plan_of_the_next_commit_reads_only_the_changed_file(
    project: Path, backend, client
) -> None:
    apply(project, backend, client)
    write_account(project, 1, " (edited)")
    git(project, "commit", "-q", "-a", "-m", "edit")

    plan, reused = plan_for(project, backend.read())

    assert reused == 2
    assert [c.path for c in plan.to_send] == ["accounts/account-0001.yaml"]
    stored = apply(project, backend, client)
    assert (
        stored.accounts[plan.to_send[0].lusid_id or ""].source_blob
        == (git_blobs(project)["accounts/account-0001.yaml"])
    )


def test_blob_ids_missing_from_a_state_are_recorded_with_the_next_write(
    project: Path, backend, client
) -> None:
    stored = apply(project, backend, client)
    for record in stored.accounts.values():
        record.source_blob = None  # as a state recorded before blob ids
    backend.write(stored)
    write_account(project, 0, " (edited)")

    again = apply(project, backend, client)

    blobs = git_blobs(project)
    assert {rec.source: rec.source_blob for rec in again.accounts.values()} == {
        "accounts/account-0000.yaml": git(
            project, "hash-object", "accounts/account-0000.yaml"
        ).strip(),
        "accounts/account-0001.yaml": blobs["accounts/account-0001.yaml"],
        "accounts/account-0002.yaml": blobs["accounts/account-0002.yaml"],
    }


def test_a_saved_plan_gets_the_blob_ids_of_its_files_back(project: Path, backend, tmp_path) -> None:
    from iasync.operations import load_saved_plan
    from iasync.plans.planfile import save_plan

    plan, _ = plan_for(project, backend.read())
    save_plan(plan, tmp_path / "plan.json")
    settings = Settings(root=project)

    loaded = load_saved_plan(settings, backend.read(), tmp_path / "plan.json")

    assert {c.path: c.file_blob for c in loaded.to_send} == git_blobs(project)
