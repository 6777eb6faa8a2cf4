"""The scoped API (`iasync emulator --api scoped`, today's LUSID) over real HTTP, and how each
generation answers a client that speaks the other one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iasync.emulator.process import EmulatorProcess
from tests.emulator.conftest import Api

Account = Callable[..., dict[str, Any]]
ACCOUNTS = "/api/investmentaccounts"
NAME = "InvestmentAccount/Details/Name"
WHERE_EXT = {"scope": "Scope1", "identifierScope": "Ext"}


def get(api: Api, value: str, **params: Any) -> Any:
    """GET one account by its InvestmentAccount/Ext/Id identifier."""
    return api.http.get(f"{ACCOUNTS}/Id/{value}", params={**WHERE_EXT, **params})


# --- upsert -----------------------------------------------------------------------------------


def test_scoped_upsert_answers_with_the_scoped_models(
    scoped_api: Api, scoped_account: Account
) -> None:
    created = scoped_api.values({"a": scoped_account(1)})["a"]

    assert created["scope"] == "Scope1"
    assert re.fullmatch(r"LUID_[A-Z0-9]{8}", created["lusidInvestmentAccountId"])
    (holder,) = created["accountHolders"]
    assert {k: v for k, v in holder.items() if k != "entityUniqueId"} == {
        "key": "H1",
        "scope": "Investors",
        "identifiers": {"InvestorRecord/Ext/Id": "IR_1"},
    }
    (portfolio,) = created["investmentPortfolios"]
    assert (portfolio["scope"], portfolio["identifiers"]) == ("S", {"Code": "C1"})
    assert holder["entityUniqueId"] != portfolio["entityUniqueId"]
    assert created["href"].endswith(
        "/api/api/investmentaccounts/Id/IA_1?scope=Scope1&identifierScope=Ext"
    )
    assert created["properties"][NAME]["value"] == {"labelValue": "Holder 1"}


def test_a_request_without_scope_is_refused_naming_scope_as_required(
    scoped_api: Api, scoped_emulator: EmulatorProcess, scoped_account: Account
) -> None:
    body = scoped_account(1)
    del body["scope"]

    response = scoped_api.upsert({"a": body}, "Atomic")

    assert response.status_code == 400
    problem = response.json()
    assert (problem["name"], problem["code"]) == ("InvalidRequestFailure", 157)
    assert problem["errors"] == {"a.scope": ["The Scope field is required."]}
    assert scoped_emulator.accounts() == []


def test_the_reference_pages_body_is_refused_by_the_scoped_api(
    scoped_api: Api, account: Account
) -> None:
    unscoped = account(1)  # holders with Property identifiers, portfolios by scope and code

    errors = scoped_api.upsert({"a": unscoped}).json()["errors"]

    assert errors["a.scope"] == ["The Scope field is required."]
    assert errors["a.accountHolders[0].scope"] == ["The Scope field is required."]
    assert errors["a.accountHolders[0].identifiers[InvestorRecord/Ext/Id]"] == [
        "The identifier's value is required (a non-empty string)."
    ]
    assert errors["a.investmentPortfolios[0].portfolioScope"] == ["Unknown field 'portfolioScope'."]
    assert errors["a.investmentPortfolios[0].identifiers"] == ["The Identifiers field is required."]


def test_a_scoped_body_is_refused_by_the_unscoped_api(api: Api, scoped_account: Account) -> None:
    errors = api.upsert({"a": scoped_account(1)}).json()["errors"]

    assert errors["a.scope"] == ["Unknown field 'scope'."]
    assert errors["a.accountHolders[0].scope"] == ["Unknown field 'scope'."]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"scope": "no spaces"}, "a.scope", "The scope 'no spaces' must be 1-64 letters"),
        ({"scope": 7}, "a.scope", "The value must be a string."),
        (
            {"accountHolders": [{"key": "H", "scope": "I", "identifiers": {}}]},
            "a.accountHolders[0].identifiers",
            "At least one identifier is required",
        ),
        (
            {"accountHolders": [{"key": "H", "scope": "I", "identifiers": {"Bad": "x"}}]},
            "a.accountHolders[0].identifiers[Bad]",
            "The key 'Bad' must look like InvestorRecord/<scope>/<code>",
        ),
        (
            {"investmentPortfolios": [{"key": "P", "identifiers": {"Code": "C"}}]},
            "a.investmentPortfolios[0].scope",
            "The Scope field is required.",
        ),
    ],
)
def test_scoped_validation_names_the_field(
    scoped_api: Api, scoped_account: Account, change: dict[str, Any], path: str, message: str
) -> None:
    response = scoped_api.upsert({"a": scoped_account(1, **change)})

    assert response.status_code == 400
    assert response.json()["errors"][path][0].startswith(message)


def test_identity_is_scope_and_identifier(scoped_api: Api, scoped_account: Account) -> None:
    first = scoped_api.values({"a": scoped_account(1)})["a"]
    other_scope = scoped_api.values({"a": scoped_account(1, scope="Scope2")})["a"]
    renamed = scoped_api.values({"a": scoped_account(1, displayName="Renamed")})["a"]

    assert other_scope["lusidInvestmentAccountId"] != first["lusidInvestmentAccountId"]
    assert renamed["lusidInvestmentAccountId"] == first["lusidInvestmentAccountId"]
    assert renamed["version"]["asAtVersionNumber"] == 2
    assert other_scope["version"]["asAtVersionNumber"] == 1


# --- get and delete -----------------------------------------------------------------------------


def test_get_by_identifier_type_and_value_in_a_scope(
    scoped_api: Api, scoped_account: Account
) -> None:
    created = scoped_api.values({"a": scoped_account(1), "b": scoped_account(1, scope="Scope2")})

    plain = get(scoped_api, "IA_1")
    with_name = get(scoped_api, "IA_1", propertyKeys=[NAME, "InvestmentAccount/Details/Other"])
    by_internal = scoped_api.http.get(
        f"{ACCOUNTS}/Id/INT_1", params={"scope": "Scope2", "identifierScope": "Int"}
    )

    assert plain.status_code == 200
    assert plain.json()["lusidInvestmentAccountId"] == created["a"]["lusidInvestmentAccountId"]
    assert plain.json()["properties"] == {}  # no propertyKeys: no properties
    assert with_name.json() == created["a"]
    assert (
        by_internal.json()["lusidInvestmentAccountId"] == (created["b"]["lusidInvestmentAccountId"])
    )


def test_an_identifier_value_with_a_slash_is_found_when_encoded(
    scoped_api: Api, scoped_account: Account
) -> None:
    body = scoped_account(1)
    body["identifiers"]["InvestmentAccount/Ext/Id"]["value"]["labelValue"] = "A/B"
    scoped_api.values({"a": body})

    found = scoped_api.http.get(f"{ACCOUNTS}/Id/A%2FB", params=WHERE_EXT)
    unencoded = scoped_api.http.get(f"{ACCOUNTS}/Id/A/B", params=WHERE_EXT)

    assert found.status_code == 200
    assert unencoded.status_code == 404 and unencoded.json()["name"] == "NotFound"


def test_get_without_scope_or_identifier_scope_is_400_naming_them(scoped_api: Api) -> None:
    response = scoped_api.http.get(f"{ACCOUNTS}/Id/IA_1")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "scope": ["The scope field is required."],
        "identifierScope": ["The identifierScope field is required."],
    }


def test_get_in_another_scope_is_404(scoped_api: Api, scoped_account: Account) -> None:
    scoped_api.values({"a": scoped_account(1)})

    response = scoped_api.http.get(
        f"{ACCOUNTS}/Id/IA_1", params={"scope": "Scope2", "identifierScope": "Ext"}
    )

    assert response.status_code == 404
    assert response.json()["name"] == "InvestmentAccountNotFound"
    assert "Scope2" in response.json()["detail"]


def test_the_unscoped_get_path_is_404_on_the_scoped_api(
    scoped_api: Api, scoped_account: Account
) -> None:
    scoped_api.values({"a": scoped_account(1)})

    response = scoped_api.http.get(f"{ACCOUNTS}/Ext/Id/IA_1")

    assert response.status_code == 404
    assert response.json()["name"] == "NotFound"


def test_the_scoped_get_path_is_404_on_the_unscoped_api(api: Api, account: Account) -> None:
    api.values({"a": account(1)})

    response = api.http.get(f"{ACCOUNTS}/Id/IA_1", params=WHERE_EXT)

    assert response.status_code == 404
    assert response.json()["name"] == "NotFound"


def test_bad_property_keys_are_400(scoped_api: Api) -> None:
    response = get(scoped_api, "IA_1", propertyKeys=["Name"])

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["propertyKeys"]


def test_delete_then_gone_and_identifiers_free(scoped_api: Api, scoped_account: Account) -> None:
    created = scoped_api.values({"a": scoped_account(1)})["a"]

    deleted = scoped_api.http.delete(f"{ACCOUNTS}/Id/IA_1", params=WHERE_EXT)

    assert deleted.status_code == 200
    assert deleted.json()["entityUniqueId"] == created["lusidInvestmentAccountId"]
    assert deleted.json()["entityType"] == "InvestmentAccount" and deleted.json()["asAt"]
    assert get(scoped_api, "IA_1").status_code == 404
    assert scoped_api.http.delete(f"{ACCOUNTS}/Id/IA_1", params=WHERE_EXT).status_code == 404
    recreated = scoped_api.values({"a": scoped_account(1)})["a"]
    assert recreated["lusidInvestmentAccountId"] != created["lusidInvestmentAccountId"]
    assert recreated["version"]["asAtVersionNumber"] == 1


def test_delete_needs_scope_and_identifier_scope(scoped_api: Api) -> None:
    response = scoped_api.http.delete(f"{ACCOUNTS}/Id/IA_1", params={"scope": "Scope1"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["identifierScope"]


# --- list ---------------------------------------------------------------------------------------


def names(page: Any) -> list[str]:
    return [v["displayName"] for v in page.json()["values"]]


def test_list_pages_and_shows_only_the_property_keys_asked_for(
    scoped_api: Api, scoped_account: Account
) -> None:
    scoped_api.values({f"a{n}": scoped_account(n) for n in range(3)})

    first = scoped_api.http.get(ACCOUNTS, params={"limit": 2, "propertyKeys": NAME})
    rest = scoped_api.http.get(
        ACCOUNTS, params={"limit": 2, "propertyKeys": NAME, "page": first.json()["nextPage"]}
    )
    bare = scoped_api.http.get(ACCOUNTS)

    assert names(first) + names(rest) == ["Account 0", "Account 1", "Account 2"]
    assert rest.json()["nextPage"] is None
    assert all(list(v["properties"]) == [NAME] for v in first.json()["values"])
    assert all(v["properties"] == {} for v in bare.json()["values"])
    assert all(v["scope"] == "Scope1" for v in bare.json()["values"])


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("displayName eq 'account 1'", ["Account 1"]),
        ("scope eq 'Scope2'", ["Account 2"]),
        (f"properties[{NAME}] startswith 'Holder' and not displayName eq 'Account 0'", None),
        ("identifiers[InvestmentAccount/Ext/Id] in ('IA_0', 'IA_2')", ["Account 0", "Account 2"]),
        ("displayName eq 'Account 0' or displayName eq 'Account 2'", ["Account 0", "Account 2"]),
        ("description not exists", []),
    ],
)
def test_list_filters(
    scoped_api: Api, scoped_account: Account, filter_text: str, expected: list[str] | None
) -> None:
    scoped_api.values(
        {
            "a0": scoped_account(0),
            "a1": scoped_account(1),
            "a2": scoped_account(2, scope="Scope2"),
        }
    )

    response = scoped_api.http.get(ACCOUNTS, params={"filter": filter_text})

    assert response.status_code == 200, response.text
    assert names(response) == (expected if expected is not None else ["Account 1", "Account 2"])


def test_a_filter_the_emulator_cannot_read_is_400_saying_what_it_supports(
    scoped_api: Api,
) -> None:
    response = scoped_api.http.get(ACCOUNTS, params={"filter": "created gt 2020-01-01"})

    assert response.status_code == 400
    (message,) = response.json()["errors"]["filter"]
    assert "unknown field 'created'" in message and "the emulator supports" in message


def test_the_filter_must_not_change_while_paging(scoped_api: Api, scoped_account: Account) -> None:
    scoped_api.values({f"a{n}": scoped_account(n) for n in range(3)})
    first = scoped_api.http.get(ACCOUNTS, params={"limit": 1, "filter": "scope eq 'Scope1'"})

    changed = scoped_api.http.get(
        ACCOUNTS, params={"limit": 1, "page": first.json()["nextPage"], "filter": "scope eq 'X'"}
    )

    assert changed.status_code == 400
    assert list(changed.json()["errors"]) == ["page"]


def test_sort_by_is_refused_rather_than_ignored(scoped_api: Api) -> None:
    response = scoped_api.http.get(ACCOUNTS, params={"sortBy": "displayName ASC"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["sortBy"]


# --- --definitions under the scoped API -----------------------------------------------------------


def test_definitions_check_scoped_holders_and_portfolios(
    tmp_path: Path, emulator_factory: Callable[..., EmulatorProcess], scoped_account: Account
) -> None:
    definitions = tmp_path / "definitions.json"
    definitions.write_text(
        json.dumps(
            {
                "investorRecords": [{"InvestorRecord/Ext/Id": "IR_1"}],
                "portfolios": [{"scope": "S", "code": "C1"}],
            }
        )
    )
    emu = emulator_factory("tok", "--definitions", str(definitions), api="scoped")
    client = Api(emu)

    response = client.upsert(
        {
            "known": scoped_account(1),
            "no-record": scoped_account(2),
            "no-portfolio": scoped_account(
                1,
                identifiers={
                    "InvestmentAccount/Ext/Id": {
                        "key": "InvestmentAccount/Ext/Id",
                        "value": {"labelValue": "IA_X"},
                    }
                },
                investmentPortfolios=[{"key": "P", "scope": "S", "identifiers": {"Code": "C9"}}],
            ),
        }
    )
    client.http.close()

    assert list(response.json()["values"]) == ["known"]
    failed = response.json()["failed"]
    assert failed["no-record"]["type"] == "InvestorRecordNotFound"
    assert failed["no-portfolio"]["type"] == "PortfolioNotFound"
