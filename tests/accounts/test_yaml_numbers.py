"""Issue 8, finding 10: a plain number whose text does not survive the round trip (text -> number
-> the number as sent) is a YAML trap, like `0012` and `NO`: located, with the hint to quote it.

Which spellings: an integer must read as it is written (`12`, `-5`; not `+5`, `0x1F`, `0o17`,
`0b101`, `1_000`, `-0`); a decimal number too (`1.5`, `100.0`; not `1.10`, `.5`, `5.`, `+1.5`,
`1_000.5`; more digits than a double keeps is refused, see test_hostile_yaml.py). Exponent
notation (`1.0e+3`) is exempt: nobody writes it meaning text, and `1e3`, which YAML 1.1 and
1.2 read differently, has its own rule.
"""

from __future__ import annotations

import pytest

from iasync.accounts.yaml import parse

TRAPS = [
    ("1.10", "1.1"),
    ("2.50", "2.5"),
    (".5", "0.5"),
    ("5.", "5.0"),
    ("+1.5", "1.5"),
    ("1_000.5", "1000.5"),
    ("+5", "5"),
    ("0x1F", "31"),
    ("0b101", "5"),
    ("1_000", "1000"),
    ("-0", "0"),
]


@pytest.mark.parametrize(("text", "number"), TRAPS)
def test_a_number_that_loses_its_text_is_a_located_trap(text: str, number: str) -> None:
    document = parse(f"displayName: x\nVer: {text}\n")
    assert document.errors == [
        (2, 6, f"Ver: YAML reads {text} as the number {number}; quote it: '{text}'")
    ]
    assert document.data["Ver"] is None


@pytest.mark.parametrize(("text", "number"), TRAPS)
def test_as_a_property_value_both_readings_are_offered(text: str, number: str) -> None:
    document = parse(f"properties:\n  InvestmentAccount/Details/Ver: {text}\n")
    assert document.errors == [
        (
            2,
            34,
            f'properties["InvestmentAccount/Details/Ver"]: YAML reads {text} as the number '
            f"{number}; for the text quote it: '{text}', for the number write {number}",
        )
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        ("-5", -5),
        ("0", 0),
        ("1.5", 1.5),
        ("100.0", 100.0),
        ("-0.25", -0.25),
        ("1.0e+3", 1000.0),
        ("6.8523015e+5", 685230.15),
    ],
)
def test_a_number_written_as_it_reads_is_no_trap(text: str, value: float) -> None:
    document = parse(f"v: {text}\nw: '1.10'\n")
    assert document.errors == []
    assert document.data == {"v": value, "w": "1.10"}


def test_the_loader_reports_it_with_the_file_and_line(tmp_path: object) -> None:
    from pathlib import Path

    from iasync.accounts.loader import load_accounts
    from iasync.settings import load_settings

    root = Path(str(tmp_path))
    (root / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    (root / "accounts").mkdir()
    (root / "accounts" / "a.yaml").write_text(
        "identifiers:\n"
        "  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_1\n"
        "displayName: One\n"
        "accountType: Personal\n"
        "properties:\n"
        "  InvestmentAccount/Details/Ver: 1.10\n"
    )
    result = load_accounts([], load_settings(root, env={}))
    assert [str(problem) for problem in result.problems] == [
        'accounts/a.yaml:6:34: properties["InvestmentAccount/Details/Ver"]: YAML reads 1.10 as '
        "the number 1.1; for the text quote it: '1.10', for the number write 1.1"
    ]


def test_a_metric_with_a_unit_or_in_the_long_form_may_be_spelt_freely() -> None:
    # A number is all these can be: 1.50 GBP is 1.5 GBP, and no text was meant.
    document = parse(
        "properties:\n"
        "  InvestmentAccount/D/A: {value: 1.50, unit: GBP}\n"
        "  InvestmentAccount/D/B: {unit: GBP, value: 2.50}\n"
        "  InvestmentAccount/D/C:\n"
        "    key: InvestmentAccount/D/C\n"
        "    value: {metricValue: {value: 3.50, unit: GBP}}\n"
        "  InvestmentAccount/D/D: {value: 1.10, effectiveFrom: 2016-01-01T00:00:00+00:00}\n"
    )
    assert document.errors == [
        (
            7,
            34,
            'properties["InvestmentAccount/D/D"].value: YAML reads 1.10 as the number 1.1; '
            "for the text quote it: '1.10', for the number write 1.1",
        )
    ]
    properties = document.data["properties"]
    assert properties["InvestmentAccount/D/A"]["value"] == 1.5
    assert properties["InvestmentAccount/D/B"]["value"] == 2.5
    assert properties["InvestmentAccount/D/D"]["value"] is None
