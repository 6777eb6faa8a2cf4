"""Identifiers claimed by two files: two files claiming one identifier would be one LUSID account,
so each is a problem in both files, naming the other."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from iasync.accounts.finding import Found
from iasync.accounts.loaded import ClaimedIdentifier, FileOutcome, LoadedAccount
from iasync.errors import Problem

if TYPE_CHECKING:
    from iasync.accounts.yaml import Document


def claims_of(document: Document) -> list[ClaimedIdentifier]:
    identifiers = document.data.get("identifiers") if isinstance(document.data, dict) else None
    if not isinstance(identifiers, dict):
        return []
    claims = []
    for key, value in identifiers.items():
        path: tuple[str | int, ...] = ("identifiers", key)
        if isinstance(value, dict):
            label = value.get("value")
            value = label.get("labelValue") if isinstance(label, dict) else None
            path = ("identifiers", key, "value", "labelValue")
        if isinstance(key, str) and isinstance(value, str):
            line, column = document.location(path, "value")
            claims.append(ClaimedIdentifier(key, value, line, column))
    return claims


def report_shared_identifiers(outcomes: list[FileOutcome]) -> None:
    """Two files claiming one identifier would be one LUSID account: a problem in each file."""
    owners: dict[tuple[str, str], list[FileOutcome]] = {}
    for outcome in outcomes:
        for claim in outcome.claims:
            owners.setdefault((claim.key, claim.value), []).append(outcome)
    for (key, value), claimants in owners.items():
        files = sorted({outcome.path for outcome in claimants})
        if len(files) < 2:
            continue
        for outcome in claimants:
            others = ", ".join(path for path in files if path != outcome.path)
            for claim in outcome.claims:
                if (claim.key, claim.value) == (key, value):
                    outcome.problems.append(
                        Problem(
                            outcome.path,
                            claim.line,
                            claim.column,
                            f"identifier {key}={value} is also claimed by {others}; "
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
    claimed = {(claim.key, claim.value) for outcome in outcomes for claim in outcome.claims}
    if not claimed:
        return []
    sources = None if claiming is None else set(claiming(claimed))
    return [
        Found(file, os.path.abspath(file), None)
        for file, account in reused.items()
        if (sources is None or account.path in sources) and not claimed.isdisjoint(account.identity)
    ]
