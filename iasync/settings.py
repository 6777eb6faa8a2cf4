"""Project settings: defaults < pyproject.toml [tool.iasync] or iasync.toml < IASYNC_* env < CLI.

LUSID credentials are not settings: they follow the LUSID SDK's own conventions and live in
`iasync.lusid`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from iasync.accounts.format import API_GENERATIONS, DEFAULT_ACCOUNT_TYPES, SCOPE_PATTERN
from iasync.errors import IasyncError

SUCCESS_MODES = ("Partial", "Atomic")
MAX_BATCH_SIZE = 2000


class SettingsError(IasyncError):
    """A setting has a bad value; the message names where it came from."""


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=Path.cwd)
    accounts_dir: Path = Path("accounts")
    # A path (SQLite; a .json path: the first format's file) or a postgresql:// URL.
    state: str = ".iasync/state.db"
    workspace: str = "default"  # the state's workspace (several only in PostgreSQL)
    account_types: tuple[str, ...] = DEFAULT_ACCOUNT_TYPES
    batch_size: int = 500
    success_mode: str = "Partial"
    concurrency: int = 4
    # The API generation LUSID speaks (lusid-api.md, "Two API generations"). Unset means the
    # reference page's ("unscoped"), so every repository written before the setting existed keeps
    # working unchanged; `iasync init` writes `api = "scoped"` (today's LUSID) explicitly.
    api: str = "unscoped"
    # Under api = "scoped": the scope of every account whose file has no top-level `scope:`.
    scope: str | None = None
    # Accounts `apply --prune` never deletes (iasync.plans.pruning): identifier values,
    # KEY=VALUE, LUSID ids, files or globs of them.
    protected: tuple[str, ...] = ()

    def resolve(self, path: Path) -> Path:
        """A configured path, relative to the project root unless absolute."""
        return path if path.is_absolute() else self.root / path

    @property
    def accounts_path(self) -> Path:
        return self.resolve(self.accounts_dir)

    @property
    def state_path(self) -> Path:
        """The state's file (meaningless for a postgresql:// URL: see `state_url`)."""
        return self.resolve(Path(self.state))

    @property
    def state_url(self) -> str | None:
        """The state's postgresql:// URL, or None when the state is a local file."""
        from iasync.states.postgres import is_postgres_url

        return str(self.state) if is_postgres_url(str(self.state)) else None

    def require_accounts_dir(self, to: str) -> Path:
        """The accounts directory, for a command given no paths: it must exist.

        `to` completes "or name the files to ...", so the message says how else to go on.
        """
        if not self.accounts_path.is_dir():
            raise SettingsError(
                f"no accounts directory at {self.accounts_path}; "
                f"create it, set accounts_dir in iasync.toml, or name the files to {to}"
            )
        return self.accounts_path

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply CLI options; `None` means 'not given on the command line'."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return _checked(replace(self, **_coerce_all(given, "command line")), "command line")


def find_root(start: Path | None = None) -> Path:
    """The nearest directory upwards holding iasync.toml or a pyproject.toml with [tool.iasync].

    Falls back to the git work tree top, then to `start` itself.
    """
    return _project(start)[0]


def load_settings(
    start: Path | None = None, env: Mapping[str, str] | None = None, **cli: Any
) -> Settings:
    """Settings for the project containing `start` (default: the working directory)."""
    env = os.environ if env is None else env
    root, file_values, source = _project(start)
    values = _coerce_all(file_values, source) if file_values else {}
    _refuse_password(values.get("state"), source)
    settings = _checked(replace(Settings(root=root), **values), source)
    env_values = {name: env[_env_name(name)] for name in sorted(_KNOWN) if _env_name(name) in env}
    if env_values:
        # Each value is named by its own variable, so a bad one is easy to find.
        coerced = {
            name: _coerce(name, value, _env_name(name)) for name, value in env_values.items()
        }
        source = "environment (" + ", ".join(map(_env_name, env_values)) + ")"
        settings = _checked(replace(settings, **coerced), source)
    return settings.with_overrides(**cli)


def _project(start: Path | None) -> tuple[Path, dict[str, Any], str]:
    """The project root, its settings table (empty: none) and where the table came from.

    Each file is read once, while looking for the root. A pyproject.toml that is not valid
    TOML is an error, not a file to walk past: it may be the one meant to hold the settings.
    """
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        dedicated = directory / "iasync.toml"
        if dedicated.is_file():
            source, data = str(dedicated), _load_toml_or_fail(dedicated)
            return directory, _table(_tool_section(data, source, default=data), source), source
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            source = f"{pyproject} [tool.iasync]"
            section = _tool_section(_load_toml_or_fail(pyproject), source, default=None)
            if section is not None:
                return directory, _table(section, source), source
    root = next((d for d in (start, *start.parents) if (d / ".git").exists()), start)
    return root, {}, "defaults"


def _refuse_password(state: str | None, source: str) -> None:
    """A settings file is committed and shared: a database password has no place in it."""
    from urllib.parse import urlsplit

    if state and "://" in state and urlsplit(state).password is not None:
        raise SettingsError(
            f"{source}: the state URL holds a password; remove it and give it in PGPASSWORD "
            "or ~/.pgpass (libpq's password file) instead"
        )


