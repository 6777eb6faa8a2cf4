"""Facts about the run recorded beside what LUSID accepted: the git commit and the time."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path


def current_commit(root: Path) -> str | None:
    """The git commit checked out at `root`, or None outside git (or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def now_iso() -> str:
    """The `applied_at` timestamp: UTC, seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def ci_run(env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """(the CI run's URL, who ran it) from the CI's own variables: GitHub Actions', GitLab CI's;
    outside CI no URL, and the OS user."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        url = f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env['GITHUB_RUN_ID']}"
        return url, env.get("GITHUB_ACTOR") or None
    if env.get("GITLAB_CI") and env.get("CI_PIPELINE_URL"):
        return env["CI_PIPELINE_URL"], env.get("GITLAB_USER_LOGIN") or None
    return None, _os_user()


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a container)
        return None
