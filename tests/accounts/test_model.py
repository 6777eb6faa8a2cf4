"""The account model: both authoring forms, the canonical request body, and what is refused.

The long form is the API reference page's example request body, verbatim
(tests/data/reference-example-request-body.json, copied from reference/InvestmentAccountsApi.md);
the short form is the example accounts in accounts/ (the same two accounts).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from iasync.accounts.model import (
    AccountFile,
    MissingScopeError,
    ScopedAccountFile,
    body_hash,
    canonical_body,
    canonical_json,
    format_instant,
    identity_of,
    managed_property_keys,
    model_for,
    scope_of,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
SHORT_FORM_OF = {"firstExampleRequest": "john-doe.yaml", "secondExampleRequest": "jane-doe.yaml"}
NAME = "InvestmentAccount/Details/Name"
COUNTRY = "InvestmentAccount/Details/Country"
BALANCE = "InvestmentAccount/Details/Balance"
EXTERNAL_ID = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def reference_request(name: str) -> dict[str, Any]:
    return json.loads((DATA / "reference-example-request-body.json").read_text())[name]


def short_form(file_name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "accounts" / file_name).read_text(encoding="utf-8"))


def john() -> dict[str, Any]:
    return short_form("john-doe.yaml")


def body_of(data: dict[str, Any]) -> dict[str, Any]:
    return canonical_body(AccountFile.model_validate(data))


def with_property(value: Any, key: str = BALANCE) -> dict[str, Any]:
    data = john()
    data["properties"][key] = value
    return data


def property_of(value: Any, key: str = BALANCE) -> dict[str, Any]:
    return body_of(with_property(value, key))["properties"][key]


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        AccountFile.model_validate(data)
    return str(caught.value)


# --- both forms, one canonical body ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHORT_FORM_OF))
def test_both_forms_give_byte_identical_canonical_json(name: str) -> None:
    long_json = canonical_json(body_of(reference_request(name)))
    short_json = canonical_json(body_of(short_form(SHORT_FORM_OF[name])))
    assert long_json == short_json
    assert body_hash(body_of(reference_request(name))) == body_hash(
        body_of(short_form(SHORT_FORM_OF[name]))
    )


@pytest.mark.parametrize("name", sorted(SHORT_FORM_OF))
def test_canonical_body_of_the_reference_request_is_the_request_itself(name: str) -> None:
    # The page's example is already in LUSID's own shape, so canonicalising changes nothing.
    request = reference_request(name)
    assert canonical_json(body_of(request)) == canonical_json(request)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": {"d": "é", "c": [2, 1]}})
        == '{"a":{"c":[2,1],"d":"é"},"b":1}'.encode()
    )


def test_body_hash_is_sha256_of_canonical_json() -> None:
    import hashlib

    body = body_of(john())
    assert body_hash(body) == "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def test_identity_is_the_identifier_pairs() -> None:
    account = AccountFile.model_validate(john())
    expected = frozenset(
        {
            (EXTERNAL_ID, "IA_12345678"),
            ("InvestmentAccount/InternalIdentifier/InternalIAId", "Internal_XHSP2038"),
        }
    )
    assert account.identity == expected
    assert identity_of(reference_request("firstExampleRequest")) == expected


def test_order_of_holders_portfolios_and_keys_does_not_matter() -> None:
    first = john()
    first["accountHolders"].append({"key": "A0", "identifiers": {"InvestorRecord/X/Y": "v"}})
    first["investmentPortfolios"] = [
        {"key": "P2", "portfolioScope": "s", "portfolioCode": "c2"},
        {"key": "P1", "portfolioScope": "s", "portfolioCode": "c1"},
    ]
    second = copy.deepcopy(first)
    second["accountHolders"].reverse()
    second["investmentPortfolios"].reverse()
    second["properties"] = dict(reversed(second["properties"].items()))
    assert canonical_json(body_of(first)) == canonical_json(body_of(second))
    assert [h["key"] for h in body_of(first)["accountHolders"]] == ["A0", "AccountHolder1"]


def test_absent_and_empty_collections_are_the_same() -> None:
    data = john()
    del data["investmentPortfolios"]
    data["properties"] = {}
    body = body_of(data)
    assert body["investmentPortfolios"] == []
    assert body["properties"] == {}


def test_description_is_omitted_when_not_given() -> None:
    data = john()
    del data["description"]
    assert "description" not in body_of(data)


# --- kinds of value ---------------------------------------------------------------------------


def test_label() -> None:
    assert property_of("John", NAME) == {"key": NAME, "value": {"labelValue": "John"}}


@pytest.mark.parametrize(
    "short",
    [1.5, {"value": 1.5}],
    ids=["number", "mapping"],
)
def test_metric_without_unit(short: Any) -> None:
    expected = {"key": BALANCE, "value": {"metricValue": {"value": 1.5}}}
    assert property_of(short) == expected
    assert property_of({"key": BALANCE, "value": {"metricValue": {"value": 1.5}}}) == expected


def test_metric_with_unit_in_both_forms() -> None:
    short = property_of({"value": 100, "unit": "GBP"})
    long = property_of({"key": BALANCE, "value": {"metricValue": {"value": 100.0, "unit": "GBP"}}})
    assert (
        short == long == {"key": BALANCE, "value": {"metricValue": {"value": 100, "unit": "GBP"}}}
    )


def test_whole_float_and_int_are_one_amount() -> None:
    assert canonical_json(property_of(100.0)) == canonical_json(property_of(100))


def test_label_set_is_sorted_and_deduplicated_in_both_forms() -> None:
    expected = {"key": BALANCE, "value": {"labelValueSet": {"values": ["a", "b"]}}}
    assert property_of(["b", "a", "b"]) == expected
    assert property_of({"value": ["b", "a"]}) == expected
    assert property_of({"value": {"labelValueSet": {"values": ["a", "b", "a"]}}}) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused(bad: float) -> None:
    refusal(with_property(bad))
    refusal(with_property({"value": {"metricValue": {"value": bad}}}))


@pytest.mark.parametrize(
    "value",
    [
        {"value": "John", "unit": "GBP"},
        {"value": ["a"], "unit": "GBP"},
    ],
    ids=["label", "label set"],
)
def test_unit_on_a_label_is_refused(value: dict[str, Any]) -> None:
    assert "unit is only for numbers" in refusal(with_property(value))


def test_long_form_needs_exactly_one_kind_of_value() -> None:
    both = {"value": {"labelValue": "x", "metricValue": {"value": 1}}}
    assert "exactly one of" in refusal(with_property(both))
    assert "exactly one of" in refusal(with_property({"value": {}, "key": BALANCE}))


def test_yaml_boolean_is_not_a_label() -> None:
    refusal(with_property(False, COUNTRY))  # `Country: NO` in YAML 1.1


@pytest.mark.parametrize("where", ["top", "holder"])
def test_identifier_must_be_a_label(where: str) -> None:
    data = john()
    target = data["identifiers"] if where == "top" else data["accountHolders"][0]["identifiers"]
    key = next(iter(target))
    target[key] = 12
    refusal(data)
    target[key] = {"key": key, "value": {"metricValue": {"value": 12}}}
    assert "must be a labelValue" in refusal(data)


@pytest.mark.parametrize("where", ["top", "holder", "property"])
def test_long_form_key_must_match_its_map_key(where: str) -> None:
    data = john()
    if where == "top":
        target = data["identifiers"]
    elif where == "holder":
        target = data["accountHolders"][0]["identifiers"]
    else:
        target = data["properties"]
    key = next(iter(target))
    target[key] = {"key": key.rsplit("/", 1)[0] + "/Other", "value": {"labelValue": "v"}}
    assert "holds a property whose key is" in refusal(data)


# --- effective dates ----------------------------------------------------------------------------


def test_effective_dates_in_lusid_spelling() -> None:
    value = {
        "value": "UK",
        "effectiveFrom": datetime(2016, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=1))),
        "effectiveUntil": "2020-06-30T12:00:00.5Z",
    }
    prop = property_of(value, COUNTRY)
    assert prop["effectiveFrom"] == "2016-01-01T00:30:00.0000000+00:00"
    assert prop["effectiveUntil"] == "2020-06-30T12:00:00.5000000+00:00"


@pytest.mark.parametrize(
    "written",
    [
        datetime(2016, 1, 1).date(),
        "2016-01-01",
        "2016-01-01T00:00:00+00:00",
        "2016-01-01T00:00:00.0000000+00:00",
        "2016-01-01T02:00:00+02:00",
        "2016-01-01t00:00:00z",  # the schema's pattern and `iasync validate` accept it too
        " 2016-01-01 ",
        datetime(2016, 1, 1, tzinfo=UTC),
    ],
)
def test_every_spelling_of_the_same_instant_is_one(written: Any) -> None:
    prop = property_of({"value": "UK", "effectiveFrom": written}, COUNTRY)
    assert prop["effectiveFrom"] == "2016-01-01T00:00:00.0000000+00:00"


@pytest.mark.parametrize("naive", [datetime(2016, 1, 1), "2016-01-01T00:00:00", "2016-01-01 10:00"])
def test_naive_timestamp_is_refused(naive: Any) -> None:
    assert "no UTC offset" in refusal(
        with_property({"value": "UK", "effectiveFrom": naive}, COUNTRY)
    )


def test_not_a_timestamp_is_refused() -> None:
    assert "not an ISO 8601 timestamp" in refusal(
        with_property({"value": "UK", "effectiveFrom": "last tuesday"}, COUNTRY)
    )


def test_a_timestamp_finer_than_a_microsecond_is_refused_not_cut() -> None:
    value = {"value": "UK", "effectiveFrom": "2016-01-01T00:00:00.1234567+00:00"}
    assert "7 decimal places of a second; iasync keeps at most 6" in refusal(
        with_property(value, COUNTRY)
    )


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_with_no_utc_year_is_refused_not_a_crash(edge: str) -> None:
    # Before, it passed validation and canonical_body raised OverflowError: a traceback in plan.
    assert "outside 0001-01-01 to 9999-12-31" in refusal(
        with_property({"value": "UK", "effectiveUntil": edge}, COUNTRY)
    )


def test_effective_from_must_precede_until() -> None:
    value = {"value": "UK", "effectiveFrom": "2017-01-01", "effectiveUntil": "2016-01-01"}
    assert "effectiveFrom must be before effectiveUntil" in refusal(with_property(value, COUNTRY))


def test_format_instant() -> None:
    assert format_instant(datetime(2016, 1, 1, tzinfo=UTC)) == "2016-01-01T00:00:00.0000000+00:00"


# --- the account's shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "blue"}, "Extra inputs are not permitted"),
        ({"identifiers": {}}, "at least 1"),
        ({"displayName": ""}, "at least 1"),
        ({"displayName": "x" * 513}, "at most 512"),
        ({"description": "x" * 513}, "at most 512"),
        ({"accountType": 3}, "valid string"),
        ({"properties": {"Details/Name": "x"}}, "should match pattern"),
        ({"properties": {"InvestorRecord/Details/Name": "x"}}, "should match pattern"),
        ({"properties": {f"InvestmentAccount/D/P{i}": "x" for i in range(101)}}, "at most 100"),
        ({"properties": {NAME: "x" * 1025}}, "at most 1024"),
        (
            {"accountHolders": [{"key": "H", "identifiers": {"InvestmentAccount/X/Y": "v"}}]},
            "pattern",
        ),
        ({"accountHolders": [{"key": "H", "identifiers": {}}]}, "at least 1"),
        (
            {
                "accountHolders": [
                    {"key": "H", "identifiers": {"InvestorRecord/X/Y": "v"}},
                    {"key": "H", "identifiers": {"InvestorRecord/X/Z": "w"}},
                ]
            },
            "the key 'H' is used twice",
        ),
        (
            {
                "investmentPortfolios": [
                    {"key": "P", "portfolioScope": "s", "portfolioCode": "a"},
                    {"key": "P", "portfolioScope": "s", "portfolioCode": "b"},
                ]
            },
            "the key 'P' is used twice",
        ),
        ({"investmentPortfolios": [{"key": "P", "portfolioScope": "s"}]}, "Field required"),
    ],
)
def test_refused_shapes(change: dict[str, Any], message: str) -> None:
    data = john()
    data.update(change)
    assert message in refusal(data)


def test_required_fields() -> None:
    text = refusal({})
    for field in ("identifiers", "displayName", "accountType"):
        assert field in text


def test_accounts_are_frozen() -> None:
    account = AccountFile.model_validate(john())
    with pytest.raises(ValidationError):
        account.displayName = "changed"  # type: ignore[misc]


# --- today's (scoped) API ---------------------------------------------------------------------


def scoped(**changes: Any) -> dict[str, Any]:
    """John Doe's account as a scoped account file (his holder's identifiers are plain text)."""
    data = john()
    data.update(changes)
    return data


def scoped_body(data: dict[str, Any], scope: str | None = "Default") -> dict[str, Any]:
    return canonical_body(ScopedAccountFile.model_validate(data), scope=scope)


def test_model_for_picks_the_generations_model() -> None:
    assert model_for("unscoped") is AccountFile
    assert model_for("scoped") is ScopedAccountFile


def test_a_scoped_body_takes_the_settings_scope_for_the_account_its_holders_and_portfolios() -> (
    None
):
    portfolio = {"key": "P1", "identifiers": {"PortfolioCode": "Growth"}}
    body = scoped_body(scoped(investmentPortfolios=[portfolio]))

    assert body["scope"] == "Default" and scope_of(body) == "Default"
    (holder,) = body["accountHolders"]
    assert holder == {
        "key": "AccountHolder1",
        "scope": "Default",
        "identifiers": {
            "InvestorRecord/ExternalIdentifier/ExternalIRId": "IR_12345678",
            "InvestorRecord/InternalIdentifier/InternalIRId": "Internal_XHSP2038",
        },
    }
    assert body["investmentPortfolios"] == [
        {"key": "P1", "scope": "Default", "identifiers": {"PortfolioCode": "Growth"}}
    ]
    # Everything else is the unscoped body's, byte for byte.
    unscoped = body_of(john())
    own = ("scope", "accountHolders", "investmentPortfolios")
    assert {k: v for k, v in body.items() if k not in own} == {
        k: v for k, v in unscoped.items() if k not in own
    }


def test_the_files_own_scopes_win_over_the_setting_and_each_defaults_to_the_accounts() -> None:
    data = scoped(scope="FileScope")
    data["accountHolders"][0]["scope"] = "Investors"
    data["investmentPortfolios"] = [{"key": "P", "identifiers": {"Code": "C"}}]
    body = scoped_body(data, scope="Setting")

    assert body["scope"] == "FileScope"
    assert body["accountHolders"][0]["scope"] == "Investors"
    assert body["investmentPortfolios"][0]["scope"] == "FileScope"


def test_a_scoped_account_without_any_scope_is_refused_in_words() -> None:
    with pytest.raises(MissingScopeError) as caught:
        scoped_body(scoped(), scope=None)
    assert "add `scope: <scope>` at the top of the file, or set scope in iasync.toml" in str(
        caught.value
    )


def test_the_generations_shapes_are_refused_by_the_other_model() -> None:
    legacy = {"key": "P", "portfolioScope": "s", "portfolioCode": "c"}
    with pytest.raises(ValidationError, match="portfolioScope"):
        ScopedAccountFile.model_validate(scoped(investmentPortfolios=[legacy]))
    with pytest.raises(ValidationError, match="scope"):
        AccountFile.model_validate(scoped(scope="S"))
    long_form = {"value": {"labelValue": "IR_1"}}
    data = scoped()
    data["accountHolders"][0]["identifiers"] = {
        "InvestorRecord/ExternalIdentifier/ExternalIRId": long_form
    }
    with pytest.raises(ValidationError):  # plain text only under the scoped API
        ScopedAccountFile.model_validate(data)
    with pytest.raises(ValidationError, match="String should match pattern"):
        ScopedAccountFile.model_validate(scoped(scope="not a scope"))


def test_unscoped_bodies_have_no_scope() -> None:
    assert scope_of(body_of(john())) is None
    assert "scope" not in body_of(john())


def test_the_managed_property_keys_are_the_union_of_the_bodies_keys() -> None:
    john_body = body_of(john())
    other = body_of(with_property(1.5))
    assert managed_property_keys([john_body, other, {}]) == sorted({BALANCE, NAME, COUNTRY})
    assert managed_property_keys([]) == []
