"""Helpers for the plan tests (test_plan, test_render, commands/test_plan_command): canonical
bodies, loaded accounts and state records made the way the loader and apply make them."""

from __future__ import annotations

import hashlib
from typing import Any

from iasync.accounts.loader import LoadedAccount
from iasync.accounts.model import AccountFile, ScopedAccountFile, body_hash, canonical_body
from iasync.states import AccountRecord

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
INT = "InvestmentAccount/InternalIdentifier/InternalIAId"
COUNTRY = "InvestmentAccount/Details/Country"
EMAIL = "InvestmentAccount/Details/Email"
HOLDER_ID = "InvestorRecord/ExternalIdentifier/ExternalIRId"


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """The canonical body of an account file's data (as YAML would load it)."""
    return canonical_body(AccountFile.model_validate(document))


def body(ext: str, **fields: Any) -> dict[str, Any]:
    """A canonical body with the external identifier `ext`; `fields` replace the defaults."""
    doc: dict[str, Any] = {
        "identifiers": {EXT: ext},
        "displayName": f"Account {ext}",
        "accountType": "Personal",
        "properties": {COUNTRY: "United Kingdom"},
        "accountHolders": [{"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_1"}}],
    }
    doc.update(fields)
    return canonical(doc)


def scoped_body(ext: str, scope: str, **fields: Any) -> dict[str, Any]:
    """`body(ext, ...)` as the scoped API's canonical body, in `scope`."""
    doc: dict[str, Any] = {
        "identifiers": {EXT: ext},
        "displayName": f"Account {ext}",
        "accountType": "Individual",
        "accountHolders": [{"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_1"}}],
    }
    doc.update(fields)
    return canonical_body(ScopedAccountFile.model_validate(doc), scope=scope)


def loaded(path: str, account_body: dict[str, Any], text: str | None = None) -> LoadedAccount:
    """The account a file at `path` gave; its bytes are `text` (by default, made up)."""
    data = (text if text is not None else f"{path}\n{account_body}").encode()
    return LoadedAccount(path, "sha256:" + hashlib.sha256(data).hexdigest(), account_body)


def record(
    lusid_id: str, account_body: dict[str, Any], source: str, version: int = 1
) -> AccountRecord:
    """A state record for `account_body` as if apply had sent it from `source`."""
    return AccountRecord(
        lusid_id=lusid_id,
        version=version,
        identifiers={k: p["value"]["labelValue"] for k, p in account_body["identifiers"].items()},
        body=account_body,
        body_hash=body_hash(account_body),
        source=source,
        source_hash="sha256:" + "0" * 64,
        applied_at="2026-01-01T00:00:00+00:00",
        commit=None,
    )
