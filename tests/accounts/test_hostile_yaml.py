"""The YAML reader against hostile files (issue 13): the work and the report stay bounded
(items 1 and 2) and no number changes its meaning on the way to LUSID (item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iasync.accounts.loader import load_accounts
from iasync.accounts.validation import MAX_PROBLEMS_SHOWN
from iasync.accounts.yaml import MAX_ENTRIES, MAX_VALUES, parse
from iasync.settings import Settings

HEAD = (
    "identifiers:\n"
    "  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_0001\n"
    "displayName: A\n"
    "accountType: Personal\n"
)


def aliases_of_one_anchor(count: int) -> str:
    return (
        HEAD
        + "properties:\n  InvestmentAccount/D/A: &x v\n"
        + "".join(f"  InvestmentAccount/D/B{i}: *x\n" for i in range(count))
    )


def anchors(count: int) -> str:
    return (
        HEAD
        + "properties:\n"
        + "".join(f"  InvestmentAccount/D/B{i}: &a{i} v\n" for i in range(count))
    )


# --- item 2: bounded work and a bounded report -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            aliases_of_one_anchor(20_000),
            "1006:3: properties: 20,001 entries; an account holds at most 100 properties",
        ),
        (
            anchors(20_000),
            "1006:3: properties: 20,000 entries; an account holds at most 100 properties",
        ),
        (
            HEAD + "accountHolders: [" + ", ".join(["{key: k}"] * 20_000) + "]\n",
            "5:17: accountHolders: 20,000 items; an account holds at most 100 properties",
        ),
    ],
    ids=["20,000 aliases of one anchor", "20,000 anchors", "20,000 holders"],
)
def test_twenty_thousand_entries_under_one_mebibyte_stop_at_the_limit(
    text: str, message: str
) -> None:
    assert len(text.encode()) < 1024 * 1024
    document = parse(text)

    assert document.fatal
    assert [f"{line}:{column}: {said}" for line, column, said in document.errors] == [
        message + " and a handful of anything else (iasync reads at most 1,000 in one place): "
        "is it really an account?"
    ]
    assert len(document.nodes) <= MAX_ENTRIES + 10  # not one value past the limit was built


def test_more_values_than_any_account_holds_stop_the_reader() -> None:
    # 20 holders of 900 identifiers each: no list or mapping over the limit, but 18,000 values.
    holders = "".join(
        f"  - key: H{h}\n    identifiers:\n"
        + "".join(f"      InvestorRecord/A/I{i}: v\n" for i in range(900))
        for h in range(20)
    )
    document = parse(HEAD + "accountHolders:\n" + holders)

    assert document.fatal
    (error,) = document.errors
    assert error[2] == (
        f"more than {MAX_VALUES:,} values in one file; an account file holds a few hundred at "
        "most: is it really an account?"
    )
    assert len(document.nodes) == MAX_VALUES


def test_the_problems_of_one_file_are_capped_saying_how_many_more(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "accounts").mkdir(parents=True)
    body = HEAD + "properties:\n" + "".join(f"  Bad{i}: v\n" for i in range(900))
    (root / "accounts" / "a.yaml").write_text(body, encoding="utf-8")

    result = load_accounts([], Settings(root=root))

    shown = [str(problem) for problem in result.problems]
    assert len(shown) == MAX_PROBLEMS_SHOWN + 1
    assert shown[:2] == [
        "accounts/a.yaml:5:1: properties: 900 entries; an account may have at most 100 properties",
        "accounts/a.yaml:6:3: key 'Bad0' must have the form InvestmentAccount/{scope}/{code}",
    ]
    assert shown[-1] == (
        "accounts/a.yaml:55:3: and 851 more problems in this file from here on, not shown; "
        "fix those above and run again"
    )


# --- item 4: no number changes its meaning silently -------------------------------------------


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "3.14159265358979323846",
            "3.14159265358979323846 has more significant digits than a number sent to LUSID "
            "keeps (17); it would be sent as 3.141592653589793. Write 3.141592653589793 (or "
            "fewer digits), or quote it if it is a label: '3.14159265358979323846'",
        ),
        (
            "1." + "1" * 49,  # fifty 1s
            "1.111111111111111111... (51 characters) has more significant digits than a number "
            "sent to LUSID keeps (17); it would be sent as 1.1111111111111112. Write "
            "1.1111111111111112 (or fewer digits), or quote it if it is a label",
        ),
        (
            "0.30000000000000001",
            "0.30000000000000001 has more significant digits than a number sent to LUSID keeps "
            "(17); it would be sent as 0.3. Write 0.3 (or fewer digits), or quote it if it is a "
            "label: '0.30000000000000001'",
        ),
        (
            "1.0e-400",  # underflows to 0.0
            "1.0e-400 has more significant digits than a number sent to LUSID keeps (17); it "
            "would be sent as 0.0. Write 0.0 (or fewer digits), or quote it if it is a label: "
            "'1.0e-400'",
        ),
        (
            "1" * 50,
            "11111111111111111111... (50 characters) is too large: LUSID holds a number as a "
            "decimal of at most 28 digits (below 1e28); write a smaller number, or quote it if "
            "it is a label",
        ),
        (
            "1.0e+300",
            "1.0e+300 is too large: LUSID holds a number as a decimal of at most 28 digits "
            "(below 1e28); write a smaller number, or quote it if it is a label: '1.0e+300'",
        ),
        (
            "9" * 5000,
            "99999999999999999999... (5,000 characters) is too large: LUSID holds a number as a "
            "decimal of at most 28 digits (below 1e28); write a smaller number, or quote it if "
            "it is a label",
        ),
    ],
    ids=["pi to 20 places", "fifty 1s", "0.3 and a 1", "underflow", "50 digits", "1e300", "5000"],
)
def test_a_number_that_would_not_be_sent_as_written_is_refused(written: str, message: str) -> None:
    document = parse(f"v: {written}\n")

    assert document.errors == [(1, 4, f"v: {message}")]
    assert document.data == {"v": None}


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1.5", 1.5),
        ("0.1", 0.1),
        ("1.0e+3", 1000.0),
        ("-0.0", -0.0),
        ("3.141592653589793", 3.141592653589793),
        ("1000.25", 1000.25),
        ("9999999999999999999999999999", 9999999999999999999999999999),  # 28 digits: exact
        ("-31", -31),
    ],
)
def test_a_number_sent_exactly_as_written_is_read(written: str, value: float) -> None:
    # `1.50`, `1_000.25` and `0x1f` are read exactly too, but their text is lost: issue 8's trap
    # (tests/accounts/test_yaml_numbers.py) asks for them to be quoted.
    document = parse(f"v: {written}\n")

    assert document.errors == []
    assert document.data == {"v": value}
