"""`iasync init` run as the real command (`python -m iasync init`): what it says and exits with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.scaffold.conftest import tool_env


def init(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "iasync", "init", *args],
        cwd=cwd,
        env=tool_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_init_here_lists_every_file_and_what_to_do_next(tmp_path: Path) -> None:
    done = init(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == (
        "Wrote 12 files:\n"
        "  iasync.toml\n"
        "  .gitignore\n"
        "  .pre-commit-config.yaml\n"
        "  accounts/example.yaml\n"
        "  schema/investment-account.schema.json\n"
        "  ci/README.md\n"
        "  ci/common.sh\n"
        "  ci/plan.sh\n"
        "  ci/apply.sh\n"
        "  ci/comment.py\n"
        "  .github/workflows/iasync.yml\n"
        "  .gitlab-ci.yml\n"
        "\n"
        "Next:\n"
        "  edit accounts/example.yaml into one of your accounts (or delete it), then "
        "`iasync validate` and `iasync plan`\n"
        "  `pre-commit install` to check the account files at every commit\n"
        "  set the CI secrets and choose where the state lives: see ci/README.md\n"
    )
    assert (tmp_path / "ci/plan.sh").is_file()


def test_init_of_a_directory_makes_it_and_says_to_go_there(tmp_path: Path) -> None:
    done = init(tmp_path, "new/repo", "--ci", "gitlab")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Wrote 11 files in new/repo:\n")
    assert "  cd new/repo\n" in done.stdout
    assert ".github" not in done.stdout
    assert (tmp_path / "new/repo/.gitlab-ci.yml").is_file()
    assert not (tmp_path / "new/repo/.github").exists()


def test_init_over_existing_files_lists_them_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "mine"\n')
    (tmp_path / ".gitlab-ci.yml").write_text("stages: [test]\n")
    done = init(tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "Error: 2 of the files to write already exist; nothing was written:\n"
        "  .gitlab-ci.yml\n"
        "  iasync.toml\n"
        "Move them aside (or init another directory) and run `iasync init` again.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitlab-ci.yml", "iasync.toml"]
    assert (tmp_path / "iasync.toml").read_text() == 'accounts_dir = "mine"\n'


def test_init_twice_refuses_the_second_time(tmp_path: Path) -> None:
    assert init(tmp_path).returncode == 0
    again = init(tmp_path, "--ci", "github")
    assert again.returncode == 1
    assert again.stderr.startswith("Error: 11 of the files to write already exist;")


def test_init_of_a_file_is_a_plain_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    done = init(tmp_path, "notes.txt")
    assert done.returncode == 1
    assert "notes.txt" in done.stderr and "is a file" in done.stderr


def test_an_unknown_ci_is_a_usage_error(tmp_path: Path) -> None:
    done = init(tmp_path, "--ci", "jenkins")
    assert done.returncode == 1
    assert "Invalid value for '--ci'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_writes_the_api_and_scope_asked_for(tmp_path: Path) -> None:
    assert init(tmp_path, "scoped-repo", "--scope", "Funds").returncode == 0
    toml = (tmp_path / "scoped-repo/iasync.toml").read_text()
    assert 'api = "scoped"\n' in toml and 'scope = "Funds"\n' in toml

    assert init(tmp_path, "reference-repo", "--api", "unscoped").returncode == 0
    toml = (tmp_path / "reference-repo/iasync.toml").read_text()
    assert 'api = "unscoped"\n' in toml and "\nscope =" not in toml

    refused = init(tmp_path, "bad", "--scope", "a b")
    assert refused.returncode == 1
    assert "--scope 'a b' is not a LUSID scope" in refused.stderr
    assert not (tmp_path / "bad").exists()
