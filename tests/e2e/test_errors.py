"""Mistakes a user can make: each is a plain message and exit 1, and nothing is sent or written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.conftest import Project


def test_a_wrong_token_stops_at_the_first_batch_with_a_plain_message(
    project: Project, emulator: Any
) -> None:
    env = project.env | {"FBN_ACCESS_TOKEN": "not-the-token"}
    done = project.iasync(
        "apply", "--auto-approve", "--batch-size", "1", "--concurrency", "1", env=env
    )
    assert done.returncode == 1
    assert "401" in done.stderr
    assert "check FBN_ACCESS_TOKEN" in done.stderr  # what to do, not only what went wrong
    assert "not-the-token" not in done.stdout + done.stderr
    # Not one refused request per batch: the first request (the plan's read of LUSID, whether
    # the accounts to create exist there) is refused, and nothing more is sent.
    assert len([r for r in emulator.requests() if r["path"].startswith("/api/")]) == 1
    assert project.upserts() == []
    assert not project.state_path.exists()


def test_missing_credentials_are_named(project: Project, emulator: Any) -> None:
    env = {k: v for k, v in project.env.items() if k != "FBN_ACCESS_TOKEN"}
    done = project.iasync("apply", "--auto-approve", env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert "FBN_ACCESS_TOKEN" in done.stderr
    assert project.upserts() == []


def test_a_missing_lusid_url_is_named(project: Project, emulator: Any) -> None:
    env = {k: v for k, v in project.env.items() if k != "FBN_LUSID_URL"}
    for command in (["apply", "--auto-approve"], ["apply", "-json", "--auto-approve"]):
        done = project.iasync(*command, env=env)
        assert done.returncode == 1
        assert done.stderr.startswith("Error: no LUSID URL: set FBN_LUSID_URL")
        assert "secrets.json" in done.stderr
    assert project.upserts() == []


def test_no_accounts_directory_is_named_and_nothing_is_sent(
    project: Project, emulator: Any
) -> None:
    for path in (project.root / "accounts").iterdir():
        path.unlink()
    (project.root / "accounts").rmdir()
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: no accounts directory at ")
    assert "set accounts_dir in iasync.toml" in done.stderr
    assert project.upserts() == []


def test_an_invalid_account_file_is_located_and_nothing_is_sent(
    project: Project, emulator: Any
) -> None:
    project.account_path(1).write_text(
        project.account_path(1).read_text().replace("accountType: Personal", "accountType: 7")
    )
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 1
    assert "accounts/account-0001.yaml:" in done.stderr
    assert "iasync validate" in done.stderr
    assert project.upserts() == []
    assert not project.state_path.exists()


def test_a_batch_size_above_the_limit_is_refused(project: Project, emulator: Any) -> None:
    done = project.iasync("apply", "--auto-approve", "--batch-size", "2001")
    assert done.returncode == 1
    assert "batch_size must be between 1 and 2000" in done.stderr
    assert project.upserts() == []


def test_json_without_auto_approve_is_refused(project: Project, emulator: Any) -> None:
    done = project.iasync("apply", "-json")
    assert done.returncode == 1
    assert "--auto-approve" in done.stderr
    assert project.upserts() == []


def test_the_reference_pages_api_against_todays_lusid_is_one_error_naming_the_setting(
    tmp_path: Path, make_project: Any, clean_env: dict[str, str], scoped_emulator: Any
) -> None:
    # A new user with no `api` setting (unscoped) pointing iasync at today's LUSID.
    project = make_project(
        tmp_path / "p", clean_env | scoped_emulator.env(), scoped_emulator, range(3)
    )
    done = project.iasync("apply", "--auto-approve", "--batch-size", "1", "--concurrency", "1")

    assert done.returncode == 1
    assert "this LUSID speaks today's scoped API" in done.stderr
    assert 'Set api = "scoped" and scope = "<scope>" in iasync.toml' in done.stderr
    assert "account-0001" not in done.stderr  # one error, not one per account
    # Stopped at the first request: the plan's read of LUSID (do the accounts exist there?).
    assert len([r for r in scoped_emulator.requests() if r["path"].startswith("/api/")]) == 1
    assert project.upserts() == []
    assert not project.state_path.exists()


def test_the_scoped_api_against_the_reference_pages_lusid_is_one_error_naming_the_setting(
    tmp_path: Path, make_project: Any, clean_env: dict[str, str], emulator: Any
) -> None:
    project = make_project(
        tmp_path / "p", clean_env | emulator.env(), emulator, range(2), api="scoped"
    )
    done = project.iasync("apply", "--auto-approve")

    assert done.returncode == 1
    assert "this LUSID speaks the reference page's API" in done.stderr
    assert 'Set api = "unscoped" in iasync.toml' in done.stderr
    assert not project.state_path.exists()
