"""The client under each API generation (the `api` setting), against the real emulator serving
that generation: get, list and delete by each generation's paths, `propertyKeys` on every read,
and the one clear error when LUSID speaks the other generation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.emulator.process import EmulatorProcess
from iasync.lusid import (
    ApiGenerationError,
    LusidApiError,
    LusidClient,
    RetryPolicy,
    load_lusid_config,
)

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
NAME = "InvestmentAccount/Details/Name"
COUNTRY = "InvestmentAccount/Details/Country"


def account(ident: str, scope: str | None = None) -> bytes:
    """A canonical request body; with `scope`, the scoped API's (a scope, a scoped holder)."""
    body: dict[str, Any] = {
        "identifiers": {EXT: {"key": EXT, "value": {"labelValue": ident}}},
        "displayName": f"Account {ident}",
        "accountType": "Individual",
        "properties": {
            NAME: {"key": NAME, "value": {"labelValue": f"Holder {ident}"}},
            COUNTRY: {"key": COUNTRY, "value": {"labelValue": "United Kingdom"}},
        },
        "accountHolders": [],
        "investmentPortfolios": [],
    }
    if scope is not None:
        body["scope"] = scope
        body["accountHolders"] = [
            {
                "key": "H1",
                "scope": scope,
                "identifiers": {"InvestorRecord/ExternalIdentifier/ExternalIRId": f"IR_{ident}"},
            }
        ]
    return json.dumps(body).encode()


@pytest.fixture
def connect(tmp_path: Path) -> Iterator[Callable[..., LusidClient]]:
    """`connect(emulator, api)`: a client of that generation for that emulator."""
    clients: list[LusidClient] = []

    def make(emu: EmulatorProcess, api: Any) -> LusidClient:
        policy = RetryPolicy(max_attempts=2, base_delay=0.01, sleep=lambda _: None)
        client = LusidClient(load_lusid_config(emu.env(), cwd=tmp_path), retry=policy, api=api)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- today's (scoped) API ---------------------------------------------------------------------


