"""Deletion with guard rails (issue 12, item 4): orphans are reported by default; `--prune` marks
them for deletion in a loud section of every form of the plan, within `--max-deletes`, never
every managed account, never a protected one; the reference-page API (no delete endpoint) is
refused before anything is sent; only what LUSID confirmed deleted leaves the state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iasync.applying import ApplyResult, delete_orphans
from iasync.emulator.process import EmulatorProcess
from iasync.lusid import LusidClient, load_lusid_config
from iasync.plans.plan import AccountChange
from iasync.states import LocalStateBackend, State
from tests.e2e.conftest import Project, clean_environ, make_project
from tests.planning import body, record


@pytest.fixture
def orphaned(project: Project) -> Project:
    """Three accounts applied, then the file of one removed: one orphan."""
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    project.account_path(2).unlink()
    project.emulator.clear_requests()
    return project


def test_orphans_are_only_reported_without_prune(orphaned: Project) -> None:
    done = orphaned.iasync("plan", "-detailed-exitcode")
    assert done.returncode == 0
    assert "`iasync apply --prune` deletes them" in done.stdout
    assert "TO DELETE" not in done.stdout


def test_prune_puts_deletions_in_their_own_loud_section_in_every_form(orphaned: Project) -> None:
    text = orphaned.iasync("plan", "--prune", "-detailed-exitcode")
    doc = json.loads(orphaned.iasync("plan", "--prune", "-json").stdout)
    markdown = orphaned.iasync("plan", "--prune", "--markdown").stdout

    assert text.returncode == 2
    assert "(1 to DELETE)" in text.stdout.splitlines()[0]
    assert "!! TO DELETE from LUSID (--prune): 1 account" in text.stdout
    assert "- accounts/account-0002.yaml" in text.stdout
    assert "DELETE 1 account from LUSID" in text.stdout.splitlines()[-1]
    assert doc["deletions"]["prune"] is True and doc["deletions"]["max_deletes"] == 10
    assert [a["path"] for a in doc["deletions"]["accounts"]] == ["accounts/account-0002.yaml"]
    assert "#### :warning: TO DELETE from LUSID (--prune): 1 account" in markdown
    assert "- accounts/account-0002.yaml" in markdown


def test_the_unscoped_api_refuses_before_anything_is_sent(orphaned: Project) -> None:
    orphaned.write(7)  # a create that must not be sent either
    before = orphaned.state()

    done = orphaned.iasync("apply", "--auto-approve", "--prune")

    assert done.returncode == 1
    assert 'api = "unscoped") has no delete endpoint; nothing was sent' in done.stderr
    assert orphaned.upserts() == [] and orphaned.state() == before


def test_more_than_max_deletes_is_refused(orphaned: Project) -> None:
    orphaned.account_path(1).unlink()
    done = orphaned.iasync("plan", "--prune", "--max-deletes", "1")
    assert done.returncode == 1
    assert "would delete 2 accounts, more than --max-deletes 1" in done.stderr
    assert "--max-deletes 2" in done.stderr  # what to do


def test_every_managed_account_is_never_pruned(orphaned: Project) -> None:
    for n in (0, 1):
        orphaned.account_path(n).unlink()
    done = orphaned.iasync("apply", "--auto-approve", "--prune", "--max-deletes", "100")
    assert done.returncode == 1
    assert "it would delete every account iasync manages (3)" in done.stderr
    assert orphaned.emulator.requests() == []


def test_a_protected_account_is_never_pruned(orphaned: Project) -> None:
    settings = orphaned.root / "iasync.toml"
    settings.write_text(settings.read_text() + 'protected = ["IA_0002"]\n')
    done = orphaned.iasync("plan", "--prune")
    assert done.returncode == 1
    assert "IA_0002 (accounts/account-0002.yaml) is protected" in done.stderr


def test_a_saved_prune_plan_records_its_deletions(orphaned: Project) -> None:
    assert orphaned.iasync("plan", "--prune", "-out", "tf.plan").returncode == 0
    saved = json.loads((orphaned.root / "tf.plan").read_text())
    assert saved["prune"] == {"enabled": True, "max_deletes": 10}
    (deleted,) = [c for c in saved["changes"] if c.get("delete")]
    assert deleted["path"] == "accounts/account-0002.yaml" and deleted["body"]


# --- deleting through the delete endpoint ----------------------------------------------------


@pytest.fixture
def scoped_orphaned(tmp_path: Path, scoped_emulator: EmulatorProcess) -> Project:
    """`orphaned` under `api = "scoped"`, against the scoped emulator (which has the delete)."""
    env = clean_environ() | scoped_emulator.env()
    project = make_project(tmp_path / "scoped", env, scoped_emulator, range(3), api="scoped")
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    project.account_path(2).unlink()
    scoped_emulator.clear_requests()
    return project


def test_apply_prune_deletes_the_orphan_in_lusid_and_forgets_it(scoped_orphaned: Project) -> None:
    done = scoped_orphaned.iasync("apply", "--auto-approve", "--prune")

    assert done.returncode == 0, done.stderr
    assert scoped_orphaned.upserts() == []  # nothing to create or update: only the delete
    assert "accounts/account-0002.yaml" not in scoped_orphaned.recorded_sources()
    assert len(scoped_orphaned.recorded_sources()) == 2
    again = scoped_orphaned.iasync("plan", "--prune", "-detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr


def _scoped_body(n: int) -> dict[str, Any]:
    made = body(f"IA_{n}", accountHolders=[])
    return made | {"scope": "team"}


def test_only_what_lusid_confirmed_deleted_leaves_the_state(
    scoped_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    from iasync.accounts.model import canonical_json

    backend = LocalStateBackend(tmp_path / "state.json")
    state = State.new()
    orphans = []
    config = load_lusid_config(scoped_emulator.env(), cwd=tmp_path)
    with LusidClient(config, api="scoped") as client:
        # In LUSID: accounts 1 and 2; the state also holds 3, which LUSID no longer has.
        requests = {str(n): canonical_json(_scoped_body(n)) for n in (1, 2)}
        assert not client.upsert_investment_accounts(requests, "Atomic").failed
        for n in (1, 2, 3):
            rec = record(f"LUID_{n}", _scoped_body(n), f"accounts/{n}.yaml")
            state.record(rec)
            orphans.append(_orphan_change(rec))
        # A record without its scope cannot be deleted: reported, kept.
        unscoped = record("LUID_4", body("IA_4"), "accounts/4.yaml")
        state.record(unscoped)
        orphans.append(_orphan_change(unscoped))
        backend.write(state)
        result = ApplyResult()

        delete_orphans(orphans, client=client, backend=backend, state=state, result=result)

    assert result.deleted == ["accounts/1.yaml", "accounts/2.yaml"]
    assert result.already_absent == ["accounts/3.yaml"]
    assert [(f.path, f.error_type) for f in result.failures] == [("accounts/4.yaml", "NoScope")]
    assert sorted(backend.read().accounts) == ["LUID_4"]
    assert scoped_emulator.accounts() == []


def _orphan_change(rec: Any) -> AccountChange:
    return AccountChange(
        action="orphaned",
        path=rec.source,
        identity=rec.identity,
        body=rec.body,
        body_hash=rec.body_hash,
        file_hash=None,
        record=rec,
        lusid_id=rec.lusid_id,
        delete=True,
    )
