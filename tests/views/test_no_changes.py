"""Issue 8, finding 1: a plan of no changes says what it compared (the account files and the last
applied state) and that LUSID itself was not read, in text, Markdown and JSON."""

from __future__ import annotations

from iasync.accounts.loader import LoadResult
from iasync.plans.plan import Plan, make_plan
from iasync.states import State
from iasync.views.markdown import render_markdown
from iasync.views.plan import render_plan
from iasync.views.plan_json import plan_json
from tests.planning import body, loaded, record

SAID = (
    "No changes. The account files match the last applied state (LUSID itself was not read: "
    "`iasync plan --refresh` will check it)."
)


def unchanged_plan() -> Plan:
    state = State(lineage="L", serial=2)
    state.record(record("LUID_1", body("IA_1"), "accounts/a.yaml", 1))
    return make_plan(LoadResult([loaded("accounts/a.yaml", body("IA_1"))]), state)


def test_the_text_says_what_was_compared_and_that_lusid_was_not_read() -> None:
    text = render_plan(unchanged_plan())
    assert text.splitlines()[-1] == SAID
    assert "LUSID matches" not in text


def test_the_markdown_says_the_same() -> None:
    text = render_markdown(unchanged_plan())
    assert text.rstrip().splitlines()[-1] == SAID
    assert "LUSID matches" not in text


def test_the_json_says_what_was_compared_and_that_lusid_was_not_read() -> None:
    doc = plan_json(unchanged_plan())
    assert doc["lusid_read"] is False
    assert doc["compared"] == (
        "the account files with the last applied state; LUSID itself was not read "
        "(`iasync plan --refresh` will check it)"
    )


def test_a_plan_with_changes_says_what_it_compared_in_json_too() -> None:
    plan = make_plan(LoadResult([loaded("accounts/a.yaml", body("IA_1"))]), State.new())
    assert plan_json(plan)["lusid_read"] is False
