"""The checks a schema cannot express, on plain data (which may be wrong in any way)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from iasync.accounts.rules import Finding, check_account, key_problem, parse_instant, with_good_keys
from iasync.settings import DEFAULT_ACCOUNT_TYPES

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def check(data: Any, types: tuple[str, ...] = DEFAULT_ACCOUNT_TYPES) -> list[Finding]:
    return check_account(data, types, lambda path: 10 + len(path))


def valid(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "identifiers": {EXT: "IA_1"},
        "displayName": "One",
        "accountType": "Personal",
    }
    data.update(changes)
    return data


def test_a_valid_account_has_no_findings() -> None:
    data = valid(
        properties={
            "InvestmentAccount/Details/Name": "x",
            "InvestmentAccount/Details/Tags": ["a", "b"],
            "InvestmentAccount/Details/Amount": {"value": 1.5, "unit": "GBP"},
            "InvestmentAccount/Details/Country": {
                "value": "UK",
                "effectiveFrom": "2016-01-01",
                "effectiveUntil": "2017-01-01T00:00:00Z",
            },
            "InvestmentAccount/Details/Long": {
                "key": "InvestmentAccount/Details/Long",
                "value": {"labelValueSet": {"values": ["a"]}},
            },
        },
        accountHolders=[{"key": "H1", "identifiers": {"InvestorRecord/A/B": "x"}}],
        investmentPortfolios=[{"key": "P1"}, {"key": "P2"}],
    )
    assert check(data) == []


@pytest.mark.parametrize("data", [None, [], "text", {"identifiers": [1]}, {"properties": 3}])
def test_data_of_any_shape_is_checked_without_failing(data: Any) -> None:
    assert check(data) == []


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("InvestmentAccount/Scope-1/Code_2", None),
        (f"InvestmentAccount/{'s' * 64}/{'c' * 64}", None),
        ("InvestmentAccount/Scope", "key 'InvestmentAccount/Scope' must have the form "
         "InvestmentAccount/{scope}/{code}"),
        ("InvestmentAccount/a/b/c", "key 'InvestmentAccount/a/b/c' must have the form "
         "InvestmentAccount/{scope}/{code}"),
        ("InvestorRecord/a/b", "key 'InvestorRecord/a/b' is in the 'InvestorRecord' domain; "
         "here keys must have the form InvestmentAccount/{scope}/{code}"),
        ("InvestmentAccount//b", "key 'InvestmentAccount//b' has an empty scope; the form is "
         "InvestmentAccount/{scope}/{code}"),
        (f"InvestmentAccount/{'s' * 65}/b", f"key 'InvestmentAccount/{'s' * 65}/b': the scope "
         "is 65 characters long; the limit is 64"),
        ("InvestmentAccount/a/b.c d", "key 'InvestmentAccount/a/b.c d': the code may hold only "
         "letters, digits, '-' and '_' (not ' .')"),
        ("InvestmentAccount/a/é", "key 'InvestmentAccount/a/é': the code may hold only "
         "letters, digits, '-' and '_' (not 'é')"),
    ],
)  # fmt: skip
def test_key_problem(key: str, problem: str | None) -> None:
    assert key_problem(key, "InvestmentAccount") == problem


def test_keys_are_checked_in_the_domain_of_their_map() -> None:
    data = valid(
        identifiers={"InvestorRecord/A/B": "x"},
        properties={"InvestmentAccount/A/B": "x", "Bad": "y"},
        accountHolders=[{"key": "H", "identifiers": {"InvestmentAccount/A/B": "z"}}],
    )

    assert [(f.path, f.role) for f in check(data)] == [
        (("identifiers", "InvestorRecord/A/B"), "key"),
        (("properties", "Bad"), "key"),
        (("accountHolders", 0, "identifiers", "InvestmentAccount/A/B"), "key"),
    ]


def test_label_values_of_every_form_are_at_most_1024_characters() -> None:
    long = "x" * 1025
    data = valid(
        identifiers={EXT: long},
        properties={
            "InvestmentAccount/A/Short": long,
            "InvestmentAccount/A/Set": ["ok", long],
            "InvestmentAccount/A/Mapping": {"value": long},
            "InvestmentAccount/A/Long": {"value": {"labelValue": long}},
            "InvestmentAccount/A/LongSet": {"value": {"labelValueSet": {"values": [long]}}},
            "InvestmentAccount/A/Fits": "x" * 1024,
        },
    )

    findings = check(data)

    assert [f.path for f in findings] == [
        ("identifiers", EXT),
        ("properties", "InvestmentAccount/A/Short"),
        ("properties", "InvestmentAccount/A/Set", 1),
        ("properties", "InvestmentAccount/A/Mapping", "value"),
        ("properties", "InvestmentAccount/A/Long", "value", "labelValue"),
        ("properties", "InvestmentAccount/A/LongSet", "value", "labelValueSet", "values", 0),
    ]
    assert findings[2].message == (
        'properties["InvestmentAccount/A/Set"][1]: a label value is 1025 characters long; '
        "the limit is 1024"
    )


def test_at_most_100_properties() -> None:
    many = {f"InvestmentAccount/P/K{i}": "v" for i in range(101)}

    assert check(valid(properties=many)) == [
        Finding(
            ("properties",),
            "key",
            "properties: 101 entries; an account may have at most 100 properties",
        )
    ]
    assert check(valid(properties=dict(list(many.items())[:100]))) == []


def test_account_type_in_the_configured_set_with_a_hint() -> None:
    assert check(valid(accountType="personal"), ("Personal", "Corporate")) == [
        Finding(
            ("accountType",),
            "value",
            "accountType 'personal' is not one of the configured types: Personal, Corporate; "
            "did you mean Personal?",
        )
    ]
    assert check(valid(accountType="Trust"), ("Personal", "Corporate"))[0].message == (
        "accountType 'Trust' is not one of the configured types: Personal, Corporate "
        "(set account_types in iasync.toml to allow others)"
    )
    assert check(valid(accountType="Trust"), ("Trust",)) == []


def test_holder_and_portfolio_keys_are_unique_within_an_account() -> None:
    data = valid(
        accountHolders=[{"key": "H"}, {"key": "G"}, {"key": "H"}],
        investmentPortfolios=[{"key": "P"}, {"key": "P"}],
    )

    assert check(data) == [
        Finding(
            ("accountHolders", 2, "key"),
            "value",
            # line_of gives 10 + the length of the path of the first use: 13
            "accountHolders[2].key: 'H' is used twice (first at line 13); "
            "each of accountHolders needs a key of its own",
        ),
        Finding(
            ("investmentPortfolios", 1, "key"),
            "value",
            "investmentPortfolios[1].key: 'P' is used twice (first at line 13); "
            "each of investmentPortfolios needs a key of its own",
        ),
    ]


def test_effective_dates() -> None:
    def finding(**dates: str) -> list[str]:
        data = valid(properties={"InvestmentAccount/A/B": {"value": "x", **dates}})
        return [f"{'.'.join(map(str, f.path[2:]))}: {f.message}" for f in check(data)]

    assert finding(effectiveFrom="2016-01-01", effectiveUntil="2016-01-02") == []
    assert finding(effectiveFrom="2016-01-02", effectiveUntil="2016-01-01T12:00:00+00:00") == [
        'effectiveUntil: properties["InvestmentAccount/A/B"]: effectiveUntil '
        "(2016-01-01T12:00:00+00:00) must be after effectiveFrom (2016-01-02)"
    ]
    assert finding(effectiveFrom="2016-01-01", effectiveUntil="2016-01-01") == [
        'effectiveUntil: properties["InvestmentAccount/A/B"]: effectiveUntil (2016-01-01) '
        "must be after effectiveFrom (2016-01-01)"
    ]
    assert finding(effectiveFrom="2016-01-01T00:00:00") == [
        'effectiveFrom: properties["InvestmentAccount/A/B"].effectiveFrom: the time has no '
        "UTC offset; add one, e.g. 2016-01-01T00:00:00+00:00"
    ]
    assert finding(effectiveUntil="soon") == [
        'effectiveUntil: properties["InvestmentAccount/A/B"].effectiveUntil: not an ISO 8601 '
        "timestamp; write it like 2016-01-01T00:00:00+00:00"
    ]


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2016-01-01", datetime(2016, 1, 1, tzinfo=UTC)),
        ("2016-01-01T10:00:00Z", datetime(2016, 1, 1, 10, tzinfo=UTC)),
        (
            "2016-01-01 10:00:00+02:00",
            datetime(2016, 1, 1, 10, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2016-02-30", "not a real date; write it like 2016-01-01"),
        ("2016-01-01t10:00:00z", datetime(2016, 1, 1, 10, tzinfo=UTC)),
        ("2016-01-01T10:00:00.1234560Z", datetime(2016, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        (
            "9999-12-31T23:30:00-01:00",
            "in UTC this falls outside 0001-01-01 to 9999-12-31, the dates a timestamp can hold",
        ),
        (
            "2016-01-01T10:00:00.1234567Z",
            "7 decimal places of a second; iasync keeps at most 6 (microseconds): round it",
        ),
    ],
)
def test_parse_instant(text: str, instant: datetime | str) -> None:
    assert parse_instant(text) == instant


def test_long_form_rules_the_schema_cannot_state() -> None:
    data = valid(
        identifiers={EXT: {"value": {"metricValue": {"value": 1}}}},
        properties={
            "InvestmentAccount/A/B": {"key": "InvestmentAccount/A/C", "value": {"labelValue": "x"}},
            "InvestmentAccount/A/D": {"value": {}},
            "InvestmentAccount/A/E": {"value": "text", "unit": "GBP"},
        },
    )

    assert [(f.path, f.role, f.message) for f in check(data)] == [
        (
            ("identifiers", EXT, "value", "metricValue"),
            "key",
            f'identifiers["{EXT}"]: an identifier\'s value must be a labelValue (a string)',
        ),
        (
            ("properties", "InvestmentAccount/A/B", "key"),
            "value",
            "properties[\"InvestmentAccount/A/B\"]: key 'InvestmentAccount/A/C' differs from "
            "the key 'InvestmentAccount/A/B' it is under; write the same key, or leave key out",
        ),
        (
            ("properties", "InvestmentAccount/A/D", "value"),
            "value",
            'properties["InvestmentAccount/A/D"]: give exactly one of labelValue, metricValue, '
            "labelValueSet",
        ),
        (
            ("properties", "InvestmentAccount/A/E", "unit"),
            "key",
            'properties["InvestmentAccount/A/E"]: a unit is only for numbers (metric values); '
            "make the value a number, or remove the unit",
        ),
    ]


def test_the_limits_are_the_models() -> None:
    import iasync.accounts.model
    import iasync.accounts.rules

    assert iasync.accounts.rules.MAX_LABEL_LENGTH == iasync.accounts.model.MAX_LABEL_LENGTH
    assert iasync.accounts.rules.MAX_PROPERTIES == iasync.accounts.model.MAX_PROPERTIES


def test_bad_keys_are_renamed_to_good_ones_in_a_copy() -> None:
    holder = {"key": "H", "identifiers": {"Bad/x": "IR_1", "InvestorRecord/A/B": "IR_2"}}
    data = valid(accountHolders=[holder])
    data["identifiers"]["Wrong"] = "x"

    copy, renamed = with_good_keys(data)

    assert renamed == {
        ("identifiers", "InvestmentAccount/iasync-renamed/key-0"): ("identifiers", "Wrong"),
        (
            "accountHolders",
            0,
            "identifiers",
            "InvestorRecord/iasync-renamed/key-0",
        ): ("accountHolders", 0, "identifiers", "Bad/x"),
    }
    assert check(copy) == []  # every key good now, every value as it was
    assert copy["accountHolders"][0]["identifiers"] == {
        "InvestorRecord/iasync-renamed/key-0": "IR_1",
        "InvestorRecord/A/B": "IR_2",
    }
    assert "Wrong" in data["identifiers"] and "Bad/x" in holder["identifiers"]  # untouched
    assert with_good_keys(valid()) is None


@pytest.mark.parametrize(
    ("value", "path", "text"),
    [
        ({"value": "IA_1", "effectiveFrom": "2016-01-01"}, ("identifiers", EXT, "value"), "IA_1"),
        ({"value": "IA_1"}, ("identifiers", EXT, "value"), "IA_1"),
        ({"effectiveFrom": "2016-01-01"}, ("identifiers", EXT), "..."),
    ],
)
def test_an_identifier_in_the_short_mapping_form_says_what_to_write(
    value: dict[str, Any], path: tuple[str, ...], text: str
) -> None:
    assert check(valid(identifiers={EXT: value})) == [
        Finding(
            path,
            "value",
            f'identifiers["{EXT}"]: an identifier is its text alone ({text}), or the long form '
            f"{{key, value: {{labelValue: {text}}}}} when it needs effectiveFrom or effectiveUntil",
        )
    ]


def test_holder_findings_name_the_holder_by_its_key() -> None:
    holder = {"key": "H1", "identifiers": {"InvestorRecord/A/B": "x" * 1025}}

    assert check(valid(accountHolders=[holder])) == [
        Finding(
            ("accountHolders", 0, "identifiers", "InvestorRecord/A/B"),
            "value",
            'accountHolders["H1"].identifiers["InvestorRecord/A/B"]: a label value is 1025 '
            "characters long; the limit is 1024",
        )
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "properties",
            "abc",
            "with key: this is the API's long form, whose value is a mapping like "
            "{labelValue: abc}; or leave key out (the short form)",
        ),
        (
            "properties",
            1.5,
            "with key: this is the API's long form, whose value is a mapping like "
            "{metricValue: {value: 1.5}}; or leave key out (the short form)",
        ),
        (
            "properties",
            ["a"],
            "with key: this is the API's long form, whose value is a mapping like "
            "{labelValueSet: {values: [...]}}; or leave key out (the short form)",
        ),
        (
            "identifiers",
            "IA_1",
            "with key: this is the API's long form, whose value is a mapping like "
            "{labelValue: IA_1}; or write the text alone: IA_1",
        ),
        (
            "identifiers",
            7,
            "with key: this is the API's long form, whose value is a mapping like "
            "{labelValue: ...}; or write the text alone: ...",
        ),
    ],
)
def test_a_short_value_under_key_says_which_form_to_write(
    field: str, value: Any, message: str
) -> None:
    key = "InvestmentAccount/A/B"
    data = valid(**{field: {key: {"key": key, "value": value}}})

    assert check(data) == [Finding((field, key, "value"), "value", f'{field}["{key}"]: {message}')]
