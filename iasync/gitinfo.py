"""Facts about the run recorded beside what LUSID accepted: the git commit and the time."""

from __future__ import annotations

import subprocess
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