def test_scoped_get_finds_an_account_by_scope_and_identifier(
    scoped_emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(scoped_emulator, "scoped")
    assert client.api == "scoped"
    made = client.upsert_investment_accounts(
        {"a": account("IA_1", "A"), "b": account("IA_1", "B")}, "Partial"
    )

    in_a = client.get_investment_account(EXT, "IA_1", scope="A", property_keys=[NAME])
    in_b = client.get_investment_account(EXT, "IA_1", scope="B", property_keys=[NAME, COUNTRY])
    missing = client.get_investment_account(EXT, "IA_1", scope="C", property_keys=[NAME])

    assert in_a is not None and in_b is not None and missing is None
    assert in_a["lusidInvestmentAccountId"] == made.values["a"]["lusidInvestmentAccountId"]
    assert in_b["lusidInvestmentAccountId"] == made.values["b"]["lusidInvestmentAccountId"]
    assert (in_a["scope"], in_b["scope"]) == ("A", "B")
    # Only the properties asked for come back.
    assert set(in_a["properties"]) == {NAME}
    assert set(in_b["properties"]) == {NAME, COUNTRY}
    get = next(r for r in scoped_emulator.requests() if r["method"] == "GET")
    assert get["path"] == "/api/api/investmentaccounts/ExternalIAId/IA_1"
    assert get["query"]["scope"] == "A"
    assert get["query"]["identifierScope"] == "ExternalIdentifier"


def test_a_slash_in_a_value_is_one_encoded_segment(
    scoped_emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(scoped_emulator, "scoped")
    client.upsert_investment_accounts({"a": account("IA/1 x", "A")}, "Partial")

    found = client.get_investment_account(EXT, "IA/1 x", scope="A", property_keys=())

    assert found is not None and found["identifiers"][EXT]["value"]["labelValue"] == "IA/1 x"


def test_scoped_list_filters_by_scope_on_every_page(
    scoped_emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(scoped_emulator, "scoped")
    bodies = {f"{s}{n}": account(f"IA_{n}", s) for s in "AB" for n in range(3)}
    client.upsert_investment_accounts(bodies, "Partial")
    scoped_emulator.clear_requests()

    listed = list(client.list_investment_accounts(property_keys=[COUNTRY], scope="A", page_size=2))
    everything = list(client.list_investment_accounts(property_keys=(), page_size=4))

    assert sorted(a["identifiers"][EXT]["value"]["labelValue"] for a in listed) == [
        "IA_0",
        "IA_1",
        "IA_2",
    ]
    assert {a["scope"] for a in listed} == {"A"}
    assert all(set(a["properties"]) == {COUNTRY} for a in listed)
    assert len(everything) == 6 and all(a["properties"] == {} for a in everything)
    pages = [r for r in scoped_emulator.requests() if r["method"] == "GET"]
    filtered = [r for r in pages if "filter" in r["query"]]
    assert len(filtered) == 2  # both pages of scope A, each with the filter
    assert all(r["query"]["filter"] == "scope eq 'A'" for r in filtered)
    assert "page" in filtered[1]["query"]


def test_scoped_delete_then_get_is_none_and_a_second_delete_is_false(
    scoped_emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(scoped_emulator, "scoped")
    client.upsert_investment_accounts(
        {"a": account("IA_1", "A"), "b": account("IA_1", "B")}, "Partial"
    )

    assert client.delete_investment_account(EXT, "IA_1", scope="A") is True
    assert client.get_investment_account(EXT, "IA_1", scope="A", property_keys=()) is None
    assert client.delete_investment_account(EXT, "IA_1", scope="A") is False
    # The account of the other scope is untouched.
    assert client.get_investment_account(EXT, "IA_1", scope="B", property_keys=()) is not None
    delete = next(r for r in scoped_emulator.requests() if r["method"] == "DELETE")
    assert delete["path"] == "/api/api/investmentaccounts/ExternalIAId/IA_1"
    assert delete["query"] == {"scope": "A", "identifierScope": "ExternalIdentifier"}


def test_scoped_reads_need_a_scope_and_keys_must_be_account_identifiers(
    scoped_emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(scoped_emulator, "scoped")
    with pytest.raises(ValueError, match="needs its scope"):
        client.get_investment_account(EXT, "IA_1", property_keys=())
    with pytest.raises(ValueError, match="is not an account identifier key"):
        client.get_investment_account("InvestorRecord/A/B", "x", scope="A", property_keys=())
    assert scoped_emulator.requests() == []


# --- the reference page's (unscoped) API ------------------------------------------------------


def test_unscoped_get_and_list_send_the_property_keys(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(emulator, "unscoped")
    client.upsert_investment_accounts({"a": account("IA_1")}, "Partial")

    found = client.get_investment_account(EXT, "IA_1", property_keys=[NAME, COUNTRY])
    bare = client.get_investment_account(EXT, "IA_1", property_keys=())
    (listed,) = client.list_investment_accounts(property_keys=[COUNTRY], scope="ignored")

    assert found is not None and set(found["properties"]) == {NAME, COUNTRY}
    assert bare is not None and bare["properties"] == {}
    assert set(listed["properties"]) == {COUNTRY}
    paths = [r["path"] for r in emulator.requests() if r["method"] == "GET"]
    assert paths[0] == "/api/api/investmentaccounts/ExternalIdentifier/ExternalIAId/IA_1"
    assert all("filter" not in r["query"] for r in emulator.requests())


def test_unscoped_has_no_delete_and_says_so_sending_nothing(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(emulator, "unscoped")
    with pytest.raises(LusidApiError) as refused:
        client.delete_investment_account(EXT, "IA_1", scope="A")
    assert 'the reference page\'s LUSID API (api = "unscoped") has no delete' in str(refused.value)
    assert 'api = "scoped"' in str(refused.value)
    assert emulator.requests() == []


# --- LUSID of the other generation: one clear error naming the setting ------------------------


def test_an_unscoped_client_against_todays_lusid_is_told_to_set_api_scoped(
    scoped_emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(scoped_emulator, "unscoped")
    with pytest.raises(ApiGenerationError) as upsert:
        client.upsert_investment_accounts({"a": account("IA_1"), "b": account("IA_2")}, "Partial")
    with pytest.raises(ApiGenerationError) as get:
        client.get_investment_account(EXT, "IA_1", property_keys=())

    for error in (upsert.value, get.value):
        message = str(error)
        assert "this LUSID speaks today's scoped API" in message
        assert 'Set api = "scoped" and scope = "<scope>" in iasync.toml' in message
        assert "a: " not in message  # one error, not a list of the accounts


def test_a_scoped_client_against_the_reference_pages_lusid_is_told_to_set_api_unscoped(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    client = connect(emulator, "scoped")
    with pytest.raises(ApiGenerationError) as upsert:
        client.upsert_investment_accounts({"a": account("IA_1", "A")}, "Atomic")
    with pytest.raises(ApiGenerationError) as get:
        client.get_investment_account(EXT, "IA_1", scope="A", property_keys=())
    with pytest.raises(ApiGenerationError) as delete:
        client.delete_investment_account(EXT, "IA_1", scope="A")

    for error in (upsert.value, get.value, delete.value):
        assert "this LUSID speaks the reference page's API" in str(error)
        assert 'Set api = "unscoped" in iasync.toml' in str(error)


def test_an_api_that_is_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="api must be 'unscoped' or 'scoped'"):
        LusidClient(
            load_lusid_config({"FBN_LUSID_URL": "http://127.0.0.1:9/api", "FBN_ACCESS_TOKEN": "t"}),
            api="v3",
        )  # type: ignore[arg-type]
