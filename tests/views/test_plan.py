"""The plan as text, JSON and Markdown, rendered from real plans made by make_plan."""

from __future__ import annotations

import json
import re

import jsonschema

from iasync.accounts.loader import LoadResult
from iasync.errors import Problem
from iasync.plans.plan import Plan, make_plan
from iasync.states import State
from iasync.views.markdown import render_markdown
from iasync.views.plan import render_plan, summary_line
from iasync.views.plan_json import JSON_FORMAT_VERSION, PLAN_JSON_SCHEMA, plan_json
from iasync.views.problems import problems_json
from tests.planning import EMAIL, EXT, HOLDER_ID, body, loaded, record

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def john_plan() -> Plan:
    """The DESIGN.md sketch: one create, one update (three attributes), one orphan."""
    holders = [
        {"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_1"}},
        {"key": "AccountHolder2", "identifiers": {HOLDER_ID: "IR_2"}},
    ]
    applied_john = body("IA_12345678", displayName="John Doe", accountHolders=holders)
    desired_john = body(
        "IA_12345678",
        displayName="John A. Doe",
        properties={
            "InvestmentAccount/Details/Country": "United Kingdom",
            EMAIL: "john@example.com",
        },
    )
    state = State(lineage="L", serial=5)
    state.record(record("LUID_00003D6X", applied_john, "accounts/uk/john-doe.yaml", 3))
    state.record(record("LUID_0000GONE", body("IA_GONE"), "accounts/old.yaml", 1))
    load = LoadResult(
        [
            loaded("accounts/uk/jane-doe.yaml", body("IA_22345678", accountType="JointMixed")),
            loaded("accounts/uk/john-doe.yaml", desired_john),
        ]
    )
    return make_plan(load, state)


def many_creates(count: int, batch_size: int = 500) -> Plan:
    accounts = [loaded(f"accounts/a{i:05}.yaml", body(f"IA_{i:05}")) for i in range(count)]
    return make_plan(LoadResult(accounts), State.new(), batch_size=batch_size)


# --- text -------------------------------------------------------------------------------------


def test_the_text_plan_reads_like_the_design_sketch() -> None:
    text = render_plan(john_plan())
    lines = text.splitlines()

    assert lines[0] == "Plan: 1 to create, 1 to update, 1 orphaned, 0 unchanged."
    assert "  + accounts/uk/jane-doe.yaml  (" + EXT + "=IA_22345678)" in lines
    assert '      displayName: "Account IA_22345678"' in lines
    assert '      accountType: "JointMixed"' in lines
    # Every attribute of a create (issue 8, finding 2), no longer "... 3 more attributes".
    assert '      properties["InvestmentAccount/Details/Country"]: "United Kingdom"' in lines
    assert '      accountHolders["AccountHolder1"]:' in lines
    assert "  ~ accounts/uk/john-doe.yaml  (IA_12345678, LUID_00003D6X, version 3)" in lines
    changed = [
        line.split(None, 2) for line in lines if line.startswith("      ") and line[6] in "~+-"
    ]
    assert changed == [
        ["~", "displayName:", '"John Doe" -> "John A. Doe"'],
        ["+", f'properties["{EMAIL}"]:', '"john@example.com"'],
        ["-", 'accountHolders["AccountHolder2"]'],
    ]
    assert "  ! accounts/old.yaml  (IA_GONE, LUID_0000GONE, version 1)" in lines
    assert lines[-1] == "Run `iasync apply` to send 2 accounts in 1 batch (successMode=Partial)."


def test_no_changes_says_so_and_uses_thousands_separators() -> None:
    plan = many_creates(1_200)
    for change in plan.changes:
        change.action = "unchanged"

    text = render_plan(plan)

    assert text.splitlines()[0] == "Plan: 0 to create, 0 to update, 0 orphaned, 1,200 unchanged."
    assert text.splitlines()[-1] == (
        "No changes. The account files match the last applied state (LUSID itself was not "
        "read: `iasync plan --refresh` will check it)."
    )


def test_the_last_line_counts_batches_and_names_a_saved_plan() -> None:
    plan = many_creates(1_001)

    assert render_plan(plan).splitlines()[-1] == (
        "Run `iasync apply` to send 1,001 accounts in 3 batches (successMode=Partial)."
    )
    assert render_plan(plan, saved_to="tf.plan").splitlines()[-1] == (
        "Saved the plan to tf.plan. Run `iasync apply tf.plan` to send 1,001 accounts "
        "in 3 batches (successMode=Partial)."
    )
    assert summary_line(plan) == "Plan: 1,001 to create, 0 to update, 0 orphaned, 0 unchanged."


