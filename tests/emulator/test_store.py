"""The account store on its own: matching, versions, rollback, persistence."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iasync.emulator.store import AccountStore, StoreFileError
from iasync.emulator.validation import validate_batch

Account = Callable[..., dict[str, Any]]


def normalised(**items: dict[str, Any]) -> dict[str, dict[str, Any]]:
    valid, errors = validate_batch(items)
    assert errors == {}
    return valid


def upsert(store: AccountStore, atomic: bool = False, **items: dict[str, Any]) -> Any:
    return store.upsert(normalised(**items), atomic=atomic, request_id="R", user="u")


def test_create_indexes_every_identifier(account: Account) -> None:
    store = AccountStore()
    created = upsert(store, a=account(1)).values["a"]

    assert store.find("InvestmentAccount/Ext/Id", "IA_1") is created
    assert store.find("InvestmentAccount/Int/Id", "INT_1") is created
    assert store.find("InvestmentAccount/Int/Id", "IA_1") is None
    assert len(store) == 1


def test_update_reindexes_changed_identifiers(account: Account) -> None:
    store = AccountStore()
    upsert(store, a=account(1))
    moved = account(1)
    moved["identifiers"]["InvestmentAccount/Ext/Id"]["value"]["labelValue"] = "IA_NEW"

    updated = upsert(store, a=moved).values["a"]

    assert updated.version == 2
    assert store.find("InvestmentAccount/Ext/Id", "IA_1") is None
    assert store.find("InvestmentAccount/Ext/Id", "IA_NEW") is updated


def test_atomic_rollback_restores_creates_and_updates(account: Account) -> None:
    store = AccountStore()
    before = upsert(store, a=account(1)).values["a"]

    def fail_third(corr_id: str, body: Any) -> dict[str, Any] | None:
        return {"id": corr_id, "type": "X", "detail": "no"} if corr_id == "c" else None

    result = store.upsert(
        normalised(a=account(1, displayName="Changed"), b=account(2), c=account(3)),
        atomic=True,
        request_id="R2",
        user="u",
        check=fail_third,
    )

    assert result.values == {} and list(result.failed) == ["c"] and not result.changed
    assert [a.lusid_id for a in store] == [before.lusid_id]
    assert store.find("InvestmentAccount/Ext/Id", "IA_1") is before
    assert store.find("InvestmentAccount/Ext/Id", "IA_2") is None


def test_ids_are_luid_and_unique(account: Account) -> None:
    store = AccountStore()
    values = upsert(store, **{f"a{n}": account(n) for n in range(200)}).values

    ids = {v.lusid_id for v in values.values()}
    assert len(ids) == 200
    assert all(i.startswith("LUID_") and len(i) == 13 and i[5:].isalnum() for i in ids)
    assert all(i[5:] == i[5:].upper() for i in ids)


def test_round_trip_through_the_data_file(tmp_path: Path, account: Account) -> None:
    data = tmp_path / "store.json"
    store = AccountStore(data)
    created = upsert(store, a=account(1), b=account(2)).values

    reloaded = AccountStore(data)

    assert [a.to_record() for a in reloaded] == [created[c].to_record() for c in ("a", "b")]
    assert reloaded.find("InvestmentAccount/Int/Id", "INT_2").lusid_id == created["b"].lusid_id  # type: ignore[union-attr]


def test_no_op_batch_does_not_rewrite_the_file(tmp_path: Path, account: Account) -> None:
    data = tmp_path / "store.json"
    store = AccountStore(data)
    upsert(store, a=account(1))
    os.utime(data, (0, 0))

    result = upsert(store, a=account(1))

    assert not result.changed
    assert data.stat().st_mtime == 0


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "[]",
        '{"formatVersion": 99, "accounts": []}',
        '{"formatVersion": 1, "accounts": [{}]}',
    ],
)
def test_unreadable_data_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    data = tmp_path / "store.json"
    data.write_text(content)

    with pytest.raises(StoreFileError, match="cannot read the emulator's data file"):
        AccountStore(data)


def test_data_file_is_plain_json(tmp_path: Path, account: Account) -> None:
    data = tmp_path / "store.json"
    upsert(AccountStore(data), a=account(1))

    payload = json.loads(data.read_text())

    assert payload["formatVersion"] == 1
    assert payload["accounts"][0]["body"]["displayName"] == "Account 1"
