"""The admin API over real HTTP: request log, faults list, accounts, reset."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from iasync.emulator.process import EmulatorProcess

Account = Callable[..., dict[str, Any]]


def test_request_log_entries(api: Any, account: Account, emulator: EmulatorProcess) -> None:
    sent = api.upsert({"a": account(1)}, "Atomic").request.content
    api.http.get("/api/investmentaccounts", params={"limit": 3})

    upsert, listing = emulator.requests()

    assert (
        upsert["method"] == "POST" and upsert["path"] == "/api/api/investmentaccounts/$batchUpsert"
    )
    assert upsert["query"] == {"successMode": "Atomic"} and upsert["status"] == 201
    assert upsert["body"] == {"a": account(1)}
    assert upsert["bodyBytes"] == len(sent)
    assert listing["query"] == {"limit": "3"} and listing["body"] is None
    assert "authorization" not in json.dumps(emulator.requests()).lower()
    emulator.clear_requests()
    assert emulator.requests() == []


def test_admin_faults_list_and_clear(emulator: EmulatorProcess) -> None:
    listed = emulator.add_fault(kind="drop", count=2)
    assert listed == [{"kind": "drop", "count": 2, "commit": False}]

    emulator.clear_faults()

    assert emulator.faults() == []


def test_reset_wipes_faults_accounts_and_log(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    api.values({"a": account(1)})
    emulator.add_fault(kind="status", status=500)

    emulator.reset()

    assert (emulator.faults(), emulator.accounts(), emulator.requests()) == ([], [], [])


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "status", "status": 404},
        {"kind": "status", "status": 429, "bogus": 1},
        {"kind": "hang", "seconds": -1},
        {"kind": "fail-account"},
        {"kind": "drop", "count": 0},
    ],
)
def test_bad_fault_specs_are_400_with_a_reason(
    emulator: EmulatorProcess, spec: dict[str, Any]
) -> None:
    response = httpx.post(f"{emulator.root}/_emulator/faults", json=spec)

    assert response.status_code == 400
    assert response.json()["error"]
    assert emulator.faults() == []


def test_accounts_lists_every_account(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    created = api.values({"a": account(1), "b": account(2)})

    assert emulator.accounts() == [created["a"], created["b"]]