def test_a_move_is_its_own_kind_of_line_and_only_recorded() -> None:
    state = State(lineage="L", serial=1)
    state.record(record("LUID_1", body("IA_1"), "accounts/old.yaml", 2))
    state.record(record("LUID_2", body("IA_2"), "accounts/two.yaml", 1))
    load = [loaded("accounts/new.yaml", body("IA_1")), loaded("accounts/2.yaml", body("IA_2"))]
    plan = make_plan(LoadResult(load), state)

    lines = render_plan(plan).splitlines()

    assert lines == [
        "Plan: 0 to create, 0 to update, 0 orphaned, 2 unchanged (2 moved).",
        "",
        "  > accounts/new.yaml  (IA_1, LUID_1, version 2; moved from accounts/old.yaml)",
        "  > accounts/2.yaml  (IA_2, LUID_2, version 1; moved from accounts/two.yaml)",
        "",
        "Run `iasync apply` to record 2 moved files in the state (nothing is sent to LUSID).",
    ]
    assert plan_json(plan)["apply"] | {"batch_size": 0} == {
        "accounts": 0,
        "batches": 0,
        "batch_size": 0,
        "success_mode": "Partial",
        "moved": 2,
    }


def test_added_members_are_shown_as_written_and_long_ones_over_several_lines() -> None:
    state = State(lineage="L", serial=1)
    state.record(record("LUID_1", body("IA_1"), "accounts/a.yaml", 2))
    other = "InvestorRecord/ExternalIdentifier/AnotherQuiteLongIdentifierName"
    holders = [
        {"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_1"}},
        {"key": "AccountHolder2", "identifiers": {HOLDER_ID: "IR_999"}},
        {"key": "AccountHolder3", "identifiers": {HOLDER_ID: "IR_7", other: "Long Name"}},
    ]
    portfolios = [{"key": "P1", "portfolioScope": "uk", "portfolioCode": "P1"}]
    edited = body("IA_1", accountHolders=holders, investmentPortfolios=portfolios)
    plan = make_plan(LoadResult([loaded("accounts/a.yaml", edited)]), state)

    lines = [line.rstrip() for line in render_plan(plan).splitlines() if line.startswith("      ")]

    assert lines == [
        f'      + accountHolders["AccountHolder2"]: {{identifiers: {{{HOLDER_ID}: IR_999}}}}',
        '      + accountHolders["AccountHolder3"]:',
        "          identifiers:",
        f"            {other}: Long Name",
        f"            {HOLDER_ID}: IR_7",
        '      + investmentPortfolios["P1"]: {portfolioScope: uk, portfolioCode: P1}',
    ]


def test_long_paths_do_not_push_every_value_far_right() -> None:
    state = State(lineage="L", serial=1)
    state.record(record("LUID_1", body("IA_1"), "accounts/a.yaml", 2))
    long_key = "InvestmentAccount/AVeryLongScopeName/AVeryLongPropertyCode"
    properties = {"InvestmentAccount/Details/Country": "United Kingdom", long_key: "x"}
    edited = body("IA_1", displayName="New", properties=properties)
    plan = make_plan(LoadResult([loaded("accounts/a.yaml", edited)]), state)

    lines = [line for line in render_plan(plan).splitlines() if line.startswith("      ")]

    assert lines == [
        '      ~ displayName: "Account IA_1" -> "New"',
        f'      + properties["{long_key}"]: "x"',
    ]


def test_a_long_change_puts_each_value_on_its_own_line() -> None:
    state = State(lineage="L", serial=1)
    state.record(record("LUID_1", body("IA_1", description="a" * 60), "accounts/a.yaml", 2))
    edited = body("IA_1", description="b" * 300)
    plan = make_plan(LoadResult([loaded("accounts/a.yaml", edited)]), state)

    lines = [line for line in render_plan(plan).splitlines() if line.startswith("      ")]

    assert lines[:2] == ["      ~ description:", f'             "{"a" * 60}"']
    assert lines[2].startswith('          -> "bbbb')
    assert lines[2].endswith("… (302 characters)")
    assert len(lines) == 3


def test_only_orphans_say_nothing_will_be_sent() -> None:
    state = State(lineage="L", serial=1)
    state.record(record("LUID_1", body("IA_1"), "accounts/old.yaml", 2))

    text = render_plan(make_plan(LoadResult([]), state))

    assert text.splitlines()[0] == "Plan: 0 to create, 0 to update, 1 orphaned, 0 unchanged."
    assert text.splitlines()[-1].startswith("No changes to send. Orphaned accounts stay in LUSID")
    assert text.splitlines()[-1].endswith("`iasync state rm PATH` forgets one in the state.")


