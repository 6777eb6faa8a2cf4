"""The pre-commit hooks, run by the real `pre-commit` in a throwaway git repository of accounts.

This project is the hook repository (`repo:` is its own path, `rev:` its HEAD commit, so what is
tested is what is committed). pre-commit installs it with pip into a virtualenv of its own, under a
PRE_COMMIT_HOME kept in pytest's cache directory: built once for a given commit and shared by every
case, so only the first run after a commit pays for the install (dependencies come from PyPI).
Git runs with no global or system configuration and an identity given on the command line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
GIT_IDENTITY = ["-c", "user.name=iasync tests", "-c", "user.email=tests@iasync.invalid"]

BROKEN_ACCOUNT = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_99
displayName: Broken
accountType: Personal
properties:
  InvestmentAccount/Details/Country: NO
"""

UNFORMATTED_ACCOUNT = """\
displayName: "Unformatted"
accountType: Personal
identifiers:
    InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_77   # the id
"""

FORMATTED_ACCOUNT = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_77     # the id
displayName: Unformatted
accountType: Personal
"""


def _hermetic_env(pre_commit_home: Path) -> dict[str, str]:
    """The environment without the caller's git state (a test may itself run inside a hook)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        PRE_COMMIT_HOME=str(pre_commit_home),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        NO_COLOR="1",
        PRE_COMMIT_COLOR="never",
    )
    return env


def _head_commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip("the project is not a git checkout, so it cannot be a pre-commit hook repo")
    return result.stdout.strip()


