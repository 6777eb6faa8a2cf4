"""jsonschema's errors against the committed schema, as one located plain message per fault."""

from __future__ import annotations

import pytest

from iasync.accounts.messages import explain
from iasync.accounts.schema import validator
from iasync.accounts.yaml import parse

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
HEAD = f"identifiers:\n  {EXT}: IA_1\ndisplayName: One\naccountType: Personal\n"


def messages(text: str) -> list[str]:
    document = parse(text)
    assert not document.errors
    findings = explain(validator().iter_errors(document.data), document)
    return ["{}:{}: {}".format(*document.location(f.path, f.role), f.message) for f in findings]


def test_a_valid_file_has_nothing_to_explain() -> None:
    assert messages(HEAD) == []


def test_a_misspelt_key_is_one_fault_not_two() -> None:
    assert messages(HEAD.replace("accountType", "acountType")) == [
        "4:1: unknown key 'acountType'; did you mean accountType?"
    ]


def test_an_unknown_key_far_from_any_lists_the_known_ones() -> None:
    assert messages(HEAD + "colour: blue\n") == [
        "5:1: unknown key 'colour'; expected one of: identifiers, displayName, description, "
        "accountType, properties, accountHolders, investmentPortfolios"
    ]


def test_missing_keys_are_reported_at_the_mapping() -> None:
    assert messages(HEAD + "investmentPortfolios:\n  - key: P\n") == [
        "6:5: investmentPortfolios[\"P\"]: missing required key 'portfolioScope'",
        "6:5: investmentPortfolios[\"P\"]: missing required key 'portfolioCode'",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("displayName: yes", "3:14: displayName: expected text, but YAML reads yes as the "
         "boolean true; quote it: 'yes'"),
        ("displayName: 1.5", "3:14: displayName: expected text, but YAML reads 1.5 as the "
         "number 1.5; quote it: '1.5'"),
        ("displayName: [a]", "3:14: displayName: expected text, got a list"),
        ("displayName: ''", "3:14: displayName: must not be empty"),
        (f"displayName: {'x' * 513}", "3:14: displayName: 513 characters long; the limit is 512"),
        ('displayName: "12"', None),
    ],
)  # fmt: skip
def test_values_of_the_wrong_kind(line: str, message: str | None) -> None:
    text = HEAD.replace("displayName: One", line)
    assert messages(text) == ([message] if message else [])


def test_a_property_in_the_short_form_is_explained_as_the_short_form() -> None:
    text = HEAD + "properties:\n  InvestmentAccount/A/B:\n    value: x\n    colour: red\n"

    assert messages(text) == [
        "8:5: unknown key 'colour' in properties[\"InvestmentAccount/A/B\"]; expected one of: "
        "effectiveFrom, effectiveUntil, value, unit"
    ]


def test_a_property_in_the_long_form_is_explained_as_the_long_form() -> None:
    text = HEAD + "properties:\n  InvestmentAccount/A/B:\n    value: {labelValue: 5}\n"

    assert messages(text) == [
        '7:25: properties["InvestmentAccount/A/B"].value.labelValue: expected text, but YAML '
        "reads 5 as the number 5; quote it: '5'"
    ]


def test_a_value_no_form_accepts_names_every_form() -> None:
    text = HEAD + "properties:\n  InvestmentAccount/A/B: true\n"

    assert messages(text) == [
        '6:26: properties["InvestmentAccount/A/B"]: expected text, a number, a list or a '
        "mapping, but YAML reads true as the boolean true; quote it: 'true'"
    ]


def test_at_least_one_identifier() -> None:
    assert messages(HEAD.replace(f"\n  {EXT}: IA_1", " {}")) == [
        "1:1: identifiers: needs at least one identifier (InvestmentAccount/{scope}/{code}: value)"
    ]
    holder = "accountHolders:\n  - key: H\n    identifiers: {}\n"
    assert messages(HEAD + holder) == [
        '7:5: accountHolders["H"].identifiers: needs at least one identifier '
        "(InvestorRecord/{scope}/{code}: value)"
    ]


def test_a_value_not_in_the_form_says_the_form_in_words() -> None:
    text = HEAD + (
        "properties:\n  InvestmentAccount/A/B:\n    value: x\n    effectiveFrom: 20160101T000000Z\n"
    )

    assert messages(text) == [
        "8:20: properties[\"InvestmentAccount/A/B\"].effectiveFrom: '20160101T000000Z' is not in "
        "the expected form: a date (2016-01-01, that day's start in UTC) or a date and time with "
        "a UTC offset (2016-01-01T00:00:00+00:00)"
    ]
