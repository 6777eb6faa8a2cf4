"""Conformance: the official LUSID SDK (lusid-sdk 2.1.859) drives the emulator over real HTTP, as
its users do (SyncApiClientFactory configured from FBN_* environment variables), and parses every
response into its own models."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from lusid import InvestmentAccountsApi, SyncApiClientFactory
from lusid.exceptions import ApiException
from lusid.models import (
    AccountHolder,
    AccountHolderIdentifier,
    InvestmentAccount,
    InvestmentPortfolio,
    InvestmentPortfolioIdentifier,
    LabelValueSet,
    Link,
    LusidValidationProblemDetails,
    MetricValue,
    ModelProperty,
    PropertyReferenceDataValue,
    PropertyValue,
    UpsertInvestmentAccountRequest,
    UpsertInvestmentAccountsResponse,
    Version,
)

from iasync.emulator import validation
from iasync.emulator.process import EmulatorProcess

# The one copy of the reference page's example (tests/data), checked against the page here.
DATA = Path(__file__).parents[1] / "data" / "reference-example-request-body.json"
REFERENCE_PAGE = Path(__file__).parents[3] / "shared" / "reference" / "InvestmentAccountsApi.md"


def reference_body() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def test_the_request_body_is_the_reference_pages_example_verbatim() -> None:
    if not REFERENCE_PAGE.exists():
        pytest.skip("the shared reference page is not beside this checkout")
    match = re.search(r"request_body = (\{.*\}) # Dict", REFERENCE_PAGE.read_text())
    assert match is not None
    assert DATA.read_text().strip() == match.group(1)


@pytest.fixture
def sdk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[dict[str, str]], None]:
    """Point the SDK's environment at an emulator; no secrets.json can be found in a temp cwd."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "FBN_LUSID_URL",
        "FBN_LUSID_API_URL",
        "FBN_ACCESS_TOKEN",
        "FBN_TOKEN_URL",
        "FBN_USERNAME",
        "FBN_PASSWORD",
        "FBN_CLIENT_ID",
        "FBN_CLIENT_SECRET",
        "FBN_ACCESS_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)

    def apply(env: dict[str, str]) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


def accounts_api() -> InvestmentAccountsApi:
    return SyncApiClientFactory().build(InvestmentAccountsApi)


@pytest.fixture
def sdk_api(
    emulator: EmulatorProcess, sdk_env: Callable[[dict[str, str]], None]
) -> InvestmentAccountsApi:
    """The SDK's InvestmentAccountsApi, configured from FBN_* for the shared emulator."""
    sdk_env(emulator.env())
    return accounts_api()


def refused(call: Callable[[], Any]) -> LusidValidationProblemDetails:
    """The problem details of a call the emulator answers with a 400, parsed by the SDK."""
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == 400
    return LusidValidationProblemDetails.from_json(raised.value.body)


def reference_body_with_a_portfolio() -> dict[str, Any]:
    body = reference_body()
    body["firstExampleRequest"]["investmentPortfolios"] = [
        {"key": "P1", "portfolioScope": "Investments", "portfolioCode": "Growth"}
    ]
    return body


@pytest.mark.parametrize("mode", ["Partial", "Atomic"])
def test_sdk_upserts_the_reference_example_and_parses_the_response(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi, mode: str
) -> None:
    response = sdk_api.upsert_investment_accounts(mode, reference_body())

    assert isinstance(response, UpsertInvestmentAccountsResponse)
    assert set(response.values) == {"firstExampleRequest", "secondExampleRequest"}
    assert response.failed == {}
    first = response.values["firstExampleRequest"]
    assert isinstance(first, InvestmentAccount)
    assert re.fullmatch(r"LUID_[A-Z0-9]{8}", first.lusid_investment_account_id)
    assert first.display_name == "InvestmentAccount1DisplayName"
    assert first.account_type == "Personal"
    assert first.version.as_at_version_number == 1
    assert first.version.effective_from is not None and first.version.as_at_date is not None
    country = first.properties["InvestmentAccount/Details/Country"]
    assert country.value.label_value == "United Kingdom"
    assert country.effective_from.year == 2016
    assert first.account_holders[0].key == "AccountHolder1"
    assert all(link.relation and link.href and link.method for link in first.links)
    # What the SDK sent: its own content type, the body as given (its models respell datetimes
    # as +00:00), the mode in the query.
    (logged,) = emulator.requests()
    assert logged["contentType"] == "application/json-patch+json"
    assert logged["query"] == {"successMode": mode}
    respelled = DATA.read_text().replace(".0000000+00:00", "+00:00")
    assert logged["body"] == json.loads(respelled)