def test_colour_only_when_asked() -> None:
    plan = john_plan()

    assert not ANSI.search(render_plan(plan, color=False))
    coloured = render_plan(plan, color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == render_plan(plan, color=False)


# --- JSON -------------------------------------------------------------------------------------


def test_json_carries_the_same_facts_with_a_format_version() -> None:
    doc = plan_json(john_plan())

    assert doc["format_version"] == JSON_FORMAT_VERSION == 1
    assert doc["counts"] == {"create": 1, "update": 1, "unchanged": 0, "orphaned": 1}
    assert doc["apply"] == {
        "accounts": 2,
        "batches": 1,
        "batch_size": 500,
        "success_mode": "Partial",
        "moved": 0,
    }
    assert [(c["action"], c["path"], c["lusid_id"]) for c in doc["changes"]] == [
        ("create", "accounts/uk/jane-doe.yaml", None),
        ("update", "accounts/uk/john-doe.yaml", "LUID_00003D6X"),
        ("orphaned", "accounts/old.yaml", "LUID_0000GONE"),
    ]
    update = doc["changes"][1]
    assert update["identity"] == [{"key": EXT, "value": "IA_12345678"}]
    assert update["version"] == 3
    assert update["differences"] == [
        {"path": "displayName", "action": "change", "before": "John Doe", "after": "John A. Doe"},
        {
            "path": f'properties["{EMAIL}"]',
            "action": "add",
            "before": None,
            "after": {"value": "john@example.com"},
        },
        {
            "path": 'accountHolders["AccountHolder2"]',
            "action": "remove",
            "before": {"identifiers": {HOLDER_ID: {"value": "IR_2"}}},
            "after": None,
        },
    ]
    jsonschema.Draft202012Validator(PLAN_JSON_SCHEMA).validate(json.loads(json.dumps(doc)))


def test_the_json_schema_is_a_valid_schema_that_refuses_other_versions() -> None:
    jsonschema.Draft202012Validator.check_schema(PLAN_JSON_SCHEMA)
    doc = plan_json(many_creates(3)) | {"format_version": JSON_FORMAT_VERSION + 1}
    assert not jsonschema.Draft202012Validator(PLAN_JSON_SCHEMA).is_valid(doc)


def test_json_problems_are_located() -> None:
    problem = Problem("accounts/a.yaml", 3, 5, "displayName: field required")
    doc = problems_json([problem])

    assert doc == {
        "format_version": 1,
        "valid": False,
        "problems": [
            {
                "path": "accounts/a.yaml",
                "line": 3,
                "column": 5,
                "message": "displayName: field required",
            }
        ],
    }


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_has_the_summary_and_collapsible_sections() -> None:
    text = render_markdown(john_plan())

    assert "**Plan: 1 to create, 1 to update, 1 orphaned, 0 unchanged.**" in text
    assert text.count("<details>") == text.count("</details>") == 3
    assert "<summary>1 to update</summary>" in text
    # Markers first on each line, as GitHub colours diff blocks; updates as "!" (orange).
    assert "\n! accounts/uk/john-doe.yaml  (IA_12345678, LUID_00003D6X, version 3)\n" in text
    assert '\n!     displayName: "John Doe" -> "John A. Doe"\n' in text
    assert '\n+     properties["InvestmentAccount/Details/Email"]: "john@example.com"\n' in text
    assert '\n-     accountHolders["AccountHolder2"]\n' in text
    assert "\n# accounts/old.yaml  (IA_GONE, LUID_0000GONE, version 1)\n" in text
    assert "\n~" not in text
    assert text.count("```") % 2 == 0
    assert text.rstrip().endswith("(successMode=Partial).")


def test_markdown_of_many_changes_stays_under_the_limit_and_counts_the_rest() -> None:
    plan = many_creates(3_000)

    text = render_markdown(plan)

    assert len(text) < 60_000
    shown = text.count("\n+ accounts/")
    assert 0 < shown < 3_000
    assert f"... and {3_000 - shown:,} more changes" in text
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0


def test_markdown_truncation_spans_sections() -> None:
    plan = john_plan()
    text = render_markdown(plan, limit=900)

    assert len(text) < 900
    assert "more changes" in text
    assert text.count("<details>") == text.count("</details>")


def test_a_renamed_and_edited_account_is_an_update_naming_its_old_file() -> None:
    state = State(lineage="L", serial=1)
    state.record(record("LUID_1", body("IA_1"), "accounts/old.yaml", 2))
    edited = body("IA_1", properties={"InvestmentAccount/Details/Tags": ["a", "b"]})
    plan = make_plan(LoadResult([loaded("accounts/new.yaml", edited)]), state)

    lines = render_plan(plan).splitlines()

    assert "  ~ accounts/new.yaml  (IA_1, LUID_1, version 2; moved from accounts/old.yaml)" in lines
    assert [" ".join(line.split()) for line in lines if line.startswith("      ")] == [
        '- properties["InvestmentAccount/Details/Country"]',
        '+ properties["InvestmentAccount/Details/Tags"]: [a, b]',
    ]
