"""`iasync fmt`: the canonical style, comments kept, meaning never changed, bad files refused."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import iasync.accounts.fmt
from iasync.accounts.fmt import FmtError, format_files, format_text, write_atomically
from iasync.accounts.loader import load_accounts
from iasync.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
MODELINE = "# yaml-language-server: $schema=../schema/investment-account.schema.json\n"

MINIMAL_HEAD = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_1
displayName: One
accountType: Personal
"""


def example(name: str) -> str:
    return (ROOT / "accounts" / name).read_text(encoding="utf-8")


def reference_request(name: str) -> dict:
    return json.loads((DATA / "reference-example-request-body.json").read_text())[name]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.iasync]\naccounts_dir = "accounts"\n')
    (tmp_path / "accounts").mkdir()
    return tmp_path


def meaning(path: Path, root: Path) -> bytes:
    """What the loader makes of a file: its canonical request body."""
    result = load_accounts([path], load_settings(root, env={}))
    assert result.ok, result.problems
    return result.accounts[0].body_json


def run_fmt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iasync", "fmt", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


# --- the canonical style ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["john-doe.yaml", "jane-doe.yaml"])
def test_example_accounts_are_canonical(name: str) -> None:
    assert format_text(example(name)) == example(name)


@pytest.mark.parametrize(
    "name, file_name",
    [("firstExampleRequest", "john-doe.yaml"), ("secondExampleRequest", "jane-doe.yaml")],
)
def test_pasted_reference_request_becomes_the_example_account(name: str, file_name: str) -> None:
    pasted = json.dumps(reference_request(name), indent=4)
    assert MODELINE + format_text(pasted) == example(file_name)


def test_long_form_items_become_short() -> None:
    text = MINIMAL_HEAD + (
        "properties:\n"
        "  InvestmentAccount/D/Label:\n"
        "    key: InvestmentAccount/D/Label\n"
        "    value:\n"
        "      labelValue: text\n"
        "  InvestmentAccount/D/Metric:\n"
        "    {key: InvestmentAccount/D/Metric, value: {metricValue: {value: 2}}}\n"
        "  InvestmentAccount/D/Money:\n"
        "    key: InvestmentAccount/D/Money\n"
        "    value: {metricValue: {value: 2.5, unit: GBP}}\n"
        "  InvestmentAccount/D/Set: {value: {labelValueSet: {values: [b, a]}}}\n"
        "  InvestmentAccount/D/Dated:\n"
        "    value: {labelValue: UK}\n"
        "    effectiveUntil: '2020-01-01T00:00:00.0000000+00:00'\n"
        "    effectiveFrom: '2016-01-01T00:00:00.0000000+00:00'\n"
        "  InvestmentAccount/D/Wrapped: {value: plain}\n"
    )
    assert format_text(text) == MINIMAL_HEAD + (
        "properties:\n"
        "  InvestmentAccount/D/Label: text\n"
        "  InvestmentAccount/D/Metric: 2\n"
        "  InvestmentAccount/D/Money:\n"
        "    value: 2.5\n"
        "    unit: GBP\n"
        "  InvestmentAccount/D/Set: [b, a]\n"
        "  InvestmentAccount/D/Dated:\n"
        "    value: UK\n"
        "    effectiveFrom: 2016-01-01T00:00:00+00:00\n"
        "    effectiveUntil: 2020-01-01T00:00:00+00:00\n"
        "  InvestmentAccount/D/Wrapped: plain\n"
    )


def test_identifier_with_effective_dates_stays_long() -> None:
    text = (
        "identifiers:\n"
        "  InvestmentAccount/ExternalIdentifier/ExternalIAId:\n"
        "    effectiveFrom: 2016-01-01T00:00:00+00:00\n"
        "    value:\n"
        "      labelValue: IA_1\n"
        "    key: InvestmentAccount/ExternalIdentifier/ExternalIAId\n"
        "displayName: One\n"
        "accountType: Personal\n"
    )
    assert format_text(text) == (
        "identifiers:\n"
        "  InvestmentAccount/ExternalIdentifier/ExternalIAId:\n"
        "    key: InvestmentAccount/ExternalIdentifier/ExternalIAId\n"
        "    value:\n"
        "      labelValue: IA_1\n"
        "    effectiveFrom: 2016-01-01T00:00:00+00:00\n"
        "displayName: One\n"
        "accountType: Personal\n"
    )


