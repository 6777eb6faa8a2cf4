"""Find and read account files into validated models, with every problem located.

FIRST CUT: the public surface below (`find_account_files`, `load_accounts`, `LoadedAccount`,
`LoadResult`) is what plan/apply build on; the located YAML parsing behind it is being written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from iasync.errors import Problem
from iasync.settings import Settings

ACCOUNT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedAccount:
    """One valid account file and the canonical request it becomes."""

    path: str  # relative to the project root, POSIX separators: the correlation id in LUSID
    file_hash: str  # "sha256:<hex>" of the file's bytes
    body: dict[str, Any]  # canonical UpsertInvestmentAccountRequest

    @cached_property
    def body_json(self) -> bytes:
        from iasync.model import canonical_json

        return canonical_json(self.body)

    @cached_property
    def body_hash(self) -> str:
        return "sha256:" + hashlib.sha256(self.body_json).hexdigest()

    @cached_property
    def identity(self) -> frozenset[tuple[str, str]]:
        from iasync.model import identity_of

        return identity_of(self.body)


@dataclass
class LoadResult:
    accounts: list[LoadedAccount] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def display_path(path: Path, settings: Settings) -> str:
    try:
        return path.resolve().relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def find_account_files(paths: Sequence[Path], settings: Settings) -> list[Path]:
    """Account files under `paths` (files taken as given, directories searched), sorted."""
    found: set[Path] = set()
    for path in paths or [settings.accounts_path]:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in ACCOUNT_SUFFIXES and p.is_file())
        else:
            found.add(path)
    return sorted(found)


def load_accounts(paths: Sequence[Path], settings: Settings) -> LoadResult:
    import yaml
    from pydantic import ValidationError

    from iasync.model import AccountFile, canonical_body

    result = LoadResult()
    for path in find_account_files(paths, settings):
        shown = display_path(path, settings)
        data = path.read_bytes()
        try:
            account = AccountFile.model_validate(yaml.safe_load(data))
        except ValidationError as exc:
            for error in exc.errors():
                result.problems.append(Problem(shown, 1, 1, error["msg"]))
            continue
        result.accounts.append(
            LoadedAccount(shown, "sha256:" + hashlib.sha256(data).hexdigest(), canonical_body(account))
        )
    return result
