"""What git knows of the account files: blob ids of tracked files it reports unmodified."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from iasync.accounts.gitblobs import CleanBlobs, blob_id


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "accounts").mkdir(parents=True)
    git(repo, "init", "-q")
    for name in ("clean", "edited", "staged", "deleted", "assumed"):
        (repo / "accounts" / f"{name}.yaml").write_text(f"{name}: 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    return repo


def test_blob_id_is_gits() -> None:
    for raw in (b"", b"a: 1\n", "é: ü\r\n".encode() * 1000):
        hashed = subprocess.run(
            ["git", "hash-object", "--stdin"], input=raw, capture_output=True, check=True
        )
        assert blob_id(raw) == hashed.stdout.decode().strip()


def test_only_tracked_files_git_reports_unmodified_are_given(repo: Path) -> None:
    accounts = repo / "accounts"
    (accounts / "edited.yaml").write_text("edited: 2\n")
    (accounts / "staged.yaml").write_text("staged: 2\n")
    git(repo, "add", "accounts/staged.yaml")
    (accounts / "deleted.yaml").unlink()
    git(repo, "update-index", "--assume-unchanged", "accounts/assumed.yaml")
    (accounts / "assumed.yaml").write_text("assumed: 2\n")
    (accounts / "untracked.yaml").write_text("untracked: 1\n")
    os.symlink("clean.yaml", accounts / "link.yaml")
    git(repo, "add", "accounts/link.yaml")

    blobs = CleanBlobs(str(repo), [str(accounts)]).blobs()

    assert blobs == {
        str(accounts / "clean.yaml"): blob_id(b"clean: 1\n"),
        # staged: the index holds the new bytes, and the file is as staged
        str(accounts / "staged.yaml"): blob_id(b"staged: 2\n"),
    }


def test_paths_are_absolute_whatever_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "accounts")
    blobs = CleanBlobs(str(repo), ["."]).blobs()
    assert blobs is not None
    assert str(repo / "accounts" / "clean.yaml") in blobs


def test_nothing_is_known_outside_git_or_without_git(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert CleanBlobs(str(plain), [str(plain)]).blobs() is None
    # A path outside the repository: git refuses it; nothing known, nothing wrong.
    assert CleanBlobs(str(repo), [str(plain)]).blobs() is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert CleanBlobs(str(repo), [str(repo / "accounts")]).blobs() is None
