"""Identifiers claimed by two files: two files claiming one identifier would be one LUSID account,
so each is a problem in both files, naming the other. Under the scoped API an account is found by
(scope, identifier): the same identifier in two scopes is two accounts, and no clash."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from iasync.accounts.finding import Found
from iasync.accounts.loaded import ClaimedIdentifier, FileOutcome, LoadedAccount
from iasync.errors import Problem

if TYPE_CHECKING:
    from iasync.accounts.yaml import Document
    from iasync.settings import Settings


def claims_of(document: Document, settings: Settings | None = None) -> list[ClaimedIdentifier]:
    identifiers = document.data.get("identifiers") if isinstance(document.data, dict) else None
    if not isinstance(identifiers, dict):
        return []
    scope = _scope_of(document.data, settings)
    claims = []
    for key, value in identifiers.items():
        path: tuple[str | int, ...] = ("identifiers", key)
        if isinstance(value, dict):
            label = value.get("value")
            value = label.get("labelValue") if isinstance(label, dict) else None
            path = ("identifiers", key, "value", "labelValue")
        if isinstance(key, str) and isinstance(value, str):
            line, column = document.location(path, "value")
            claims.append(ClaimedIdentifier(key, value, line, column, scope))
    return claims


def _scope_of(data: dict[str, Any], settings: Settings | None) -> str | None:
    """The account's scope under the scoped API (its file's, else the setting); else None."""
    if settings is None or settings.api != "scoped":
        return None
    scope = data.get("scope", settings.scope)
    return scope if isinstance(scope, str) else None


def report_shared_identifiers(outcomes: list[FileOutcome]) -> None:
    """Two files claiming one identifier would be one LUSID account: a problem in each file."""
    owners: dict[tuple[str | None, str, str], list[FileOutcome]] = {}
    for outcome in outcomes:
        for claim in outcome.claims:
            owners.setdefault(claim.identity, []).append(outcome)
    for (scope, key, value), claimants in owners.items():
        files = sorted({outcome.path for outcome in claimants})
        if len(files) < 2:
            continue
        for outcome in claimants:
            others = ", ".join(path for path in files if path != outcome.path)
            for claim in outcome.claims:
                if claim.identity == (scope, key, value):
                    outcome.problems.append(
                        Problem(
                            outcome.path,
                            claim.line,
                            claim.column,
                            f"identifier {key}={value}{_in_scope(scope)} is also claimed by "
                            f"{others}; "
                            "each account must have its own identifiers",
                        )
                    )
            outcome.account = None


def claimed_by_others(
    outcomes: Iterable[FileOutcome],
    reused: dict[str, LoadedAccount],
    claiming: Callable[[Collection[tuple[str, str]]], Collection[str]] | None = None,
) -> list[Found]:
    """The reused files holding an identifier that a file read now claims too (rare).

    `claiming` names the files (as applied from) whose records hold any of some identifiers:
    then only those reused files are looked at, not the identifiers of every one.
    """
    if not reused:
        return []
    claimed = {claim.identity for outcome in outcomes for claim in outcome.claims}
    if not claimed:
        return []
    # Identifiers first, scopes only for those sharing one: a scope is in the body, which a
    # reused account fetches (from a database state) only when used. With `claiming`, only the
    # reused files it names are looked at, not the identifiers of every one.
    unscoped_claims = {(key, value) for _, key, value in claimed}
    sources = None if claiming is None else set(claiming(unscoped_claims))
    return [
        Found(file, os.path.abspath(file), None)
        for file, account in reused.items()
        if (sources is None or account.path in sources)
        and not unscoped_claims.isdisjoint(account.identity)
        and not claimed.isdisjoint(account.scoped_identity)
    ]


def _in_scope(scope: str | None) -> str:
    return f" in scope {scope}" if scope is not None else ""
