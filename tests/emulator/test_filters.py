"""The list endpoint's filter: LUSID's syntax as far as the emulator reads it, refused beyond."""

from __future__ import annotations

from typing import Any

import pytest

from iasync.emulator.filters import FilterError, parse_filter


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "displayName": name,
        "accountType": "Joint",
        "identifiers": {
            "InvestmentAccount/Ext/Id": {"key": "k", "value": {"labelValue": f"IA_{name}"}}
        },
        "properties": {
            "InvestmentAccount/Details/Tags": {
                "key": "k",
                "value": {"labelValueSet": {"values": ["a"]}},
            }
        },
        **extra,
    }


ACCOUNTS = {
    "LUID_1": body("Ann", description="it's here", scope="S1"),
    "LUID_2": body("Bob", scope="S2"),
    "LUID_3": body("O'Neil"),
}


def kept(text: str) -> list[str]:
    keep = parse_filter(text)
    return [i for i, b in ACCOUNTS.items() if keep(i, b)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DISPLAYNAME EQ 'ann'", ["LUID_1"]),  # fields, operators and values ignore case
        ("displayName neq 'Ann'", ["LUID_2", "LUID_3"]),
        ("displayName eq 'O''Neil'", ["LUID_3"]),  # '' is a quote inside a value
        ("description eq 'it''s here'", ["LUID_1"]),
        ("description neq 'x'", ["LUID_1"]),  # unset values match nothing...
        ("not description exists", ["LUID_2", "LUID_3"]),
        ("description not exists", ["LUID_2", "LUID_3"]),  # ...but not exists
        ("scope not in 'S1', 'S2'", []),
        ("scope in ('S2')", ["LUID_2"]),
        ("lusidInvestmentAccountId eq 'LUID_3'", ["LUID_3"]),
        ("identifiers['InvestmentAccount/Ext/Id'] eq 'IA_Bob'", ["LUID_2"]),
        ("properties.InvestmentAccount/Details/Tags exists", []),  # only label values compare
        ("accountType eq 'Joint' and (scope eq 'S1' or scope eq 'S2')", ["LUID_1", "LUID_2"]),
        ("not (scope eq 'S1' or scope eq 'S2')", ["LUID_3"]),
    ],
)
def test_filters_select(text: str, expected: list[str]) -> None:
    assert kept(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("displayName eq", "it ends too early"),
        ("displayName eq Ann", "expected a value in single quotes"),
        ("displayName gt 'A'", "no operator the emulator knows after 'displayName'"),
        ("displayName not eq 'A'", "no operator the emulator knows"),
        ("version eq '1'", "unknown field 'version'"),
        ("(displayName eq 'A'", "a parenthesis is not closed"),
        ("displayName eq 'A' 'B'", "unexpected"),
        ("displayName eq 'unterminated", "cannot be read at"),
    ],
)
def test_filters_the_emulator_cannot_read_say_what_it_supports(text: str, why: str) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filter(text)

    assert why in str(refused.value)
    assert "the emulator supports" in str(refused.value)
