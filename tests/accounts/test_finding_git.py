"""Finding account files from git's listing finds exactly what walking the tree finds.

In a git work tree a plan does not walk the accounts directory: `git ls-files` has listed its
files already (`gitblobs.GitListing`). Each test builds a tree with the cases where the two could
part (hidden directories and files, links to files and to directories, untracked, ignored,
deleted, modified and staged files, nested repositories, skip-worktree entries, names that sort
differently by parts than as strings) and compares `find` with git's listing to `find` walking.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from iasync.accounts.finding import Found, find
from iasync.accounts.gitblobs import CleanBlobs, GitListing
from iasync.settings import Settings


def git(root: Path, *args: str) -> None:
    command = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*command, *args], capture_output=True, check=True)


def write(path: Path, text: str = "a: 1\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose accounts directory holds every case, some committed, some not."""
    root = tmp_path / "repo"
    accounts = root / "accounts"
    for name in (
        "a/b/x.yaml",
        "a-c/y.yml",
        "a/z.YAML",
        "a/edited.yaml",
        "a/staged.yaml",
        "a/deleted.yaml",
        "a/sparse.yaml",
        "a/notes.txt",
        ".hidden/h.yaml",
        "a/.dot.yaml",
        "a/.dotdir/in.yaml",
        "top.yaml",
    ):
        write(accounts / name)
    os.symlink("top.yaml", accounts / "link-to-file.yaml")
    os.symlink("a", accounts / "link-to-dir.yaml")
    os.symlink("a", accounts / "linkdir")
    os.symlink("missing.yaml", accounts / "broken.yaml")
    write(root / "outside.yaml")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "accounts")
    # What a working copy holds beside the commit:
    write(accounts / "a" / "edited.yaml", "a: 2\n")
    write(accounts / "a" / "staged.yaml", "a: 3\n")
    git(root, "add", "accounts/a/staged.yaml")
    (accounts / "a" / "deleted.yaml").unlink()
    git(root, "update-index", "--skip-worktree", "accounts/a/sparse.yaml")
    (accounts / "a" / "sparse.yaml").unlink()
    write(accounts / "new" / "untracked.yaml")
    write(accounts / "a" / ".untracked-dot.yml")
    (root / ".gitignore").write_text("*.ignored.yaml\n")
    write(accounts / "a" / "kept.ignored.yaml")
    nested = accounts / "nested"
    write(nested / "inner.yaml")
    git(nested, "init", "-q")
    os.mkdir(accounts / "empty.yaml")  # a directory named like an account file
    return root


def listing(root: Path, *paths: Path) -> GitListing:
    listed = CleanBlobs(str(root), [str(path) for path in paths]).listing()
    assert listed is not None
    return listed


def both_ways(root: Path, *paths: Path) -> tuple[list[Found], list[Found], list[str], list[str]]:
    settings = Settings(root=root)
    walked_hidden: list[str] = []
    listed_hidden: list[str] = []
    walked = find(list(paths), settings, walked_hidden)
    listed = find(list(paths), settings, listed_hidden, listing(root, *(paths or [root])))
    return walked, listed, walked_hidden, listed_hidden


def test_git_lists_what_the_walk_finds(repo: Path) -> None:
    walked, listed, walked_hidden, listed_hidden = both_ways(repo, repo / "accounts")

    assert listed == walked
    assert sorted(listed_hidden) == sorted(walked_hidden)
    names = [found.given.removeprefix(str(repo / "accounts") + "/") for found in listed]
    assert "a/b/x.yaml" in names and "nested/inner.yaml" in names and "new/untracked.yaml" in names
    assert "a/deleted.yaml" not in names and "a/sparse.yaml" not in names
    assert "link-to-dir.yaml" not in names and "empty.yaml" not in names
    assert len(walked_hidden) == 2  # .dot.yaml and .untracked-dot.yml; not those in .hidden/


@pytest.mark.parametrize("where", ["accounts", "accounts/a", "."])
def test_the_same_from_a_working_directory_with_relative_paths(
    repo: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    walked, listed, walked_hidden, listed_hidden = both_ways(repo, Path(where))

    assert listed == walked
    assert sorted(listed_hidden) == sorted(walked_hidden)
    assert all(not found.given.startswith("/") for found in listed)


def test_several_directories_and_a_file_named_outright(repo: Path) -> None:
    accounts = repo / "accounts"
    paths = (accounts / "a", accounts / "a-c", accounts / "top.yaml", accounts / "a" / "b")

    walked, listed, _, _ = both_ways(repo, *paths)

    assert listed == walked


def test_outside_a_work_tree_git_lists_nothing(tmp_path: Path) -> None:
    write(tmp_path / "plain" / "x.yaml")
    assert CleanBlobs(str(tmp_path / "plain"), [str(tmp_path / "plain")]).listing() is None


def test_with_git_listing_no_directory_is_read_but_those_git_does_not_enter(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed_by_git = listing(repo, repo / "accounts")
    read: list[str] = []
    scandir = os.scandir

    def noted(path: str) -> object:
        read.append(str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", noted)
    found = find([repo / "accounts"], Settings(root=repo), [], listed_by_git)

    assert read == [str(repo / "accounts" / "nested")]
    assert len(found) == 11  # x, y, z, edited, staged, top, two links, untracked, ignored, inner
