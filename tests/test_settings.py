"""Settings: defaults < pyproject.toml [tool.iasync] or iasync.toml < IASYNC_* env < the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iasync.settings import (
    DEFAULT_ACCOUNT_TYPES,
    Settings,
    SettingsError,
    find_root,
    load_settings,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings_error(start: Path, env: dict[str, str] | None = None, **cli: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(start, env=env or {}, **cli)
    return str(caught.value)


# --- where the settings come from -------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings == Settings(root=tmp_path.resolve())
    assert settings.accounts_path == tmp_path.resolve() / "accounts"
    assert settings.state_path == tmp_path.resolve() / ".iasync" / "state.db"
    assert settings.account_types == DEFAULT_ACCOUNT_TYPES
    assert (settings.batch_size, settings.success_mode, settings.concurrency) == (500, "Partial", 4)


def test_pyproject_tool_section(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.iasync]\naccounts_dir = "defs"\nbatch_size = 100\n'
        'account_types = ["Personal", "Fund"]\nsuccess_mode = "Atomic"\n',
    )
    settings = load_settings(tmp_path, env={})
    assert settings.accounts_path == tmp_path.resolve() / "defs"
    assert settings.batch_size == 100
    assert settings.account_types == ("Personal", "Fund")
    assert settings.success_mode == "Atomic"


@pytest.mark.parametrize(
    "text",
    ['accounts_dir = "defs"\n', '[tool.iasync]\naccounts_dir = "defs"\n'],
    ids=["top", "tool"],
)
def test_iasync_toml_plain_or_tool_section(tmp_path: Path, text: str) -> None:
    write(tmp_path / "iasync.toml", text)
    assert load_settings(tmp_path, env={}).accounts_dir == Path("defs")


def test_iasync_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.iasync]\nbatch_size = 10\n")
    write(tmp_path / "iasync.toml", "batch_size = 20\n")
    assert load_settings(tmp_path, env={}).batch_size == 20


def test_root_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.iasync]\nstate = "s/state.json"\n')
    deep = tmp_path / "accounts" / "uk"
    deep.mkdir(parents=True)
    settings = load_settings(deep, env={})
    assert settings.root == tmp_path.resolve()
    assert settings.state_path == tmp_path.resolve() / "s" / "state.json"


def test_a_pyproject_without_the_section_is_not_the_root(tmp_path: Path) -> None:
    write(tmp_path / "iasync.toml", "")
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "other"\n')
    assert find_root(tmp_path / "sub") == tmp_path.resolve()


def test_root_falls_back_to_the_git_work_tree(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_root(tmp_path / "a" / "b") == tmp_path.resolve()


def test_root_falls_back_to_the_start(tmp_path: Path) -> None:
    # tmp_path may sit inside some git work tree; an isolated start has none above it only if
    # none exists, so compare with what git itself says.
    git_top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=tmp_path, capture_output=True, text=True
    )
    expected = Path(git_top.stdout.strip()) if git_top.returncode == 0 else tmp_path
    assert find_root(tmp_path) == expected.resolve()


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path / "iasync.toml", "batch_size = 20\nconcurrency = 2\n")
    env = {
        "IASYNC_BATCH_SIZE": "30",
        "IASYNC_ACCOUNT_TYPES": "Personal, Fund ,",
        "IASYNC_STATE": "/var/lib/iasync/state.json",
        "IASYNC_UNRELATED": "ignored",
    }
    settings = load_settings(tmp_path, env=env)
    assert settings.batch_size == 30
    assert settings.concurrency == 2
    assert settings.account_types == ("Personal", "Fund")
    assert settings.state_path == Path("/var/lib/iasync/state.json")


def test_command_line_overrides_everything(tmp_path: Path) -> None:
    write(tmp_path / "iasync.toml", "batch_size = 20\n")
    settings = load_settings(
        tmp_path, env={"IASYNC_BATCH_SIZE": "30"}, batch_size=40, success_mode=None
    )
    assert settings.batch_size == 40
    assert settings.success_mode == "Partial"  # None means "not given on the command line"


def test_with_overrides_checks_values() -> None:
    base = Settings(root=Path("/project"))
    assert base.with_overrides(concurrency="8").concurrency == 8
    with pytest.raises(SettingsError, match=r"^command line: concurrency must be between 1 and 64"):
        base.with_overrides(concurrency=0)


def test_absolute_paths_stay_absolute(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    settings = load_settings(tmp_path, env={"IASYNC_ACCOUNTS_DIR": str(elsewhere)})
    assert settings.accounts_path == elsewhere


def test_the_accounts_directory_is_required_only_to_exist(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={"IASYNC_ACCOUNTS_DIR": "books"})
    with pytest.raises(SettingsError) as caught:
        settings.require_accounts_dir(to="check")
    assert str(caught.value) == (
        f"no accounts directory at {tmp_path / 'books'}; create it, set accounts_dir in "
        "iasync.toml, or name the files to check"
    )
    (tmp_path / "books").mkdir()
    assert settings.require_accounts_dir(to="check") == tmp_path / "books"


def test_settings_from_the_working_directory(tmp_path: Path) -> None:
    # The real command: iasync reads the settings of the directory it runs in.
    write(tmp_path / "iasync.toml", 'accounts_dir = "nowhere"\n')
    result = subprocess.run(
        [sys.executable, "-m", "iasync", "validate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "nowhere" in result.stderr


# --- bad values name their source -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("batch_size = 0\n", "batch_size must be between 1 and 2000, got 0"),
        ("batch_size = 2001\n", "batch_size must be between 1 and 2000, got 2001"),
        ("batch_size = 1.5\n", "batch_size = 1.5 is not valid; expected a whole number"),
        ("batch_size = true\n", "batch_size = True is not valid; expected a whole number"),
        ('batch_size = "ten"\n', "batch_size = 'ten' is not valid; expected a whole number"),
        ("concurrency = 65\n", "concurrency must be between 1 and 64, got 65"),
        # Any case is accepted (issue 8, finding 9): "partial" is Partial; this is neither.
        ('success_mode = "sometimes"\n', "success_mode must be Partial or Atomic, got 'somet"),
        ("account_types = []\n", "account_types must list at least one type"),
        ("account_types = [1, 2]\n", "account_types = [1, 2] is not valid"),
        ("accounts_dir = 5\n", "accounts_dir = 5 is not valid; expected a path"),
        ('acounts_dir = "x"\n', "unknown setting acounts_dir; known: account_types, accounts_dir"),
    ],
)
def test_bad_file_values_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    toml = write(tmp_path / "iasync.toml", text)
    error = settings_error(tmp_path)
    assert error.startswith(f"{toml}: ")
    assert message in error


def test_bad_pyproject_values_name_the_section(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", "[tool.iasync]\nconcurrency = 0\n")
    assert settings_error(tmp_path).startswith(f"{pyproject} [tool.iasync]: concurrency must be")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    toml = write(tmp_path / "iasync.toml", "batch_size = \n")
    assert settings_error(tmp_path).startswith(f"{toml}: not valid TOML: ")


def test_a_broken_pyproject_on_the_way_up_is_named_not_walked_past(tmp_path: Path) -> None:
    # Walking past it would quietly take the settings of a project further up.
    write(tmp_path / "iasync.toml", "batch_size = 20\n")
    pyproject = write(tmp_path / "sub" / "pyproject.toml", "[tool.iasync\nbatch_size = 3\n")
    assert settings_error(tmp_path / "sub").startswith(f"{pyproject}: not valid TOML")


@pytest.mark.parametrize(
    "text",
    ["tool = 3\n", "[tool]\niasync = 3\n"],
    ids=["tool not a table", "iasync not a table"],
)
def test_settings_that_are_not_a_table(tmp_path: Path, text: str) -> None:
    toml = write(tmp_path / "iasync.toml", text)
    assert settings_error(tmp_path).startswith(f"{toml}: ")


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"IASYNC_BATCH_SIZE": "lots"},
            "IASYNC_BATCH_SIZE: batch_size = 'lots' is not valid; expected a whole number",
        ),
        (
            {"IASYNC_CONCURRENCY": "0"},
            "environment (IASYNC_CONCURRENCY): concurrency must be between 1 and 64, got 0",
        ),
        (
            {"IASYNC_SUCCESS_MODE": "Atomic", "IASYNC_ACCOUNT_TYPES": " , "},
            "environment (IASYNC_ACCOUNT_TYPES, IASYNC_SUCCESS_MODE): account_types must list",
        ),
    ],
)
def test_bad_environment_values_name_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    assert settings_error(tmp_path, env).startswith(message)


def test_bad_command_line_values_say_so(tmp_path: Path) -> None:
    assert settings_error(tmp_path, batch_size=5000).startswith(
        "command line: batch_size must be between 1 and 2000, got 5000"
    )
    assert settings_error(tmp_path, bogus=1).startswith("command line: unknown setting bogus")


def test_a_bad_setting_is_a_plain_error_from_the_command(tmp_path: Path) -> None:
    write(tmp_path / "iasync.toml", "batch_size = 0\n")
    (tmp_path / "accounts").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "iasync", "validate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert "batch_size must be between 1 and 2000, got 0" in result.stderr
    assert "Traceback" not in result.stderr


# --- the API generation -----------------------------------------------------------------------


def test_api_defaults_to_the_reference_pages_and_scope_to_none(tmp_path: Path) -> None:
    # Unset means "unscoped": repositories written before the setting keep working unchanged.
    settings = load_settings(tmp_path, env={})
    assert (settings.api, settings.scope) == ("unscoped", None)


def test_api_and_scope_from_the_file_and_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "iasync.toml", 'api = "scoped"\nscope = "Fund-A_1"\n')
    assert (load_settings(tmp_path, env={}).api, load_settings(tmp_path, env={}).scope) == (
        "scoped",
        "Fund-A_1",
    )
    from_env = load_settings(tmp_path, env={"IASYNC_API": "unscoped", "IASYNC_SCOPE": "Other"})
    assert (from_env.api, from_env.scope) == ("unscoped", "Other")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('api = "v2"\n', "api must be unscoped (the reference page's LUSID API) or scoped"),
        ('api = "Scoped"\n', "got 'Scoped'"),
        ('scope = "has space"\n', "scope = 'has space' is not a LUSID scope"),
        ('scope = ""\n', "use 1 to 64 letters, digits, '-' or '_'"),
        (f'scope = "{"s" * 65}"\n', "is not a LUSID scope"),
    ],
)
def test_bad_api_or_scope_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    toml = write(tmp_path / "iasync.toml", text)
    error = settings_error(tmp_path)
    assert error.startswith(f"{toml}: ") and message in error


def test_a_bad_api_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    assert "IASYNC_API" in settings_error(tmp_path, env={"IASYNC_API": "new"})
