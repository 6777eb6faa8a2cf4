"""The main job, end to end: apply creates, plan then finds nothing, only real edits are sent.

Every test runs under both API generations (the `api` setting), each against an emulator serving
that generation: `project` and `emulator` here are the conftest's `api_project` and `api_emulator`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import Project


@pytest.fixture
def project(api_project: Project) -> Project:
    return api_project


@pytest.fixture
def emulator(api_emulator: Any) -> Any:
    return api_emulator


def test_first_apply_creates_every_account_and_the_next_plan_has_no_changes(
    project: Project, emulator: Any
) -> None:
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "Plan: 3 to create" in done.stdout
    assert "3 created, 0 updated, 0 failed" in done.stdout
    assert project.sent_ids() == [f"accounts/account-{n:04d}.yaml" for n in range(3)]

    lusid = {a["lusidInvestmentAccountId"]: a for a in emulator.accounts()}
    state = project.state()
    assert state["accounts"].keys() == lusid.keys()
    for lusid_id, record in state["accounts"].items():
        assert record["version"] == 1
        assert record["body"]["displayName"] == lusid[lusid_id]["displayName"]

    plan = project.iasync("plan", "-detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout


def test_editing_one_file_sends_exactly_that_account(project: Project, emulator: Any) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    emulator.clear_requests()
    edited = project.write(1, suffix=" (renamed)")

    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "0 created, 1 updated, 0 failed" in done.stdout
    (request,) = project.upserts()
    assert list(request["body"]) == [edited]
    assert request["body"][edited]["displayName"] == "Account 1 (renamed)"
    (record,) = [r for r in project.state()["accounts"].values() if r["source"] == edited]
    assert record["version"] == 2


def test_renaming_a_file_sends_nothing_and_records_the_move(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    serial = project.state()["serial"]
    emulator.clear_requests()
    project.account_path(2).rename(project.root / "accounts" / "moved-account-2.yaml")

    planned = project.iasync("plan", "-detailed-exitcode")
    assert planned.returncode == 2, planned.stderr  # something to apply: the move
    assert "> accounts/moved-account-2.yaml" in planned.stdout
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "0 created, 0 updated, 1 moved, 0 failed" in done.stdout
    assert project.upserts() == []  # nothing sent
    assert project.state()["serial"] == serial + 1
    assert "accounts/moved-account-2.yaml" in project.recorded_sources()

    after = project.iasync("plan", "-detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "moved" not in after.stdout
    assert "No changes" in after.stdout


def test_nothing_to_do_changes_nothing(project: Project, emulator: Any) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    state_before = project.state_path.read_bytes()
    emulator.clear_requests()
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0
    assert "No changes" in done.stdout
    assert done.stdout.endswith("will check it).\n")  # the plan's last line ends the output
    assert project.state_path.read_bytes() == state_before
    assert project.upserts() == []


def test_a_saved_plan_is_applied_without_a_prompt(project: Project, emulator: Any) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    done = project.iasync("apply", "changes.plan")  # stdin is not a terminal: no prompt needed
    assert done.returncode == 0, done.stderr
    assert "3 created" in done.stdout
    assert len(project.recorded_sources()) == 3


def test_batches_and_concurrency_options_shape_the_requests(
    project: Project, emulator: Any
) -> None:
    for n in range(3, 7):
        project.write(n)
    done = project.iasync("apply", "--auto-approve", "--batch-size", "2", "--concurrency", "3")
    assert done.returncode == 0, done.stderr
    assert sorted(len(r["body"]) for r in project.upserts()) == [1, 2, 2, 2]
    assert "7 created" in done.stdout
    assert done.stdout.count("batch ") >= 4  # one plain progress line per batch (not a tty)


def test_orphans_are_reported_and_never_deleted(project: Project, emulator: Any) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    project.account_path(0).unlink()
    project.write(5)
    emulator.clear_requests()

    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "1 orphaned account (in the state, no longer in the files) left as it is" in done.stdout
    assert "accounts/account-0000.yaml" in done.stdout
    assert len(emulator.accounts()) == 4  # the orphan is still in LUSID
    assert all(r["method"] != "DELETE" for r in emulator.requests())
    assert project.sent_ids() == ["accounts/account-0005.yaml"]


def test_an_account_already_in_lusid_is_said_to_be_matched_not_created(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    project.state_path.unlink()  # a new state: LUSID has accounts it does not know
    project.write(1, suffix=" (edited)")
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "3 created, 0 updated, 0 failed" in done.stdout
    assert "1 account to create was already in LUSID (made outside this state)" in done.stdout
    assert "  = accounts/account-0001.yaml" in done.stdout
    assert len(emulator.accounts()) == 3


def test_json_output_is_the_result(project: Project, emulator: Any) -> None:
    done = project.iasync("apply", "--auto-approve", "-json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["created"], result["updated"], result["failed"]) == (3, 0, 0)
    assert result["failures"] == []


def test_the_state_file_can_be_chosen(project: Project, emulator: Any) -> None:
    done = project.iasync("apply", "--auto-approve", "--state", "elsewhere/state.json")
    assert done.returncode == 0, done.stderr
    assert (project.root / "elsewhere" / "state.json").is_file()
    assert not project.state_path.exists()

    env = project.env | {"IASYNC_STATE": str(project.root / "elsewhere" / "state.json")}
    emulator.clear_requests()
    again = project.iasync("apply", "--auto-approve", env=env)
    assert again.returncode == 0
    assert "No changes" in again.stdout
    assert project.upserts() == []


def test_a_saved_plan_is_sent_with_the_mode_and_batch_size_it_was_reviewed_with(
    project: Project, emulator: Any
) -> None:
    at_plan_time = project.env | {"IASYNC_SUCCESS_MODE": "Atomic", "IASYNC_BATCH_SIZE": "2"}
    planned = project.iasync("plan", "-out", "changes.plan", env=at_plan_time)
    assert "successMode=Atomic" in planned.stdout
    done = project.iasync("apply", "changes.plan")
    assert done.returncode == 0, done.stderr
    requests = project.upserts()
    assert [r["query"]["successMode"] for r in requests] == ["Atomic", "Atomic"]
    assert sorted(len(r["body"]) for r in requests) == [1, 2]


def test_the_command_line_overrides_a_saved_plans_batch_size(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    done = project.iasync("apply", "changes.plan", "--batch-size", "1")
    assert done.returncode == 0, done.stderr
    assert [len(r["body"]) for r in project.upserts()] == [1, 1, 1]


def test_after_a_change_of_canonical_bodies_plan_and_apply_agree(
    project: Project, emulator: Any, api: str
) -> None:
    from iasync.accounts.model import body_hash, canonical_format_for

    CANONICAL_FORMAT = canonical_format_for(api)  # the stamp of this API generation

    assert project.iasync("apply", "--auto-approve").returncode == 0
    # The state as an iasync with other canonical bodies would have left it.
    state = project.state()
    assert state["canonical_format"] == CANONICAL_FORMAT
    state["canonical_format"] = None
    (record,) = [r for r in state["accounts"].values() if r["source"].endswith("0001.yaml")]
    record["body"]["description"] = "as another iasync made it"
    record["body_hash"] = body_hash(record["body"])
    project.state_path.write_text(json.dumps(state), encoding="utf-8")
    emulator.clear_requests()

    planned = project.plan_json()
    assert [(c["action"], c["path"]) for c in planned["changes"]] == [("update", record["source"])]
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert project.sent_ids() == [record["source"]]  # what the plan showed, nothing else
    assert project.state()["canonical_format"] == CANONICAL_FORMAT
    assert project.iasync("plan", "-detailed-exitcode").returncode == 0


def test_a_saved_plan_of_a_move_records_it_without_a_request(
    project: Project, emulator: Any
) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    emulator.clear_requests()
    project.account_path(0).rename(project.root / "accounts" / "renamed.yaml")
    assert project.iasync("plan", "-out", "move.plan", "-detailed-exitcode").returncode == 2

    done = project.iasync("apply", "move.plan", "-json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["moved"] == 1
    assert project.upserts() == []
    assert "accounts/renamed.yaml" in project.recorded_sources()
    assert project.plan_json()["apply"]["moved"] == 0


def test_state_list_and_show_describe_what_apply_recorded(
    project: Project, emulator: Any, api: str
) -> None:
    from iasync.accounts.model import canonical_format_for

    CANONICAL_FORMAT = canonical_format_for(api)  # the stamp of this API generation

    assert project.iasync("apply", "--auto-approve").returncode == 0
    listed = project.iasync("state", "list", "-json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    lusid = {a["lusidInvestmentAccountId"]: a for a in emulator.accounts()}
    assert doc["canonical_format"] == CANONICAL_FORMAT
    assert {a["lusid_id"] for a in doc["accounts"]} == lusid.keys()
    first = doc["accounts"][0]
    path = project.account_path(0)
    assert first["source"] == "accounts/account-0000.yaml"
    assert first["source_hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert first["version"] == lusid[first["lusid_id"]]["version"]["asAtVersionNumber"]

    # By its file, as a user would name it: the body is exactly what LUSID was sent.
    shown = project.iasync("state", "show", str(path))
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    sent = next(r["body"] for r in project.upserts())[first["source"]]
    assert record["lusid_id"] == first["lusid_id"] and record["body"] == sent
    assert project.iasync("state", "list").stdout.count("accounts/account-") == 3


def test_plan_json_names_each_accounts_scope_under_the_scoped_api(
    project: Project, api: str
) -> None:
    from tests.e2e.conftest import E2E_SCOPE

    changes = project.plan_json()["changes"]
    assert len(changes) == 3
    if api == "scoped":
        assert {c["scope"] for c in changes} == {E2E_SCOPE}
        assert all(c["body"]["scope"] == E2E_SCOPE for c in changes)
    else:
        assert all("scope" not in c and "scope" not in c["body"] for c in changes)


def test_the_same_identifier_in_two_scopes_is_two_accounts_end_to_end(
    tmp_path: Any, make_project: Any, clean_env: dict[str, str], scoped_emulator: Any
) -> None:
    from tests.e2e.conftest import E2E_SCOPE

    project = make_project(
        tmp_path / "p", clean_env | scoped_emulator.env(), scoped_emulator, [1], api="scoped"
    )
    other = project.root / "accounts" / "other-scope.yaml"
    other.write_text("scope: other\n" + project.account_path(1).read_text(), encoding="utf-8")

    done = project.iasync("apply", "--auto-approve")

    assert done.returncode == 0, done.stderr
    assert "2 created" in done.stdout
    scopes = sorted(a["scope"] for a in scoped_emulator.accounts())
    assert scopes == sorted([E2E_SCOPE, "other"])
    records = project.state()["accounts"].values()
    assert sorted(r["body"]["scope"] for r in records) == scopes
    assert project.iasync("plan", "-detailed-exitcode").returncode == 0