def _env_name(setting: str) -> str:
    return f"IASYNC_{setting.upper()}"


def _tool_section(data: dict[str, Any], source: str, default: Any) -> Any:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise SettingsError(f"{source}: `tool` must be a table")
    return tool.get("iasync", default)


def _table(section: Any, source: str) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise SettingsError(f"{source}: the iasync settings must be a table of name = value")
    return section


def _load_toml_or_fail(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


_KNOWN = {f.name for f in fields(Settings)} - {"root"}


def _coerce_all(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(values) - _KNOWN)
    if unknown:
        raise SettingsError(
            f"{source}: unknown setting {', '.join(unknown)}; known: {', '.join(sorted(_KNOWN))}"
            f"{_did_you_mean(unknown)}"
        )
    return {name: _coerce(name, value, source) for name, value in values.items()}


def _did_you_mean(unknown: list[str]) -> str:
    """`; did you mean accounts_dir?` for a misspelt setting, as validate says for a key."""
    guesses = {name: _closest(name, sorted(_KNOWN)) for name in unknown}
    found = {name: guess for name, guess in guesses.items() if guess}
    if not found:
        return ""
    if len(unknown) == 1:
        return f"; did you mean {found[unknown[0]]}?"
    return "; did you mean " + ", ".join(f"{g} for {n}" for n, g in found.items()) + "?"


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _coerce(name: str, value: Any, source: str) -> Any:
    try:
        if name in ("accounts_dir", "state") and isinstance(value, str) and "\0" in value:
            raise ValueError  # the OS refuses a NUL in any path
        if name == "accounts_dir":
            return Path(value)
        if name == "state":
            if not isinstance(value, str | Path):
                raise TypeError
            return str(value)  # not a Path: that would fold the // of a URL
        if name in ("batch_size", "concurrency"):
            # No bool (an int to Python) and no float: int(1.5) would quietly give 1.
            if isinstance(value, bool | float):
                raise ValueError
            return int(value)
        if name in ("account_types", "protected"):
            items = value.split(",") if isinstance(value, str) else list(value)
            if not all(isinstance(item, str) for item in items):
                raise TypeError
            return tuple(str(item).strip() for item in items if str(item).strip())
        if name == "success_mode" and isinstance(value, str):
            # As the API spells it, whatever the case it was written in ("atomic").
            return next((m for m in SUCCESS_MODES if m.lower() == value.lower()), value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{source}: {name} = {value!r} is not valid; expected {_EXPECTED.get(name, 'text')}"
        ) from None


_EXPECTED = {
    "accounts_dir": "a path",
    "state": "a path or a postgresql:// URL",
    "batch_size": "a whole number",
    "concurrency": "a whole number",
    "account_types": "a list of names (or, in the environment, names separated by commas)",
    "success_mode": "Partial or Atomic",
    "api": "unscoped or scoped",
    "scope": "a scope: 1 to 64 letters, digits, '-' or '_'",
    "protected": "a list of identifiers, LUSID ids or files (or, in the environment, "
    "separated by commas)",
}


def _checked(settings: Settings, source: str) -> Settings:
    if not 1 <= settings.batch_size <= MAX_BATCH_SIZE:
        raise SettingsError(
            f"{source}: batch_size must be between 1 and {MAX_BATCH_SIZE}, "
            f"got {settings.batch_size}"
        )
    if not 1 <= settings.concurrency <= 64:
        raise SettingsError(
            f"{source}: concurrency must be between 1 and 64, got {settings.concurrency}"
        )
    if settings.success_mode not in SUCCESS_MODES:
        close = _closest(settings.success_mode, [mode.lower() for mode in SUCCESS_MODES])
        hint = f"; did you mean {close.capitalize()}?" if close else ""
        got = f"got {settings.success_mode!r}{hint}"
        raise SettingsError(f"{source}: success_mode must be Partial or Atomic, {got}")
    if not settings.account_types:
        raise SettingsError(f"{source}: account_types must list at least one type")
    if settings.api not in API_GENERATIONS:
        raise SettingsError(
            f"{source}: api must be unscoped (the reference page's LUSID API) or scoped "
            f"(today's LUSID), got {settings.api!r}"
        )
    if settings.scope is not None and not re.fullmatch(SCOPE_PATTERN, settings.scope):
        raise SettingsError(
            f"{source}: scope = {settings.scope!r} is not a LUSID scope; "
            "use 1 to 64 letters, digits, '-' or '_'"
        )
    _check_inside_root(settings, source)
    return settings


def _check_inside_root(settings: Settings, source: str) -> None:
    """The accounts directory is part of the repository: the state and saved plans name each
    file by its path in it, and GitOps means the files are the ones reviewed in it."""
    root = os.path.normpath(os.path.abspath(settings.root))
    accounts = os.path.normpath(os.path.join(root, settings.accounts_dir))
    if os.path.commonpath([root, accounts]) != root:
        raise SettingsError(
            f"{source}: accounts_dir = {str(settings.accounts_dir)!r} is outside the repository "
            f"({root}); keep the account files in it"
        )
