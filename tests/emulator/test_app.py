"""The Investment Accounts endpoints over real HTTP: upsert semantics, errors, reads, deletes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from iasync.emulator.process import EmulatorProcess

UPSERT = "/api/investmentaccounts/$batchUpsert"
LUSID_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$")
Account = Callable[..., dict[str, Any]]


def version(value: dict[str, Any]) -> int:
    return value["version"]["asAtVersionNumber"]


# --- creating and matching -----------------------------------------------------------------------


def test_create_answers_201_with_the_account(api: Any, account: Account) -> None:
    response = api.upsert({"a": account(1)})

    assert response.status_code == 201
    assert response.headers["lusid-meta-requestId"]
    payload = response.json()
    assert payload["failed"] == {} and payload["href"] is None and payload["links"] == []
    value = payload["values"]["a"]
    assert re.fullmatch(r"LUID_[A-Z0-9]{8}", value["lusidInvestmentAccountId"])
    assert value["displayName"] == "Account 1"
    assert value["description"] == "Account number 1"
    (portfolio,) = value["investmentPortfolios"]
    assert portfolio.keys() == {"key", "scope", "code", "entityUniqueId"}
    assert (portfolio["key"], portfolio["scope"], portfolio["code"]) == ("P1", "S", "C1")
    (holder,) = value["accountHolders"]
    assert (
        holder["key"] == "H1"
        and holder["identifiers"] == account(1)["accountHolders"][0]["identifiers"]
    )
    for entity in (portfolio, holder):
        assert re.fullmatch(r"LUID_[A-Z0-9]{8}", entity["entityUniqueId"])
    assert version(value) == 1
    for field in ("effectiveFrom", "asAtDate", "asAtCreated", "asAtModified"):
        assert LUSID_DATETIME.match(value["version"][field]), field
    assert value["version"]["requestIdCreated"] == response.headers["lusid-meta-requestId"]
    assert all({"relation", "href", "method"} <= link.keys() for link in value["links"])


def test_no_op_upsert_keeps_id_and_version(api: Any, account: Account) -> None:
    first = api.values({"a": account(1)})["a"]
    again = api.values({"renamed-correlation-id": account(1)})["renamed-correlation-id"]

    assert again["lusidInvestmentAccountId"] == first["lusidInvestmentAccountId"]
    assert version(again) == 1
    assert again["version"]["asAtModified"] == first["version"]["asAtModified"]


def test_holder_and_portfolio_order_is_not_a_change(api: Any, account: Account) -> None:
    holders = [
        {
            "key": k,
            "identifiers": {
                "InvestorRecord/A/B": {"key": "InvestorRecord/A/B", "value": {"labelValue": k}}
            },
        }
        for k in ("H1", "H2")
    ]
    api.values({"a": account(1, accountHolders=holders)})
    again = api.values({"a": account(1, accountHolders=holders[::-1])})["a"]

    assert version(again) == 1


def test_a_real_change_bumps_the_version(api: Any, account: Account) -> None:
    first = api.values({"a": account(1)})["a"]
    second = api.values({"a": account(1, displayName="Renamed")})["a"]
    third = api.values({"a": account(1, displayName="Renamed again")})["a"]

    assert second["lusidInvestmentAccountId"] == first["lusidInvestmentAccountId"]
    assert (version(second), version(third)) == (2, 3)
    assert third["version"]["asAtCreated"] == first["version"]["asAtCreated"]


def test_matching_by_any_one_identifier_and_full_replacement(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    first = api.values({"a": account(1)})["a"]
    only_internal = account(1, properties={}, accountHolders=[], investmentPortfolios=[])
    del only_internal["identifiers"]["InvestmentAccount/Ext/Id"]
    del only_internal["description"]

    updated = api.values({"a": only_internal})["a"]

    assert updated["lusidInvestmentAccountId"] == first["lusidInvestmentAccountId"]
    assert version(updated) == 2
    assert list(updated["identifiers"]) == ["InvestmentAccount/Int/Id"]
    assert updated["properties"] == {} and updated["accountHolders"] == []
    assert updated["investmentPortfolios"] == [] and "description" not in updated
    # The dropped identifier no longer finds it; it is free for a new account.
    assert api.http.get("/api/investmentaccounts/Ext/Id/IA_1").status_code == 404
    newcomer = api.values(
        {
            "b": account(
                1,
                identifiers={
                    "InvestmentAccount/Ext/Id": account(1)["identifiers"][
                        "InvestmentAccount/Ext/Id"
                    ]
                },
            )
        }
    )["b"]
    assert newcomer["lusidInvestmentAccountId"] != first["lusidInvestmentAccountId"]
    assert len(emulator.accounts()) == 2


def test_identifiers_of_two_accounts_fail_that_item_only(api: Any, account: Account) -> None:
    api.values({"a": account(1), "b": account(2)})
    straddling = account(1)
    straddling["identifiers"]["InvestmentAccount/Int/Id"]["value"]["labelValue"] = "INT_2"

    payload = api.upsert({"both": straddling, "c": account(3)}).json()

    assert list(payload["values"]) == ["c"]
    failure = payload["failed"]["both"]
    assert (failure["id"], failure["type"]) == ("both", "DuplicateIdFailure")


def test_two_items_of_one_batch_for_the_same_account(api: Any, account: Account) -> None:
    payload = api.upsert({"a": account(1), "again": account(1, displayName="X")}).json()

    assert version(payload["values"]["a"]) == 1
    assert payload["failed"]["again"]["type"] == "DuplicateIdFailure"


def test_datetimes_are_normalised_so_respelling_is_no_change(api: Any, account: Account) -> None:
    def with_country(when: str) -> dict[str, Any]:
        props = {
            "InvestmentAccount/Details/Country": {
                "key": "InvestmentAccount/Details/Country",
                "value": {"labelValue": "UK"},
                "effectiveFrom": when,
            }
        }
        return account(1, properties=props)

    first = api.values({"a": with_country("2016-01-01T00:00:00Z")})["a"]
    again = api.values({"a": with_country("2016-01-01T01:00:00+01:00")})["a"]

    country = first["properties"]["InvestmentAccount/Details/Country"]
    assert country["effectiveFrom"] == "2016-01-01T00:00:00.0000000+00:00"
    assert version(again) == 1


# --- success modes -------------------------------------------------------------------------------


def test_partial_commits_the_good_items(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    emulator.add_fault(kind="fail-account", identifier="IA_2", errorType="PropertyNotDefined")

    payload = api.upsert({"a": account(1), "b": account(2), "c": account(3)}).json()

    assert sorted(payload["values"]) == ["a", "c"]
    assert payload["failed"]["b"]["type"] == "PropertyNotDefined"
    assert len(emulator.accounts()) == 2


def test_atomic_failure_commits_nothing_and_names_the_failures(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    existing = api.values({"a": account(1)})["a"]
    emulator.add_fault(kind="fail-account", identifier="IA_3", errorType="PropertyNotDefined")

    response = api.upsert(
        {"a": account(1, displayName="Changed"), "b": account(2), "c": account(3)}, "Atomic"
    )

    assert response.status_code == 400
    problem = response.json()
    assert (problem["name"], problem["code"], problem["status"]) == (
        "BatchOperationAborted",
        395,
        400,
    )
    assert list(problem["errors"]) == ["c"]
    assert problem["errorDetails"] == [
        {
            "id": "c",
            "type": "PropertyNotDefined",
            "detail": "Injected failure (PropertyNotDefined).",
        }
    ]
    (only,) = emulator.accounts()
    assert only["displayName"] == "Account 1" and version(only) == 1
    assert only["lusidInvestmentAccountId"] == existing["lusidInvestmentAccountId"]


def test_atomic_success_is_201(api: Any, account: Account) -> None:
    response = api.upsert({"a": account(1), "b": account(2)}, "Atomic")

    assert response.status_code == 201
    assert sorted(response.json()["values"]) == ["a", "b"]


def test_success_mode_is_case_insensitive(api: Any, account: Account) -> None:
    assert api.upsert({"a": account(1)}, "partial").status_code == 201


def test_batch_of_2000_is_accepted_and_2001_refused(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    batch = {f"acc-{n}": account(n) for n in range(2000)}
    assert len(api.values(batch, "Atomic")) == 2000

    batch["one-more"] = account(2000)
    response = api.upsert(batch)
    assert response.status_code == 400
    assert "at most 2000" in response.json()["errors"][""][0]
    assert len(emulator.accounts()) == 2000


def test_empty_object_is_an_empty_success(api: Any) -> None:
    response = api.upsert({})
    assert response.status_code == 201
    assert response.json()["values"] == {}


# --- request errors ------------------------------------------------------------------------------


def _post(
    api: Any, query: str, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return api.http.post(
        f"{UPSERT}{query}", content=content, headers={"Content-Type": content_type}
    )


@pytest.mark.parametrize("mode", ["Partial", "Atomic"])
@pytest.mark.parametrize(
    ("query", "content", "field"),
    [
        ("?successMode={mode}", b'{"a": {', ""),
        ("?successMode={mode}", b"", ""),
        ("?successMode={mode}", b"  ", ""),
        ("?successMode={mode}", b"[1, 2]", ""),
        ("?successMode={mode}", b"\xff\xfe", ""),
        ("", b"{}", "successMode"),
        ("?successMode=Sometimes", b"{}", "successMode"),
    ],
)
def test_bad_requests_are_400_problem_details(
    api: Any, mode: str, query: str, content: bytes, field: str
) -> None:
    response = _post(api, query.format(mode=mode), content)

    assert response.status_code == 400
    assert response.headers["lusid-meta-requestId"]
    problem = response.json()
    assert (problem["name"], problem["code"]) == ("InvalidRequestFailure", 157)
    assert list(problem["errors"]) == [field]
    assert problem["instance"].endswith(response.headers["lusid-meta-requestId"])


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json-patch+json",
        "application/json",
        "application/json; charset=utf-8",
        "text/json",
        "application/vnd.lusid+json",
    ],
)
def test_json_content_types_are_accepted(api: Any, account: Account, content_type: str) -> None:
    body = json.dumps({"a": account(1)}).encode()
    assert _post(api, "?successMode=Partial", body, content_type).status_code == 201


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_other_content_types_are_415(api: Any, account: Account, content_type: str) -> None:
    body = json.dumps({"a": account(1)}).encode()
    response = _post(api, "?successMode=Partial", body, content_type)
    assert response.status_code == 415
    assert response.json()["name"] == "UnsupportedMediaType"


def _errors(api: Any, item: dict[str, Any]) -> dict[str, list[str]]:
    response = api.upsert({"acc": item})
    assert response.status_code == 400, response.text
    return response.json()["errors"]


def test_missing_required_fields_are_named(api: Any, account: Account) -> None:
    item = account(1)
    for field in ("displayName", "accountType", "identifiers"):
        del item[field]

    assert _errors(api, item) == {
        "acc.displayName": ["The DisplayName field is required."],
        "acc.accountType": ["The AccountType field is required."],
        "acc.identifiers": ["The Identifiers field is required."],
    }


def test_each_bad_field_is_named(api: Any, account: Account) -> None:
    item = account(1, description="x" * 513, surprise=True)
    item["identifiers"]["InvestmentAccount/Ext/Id"]["value"] = {"metricValue": {"value": 1}}
    item["identifiers"]["Portfolio/Bad/Key"] = {
        "key": "Portfolio/Bad/Key",
        "value": {"labelValue": "v"},
    }
    item["properties"]["InvestmentAccount/Details/Name"]["key"] = "InvestmentAccount/Details/Other"
    item["properties"]["InvestmentAccount/Details/Two"] = {
        "key": "InvestmentAccount/Details/Two",
        "value": {"labelValue": "a", "metricValue": {"value": 1}},
    }
    item["properties"]["InvestmentAccount/Details/When"] = {
        "key": "InvestmentAccount/Details/When",
        "value": {"labelValue": "a"},
        "effectiveFrom": "yesterday",
    }
    item["accountHolders"].append(dict(item["accountHolders"][0]))
    item["investmentPortfolios"][0].pop("portfolioCode")

    errors = _errors(api, item)

    assert set(errors) == {
        "acc.surprise",
        "acc.description",
        "acc.identifiers[InvestmentAccount/Ext/Id].value",
        "acc.identifiers[Portfolio/Bad/Key]",
        "acc.properties[InvestmentAccount/Details/Name].key",
        "acc.properties[InvestmentAccount/Details/Two].value",
        "acc.properties[InvestmentAccount/Details/When].effectiveFrom",
        "acc.accountHolders[1].key",
        "acc.investmentPortfolios[0].portfolioCode",
    }
    assert errors["acc.investmentPortfolios[0].portfolioCode"] == [
        "The PortfolioCode field is required."
    ]


def test_validation_failure_commits_nothing_even_in_partial(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    bad = account(2)
    del bad["displayName"]

    assert api.upsert({"good": account(1), "bad": bad}).status_code == 400
    assert emulator.accounts() == []


def test_unknown_api_path_and_method_are_problem_details(api: Any) -> None:
    missing = api.http.get("/api/no/such/endpoint")
    wrong_method = api.http.put("/api/investmentaccounts/$batchUpsert")

    assert missing.json()["name"] == "NotFound"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["name"] == "MethodNotAllowed"


# --- reading and deleting ------------------------------------------------------------------------


def test_get_one_by_identifier(api: Any, account: Account) -> None:
    created = api.values({"a": account(7)})["a"]

    # Properties come back only for the keys asked for (propertyKeys), as in LUSID.
    keys = {"propertyKeys": ["InvestmentAccount/Details/Name"]}
    by_ext = api.http.get("/api/investmentaccounts/Ext/Id/IA_7", params=keys)
    by_int = api.http.get("/api/investmentaccounts/Int/Id/INT_7", params=keys)

    assert by_ext.status_code == by_int.status_code == 200
    assert by_ext.json() == by_int.json() == created


def test_get_one_missing_is_404_problem_details(api: Any) -> None:
    response = api.http.get("/api/investmentaccounts/Ext/Id/IA_404")

    assert response.status_code == 404
    assert response.json()["name"] == "InvestmentAccountNotFound"
    assert "IA_404" in response.json()["detail"]


def test_the_unscoped_api_has_no_delete(api: Any, account: Account) -> None:
    # No SDK release of the reference page's generation has a delete: the path is get-only.
    api.values({"a": account(1)})

    deleted = api.http.delete("/api/investmentaccounts/Int/Id/INT_1")

    assert deleted.status_code == 405
    assert deleted.json()["name"] == "MethodNotAllowed"
    assert api.http.get("/api/investmentaccounts/Int/Id/INT_1").status_code == 200


def test_list_pages_through_every_account(api: Any, account: Account) -> None:
    api.values({f"a{n}": account(n) for n in range(5)})

    seen, pages, params = [], [], {"limit": 2}
    while True:
        page = api.http.get("/api/investmentaccounts", params=params).json()
        pages.append(page)
        seen += [v["displayName"] for v in page["values"]]
        if page["nextPage"] is None:
            break
        params = {"limit": 2, "page": page["nextPage"]}

    assert seen == [f"Account {n}" for n in range(5)]
    assert [len(p["values"]) for p in pages] == [2, 2, 1]
    assert pages[0]["previousPage"] is None
    back = api.http.get(
        "/api/investmentaccounts", params={"limit": 2, "page": pages[2]["previousPage"]}
    )
    assert [v["displayName"] for v in back.json()["values"]] == ["Account 2", "Account 3"]


def test_list_defaults_to_everything(api: Any, account: Account) -> None:
    api.values({f"a{n}": account(n) for n in range(3)})

    page = api.http.get("/api/investmentaccounts").json()

    assert len(page["values"]) == 3 and page["nextPage"] is None


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "5001"}, {"limit": "x"}, {"page": "bad!"}]
)
def test_list_bad_paging_is_400(api: Any, params: dict[str, str]) -> None:
    response = api.http.get("/api/investmentaccounts", params=params)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(params)