def test_sdk_repeat_is_a_no_op_and_a_change_bumps_the_version(
    sdk_api: InvestmentAccountsApi,
) -> None:
    created = sdk_api.upsert_investment_accounts("Partial", reference_body()).values
    again = sdk_api.upsert_investment_accounts("Partial", reference_body()).values
    body = reference_body()
    body["secondExampleRequest"]["displayName"] = "Renamed"
    changed = sdk_api.upsert_investment_accounts("Atomic", body).values

    for corr in created:
        assert again[corr].lusid_investment_account_id == created[corr].lusid_investment_account_id
        assert again[corr].version.as_at_version_number == 1
    assert changed["firstExampleRequest"].version.as_at_version_number == 1
    assert changed["secondExampleRequest"].version.as_at_version_number == 2
    assert changed["secondExampleRequest"].display_name == "Renamed"


def test_sdk_partial_failure_is_parsed_into_failed(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi
) -> None:
    emulator.add_fault(
        kind="fail-account", identifier="IR_22345678", errorType="PropertyNotDefined", detail="nope"
    )
    response = sdk_api.upsert_investment_accounts("Partial", reference_body())

    assert list(response.values) == ["firstExampleRequest"]
    failure = response.failed["secondExampleRequest"]
    assert (failure.id, failure.type, failure.detail) == (
        "secondExampleRequest",
        "PropertyNotDefined",
        "nope",
    )


def test_sdk_atomic_failure_is_a_400_the_sdk_parses_as_problem_details(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi
) -> None:
    emulator.add_fault(kind="fail-account", identifier="IA_12345678", errorType="ValidationError")

    problem = refused(lambda: sdk_api.upsert_investment_accounts("Atomic", reference_body()))

    assert problem.name == "BatchOperationAborted"
    assert list(problem.errors) == ["firstExampleRequest"]
    assert emulator.accounts() == []


def test_sdk_retries_a_429_that_says_retry_after(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi
) -> None:
    emulator.add_fault(kind="status", status=429, retryAfter=0, count=1)

    response = sdk_api.upsert_investment_accounts("Partial", reference_body())

    assert len(response.values) == 2
    assert [r["status"] for r in emulator.requests()] == [429, 201]


def test_sdk_without_a_valid_token_gets_401(
    emulator: EmulatorProcess, sdk_env: Callable[[dict[str, str]], None]
) -> None:
    sdk_env({"FBN_LUSID_URL": emulator.url, "FBN_ACCESS_TOKEN": "not-the-token"})

    with pytest.raises(ApiException) as raised:
        accounts_api().upsert_investment_accounts("Partial", reference_body())

    assert raised.value.status == 401
    assert emulator.accounts() == []


def test_sdk_password_grant_then_refresh_after_expiry(
    emulator_factory: Callable[..., EmulatorProcess], sdk_env: Callable[[dict[str, str]], None]
) -> None:
    # The SDK refreshes once `expires_in - 60` seconds have passed: with tokens that live 30 s it
    # refreshes before every call after the first, so the refresh grant runs end to end.
    emu = emulator_factory(
        None,
        "--user",
        "alice:s3cret pass",
        "--client-id",
        "iasync-client",
        "--client-secret",
        "client/secret",
        "--token-expiry",
        "30",
    )
    sdk_env(
        {
            "FBN_LUSID_URL": emu.url,
            "FBN_TOKEN_URL": emu.token_url,
            "FBN_USERNAME": "alice",
            "FBN_PASSWORD": "s3cret pass",
            "FBN_CLIENT_ID": "iasync-client",
            "FBN_CLIENT_SECRET": "client/secret",
        }
    )
    api = accounts_api()
    first = api.upsert_investment_accounts("Partial", reference_body())
    second = api.upsert_investment_accounts("Partial", reference_body())

    assert len(first.values) == len(second.values) == 2
    token_calls = [r for r in emu.requests() if r["path"] == "/oauth2/token"]
    api_calls = [r for r in emu.requests() if r["path"].startswith("/api/")]
    assert [(r["grantType"], r["status"]) for r in token_calls] == [
        ("password", 200),
        ("refresh_token", 200),
    ]
    assert [r["status"] for r in api_calls] == [201, 201]
    assert all(r["body"] is None for r in token_calls)  # secrets are never logged
    log_text = json.dumps(emu.requests()) + emu.stderr() + emu.stdout()
    for secret in ("s3cret", "client/secret"):
        assert secret not in log_text


