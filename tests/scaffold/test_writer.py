"""The scaffold writer: every file, in place and filled in, or (when any exists) none at all."""

from __future__ import annotations

import json
import os
import re
import stat
from importlib import resources
from pathlib import Path

import pytest

from iasync import __version__
from iasync.errors import IasyncError
from iasync.scaffold import FILES, ScaffoldExists, scaffold_files, write_scaffold
from iasync.scaffold import writer as writer_module
from iasync.settings import Settings, load_settings
from tests.scaffold.conftest import run, tool_env

EXPECTED = [
    "iasync.toml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "accounts/example.yaml",
    "schema/investment-account.schema.json",
    "ci/README.md",
    "ci/common.sh",
    "ci/plan.sh",
    "ci/apply.sh",
    "ci/comment.py",
    ".github/workflows/iasync.yml",
    ".gitlab-ci.yml",
]


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by its path relative to it, with its bytes."""
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def test_every_file_is_written_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "new" / "repo"  # missing folders are made
    written = write_scaffold(root)
    assert written == EXPECTED
    assert sorted(_tree(root)) == sorted(EXPECTED)


def test_every_template_is_listed_once(tmp_path: Path) -> None:
    # A template added to templates/ but not to FILES would never be written.
    templates = resources.files("iasync").joinpath("scaffold/templates")
    stored = {
        p.relative_to(Path(str(templates))).as_posix()
        for p in Path(str(templates)).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    listed = {f.source.removeprefix("scaffold/templates/") for f in FILES}
    assert stored == listed - {"data/investment-account.schema.json"}


def test_placeholders_are_filled_from_this_iasync(scaffold: Path) -> None:
    for path, data in _tree(scaffold).items():
        assert not re.search(rb"@[A-Z_]+@", data), path
    workflow = (scaffold / ".github/workflows/iasync.yml").read_text()
    assert f'IASYNC_PACKAGE: "iasync=={__version__}"' in workflow
    assert f'IASYNC_PACKAGE: "iasync=={__version__}"' in (scaffold / ".gitlab-ci.yml").read_text()


def test_the_settings_are_read_as_written(scaffold: Path) -> None:
    settings = load_settings(scaffold / "accounts", env={})
    assert settings.root == scaffold.resolve()
    assert settings.accounts_dir == Path("accounts")
    assert settings.state == Settings().state  # the default of the iasync that wrote it


def test_the_schema_is_iasyncs_own_and_the_example_points_at_it(scaffold: Path) -> None:
    schema = scaffold / "schema/investment-account.schema.json"
    # A new repository is for today's LUSID (api = "scoped"): the scoped API's schema.
    packaged = resources.files("iasync").joinpath("data/investment-account-scoped.schema.json")
    assert schema.read_bytes() == packaged.read_bytes()
    assert json.loads(schema.read_text())["type"] == "object"
    example = scaffold / "accounts/example.yaml"
    first = example.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/investment-account.schema.json"
    assert (example.parent / first.split("=", 1)[1]).resolve() == schema.resolve()


def test_scripts_are_executable_and_other_files_are_not(scaffold: Path) -> None:
    for path in EXPECTED:
        mode = (scaffold / path).stat().st_mode
        executable = path in ("ci/plan.sh", "ci/apply.sh", "ci/comment.py")
        assert bool(mode & stat.S_IXUSR) is executable, path
        assert mode & stat.S_IRGRP and mode & stat.S_IROTH, path  # not the 0o600 of temp files


def test_the_example_is_valid_and_formatted(scaffold: Path) -> None:
    validated = run(["iasync", "validate"], scaffold)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "1 file valid." in validated.stdout
    checked = run(["iasync", "fmt", "--check"], scaffold)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == ""


def test_gitignore_keeps_secrets_plans_and_local_state_out_of_git(scaffold: Path) -> None:
    assert run(["git", "init", "-q"], scaffold).returncode == 0
    ignored = ["secrets.json", "plan.json", "changes.tfplan", "plan.md", ".iasync/state.json"]
    kept = EXPECTED
    done = run(["git", "check-ignore", "--no-index", *ignored, *kept], scaffold)
    assert done.stdout.split() == ignored


@pytest.mark.parametrize(
    ("ci", "left_out"),
    [("github", ".gitlab-ci.yml"), ("gitlab", ".github/workflows/iasync.yml")],
)
def test_one_ci_writes_only_its_pipeline(tmp_path: Path, ci: str, left_out: str) -> None:
    written = write_scaffold(tmp_path, ci=ci)
    assert written == [path for path in EXPECTED if path != left_out]
    assert not (tmp_path / left_out).exists()


def test_an_unknown_ci_is_refused() -> None:
    with pytest.raises(IasyncError, match="--ci must be one of both, github, gitlab"):
        scaffold_files("jenkins")


def test_existing_files_are_listed_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "plan.sh").write_text("echo mine\n")
    before = _tree(tmp_path)
    with pytest.raises(ScaffoldExists) as refused:
        write_scaffold(tmp_path)
    assert refused.value.existing == [".gitignore", "ci/plan.sh"]
    message = str(refused.value)
    assert "2 of the files to write already exist" in message
    assert "nothing was written" in message
    assert "\n  .gitignore\n  ci/plan.sh\n" in message
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", "ci"]


def test_a_symlink_in_the_way_counts_as_existing(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").symlink_to(tmp_path / "nowhere")  # dangling: exists() is False
    with pytest.raises(ScaffoldExists) as refused:
        write_scaffold(tmp_path)
    assert refused.value.existing == ["iasync.toml"]


def test_a_file_where_a_folder_goes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "schema").write_text("not a folder\n")
    with pytest.raises(ScaffoldExists) as refused:
        write_scaffold(tmp_path)
    assert refused.value.existing == ["schema"]
    assert [p.name for p in tmp_path.iterdir()] == ["schema"]


def test_a_file_as_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "repo").write_text("")
    with pytest.raises(IasyncError, match="is a file, not a directory"):
        write_scaffold(tmp_path / "repo")


def test_a_failure_part_way_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A disk that fills up after a few files (injected: it cannot be made to happen for real
    # here): what was written is removed, folders made are removed, and a retry succeeds.
    real_write = writer_module._write_new

    def full_at_the_ci_scripts(target: Path, data: bytes, mode: int) -> None:
        if target.name == "plan.sh":
            raise OSError(28, os.strerror(28), str(target))
        real_write(target, data, mode)

    monkeypatch.setattr(writer_module, "_write_new", full_at_the_ci_scripts)
    root = tmp_path / "repo"
    with pytest.raises(IasyncError, match=r"cannot write .*plan\.sh: No space left on device"):
        write_scaffold(root)
    assert not root.exists()

    monkeypatch.undo()
    assert write_scaffold(root) == EXPECTED


def test_a_file_that_appears_after_the_check_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone writes ci/README.md between the check and the write: the link refuses the name.
    real_parents = writer_module._make_parents

    def make_parents_then_race(directory: Path) -> list[Path]:
        made = real_parents(directory)
        if directory.name == "ci" and not (directory / "README.md").exists():
            (directory / "README.md").write_text("theirs\n")
        return made

    monkeypatch.setattr(writer_module, "_make_parents", make_parents_then_race)
    with pytest.raises(ScaffoldExists) as refused:
        write_scaffold(tmp_path)
    assert refused.value.existing == ["ci/README.md"]
    assert _tree(tmp_path) == {"ci/README.md": b"theirs\n"}


def test_pre_commit_runs_the_hooks_and_they_pass(scaffold: Path, tmp_path: Path) -> None:
    # The real pre-commit, with the scaffold's own config; `repo: local` hooks need no network.
    env = tool_env(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_COLOR="never",
    )
    assert run(["git", "init", "-q"], scaffold, env).returncode == 0
    assert run(["git", "add", "-A"], scaffold, env).returncode == 0
    passed = run(["pre-commit", "run", "--all-files"], scaffold, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"iasync validate\.+Passed", passed.stdout), passed.stdout
    assert re.search(r"iasync fmt\.+Passed", passed.stdout), passed.stdout

    (scaffold / "accounts/example.yaml").write_text(
        (scaffold / "accounts/example.yaml").read_text().replace("Personal", "Persnal")
    )
    failed = run(["pre-commit", "run", "--all-files"], scaffold, env)
    assert failed.returncode == 1
    assert "accounts/example.yaml:" in failed.stdout
    assert "did you mean Personal?" in failed.stdout


def test_a_new_repository_is_set_for_todays_lusid_unless_told_otherwise(tmp_path: Path) -> None:
    write_scaffold(tmp_path / "today")
    today = load_settings(tmp_path / "today", env={})
    assert (today.api, today.scope) == ("scoped", "default")

    write_scaffold(tmp_path / "named", scope="Funds-UK")
    assert load_settings(tmp_path / "named", env={}).scope == "Funds-UK"

    write_scaffold(tmp_path / "reference", api="unscoped")
    reference = load_settings(tmp_path / "reference", env={})
    assert (reference.api, reference.scope) == ("unscoped", None)
    schema = (tmp_path / "reference/schema/investment-account.schema.json").read_bytes()
    assert (
        schema
        == resources.files("iasync").joinpath("data/investment-account.schema.json").read_bytes()
    )


def test_a_bad_api_or_scope_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(IasyncError, match="--api must be scoped or unscoped"):
        write_scaffold(tmp_path / "a", api="v3")
    with pytest.raises(IasyncError, match="is not a LUSID scope"):
        write_scaffold(tmp_path / "b", scope="no spaces")
    assert list(tmp_path.iterdir()) == []
