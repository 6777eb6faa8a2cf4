"""A whole `$batchUpsert` request body, `{correlation id: account, ...}`, as the API takes it:
recognised when pasted as one account file, and cut into its accounts by `iasync import
--from-request`. Plain data only (no pydantic): `iasync validate` uses it."""

from __future__ import annotations

import re
from typing import Any

from iasync.accounts.format import FIELD_ORDER

#: Correlation ids named in a message; the rest are counted.
MAX_NAMED = 3


def is_batch_request(data: Any) -> bool:
    """A mapping of correlation ids to accounts: no account field at the top, and every value
    a mapping with an account's identifiers or display name."""
    if not isinstance(data, dict) or not data or any(key in FIELD_ORDER for key in data):
        return False
    return all(
        isinstance(account, dict) and ("identifiers" in account or "displayName" in account)
        for account in data.values()
    )


def describe_request(data: dict[str, Any], shown: str) -> str:
    """What a pasted request body is, and how to split it (`shown`: the file as named)."""
    count = len(data)
    ids = "ids" if count > 1 else "id"
    return (
        f"this is a whole $batchUpsert request body ({count} account{'s' if count > 1 else ''}, "
        f"under the correlation {ids} {_listed([str(key) for key in data])}), not one account; "
        f"split it into one file per account with `iasync import --from-request {shown}`"
    )


def _listed(names: list[str]) -> str:
    if len(names) > MAX_NAMED:
        return ", ".join(names[:MAX_NAMED]) + f" and {len(names) - MAX_NAMED:,} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def file_stem(account: dict[str, Any], correlation_id: str) -> str:
    """A file name (without suffix) for an account: its first identifier's value, made safe for a
    file name (`IA_12345678`); else the correlation id's; else `account`."""
    for candidate in (_first_identifier(account), correlation_id):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", candidate or "").strip(".-")
        if stem:
            return stem[:100]
    return "account"


def _first_identifier(account: dict[str, Any]) -> str | None:
    identifiers = account.get("identifiers")
    if not isinstance(identifiers, dict):
        return None
    for value in identifiers.values():
        if isinstance(value, dict):  # the API's long form: {key, value: {labelValue}}
            label = value.get("value")
            value = label.get("labelValue") if isinstance(label, dict) else label
        if isinstance(value, str) and value:
            return value
    return None