def test_sdk_password_grant_with_wrong_password_is_refused(
    emulator_factory: Callable[..., EmulatorProcess], sdk_env: Callable[[dict[str, str]], None]
) -> None:
    emu = emulator_factory(None, "--user", "alice:right")
    sdk_env(
        {
            "FBN_LUSID_URL": emu.url,
            "FBN_TOKEN_URL": emu.token_url,
            "FBN_USERNAME": "alice",
            "FBN_PASSWORD": "wrong",
            "FBN_CLIENT_ID": "any",
            "FBN_CLIENT_SECRET": "any",
        }
    )
    with pytest.raises(ValueError, match="invalid_grant"):
        accounts_api().upsert_investment_accounts("Partial", reference_body())
    assert emu.accounts() == []


def test_read_answers_parse_into_the_sdks_models(emulator: EmulatorProcess) -> None:
    # lusid-sdk 2.1.859 has no methods for these later endpoints of its generation (get from
    # 2.1.866, list from 2.1.882); its models still apply. It has no delete: none exists.

    headers = {"Authorization": f"Bearer {emulator.token}"}
    base = f"{emulator.url}/api/investmentaccounts"
    httpx.post(
        f"{base}/$batchUpsert?successMode=Partial", json=reference_body(), headers=headers
    ).raise_for_status()
    country = "InvestmentAccount/Details/Country"

    one = httpx.get(
        f"{base}/ExternalIdentifier/ExternalIAId/IA_12345678",
        headers=headers,
        params={"propertyKeys": [country]},
    )
    page = httpx.get(base, headers=headers, params={"limit": 1})
    deleted = httpx.delete(f"{base}/ExternalIdentifier/ExternalIAId/IA_12345678", headers=headers)

    account = InvestmentAccount.from_json(one.text)
    assert account.display_name == "InvestmentAccount1DisplayName"
    assert list(account.properties) == [country]  # only the key asked for
    values = [InvestmentAccount.from_dict(v) for v in page.json()["values"]]
    assert len(values) == 1 and page.json()["nextPage"] and values[0].properties == {}
    assert deleted.status_code == 405


def test_the_unscoped_sdk_against_the_scoped_api_is_told_scope_is_required(
    scoped_emulator: EmulatorProcess, sdk_env: Callable[[dict[str, str]], None]
) -> None:
    # Today's LUSID refuses the reference page's requests: the answer names what is missing.
    sdk_env(scoped_emulator.env())

    problem = refused(
        lambda: accounts_api().upsert_investment_accounts("Partial", reference_body())
    )

    assert (problem.name, problem.code) == ("InvalidRequestFailure", 157)
    assert problem.errors["firstExampleRequest.scope"] == ["The Scope field is required."]
    assert problem.errors["secondExampleRequest.scope"] == ["The Scope field is required."]
    assert scoped_emulator.accounts() == []


# --- the natural SDK ways of building a request -----------------------------------------------


def test_the_emulator_knows_every_field_of_the_sdks_request_models() -> None:
    known = {
        UpsertInvestmentAccountRequest: validation.ITEM_FIELDS,
        ModelProperty: validation.PROPERTY_FIELDS,
        PropertyValue: validation.VALUE_FIELDS,
        MetricValue: validation.METRIC_FIELDS,
        LabelValueSet: validation.LABEL_SET_FIELDS,
        PropertyReferenceDataValue: validation.REFERENCE_DATA_FIELDS,
        AccountHolderIdentifier: validation.HOLDER_FIELDS,
        InvestmentPortfolioIdentifier: validation.PORTFOLIO_FIELDS,
    }
    for model, fields in known.items():
        assert fields == {f.alias for f in model.__fields__.values()}, model.__name__


