"""A scaffold written by the real writer into a temporary directory, for the tests to look at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iasync.scaffold import write_scaffold

BIN = Path(sys.executable).parent  # where this venv's `iasync`, actionlint and friends are


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for a tool run in a scaffold: no LUSID, iasync, git or CI settings and no
    proxies of the machine; this venv's commands first on PATH (the scripts and hooks call
    `iasync` by name)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FBN_", "IASYNC_", "GIT_", "GITHUB_", "GITLAB_", "CI_", "PG"))
        and k not in ("CI", "NO_COLOR")
        and not k.lower().endswith("_proxy")  # every server a test talks to is on loopback
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=tool_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def scaffold(tmp_path: Path) -> Path:
    """A repository just scaffolded with both pipelines."""
    root = tmp_path / "repo"
    write_scaffold(root)
    return root