def test_key_order_indentation_and_block_style() -> None:
    text = (
        "investmentPortfolios:\n"
        "- {portfolioCode: c, key: P, portfolioScope: s}\n"
        "accountHolders:\n"
        "-   identifiers:\n"
        "        InvestorRecord/X/Y: v\n"
        "    key: H\n"
        "accountType: Personal\n"
        "properties: {InvestmentAccount/D/N: {effectiveFrom: 2016-01-01, value: x}}\n"
        "displayName: One\n"
        "identifiers:\n"
        "    InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_1\n"
    )
    assert format_text(text) == MINIMAL_HEAD + (
        "properties:\n"
        "  InvestmentAccount/D/N:\n"
        "    value: x\n"
        "    effectiveFrom: 2016-01-01\n"
        "accountHolders:\n"
        "  - key: H\n"
        "    identifiers:\n"
        "      InvestorRecord/X/Y: v\n"
        "investmentPortfolios:\n"
        "  - key: P\n"
        "    portfolioScope: s\n"
        "    portfolioCode: c\n"
    )


def test_a_scoped_files_scope_holders_and_portfolios_take_their_order() -> None:
    text = (
        "investmentPortfolios:\n"
        "- {identifiers: {Code: c}, key: P, scope: s}\n"
        "accountHolders:\n"
        "- {identifiers: {InvestorRecord/X/Y: v}, scope: Investors, key: H}\n"
        + MINIMAL_HEAD
        + "scope: Funds\n"
    )
    assert format_text(text) == "scope: Funds\n" + MINIMAL_HEAD + (
        "accountHolders:\n"
        "  - key: H\n"
        "    scope: Investors\n"
        "    identifiers:\n"
        "      InvestorRecord/X/Y: v\n"
        "investmentPortfolios:\n"
        "  - key: P\n"
        "    scope: s\n"
        "    identifiers:\n"
        "      Code: c\n"
    )


@pytest.mark.parametrize(
    "written, expected",
    [
        ("'NO'", "'NO'"),
        ('"yes"', "'yes'"),
        ("'off'", "'off'"),
        ("'y'", "'y'"),
        ("'0012'", "'0012'"),
        ("'012'", "'012'"),
        ("'1_000'", "'1_000'"),
        ("'1:30'", "'1:30'"),
        ("'1e3'", "'1e3'"),
        ("'0x1F'", "'0x1F'"),
        ("'null'", "'null'"),
        ("'~'", "'~'"),
        ("'2016-01-01'", "'2016-01-01'"),
        ("'.inf'", "'.inf'"),
        ('"John Doe"', "John Doe"),
        ("'IA_1'", "IA_1"),
        ("'a: b'", "'a: b'"),
        ("'# not a comment'", "'# not a comment'"),
    ],
)
def test_text_that_yaml_would_misread_stays_quoted(written: str, expected: str) -> None:
    text = MINIMAL_HEAD + f"properties:\n  InvestmentAccount/D/N: {written}\n"
    formatted = format_text(text)
    assert formatted == MINIMAL_HEAD + f"properties:\n  InvestmentAccount/D/N: {expected}\n"