def sdk_requests_from_dict(body: dict[str, Any]) -> dict[str, Any]:
    """What a naive user writes: every item through the SDK's own from_dict."""
    return {corr: UpsertInvestmentAccountRequest.from_dict(item) for corr, item in body.items()}


@pytest.mark.parametrize("mode", ["Partial", "Atomic"])
def test_sdk_from_dict_requests_are_accepted_and_mean_what_the_reference_body_means(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi, mode: str
) -> None:
    created = sdk_api.upsert_investment_accounts(mode, sdk_requests_from_dict(reference_body()))
    again = sdk_api.upsert_investment_accounts(mode, reference_body())  # the plain JSON: a no-op

    assert created.failed == {} and set(created.values) == set(reference_body())
    for corr, account in again.values.items():
        assert account.lusid_investment_account_id == (
            created.values[corr].lusid_investment_account_id
        )
        assert account.version.as_at_version_number == 1
        assert account.description == reference_body()[corr]["description"]
    # from_dict sets every field, so the SDK sent each nullable one it had no value for as null.
    sent = emulator.requests()[0]["body"]["firstExampleRequest"]
    name = sent["properties"]["InvestmentAccount/Details/Name"]
    assert name["referenceData"] is None and name["effectiveFrom"] is None
    assert sent["identifiers"]["InvestmentAccount/ExternalIdentifier/ExternalIAId"] == {
        "key": "InvestmentAccount/ExternalIdentifier/ExternalIAId",
        "value": {"labelValue": "IA_12345678"},
        "effectiveFrom": None,
        "effectiveUntil": None,
        "referenceData": None,
    }


def constructed_request(number: int) -> Any:
    """An UpsertInvestmentAccountRequest built from the SDK's models, with every optional field
    given explicitly, as None where there is nothing to say."""

    def prop(key: str, value: PropertyValue, **extra: Any) -> ModelProperty:
        fields = {"effective_from": None, "effective_until": None, "reference_data": None}
        return ModelProperty(key=key, value=value, **(fields | extra))

    def label(text: str | None) -> PropertyValue:
        return PropertyValue(label_value=text, metric_value=None, label_value_set=None)

    ia, ir = "InvestmentAccount/Ext/Id", "InvestorRecord/Ext/Id"
    return UpsertInvestmentAccountRequest(
        identifiers={ia: prop(ia, label(f"IA_{number}"))},
        properties={
            "InvestmentAccount/Details/Balance": prop(
                "InvestmentAccount/Details/Balance",
                PropertyValue(
                    label_value=None,
                    metric_value=MetricValue(value=12.5, unit=None),
                    label_value_set=None,
                ),
            ),
            "InvestmentAccount/Details/Tags": prop(
                "InvestmentAccount/Details/Tags",
                PropertyValue(
                    label_value=None,
                    metric_value=None,
                    label_value_set=LabelValueSet(values=["a", "b"]),
                ),
            ),
            "InvestmentAccount/Details/Country": prop(
                "InvestmentAccount/Details/Country",
                label("GB"),
                reference_data={
                    "Name": PropertyReferenceDataValue(
                        string_value="United Kingdom", numeric_value=None
                    )
                },
            ),
        },
        display_name=f"Account {number}",
        description=None,
        account_type="Personal",
        account_holders=[
            AccountHolderIdentifier(key="H1", identifiers={ir: prop(ir, label("IR"))})
        ],
        investment_portfolios=None,
    )


