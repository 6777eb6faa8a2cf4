"""Helpers for the emulator's tests: HTTP clients on the shared emulators (one per API
generation), and account bodies of each generation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from iasync.emulator.process import EmulatorProcess

UPSERT = "/api/investmentaccounts/$batchUpsert"


def make_account(n: int, **changes: Any) -> dict[str, Any]:
    """An UpsertInvestmentAccountRequest numbered n (identifiers IA_n and INT_n)."""
    body: dict[str, Any] = {
        "identifiers": {
            "InvestmentAccount/Ext/Id": {
                "key": "InvestmentAccount/Ext/Id",
                "value": {"labelValue": f"IA_{n}"},
            },
            "InvestmentAccount/Int/Id": {
                "key": "InvestmentAccount/Int/Id",
                "value": {"labelValue": f"INT_{n}"},
            },
        },
        "properties": {
            "InvestmentAccount/Details/Name": {
                "key": "InvestmentAccount/Details/Name",
                "value": {"labelValue": f"Holder {n}"},
            }
        },
        "displayName": f"Account {n}",
        "description": f"Account number {n}",
        "accountType": "Personal",
        "accountHolders": [
            {
                "key": "H1",
                "identifiers": {
                    "InvestorRecord/Ext/Id": {
                        "key": "InvestorRecord/Ext/Id",
                        "value": {"labelValue": f"IR_{n}"},
                    }
                },
            }
        ],
        "investmentPortfolios": [{"key": "P1", "portfolioScope": "S", "portfolioCode": f"C{n}"}],
    }
    body.update(changes)
    return body


def make_scoped_account(n: int, scope: str = "Scope1", **changes: Any) -> dict[str, Any]:
    """make_account(n) as the scoped API's UpsertInvestmentAccountRequest: the account, its
    holders and its portfolios each have a scope, holder and portfolio identifiers are strings."""
    body = make_account(n)
    body["scope"] = scope
    body["accountType"] = "Individual"
    body["accountHolders"] = [
        {"key": "H1", "scope": "Investors", "identifiers": {"InvestorRecord/Ext/Id": f"IR_{n}"}}
    ]
    body["investmentPortfolios"] = [{"key": "P1", "scope": "S", "identifiers": {"Code": f"C{n}"}}]
    body.update(changes)
    return body


@pytest.fixture
def account() -> Callable[..., dict[str, Any]]:
    return make_account


@pytest.fixture
def scoped_account() -> Callable[..., dict[str, Any]]:
    return make_scoped_account


class Api:
    """A thin httpx client for the emulator's /api, authenticated with its token."""

    def __init__(self, emu: EmulatorProcess) -> None:
        self.emu = emu
        self.http = httpx.Client(
            base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=30.0
        )

    def upsert(self, body: Any, mode: str = "Partial", **kwargs: Any) -> httpx.Response:
        return self.http.post(UPSERT, params={"successMode": mode}, json=body, **kwargs)

    def values(self, body: Any, mode: str = "Partial") -> dict[str, Any]:
        response = self.upsert(body, mode)
        assert response.status_code == 201, response.text
        return response.json()["values"]


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.http.close()


@pytest.fixture
def scoped_api(scoped_emulator: EmulatorProcess) -> Iterator[Api]:
    client = Api(scoped_emulator)
    yield client
    client.http.close()
