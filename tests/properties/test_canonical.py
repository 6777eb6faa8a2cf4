"""Properties of the canonical body and of fmt (issue 13 item 6): no spelling changes the body,
every real change does, and fmt is idempotent and keeps the meaning."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iasync.accounts.fmt import format_text
from iasync.accounts.model import canonical_json
from tests.properties.accounts import Account, accounts, canonical_of, changed, spellings


@given(st.data(), accounts())
def test_no_spelling_changes_the_canonical_body(data: st.DataObject, account: Account) -> None:
    first, second = data.draw(spellings(account)), data.draw(spellings(account))

    body, problems = canonical_of(first)
    assert problems == [], first
    again, problems = canonical_of(second)
    assert problems == [], second
    assert body is not None and again is not None
    assert canonical_json(again) == canonical_json(body), (first, second)


@given(st.data(), accounts())
def test_any_real_change_changes_the_canonical_body(data: st.DataObject, account: Account) -> None:
    other = data.draw(changed(account))
    before, problems = canonical_of(data.draw(spellings(account)))
    assert before is not None, problems
    after, problems = canonical_of(data.draw(spellings(other)))
    assert after is not None, problems

    assert canonical_json(after) != canonical_json(before)


@given(st.data(), accounts())
def test_fmt_is_idempotent_and_keeps_the_meaning(data: st.DataObject, account: Account) -> None:
    text = data.draw(spellings(account))
    body, _ = canonical_of(text)

    formatted = format_text(text)

    assert format_text(formatted) == formatted
    after, problems = canonical_of(formatted)
    assert problems == [], formatted
    assert after is not None and body is not None
    assert canonical_json(after) == canonical_json(body), (text, formatted)


@pytest.mark.parametrize("number", ["-4.23668156677053e-218", "-4.2366815667705264e-218"])
def test_fmt_keeps_a_number_written_with_an_exponent(number: str) -> None:
    text = (
        "identifiers:\n  InvestmentAccount/A/B: x\ndisplayName: d\naccountType: Personal\n"
        f"properties:\n  InvestmentAccount/I/g: {number}\n"
    )
    assert format_text(text) == text