@pytest.mark.parametrize(
    ("written", "formatted"),
    [
        # A date that is no date made ruamel raise: a traceback from `iasync fmt`.
        ("2016-13-01", "'2016-13-01'"),
        ("2016-02-30T00:00:00Z", "'2016-02-30T00:00:00Z'"),
        # ruamel rounds to microseconds: the label's text would change (fmt refused the file).
        ("2016-01-01T00:00:00.1234567Z", "'2016-01-01T00:00:00.1234567Z'"),
    ],
)
def test_a_label_like_a_timestamp_ruamel_cannot_keep_is_quoted(
    project: Path, written: str, formatted: str
) -> None:
    path = project / "accounts" / "a.yaml"
    text = MINIMAL_HEAD + f"properties:\n  InvestmentAccount/D/Note: {written}\n"
    path.write_text(text, encoding="utf-8")
    before = meaning(path, project)

    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert result.problems == []
    assert path.read_text(encoding="utf-8") == text.replace(written, formatted)
    assert meaning(path, project) == before


def test_a_line_separator_inside_a_label_is_no_line_break_when_reordering(project: Path) -> None:
    # str.splitlines() splits at U+2028: moving the top-level entries cut a label in two.
    path = project / "accounts" / "a.yaml"
    text = 'accountType: Personal\ndisplayName: "One\u2028Two"\n' + MINIMAL_HEAD.split(
        "displayName"
    )[0].replace("accountType: Personal\n", "")
    path.write_text(text, encoding="utf-8")
    before = meaning(path, project)

    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert result.problems == []
    assert path.read_text(encoding="utf-8").startswith("identifiers:\n")
    assert meaning(path, project) == before


@pytest.mark.parametrize("label", ["?a", ":a", "-a", "a, b", "[x]", "{y}", "%p", "@at", "a #b"])
def test_text_starting_or_holding_an_indicator_is_quoted_in_lists_too(
    project: Path, label: str
) -> None:
    # ruamel writes `[?a]` plain, which PyYAML reads as a mapping: fmt refused such files.
    path = project / "accounts" / "a.yaml"
    written = json.dumps(label)
    path.write_text(
        MINIMAL_HEAD + f"properties:\n  InvestmentAccount/D/L: {written}\n"
        f"  InvestmentAccount/D/S: [{written}, b]\n",
        encoding="utf-8",
    )
    before = meaning(path, project)

    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert result.problems == []
    quoted = "'" + label + "'"
    assert path.read_text(encoding="utf-8") == MINIMAL_HEAD + (
        f"properties:\n  InvestmentAccount/D/L: {quoted}\n  InvestmentAccount/D/S: [{quoted}, b]\n"
    )
    assert meaning(path, project) == before


def test_a_unicode_line_break_in_text_is_written_escaped(project: Path) -> None:
    # Plain or single-quoted, YAML 1.1 folds U+2028 like a line break: the text never settled.
    path = project / "accounts" / "a.yaml"
    path.write_text(MINIMAL_HEAD + 'description: "NO \u2028name"\n', encoding="utf-8")
    before = meaning(path, project)

    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert result.problems == []
    # (YAML drops the space before a line break in quotes: the text is "NO\u2028name".)
    assert 'description: "NO\\Lname"\n' in path.read_text(encoding="utf-8")
    assert meaning(path, project) == before


def test_long_lines_are_not_folded() -> None:
    long = "word " * 100
    text = MINIMAL_HEAD.replace("displayName: One", f"displayName: {long.strip()}")
    assert format_text(text) == text


def test_block_scalars_are_kept_verbatim() -> None:
    text = MINIMAL_HEAD.replace(
        "displayName: One\n",
        "displayName: One\ndescription: |\n  # a heading, not a comment\n    indented\n",
    )
    assert format_text(text) == text


def test_crlf_and_bom_become_plain_lf() -> None:
    text = "\ufeff" + (MINIMAL_HEAD + "# end\n").replace("\n", "\r\n")
    assert format_text(text) == MINIMAL_HEAD + "# end\n"


# ruamel.yaml rebuilt a float's text from its binary value, truncating where it should round:
# -4.23668156677053e-218 (the double -4.23668156677052992...e-218) became ...052e-218, another
# number, and fmt's meaning check refused the file; 5.0e-324 became 4.9e-324, 1_000.5 01000.5.
WRITTEN_NUMBERS = ["-4.23668156677053e-218", "-4.2366815667705264e-218", "5.0e-324", "6.02E+23"]


