"""The git commit and time recorded beside what LUSID accepted."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

from iasync.gitinfo import ci_run, current_commit, now_iso


def test_current_commit_inside_and_outside_git(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    assert current_commit(outside) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    assert current_commit(repo) is None  # no commit yet
    (repo / "f").write_text("x")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "m"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert current_commit(repo) == head.stdout.strip()


def test_now_is_utc_to_the_second() -> None:
    stamp = now_iso()
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    assert parsed.microsecond == 0 and stamp.endswith("+00:00")


def test_the_ci_run_from_github_actions_and_gitlab_ci_variables() -> None:
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_REPOSITORY": "team/accounts",
        "GITHUB_RUN_ID": "42",
        "GITHUB_ACTOR": "alice",
    }
    gitlab = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_URL": "https://gitlab.example.com/team/accounts/-/pipelines/7",
        "GITLAB_USER_LOGIN": "bob",
    }
    assert ci_run(github) == ("https://github.example.com/team/accounts/actions/runs/42", "alice")
    assert ci_run(gitlab) == ("https://gitlab.example.com/team/accounts/-/pipelines/7", "bob")


def test_outside_ci_no_run_and_the_os_user() -> None:
    import getpass

    assert ci_run({}) == (None, getpass.getuser())
