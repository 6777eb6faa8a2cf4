"""Issue 8, finding 2: a create shows every attribute it will send (text and Markdown), as
`terraform plan` does; the Markdown folds long creates in `<details>` and never cuts one short."""

from __future__ import annotations

from typing import Any

from iasync.accounts.loader import LoadResult
from iasync.plans.plan import Plan, make_plan
from iasync.states import State
from iasync.views.markdown import render_markdown
from iasync.views.plan import render_plan
from tests.planning import COUNTRY, EXT, HOLDER_ID, INT, body, loaded

LONG = "A description of exactly the kind people write. " * 8  # over 200 characters


def full_body(ext: str = "IA_1", **fields: Any) -> dict[str, Any]:
    return body(
        ext,
        identifiers={EXT: ext, INT: "Internal_" + ext},
        description=LONG.strip(),
        properties={
            COUNTRY: {"value": "United Kingdom", "effectiveFrom": "2016-01-01T00:00:00+00:00"},
            "InvestmentAccount/Details/Limit": {"value": 1.5, "unit": "GBP"},
            "InvestmentAccount/Details/Tags": ["retail", "uk"],
        },
        accountHolders=[
            {"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_1"}},
            {"key": "AccountHolder2", "identifiers": {HOLDER_ID: "IR_2"}},
        ],
        investmentPortfolios=[{"key": "Main", "portfolioScope": "uk", "portfolioCode": "GROWTH"}],
        **fields,
    )


def create_plan(*bodies: dict[str, Any]) -> Plan:
    accounts = [loaded(f"accounts/a{i}.yaml", b) for i, b in enumerate(bodies)]
    return make_plan(LoadResult(accounts), State.new())


EVERY_ATTRIBUTE = [
    f'identifiers["{EXT}"]: "IA_1"',
    f'identifiers["{INT}"]: "Internal_IA_1"',
    'displayName: "Account IA_1"',
    f'description: "{LONG.strip()}"',
    'accountType: "Personal"',
    f'properties["{COUNTRY}"]:',
    "value: United Kingdom",
    'effectiveFrom: "2016-01-01T00:00:00.0000000+00:00"',
    'properties["InvestmentAccount/Details/Limit"]: {value: 1.5, unit: GBP}',
    'properties["InvestmentAccount/Details/Tags"]: [retail, uk]',
    'accountHolders["AccountHolder1"]:',
    f"identifiers: {{{HOLDER_ID}: IR_1}}",
    'accountHolders["AccountHolder2"]:',
    f"identifiers: {{{HOLDER_ID}: IR_2}}",
    'investmentPortfolios["Main"]: {portfolioScope: uk, portfolioCode: GROWTH}',
]


def test_the_text_shows_every_attribute_of_a_create_in_file_order_and_uncut() -> None:
    text = render_plan(create_plan(full_body()))
    attributes = [line.strip() for line in text.splitlines() if line.startswith("      ")]
    assert attributes == EVERY_ATTRIBUTE
    assert "more attribute" not in text


def test_the_markdown_shows_every_attribute_and_folds_a_long_create() -> None:
    text = render_markdown(create_plan(full_body(), body("IA_2")))
    for attribute in EVERY_ATTRIBUTE:
        assert attribute in text, attribute
    assert "more attribute" not in text
    # The long create in a <details> of its own, its header the summary; the short one not.
    assert f"<details><summary><code>+ accounts/a0.yaml  ({EXT}=IA_1)</code></summary>" in text
    assert "<summary><code>+ accounts/a1.yaml" not in text
    assert "\n+ accounts/a1.yaml  (" in text
    assert text.count("<details>") == text.count("</details>")
    assert text.count("<details><summary>") == text.count("</details>")
    assert text.count("```") % 2 == 0


def test_markdown_over_its_cap_leaves_out_whole_changes_never_part_of_one() -> None:
    plan = create_plan(*(full_body(f"IA_{i:05}") for i in range(400)))
    text = render_markdown(plan)
    assert len(text) < 60_000
    shown = text.count("<summary><code>+ accounts/")
    assert 0 < shown < 400
    # Every create shown is shown whole: its last attribute is there too.
    assert text.count('investmentPortfolios["Main"]') == shown
    assert f"... and {400 - shown:,} more changes" in text