@pytest.mark.parametrize("number", WRITTEN_NUMBERS)
def test_a_number_in_exponent_notation_is_kept_as_written(number: str) -> None:
    text = MINIMAL_HEAD + f"properties:\n  InvestmentAccount/D/Rate: {number}\n"
    assert format_text(text) == text


@pytest.mark.parametrize("number", [*WRITTEN_NUMBERS, "1_000.5", "0.10000000000000000"])
def test_a_file_rewritten_around_a_number_keeps_it_and_its_meaning(
    project: Path, number: str
) -> None:
    # With a unit a number may be spelt freely; the flow mapping makes fmt rewrite the file, so
    # the number goes through the meaning check.
    path = project / "accounts" / "a.yaml"
    path.write_text(
        MINIMAL_HEAD + f"properties:\n  InvestmentAccount/D/Rate: {{value: {number}, unit: GBP}}\n",
        encoding="utf-8",
    )
    before = meaning(path, project)

    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert result.problems == []
    assert result.changed
    assert path.read_text(encoding="utf-8") == MINIMAL_HEAD + (
        f"properties:\n  InvestmentAccount/D/Rate:\n    value: {number}\n    unit: GBP\n"
    )
    assert meaning(path, project) == before


# --- comments -----------------------------------------------------------------------------------


COMMENTED = """\
# yaml-language-server: $schema=../schema/investment-account.schema.json
# header, second line
displayName: One   # shown in the UI
# the type comment
accountType: Personal
identifiers:
    # about the external id
    InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_1  # the main id
properties:
  InvestmentAccount/D/Long:
    key: InvestmentAccount/D/Long
    value:
      labelValue: text  # kept beside the short form
  # about the next property
  InvestmentAccount/D/Next: x
# footer
"""

COMMENTED_FORMATTED = """\
# yaml-language-server: $schema=../schema/investment-account.schema.json
# header, second line
identifiers:
  # about the external id
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_1    # the main id
displayName: One   # shown in the UI
# the type comment
accountType: Personal
properties:
  InvestmentAccount/D/Long: text # kept beside the short form
  # about the next property
  InvestmentAccount/D/Next: x
# footer
"""


def test_comments_are_kept_and_travel_with_their_entries() -> None:
    # Full-line comments follow the line below them; end-of-line comments keep their column.
    assert format_text(COMMENTED) == COMMENTED_FORMATTED


def test_a_list_with_comments_stays_in_block_style() -> None:
    # In a flow list a comment would end the line mid-list: `[b # why b` then `, a]`.
    text = MINIMAL_HEAD + (
        "properties:\n  InvestmentAccount/D/Set:\n    - b   # why b\n    # about a\n    - a\n"
        "  InvestmentAccount/D/Plain:\n    - c\n"
    )

    assert format_text(text) == MINIMAL_HEAD + (
        "properties:\n  InvestmentAccount/D/Set:\n    - b   # why b\n    # about a\n    - a\n"
        "  InvestmentAccount/D/Plain: [c]\n"
    )


def test_a_list_with_an_end_of_line_comment_stays_flow() -> None:
    # The comment after `[x, y]` is the list's own, not among its items; an empty list with one
    # in block style would be written `Key:  # e` then `[]`, which is not YAML.
    text = MINIMAL_HEAD + (
        "properties:\n  InvestmentAccount/D/S: [x, z]  # s\n  InvestmentAccount/D/E: []  # e\n"
    )

    assert format_text(text) == text
    assert format_text(format_text(text)) == text


