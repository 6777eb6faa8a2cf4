"""`iasync validate --pre-commit FILE...` in a real git repository: exactly the files named are
checked, their identifiers compared with the tracked account files (issue 8, finding 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "accounts" / "john-doe.yaml").read_text(encoding="utf-8")
OTHER = (ROOT / "accounts" / "jane-doe.yaml").read_text(encoding="utf-8")
BROKEN = "identifiers: {}\ndisplayName: Broken\n"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@iasync.invalid"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "john.yaml").write_text(GOOD)
    subprocess.run([*GIT, "add", "."], cwd=tmp_path, check=True)
    return tmp_path


def validate(root: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iasync", "validate", "--pre-commit", *files],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_only_the_named_files_are_checked(repo: Path) -> None:
    (repo / "accounts" / "draft.yaml").write_text(BROKEN)  # untracked and not valid
    (repo / "accounts" / "jane.yaml").write_text(OTHER)
    done = validate(repo, "accounts/jane.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "1 file valid.\n"


def test_a_named_file_is_compared_with_the_tracked_files_only(repo: Path) -> None:
    (repo / "accounts" / "untracked-copy.yaml").write_text(GOOD)
    (repo / "accounts" / "copy.yaml").write_text(GOOD)
    done = validate(repo, "accounts/copy.yaml")
    assert done.returncode == 1
    clashes = [line for line in done.stdout.splitlines() if "is also claimed by" in line]
    assert clashes and all(line.startswith("accounts/copy.yaml:") for line in clashes)
    assert all(line.endswith("is also claimed by accounts/john.yaml; each account must have "
                             "its own identifiers") for line in clashes)  # fmt: skip


def test_files_outside_the_accounts_directory_are_skipped(repo: Path) -> None:
    (repo / "docs.yaml").write_text("not: an account\n")
    done = validate(repo, "docs.yaml", ".pre-commit-config.yaml")
    assert done.returncode == 0
    assert done.stdout == "No account files among the files named.\n"


def test_a_settings_file_named_checks_every_tracked_account_file(repo: Path) -> None:
    (repo / "accounts" / "broken.yaml").write_text(BROKEN)
    subprocess.run([*GIT, "add", "accounts/broken.yaml"], cwd=repo, check=True)
    (repo / "accounts" / "untracked.yaml").write_text(BROKEN)
    done = validate(repo, "iasync.toml")
    assert done.returncode == 1
    assert "accounts/broken.yaml:" in done.stdout
    assert "untracked.yaml" not in done.stdout + done.stderr


def test_outside_a_git_repository_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    (tmp_path / "accounts").mkdir()
    done = validate(tmp_path, "accounts/a.yaml")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: --pre-commit compares the files with those git tracks")
    assert "Traceback" not in done.stderr