class AccountsRepo:
    """A git repository of account files that uses this project's hooks."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.path, env=self.env, capture_output=True, text=True, timeout=900
        )

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("git", *GIT_IDENTITY, *args)

    def write(self, relative: str, text: str) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def commit(self, *paths: str) -> tuple[int, str]:
        """Add and commit `paths`: (git's exit code, everything printed, the hooks' output too)."""
        added = self.git("add", "--", *paths)
        assert added.returncode == 0, added.stderr
        result = self.git("commit", "-m", "change accounts")
        # git passes a hook's output to its own stderr.
        return result.returncode, result.stdout + result.stderr

    def commits(self) -> int:
        return int(self.git("rev-list", "--count", "HEAD").stdout.strip())


@pytest.fixture(scope="module")
def hooks_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hook environment, installed once (per commit of this project) for every case."""
    home = Path(request.config.cache.mkdir("pre-commit-home"))
    env = _hermetic_env(home)
    config = (
        "repos:\n"
        f"  - repo: {ROOT.as_posix()}\n"
        f"    rev: {_head_commit()}\n"
        "    hooks:\n"
        "      - id: iasync-validate\n"
        "      - id: iasync-fmt\n"
    )
    # Environments of earlier commits, whose throwaway configs are gone, are dropped first, so
    # the cache holds one environment rather than one per commit ever tested.
    subprocess.run([*PRE_COMMIT, "gc"], env=env, capture_output=True, check=True)
    probe = tmp_path_factory.mktemp("probe")
    subprocess.run(["git", "init", "-q", str(probe)], env=env, check=True)
    (probe / ".pre-commit-config.yaml").write_text(config)
    installed = subprocess.run(
        [*PRE_COMMIT, "install-hooks"],
        cwd=probe,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return {"env": env, "config": config}


@pytest.fixture
def repo(hooks_env: dict, tmp_path: Path) -> Iterator[AccountsRepo]:
    path = tmp_path / "accounts-repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], env=hooks_env["env"], check=True)
    accounts = AccountsRepo(path, hooks_env["env"])
    accounts.write(".pre-commit-config.yaml", hooks_env["config"])
    accounts.write("pyproject.toml", '[tool.iasync]\naccounts_dir = "accounts"\n')
    accounts.write("accounts/john-doe.yaml", (ROOT / "accounts" / "john-doe.yaml").read_text())
    installed = accounts.run(*PRE_COMMIT, "install")
    assert installed.returncode == 0, installed.stderr
    code, output = accounts.commit(".pre-commit-config.yaml", "pyproject.toml", "accounts")
    assert code == 0, output
    yield accounts


def test_a_valid_account_is_committed(repo: AccountsRepo) -> None:
    shutil.copy(ROOT / "accounts" / "jane-doe.yaml", repo.path / "accounts" / "jane-doe.yaml")
    code, output = repo.commit("accounts/jane-doe.yaml")
    assert code == 0, output
    assert re.search(r"^iasync validate\.+Passed$", output, re.MULTILINE), output
    assert re.search(r"^iasync fmt\.+Passed$", output, re.MULTILINE), output
    assert repo.commits() == 2


def test_a_broken_account_is_refused_with_the_located_error(repo: AccountsRepo) -> None:
    repo.write("accounts/broken.yaml", BROKEN_ACCOUNT)
    code, output = repo.commit("accounts/broken.yaml")
    assert code != 0
    located = [line for line in output.splitlines() if line.startswith("accounts/broken.yaml:")]
    assert located, output
    assert located[0].startswith("accounts/broken.yaml:6:38: ")
    assert "'NO'" in located[0]
    assert repo.commits() == 1


def test_an_identifier_claimed_twice_is_refused_across_files(repo: AccountsRepo) -> None:
    # Only the copy is committed, yet the hook sees the clash with the file already in the repo.
    shutil.copy(repo.path / "accounts" / "john-doe.yaml", repo.path / "accounts" / "copy.yaml")
    code, output = repo.commit("accounts/copy.yaml")
    assert code != 0
    assert "is also claimed by accounts/john-doe.yaml" in output
    assert repo.commits() == 1


def test_an_unformatted_account_is_rewritten_then_committed(repo: AccountsRepo) -> None:
    repo.write("accounts/new.yaml", UNFORMATTED_ACCOUNT)
    code, output = repo.commit("accounts/new.yaml")
    assert code != 0
    assert "files were modified by this hook" in output
    assert (repo.path / "accounts" / "new.yaml").read_text(encoding="utf-8") == FORMATTED_ACCOUNT
    code, output = repo.commit("accounts/new.yaml")
    assert code == 0, output
    assert repo.commits() == 2


def test_hook_manifest_and_own_config_are_valid() -> None:
    for command, path in [
        ("validate-manifest", ".pre-commit-hooks.yaml"),
        ("validate-config", ".pre-commit-config.yaml"),
    ]:
        result = subprocess.run(
            [*PRE_COMMIT, command, str(ROOT / path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --- issue 8, finding 3: the files being committed, compared with the tracked ones ---------------

ERIN = (ROOT / "accounts" / "jane-doe.yaml").read_text(encoding="utf-8")


def test_an_invalid_untracked_file_does_not_block_an_unrelated_commit(repo: AccountsRepo) -> None:
    repo.write("accounts/erin.yaml", ERIN)
    code, output = repo.commit("accounts/erin.yaml")
    assert code == 0, output
    repo.write("accounts/frank.yaml", BROKEN_ACCOUNT)  # untracked, and not valid
    repo.write("accounts/erin.yaml", ERIN.replace("InvestmentAccount2DisplayName", "Erin"))

    code, output = repo.commit("accounts/erin.yaml")

    assert code == 0, output
    assert "frank.yaml" not in output
    assert repo.commits() == 3


def test_an_untracked_file_claiming_the_same_identifier_is_no_clash(repo: AccountsRepo) -> None:
    # An untracked copy of john-doe.yaml is not in the repository: it clashes with nothing yet.
    shutil.copy(repo.path / "accounts" / "john-doe.yaml", repo.path / "accounts" / "draft.yaml")
    repo.write("accounts/erin.yaml", ERIN)
    code, output = repo.commit("accounts/erin.yaml")
    assert code == 0, output
    # Committing the copy itself is refused, naming the tracked file it clashes with.
    code, output = repo.commit("accounts/draft.yaml")
    assert code != 0
    assert "accounts/draft.yaml:" in output
    assert "is also claimed by accounts/john-doe.yaml" in output


def test_the_hook_is_given_the_files_being_committed() -> None:
    import yaml

    for path in (".pre-commit-hooks.yaml", ".pre-commit-config.yaml"):
        document = yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))
        hooks = document if isinstance(document, list) else document["repos"][0]["hooks"]
        [validate] = [hook for hook in hooks if hook["id"] == "iasync-validate"]
        assert validate["pass_filenames"] is True, path
        assert validate["entry"].endswith("validate --pre-commit"), path