def test_a_long_item_that_becomes_a_mapping_keeps_each_comment_once() -> None:
    # ruamel holds the comment after `Key:` (and the lines below a one-line item) both in the
    # entry and in its value: each was written twice, and the footer landed inside the item.
    text = MINIMAL_HEAD + (
        "properties:\n"
        "  InvestmentAccount/D/A:  # about A\n"
        "    key: InvestmentAccount/D/A\n"
        "    value: {metricValue: {value: 1, unit: GBP}}\n"
        "  InvestmentAccount/D/B: {key: InvestmentAccount/D/B, value: {metricValue: {value: 2, "
        "unit: GBP}}}  # about B\n"
        "# footer\n"
    )

    # An end-of-line comment keeps its column.
    column = text.index("# about B") - text.rindex("\n", 0, text.index("# about B")) - 1
    assert format_text(text) == MINIMAL_HEAD + (
        "properties:\n"
        "  InvestmentAccount/D/A:  # about A\n    value: 1\n    unit: GBP\n"
        + "  InvestmentAccount/D/B:".ljust(column)
        + "# about B\n    value: 2\n    unit: GBP\n# footer\n"
    )


def test_a_comment_above_a_long_item_made_short_is_kept() -> None:
    # ruamel keeps it in the item's slot, above the entry: rewriting the slot had dropped it.
    text = MINIMAL_HEAD + (
        "properties:\n"
        "  InvestmentAccount/D/A:\n    key: InvestmentAccount/D/A\n    value: {labelValue: a}\n"
        "  # about B\n\n"
        "  InvestmentAccount/D/B: {key: InvestmentAccount/D/B, value: {labelValue: b}}  # b\n"
    )

    assert format_text(text) == MINIMAL_HEAD + (
        "properties:\n  InvestmentAccount/D/A: a\n  # about B\n\n"
        + "  InvestmentAccount/D/B: b".ljust(text.split("\n")[-2].index("# b"))
        + "# b\n"
    )


def test_comments_after_a_reordered_mapping_stay_after_it() -> None:
    # ruamel gives the comments after a mapping to its last entry; reordering the entries must
    # not carry the file's footer into the middle of a portfolio.
    text = MINIMAL_HEAD + (
        "investmentPortfolios:\n"
        "  - portfolioCode: C   # the code\n    key: P\n    portfolioScope: S\n"
        "# footer\n"
    )

    assert format_text(text) == MINIMAL_HEAD + (
        "investmentPortfolios:\n"
        "  - key: P\n    portfolioScope: S\n    portfolioCode: C   # the code\n"
        "# footer\n"
    )


def test_comments_closing_a_holder_stay_after_its_identifiers() -> None:
    text = MINIMAL_HEAD + (
        "accountHolders:\n"
        "  - identifiers:\n      InvestorRecord/X/Y: v\n    key: H   # the holder\n"
        "    # closing the holder\n"
        "  - key: G\n    identifiers:\n      InvestorRecord/X/Y: w\n"
    )

    assert format_text(text) == MINIMAL_HEAD + (
        "accountHolders:\n"
        "  - key: H   # the holder\n    identifiers:\n      InvestorRecord/X/Y: v\n"
        "    # closing the holder\n"
        "  - key: G\n    identifiers:\n      InvestorRecord/X/Y: w\n"
    )


CASES = {
    "commented": COMMENTED,
    "pasted json": json.dumps(reference_request("firstExampleRequest")),
    "long yaml": MINIMAL_HEAD + "properties:\n  InvestmentAccount/D/M:\n    value:\n"
    "      metricValue: {value: 1.0, unit: GBP}\n",
    "reordered with comments": MINIMAL_HEAD
    + "properties:\n  InvestmentAccount/D/Set:\n    - b  # b\n    - a\n"
    + "investmentPortfolios:\n  - portfolioCode: C\n    key: P\n    portfolioScope: S\n"
    + "accountHolders: []\n# footer\n",
    "four spaces": MINIMAL_HEAD.replace("  ", "    ")
    + "accountHolders:\n- key: H\n  identifiers:\n"
    "      # about Y\n      InvestorRecord/X/Y: v\n",
}


@pytest.mark.parametrize("text", CASES.values(), ids=list(CASES))
def test_formatting_is_stable(text: str) -> None:
    once = format_text(text)
    assert format_text(once) == once