@pytest.mark.parametrize("mode", ["Partial", "Atomic"])
def test_sdk_model_requests_with_explicit_nones_are_accepted(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi, mode: str
) -> None:
    response = sdk_api.upsert_investment_accounts(
        mode, {"one": constructed_request(1), "two": constructed_request(2)}
    )

    assert response.failed == {} and set(response.values) == {"one", "two"}
    one = response.values["one"]
    assert (one.display_name, one.description, one.investment_portfolios) == ("Account 1", None, [])
    balance = one.properties["InvestmentAccount/Details/Balance"].value.metric_value
    assert (balance.value, balance.unit) == (12.5, None)
    assert one.properties["InvestmentAccount/Details/Tags"].value.label_value_set.values == [
        "a",
        "b",
    ]
    # LUSID fills referenceData from the property's data type, not from the request.
    assert one.properties["InvestmentAccount/Details/Country"].reference_data is None
    sent = emulator.requests()[0]["body"]["one"]
    assert (sent["description"], sent["investmentPortfolios"]) == (None, None)
    assert sent["properties"]["InvestmentAccount/Details/Balance"]["value"] == {
        "labelValue": None,
        "metricValue": {"value": 12.5, "unit": None},
    }
    assert sent["properties"]["InvestmentAccount/Details/Country"]["referenceData"] == {
        "Name": {"stringValue": "United Kingdom", "numericValue": None}
    }


def empty_display_name() -> dict[str, Any]:
    body = reference_body()
    body["firstExampleRequest"]["displayName"] = ""  # the SDK's model lets it through; LUSID not
    return body


def identifier_without_value() -> dict[str, Any]:
    request = constructed_request(1)
    request.identifiers["InvestmentAccount/Ext/Id"].value = None  # the SDK allows it; LUSID not
    return {"one": request}


@pytest.mark.parametrize(
    ("make_body", "errors"),
    [
        (
            empty_display_name,
            {"firstExampleRequest.displayName": ["The DisplayName field is required."]},
        ),
        (
            identifier_without_value,
            {"one.identifiers[InvestmentAccount/Ext/Id].value": ["The Value field is required."]},
        ),
    ],
)
def test_sdk_validation_error_names_the_field_in_lusids_wording(
    sdk_api: InvestmentAccountsApi,
    make_body: Callable[[], dict[str, Any]],
    errors: dict[str, list[str]],
) -> None:
    problem = refused(lambda: sdk_api.upsert_investment_accounts("Partial", make_body()))

    assert (problem.name, problem.code) == ("InvalidRequestFailure", 157)
    assert problem.errors == errors


def test_response_holders_and_portfolios_carry_stable_entity_ids(
    sdk_api: InvestmentAccountsApi,
) -> None:
    body = reference_body_with_a_portfolio()
    first = sdk_api.upsert_investment_accounts("Partial", body).values
    body["firstExampleRequest"]["displayName"] = "Renamed"  # a new version, the same entities
    second = sdk_api.upsert_investment_accounts("Partial", body).values

    holders = [
        response[corr].account_holders[0].entity_unique_id
        for response in (first, second)
        for corr in ("firstExampleRequest", "secondExampleRequest")
    ]
    # Both accounts name the same investor record: one id, kept across versions.
    assert len(set(holders)) == 1 and re.fullmatch(r"LUID_[A-Z0-9]{8}", holders[0])
    portfolios = [r["firstExampleRequest"].investment_portfolios[0] for r in (first, second)]
    assert portfolios[0].entity_unique_id == portfolios[1].entity_unique_id
    assert (portfolios[0].scope, portfolios[0].code) == ("Investments", "Growth")
    assert portfolios[0].entity_unique_id not in holders


def test_every_field_of_an_answer_is_one_the_sdks_response_models_have(
    emulator: EmulatorProcess, sdk_api: InvestmentAccountsApi
) -> None:
    body = reference_body_with_a_portfolio()
    sdk_api.upsert_investment_accounts("Partial", body)
    # The JSON as served, before the SDK's models could drop anything.
    (account,) = [a for a in emulator.accounts() if a["investmentPortfolios"]]

    def fields(model: Any) -> set[str]:
        return {f.alias for f in model.__fields__.values()}

    # All but what the emulator cannot know (investorRecord, portfolio, reasons, staging).
    assert set(account) == fields(InvestmentAccount)
    assert set(account["accountHolders"][0]) == fields(AccountHolder) - {"investorRecord"}
    assert set(account["investmentPortfolios"][0]) == fields(InvestmentPortfolio) - {"portfolio"}
    assert set(account["version"]) == fields(Version) - {
        "reasonCreated",
        "reasonModified",
        "stagedModificationIdModified",
    }
    assert all(set(link) == fields(Link) - {"description"} for link in account["links"])
