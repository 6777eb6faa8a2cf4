"""What loading account files gives: each valid file's canonical request (`LoadedAccount`), and
the whole run's result (`LoadResult`); and what one file's reading gave (`FileOutcome`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from iasync.errors import Problem
from iasync.lazybody import LazyBody


@dataclass(frozen=True)
class LoadedAccount:
    """One valid account file and the canonical request it becomes."""

    path: str  # relative to the project root, POSIX separators: the correlation id in LUSID
    file_hash: str  # "sha256:<hex>" of the file's bytes
    body: dict[str, Any]  # canonical UpsertInvestmentAccountRequest
    # The git blob id of the file's bytes (git's own for a file it reports clean, else of the
    # bytes read), for apply to record: the next plan then trusts git instead of reading the file.
    # Not compared: the same account read or reused is equal, whichever way its blob was known.
    file_blob: str | None = field(default=None, compare=False)
    # The state record it was reused from, unread (None: read now).
    applied: Applied | None = field(default=None, compare=False, repr=False)

    @cached_property
    def body_json(self) -> bytes:
        from iasync.accounts.model import canonical_json

        return canonical_json(self.body)

    @cached_property
    def body_hash(self) -> str:
        return "sha256:" + hashlib.sha256(self.body_json).hexdigest()

    @cached_property
    def identity(self) -> frozenset[tuple[str, str]]:
        from iasync.accounts.model import identity_of

        return identity_of(self.body)

    @property
    def scope(self) -> str | None:
        """The account's scope under the scoped API; None under the reference page's."""
        from iasync.accounts.model import scope_of

        return scope_of(self.body)

    @cached_property
    def scoped_identity(self) -> frozenset[tuple[str | None, str, str]]:
        """(scope, key, value) for each identifier: how LUSID finds the account."""
        return frozenset((self.scope, key, value) for key, value in self.identity)


class ReusedAccount(LazyBody, LoadedAccount):
    """An account reused from a state record not yet holding its body: fetched on first use."""

    def _fetch_body(self) -> dict[str, Any]:
        assert self.applied is not None
        return self.applied.body

    @cached_property
    def identity(self) -> frozenset[tuple[str, str]]:
        # The record's, not the body's: a database record fetches its identifiers only if used.
        assert self.applied is not None
        return self.applied.identity

    @property
    def scope(self) -> str | None:
        # The record's, not the body's: a database record has it without its body.
        assert self.applied is not None
        return self.applied.scope


@dataclass
class LoadResult:
    accounts: list[LoadedAccount] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0  # how many account files were found (read, or reused from the state)
    reused: int = 0  # how many of them gave a state record's body without being read

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ClaimedIdentifier:
    """An account identifier a file claims, and where; for the cross-file duplicate check."""

    key: str
    value: str
    line: int
    column: int
    scope: str | None = None  # the account's scope, under the scoped API

    @property
    def identity(self) -> tuple[str | None, str, str]:
        return (self.scope, self.key, self.value)


@dataclass
class FileOutcome:
    """What reading one file gave: the account (if valid) and its problems."""

    path: str
    account: LoadedAccount | None
    problems: list[Problem]
    claims: list[ClaimedIdentifier]


class Applied(Protocol):
    """What a file gave when it was last applied (a state's `AccountRecord` is one)."""

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def body_hash(self) -> str: ...

    @property
    def source_blob(self) -> str | None: ...

    @property
    def identity(self) -> frozenset[tuple[str, str]]: ...

    @property
    def scope(self) -> str | None: ...


#: What the loader may reuse instead of reading a file: file (relative to the project root,
#: POSIX) -> (the hash of the bytes it was applied from, what it gave then).
Reusable = Mapping[str, tuple[str, Applied]]


class ReusableFiles(dict[str, tuple[str, Applied]]):
    """`Reusable`, able to say which of its files claim some identifiers (`claiming`) without
    looking at every one: through the state's index, for a state in a database."""

    def __init__(
        self,
        files: Mapping[str, tuple[str, Applied]],
        claiming: Callable[[Collection[tuple[str, str]]], Collection[str]],
    ) -> None:
        super().__init__(files)
        self.claiming = claiming