@pytest.mark.parametrize("text", CASES.values(), ids=list(CASES))
def test_formatting_keeps_the_meaning(project: Path, text: str) -> None:
    path = project / "accounts" / "a.yaml"
    path.write_text(text, encoding="utf-8")
    before = meaning(path, project)
    [result] = format_files([path], load_settings(project, env={}), check=False)
    assert result.problems == []
    assert result.changed
    assert meaning(path, project) == before
    assert path.read_text(encoding="utf-8") == format_text(text)


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(FmtError):
        format_text("- just\n- a list\n")


# --- files and the command ------------------------------------------------------------------------


def test_meaning_guard_refuses_a_bad_rewrite(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A formatter bug that changed a value must be caught by reading the new text back.
    path = project / "accounts" / "a.yaml"
    path.write_text(example("john-doe.yaml"), encoding="utf-8")
    broken = example("john-doe.yaml").replace("John Doe", "Jane Doe")
    monkeypatch.setattr(iasync.accounts.fmt, "format_text", lambda text: broken)
    [result] = format_files([path], load_settings(project, env={}), check=False)
    assert [p.message for p in result.problems] == [
        "formatting would change what this file means, so it was left as it is; "
        "please report this file"
    ]
    assert path.read_text(encoding="utf-8") == example("john-doe.yaml")
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.yaml"]


def test_an_unexpected_failure_is_the_file_s_problem_not_a_traceback(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project / "accounts" / "a.yaml"
    path.write_text(example("john-doe.yaml"), encoding="utf-8")

    def failing(text: str) -> str:
        raise ValueError("month must be in 1..12")

    monkeypatch.setattr(iasync.accounts.fmt, "format_text", failing)
    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert [str(p) for p in result.problems] == [
        "accounts/a.yaml:1:1: cannot be formatted (ValueError: month must be in 1..12); "
        "please report this file"
    ]
    assert path.read_text(encoding="utf-8") == example("john-doe.yaml")


def test_a_file_that_cannot_be_written_is_a_located_problem(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root (here and in CI) a read-only directory is still writable: the file system's
    # refusal is raised where fmt writes its temporary file.
    path = project / "accounts" / "a.yaml"
    path.write_text(MINIMAL_HEAD.replace("  ", "    "), encoding="utf-8")

    def read_only(path: Path, data: bytes) -> Path:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(iasync.accounts.fmt, "_write_temporary", read_only)
    [result] = format_files([path], load_settings(project, env={}), check=False)

    assert [str(p) for p in result.problems] == [
        "accounts/a.yaml:1:1: cannot be rewritten: Read-only file system"
    ]
    assert path.read_text(encoding="utf-8") == MINIMAL_HEAD.replace("  ", "    ")


def test_fmt_command_rewrites_and_names_the_files(project: Path) -> None:
    accounts = project / "accounts"
    (accounts / "john.yaml").write_text(example("john-doe.yaml"), encoding="utf-8")
    pasted = accounts / "sub" / "pasted.yaml"
    pasted.parent.mkdir()
    pasted.write_text(json.dumps(reference_request("secondExampleRequest")), encoding="utf-8")
    pasted.chmod(0o640)

    checked = run_fmt(project, "--check")
    assert (checked.returncode, checked.stdout) == (1, "accounts/sub/pasted.yaml\n")
    assert "1 file would be reformatted" in checked.stderr
    assert pasted.read_text(encoding="utf-8").startswith("{")

    written = run_fmt(project)
    assert (written.returncode, written.stdout) == (0, "accounts/sub/pasted.yaml\n")
    assert MODELINE + pasted.read_text(encoding="utf-8") == example("jane-doe.yaml")
    assert pasted.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in accounts.rglob("*")) == ["john.yaml", "pasted.yaml", "sub"]

    again = run_fmt(project, "-check")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_fmt_command_refuses_invalid_files_with_located_problems(project: Path) -> None:
    bad = project / "accounts" / "bad.yaml"
    text = MINIMAL_HEAD + "properties:\n    InvestmentAccount/D/C: NO\n"
    bad.write_text(text, encoding="utf-8")
    good = project / "accounts" / "good.yaml"
    good.write_text(MINIMAL_HEAD.replace("  ", "    "), encoding="utf-8")

    result = run_fmt(project, "accounts/bad.yaml", "accounts/good.yaml")
    assert result.returncode == 1
    assert result.stdout == "accounts/good.yaml\n"
    first, last = result.stderr.splitlines()
    assert first.startswith("accounts/bad.yaml:6:28: ")
    assert "'NO'" in first
    assert last == "1 file not formatted: see the problems above."
    assert bad.read_text(encoding="utf-8") == text
    assert good.read_text(encoding="utf-8") == MINIMAL_HEAD


def test_fmt_command_without_accounts_directory(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "nowhere"\n')
    result = run_fmt(tmp_path)
    assert result.returncode == 1
    assert "no accounts directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_write_atomically_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "new" / "file.json"
    write_atomically(target, b"first")
    target.chmod(0o600)
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_many_files_are_formatted_in_a_pool(project: Path) -> None:
    # Past PARALLEL_THRESHOLD the files go to worker processes; the results are the same.
    accounts = project / "accounts"
    count = iasync.accounts.fmt.PARALLEL_THRESHOLD + 5
    for index in range(count):
        text = MINIMAL_HEAD.replace("IA_1", f"IA_{index}")
        if index % 10 == 0:
            text = text.replace("  ", "    ")
        (accounts / f"a{index:03}.yaml").write_text(text, encoding="utf-8")
    results = format_files([], load_settings(project, env={}), check=False)
    assert [result.shown for result in results if result.changed] == [
        f"accounts/a{index:03}.yaml" for index in range(0, count, 10)
    ]
    assert all(not result.problems for result in results)
    assert (accounts / "a010.yaml").read_text(encoding="utf-8") == MINIMAL_HEAD.replace(
        "IA_1", "IA_10"
    )


def test_a_symlinked_file_is_rewritten_through_its_link(project: Path) -> None:
    real = project / "shared" / "one.yaml"
    real.parent.mkdir()
    real.write_text(MINIMAL_HEAD.replace("  ", "    "), encoding="utf-8")
    link = project / "accounts" / "one.yaml"
    link.symlink_to(real)
    [result] = format_files([], load_settings(project, env={}), check=False)
    assert (result.changed, result.problems) == (True, [])
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == MINIMAL_HEAD


def test_unreadable_yaml_is_an_fmt_error_not_a_traceback() -> None:
    with pytest.raises(FmtError, match=r"ruamel\.yaml cannot read it"):
        format_text("displayName: [unclosed\n")


# --- random accounts: meaning, validity and every comment kept -----------------------------------

TRICKY_LABELS = [
    "UK", "NO", "yes", "0012", "1:30", "a: b", "a #b", "", " x ", "null", "~", "é中文😀",
    "2020-01-01", "true", "1e3", "-", "[x]", "{y}", "@at", "%p", "'q'", '"dq"', "Off", "y",
    ">", "|", "*star", "&amp", "!bang", "0x1F", "+1", ".5", "1_000", "trail ", "multi\nline",
]  # fmt: skip
NUMBERS = ["1", "1.50", "-2", "0", "3.25", "1000000", "0.0001", "1.0e+3"]


class RandomAccount:
    """A valid account file in a random mix of forms, styles and comments (`# m<n>` markers)."""

    def __init__(self, rng: random.Random, number: int) -> None:
        self.rng, self.number, self.markers = rng, number, 0

    def comment(self, indent: str = "  ", full_line: bool = False) -> str:
        if self.rng.random() < 0.6:
            return ""
        self.markers += 1
        return f"{indent}# m{self.markers}\n" if full_line else f"  # m{self.markers}"

    def label(self) -> str:
        return json.dumps(self.rng.choice(TRICKY_LABELS), ensure_ascii=False)

    def identifier(self) -> str:
        # An identifier is its exact text: blank, padded or multi-line ones are refused.
        labels = [label for label in TRICKY_LABELS if label.strip() == label and "\n" not in label]
        return json.dumps(self.rng.choice([label for label in labels if label]), ensure_ascii=False)

    def value(self, kind: str) -> str:
        if kind == "set":
            return f"{{labelValueSet: {{values: [{', '.join(self.label() for _ in range(2))}]}}}}"
        if kind == "metric":
            return f"{{metricValue: {{value: {self.rng.choice(NUMBERS)}, unit: GBP}}}}"
        return f"{{labelValue: {self.label()}}}"

    def property(self, index: int) -> str:
        key = f"InvestmentAccount/D/K{index}"
        kind = self.rng.choice(["label", "metric", "set"])
        above = self.comment(full_line=True)
        if self.rng.random() < 0.2:  # long form, one line
            return f"{above}  {key}: {{key: {key}, value: {self.value(kind)}}}{self.comment()}\n"
        if self.rng.random() < 0.3:  # long form, block, maybe dated
            dated = "    effectiveFrom: 2016-01-01\n" if self.rng.random() < 0.5 else ""
            return (
                f"{above}  {key}:{self.comment()}\n    key: {key}\n{self.comment('    ', True)}"
                f"    value: {self.value(kind)}\n{dated}"
            )
        if kind == "set":
            items = "".join(f"    - {self.label()}{self.comment()}\n" for _ in range(2))
            return f"{above}  {key}:\n{items}"
        if kind == "metric":
            number = self.rng.choice(NUMBERS)
            return f"{above}  {key}: {{unit: GBP, value: {number}}}{self.comment()}\n"
        return f"{above}  {key}: {self.label()}{self.comment()}\n"

    def text(self) -> str:
        parts = {
            "identifiers": f"identifiers:{self.comment()}\n"
            f"  InvestmentAccount/E/I: IA_{self.number}{self.comment()}\n",
            "displayName": f'displayName: {self.label()[:-1]} name"{self.comment()}\n',
            "accountType": f"accountType: Personal{self.comment()}\n",
            "properties": "properties:\n"
            + "".join(self.property(index) for index in range(self.rng.randint(1, 5))),
            "accountHolders": "accountHolders:\n"
            + "".join(
                f"{self.comment('  ', True)}  - identifiers:\n      InvestorRecord/A/B: "
                f"{self.identifier()}{self.comment()}\n    key: H{holder}{self.comment()}\n"
                for holder in range(self.rng.randint(0, 2))
            ),
            "investmentPortfolios": "investmentPortfolios:\n"
            "  - portfolioCode: C" + self.comment() + "\n    key: P\n    portfolioScope: S\n",
        }
        if parts["accountHolders"] == "accountHolders:\n":
            parts["accountHolders"] = "accountHolders: []\n"
        keys = list(parts)
        self.rng.shuffle(keys)
        header = self.comment("", True)
        body = "".join(self.comment("", True) + parts[key] for key in keys)
        return header + body + self.comment("", True)


def markers(text: str) -> list[str]:
    return sorted(re.findall(r"# m[0-9]+\b", text))


def test_random_accounts_keep_meaning_validity_and_every_comment(project: Path) -> None:
    rng = random.Random(20261129)  # fixed: a failure is reproducible
    texts = {}
    for number in range(60):
        text = RandomAccount(rng, number).text()
        texts[project / "accounts" / f"a{number:02d}.yaml"] = text
        (project / "accounts" / f"a{number:02d}.yaml").write_text(text, encoding="utf-8")
    settings = load_settings(project, env={})
    before = load_accounts(list(texts), settings)
    assert before.ok, [str(problem) for problem in before.problems][:5]

    results = format_files(list(texts), settings, check=False)

    assert [problem for result in results for problem in result.problems] == []
    after = load_accounts(list(texts), settings)
    assert after.ok
    assert [a.body_json for a in after.accounts] == [a.body_json for a in before.accounts]
    for path, text in texts.items():
        formatted = path.read_text(encoding="utf-8")
        assert markers(formatted) == markers(text), path.name
        assert format_text(formatted) == formatted, path.name
