"""Request validation on its own: which bodies are refused, with which field named, and how a
valid item is normalised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from iasync.emulator.validation import MAX_BATCH, parse_success_mode, validate_batch

Account = Callable[..., dict[str, Any]]


def errors_of(item: Any) -> dict[str, list[str]]:
    valid, errors = validate_batch({"x": item})
    assert valid == {}
    return errors


def test_valid_item_is_normalised(account: Account) -> None:
    minimal = account(1)
    for optional in ("properties", "accountHolders", "investmentPortfolios", "description"):
        del minimal[optional]

    valid, errors = validate_batch({"x": minimal})

    assert errors == {}
    item = valid["x"]
    assert (item["properties"], item["accountHolders"], item["investmentPortfolios"]) == (
        {},
        [],
        [],
    )
    assert "description" not in item


def test_nulls_for_optional_fields_mean_absent(account: Account) -> None:
    item = account(
        1, properties=None, accountHolders=None, investmentPortfolios=None, description=None
    )

    valid, errors = validate_batch({"x": item})

    assert errors == {} and "description" not in valid["x"]


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ({"labelValue": "a"}, {"labelValue": "a"}),
        (
            {"metricValue": {"value": 1.5, "unit": "GBP"}},
            {"metricValue": {"value": 1.5, "unit": "GBP"}},
        ),
        ({"metricValue": {"value": 2}}, {"metricValue": {"value": 2}}),
        ({"labelValueSet": {"values": ["a", "b"]}}, {"labelValueSet": {"values": ["a", "b"]}}),
        ({"labelValue": "a", "metricValue": None}, {"labelValue": "a"}),
    ],
)
def test_property_value_kinds(
    account: Account, value: dict[str, Any], normalised: dict[str, Any]
) -> None:
    key = "InvestmentAccount/A/B"
    valid, errors = validate_batch(
        {"x": account(1, properties={key: {"key": key, "value": value}})}
    )

    assert errors == {}
    assert valid["x"]["properties"][key]["value"] == normalised


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({}, ".value"),
        ({"metricValue": {"value": True}}, ".value.metricValue.value"),
        ({"metricValue": {"value": "1"}}, ".value.metricValue.value"),
        ({"metricValue": {"value": 1, "unit": 5}}, ".value.metricValue.unit"),
        ({"labelValueSet": {"values": [1]}}, ".value.labelValueSet"),
        ({"labelValue": 5}, ".value.labelValue"),
        ({"labelValue": "x" * 1025}, ".value.labelValue"),
        ({"labelValue": "a", "colour": "red"}, ".value.colour"),
        ("text", ".value"),
    ],
)
def test_bad_property_values(account: Account, value: Any, path: str) -> None:
    key = "InvestmentAccount/A/B"
    errors = errors_of(account(1, properties={key: {"key": key, "value": value}}))

    assert list(errors) == [f"x.properties[{key}]{path}"]


def test_property_without_value_or_key(account: Account) -> None:
    key = "InvestmentAccount/A/B"
    errors = errors_of(account(1, properties={key: {}}))

    assert errors == {
        f"x.properties[{key}].key": ["The Key field is required."],
        f"x.properties[{key}].value": ["The Value field is required."],
    }


@pytest.mark.parametrize(
    "key",
    [
        "InvestmentAccount/A",
        "InvestmentAccount/A/B/C",
        "InvestmentAccount/a b/c",
        "Instrument/A/B",
        f"InvestmentAccount/{'a' * 65}/B",
    ],
)
def test_bad_keys_are_named(account: Account, key: str) -> None:
    errors = errors_of(account(1, properties={key: {"key": key, "value": {"labelValue": "v"}}}))

    assert list(errors) == [f"x.properties[{key}]"]


def test_too_many_properties(account: Account) -> None:
    props = {
        f"InvestmentAccount/P/K{n}": {
            "key": f"InvestmentAccount/P/K{n}",
            "value": {"labelValue": "v"},
        }
        for n in range(101)
    }

    assert "x.properties" in errors_of(account(1, properties=props))


@pytest.mark.parametrize("identifiers", [{}, [], "IA_1"])
def test_identifiers_need_at_least_one(account: Account, identifiers: Any) -> None:
    assert list(errors_of(account(1, identifiers=identifiers))) == ["x.identifiers"]


def test_holder_identifiers_are_investor_records(account: Account) -> None:
    holders = [
        {
            "key": "H",
            "identifiers": {
                "InvestmentAccount/A/B": {
                    "key": "InvestmentAccount/A/B",
                    "value": {"labelValue": "v"},
                }
            },
        },
        {"key": "G", "identifiers": {}},
        {
            "key": "F",
            "identifiers": {
                "InvestorRecord/A/B": {"key": "InvestorRecord/A/B", "value": {"labelValue": "v"}}
            },
            "x": 1,
        },
        "not an object",
    ]

    errors = errors_of(account(1, accountHolders=holders))

    assert set(errors) == {
        "x.accountHolders[0].identifiers[InvestmentAccount/A/B]",
        "x.accountHolders[1].identifiers",
        "x.accountHolders[2].x",
        "x.accountHolders[3]",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("displayName", 5),
        ("displayName", "   "),
        ("accountType", ["Personal"]),
        ("description", 3),
        ("accountHolders", {}),
        ("investmentPortfolios", "P"),
    ],
)
def test_wrong_types_are_named(account: Account, field: str, value: Any) -> None:
    assert list(errors_of(account(1, **{field: value}))) == [f"x.{field}"]


def test_item_must_be_an_object() -> None:
    assert errors_of(["a"]) == {
        "x": ["Each request must be a JSON object (an UpsertInvestmentAccountRequest)."]
    }


def test_batch_limit(account: Account) -> None:
    item = account(1)
    assert validate_batch(dict.fromkeys(map(str, range(MAX_BATCH)), item))[1] == {}
    _, errors = validate_batch(dict.fromkeys(map(str, range(MAX_BATCH + 1)), item))
    assert list(errors) == [""]


@pytest.mark.parametrize(
    ("raw", "mode", "field"),
    [
        ("Atomic", "Atomic", None),
        ("PARTIAL", "Partial", None),
        (None, None, "successMode"),
        ("", None, "successMode"),
        ("Both", None, "successMode"),
    ],
)
def test_success_mode(raw: str | None, mode: str | None, field: str | None) -> None:
    parsed, errors = parse_success_mode(raw)

    assert parsed == mode
    assert list(errors) == ([field] if field else [])


@pytest.mark.parametrize(
    ("dates", "ok"),
    [
        ({"effectiveFrom": "2016-01-01T00:00:00Z"}, True),
        ({"effectiveUntil": "2016-01-01T00:00:00Z"}, True),
        ({"effectiveFrom": "2016-01-01T00:00:00Z", "effectiveUntil": "2017-01-01T00:00:00Z"}, True),
        (
            {"effectiveFrom": "2017-01-01T00:00:00Z", "effectiveUntil": "2016-01-01T00:00:00Z"},
            False,
        ),
        (
            {
                "effectiveFrom": "2016-01-01T01:00:00+01:00",
                "effectiveUntil": "2016-01-01T00:00:00Z",
            },
            False,
        ),
    ],
)
def test_effective_dates_in_order(account: Account, dates: dict[str, str], ok: bool) -> None:
    key = "InvestmentAccount/A/B"
    prop = {"key": key, "value": {"labelValue": "v"}, **dates}

    _, errors = validate_batch({"x": account(1, properties={key: prop})})

    assert errors == (
        {}
        if ok
        else {
            f"x.properties[{key}].effectiveUntil": ["effectiveUntil must be after effectiveFrom."]
        }
    )


def test_null_optional_fields_of_every_model_mean_absent(account: Account) -> None:
    key, holder_key = "InvestmentAccount/A/B", "InvestorRecord/A/B"
    nulls = {"effectiveFrom": None, "effectiveUntil": None, "referenceData": None}
    item = account(
        1,
        properties={
            key: {
                "key": key,
                "value": {
                    "labelValue": None,
                    "metricValue": {"value": 3, "unit": None},
                    "labelValueSet": None,
                },
                **nulls,
            }
        },
        accountHolders=[
            {
                "key": "H",
                "identifiers": {
                    holder_key: {"key": holder_key, "value": {"labelValue": "v"}, **nulls}
                },
            }
        ],
    )

    valid, errors = validate_batch({"x": item})

    assert errors == {}
    assert valid["x"]["properties"][key] == {"key": key, "value": {"metricValue": {"value": 3}}}
    assert valid["x"]["accountHolders"][0]["identifiers"][holder_key] == {
        "key": holder_key,
        "value": {"labelValue": "v"},
    }


def test_reference_data_is_checked_and_not_kept(account: Account) -> None:
    key = "InvestmentAccount/A/B"
    reference = {"Name": {"stringValue": "United Kingdom", "numericValue": None}, "Code": {}}
    prop = {"key": key, "value": {"labelValue": "GB"}, "referenceData": reference}

    valid, errors = validate_batch({"x": account(1, properties={key: prop})})

    assert errors == {}
    assert valid["x"]["properties"][key] == {"key": key, "value": {"labelValue": "GB"}}


@pytest.mark.parametrize(
    ("reference", "path"),
    [
        ([], ".referenceData"),
        ({"Name": "UK"}, ".referenceData[Name]"),
        ({"Name": {"stringValue": 1}}, ".referenceData[Name].stringValue"),
        ({"Name": {"numericValue": "1"}}, ".referenceData[Name].numericValue"),
        ({"Name": {"numericValue": True}}, ".referenceData[Name].numericValue"),
        ({"Name": {"dateValue": "2016-01-01"}}, ".referenceData[Name].dateValue"),
    ],
)
def test_bad_reference_data(account: Account, reference: Any, path: str) -> None:
    key = "InvestmentAccount/A/B"
    prop = {"key": key, "value": {"labelValue": "GB"}, "referenceData": reference}

    assert list(errors_of(account(1, properties={key: prop}))) == [f"x.properties[{key}]{path}"]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"metricValue": {"value": 1, "currency": "GBP"}}, ".value.metricValue.currency"),
        ({"labelValueSet": {"values": ["a"], "more": []}}, ".value.labelValueSet.more"),
    ],
)
def test_fields_the_sdk_does_not_know_are_refused(account: Account, value: Any, path: str) -> None:
    key = "InvestmentAccount/A/B"
    errors = errors_of(account(1, properties={key: {"key": key, "value": value}}))

    assert errors == {f"x.properties[{key}]{path}": [f"Unknown field '{path.rsplit('.', 1)[1]}'."]}


def test_a_holder_without_identifiers_gets_lusids_wording(account: Account) -> None:
    errors = errors_of(account(1, accountHolders=[{"key": "H", "identifiers": None}]))

    assert errors == {"x.accountHolders[0].identifiers": ["The Identifiers field is required."]}
