"""Problems in account files as validate prints them, text and JSON."""

from __future__ import annotations

import json

import pytest

from iasync.accounts.loader import LoadResult
from iasync.errors import IasyncError, Problem
from iasync.views.problems import report_problems, show_validation, validate_json

PROBLEM = Problem("accounts/a.yaml", 3, 1, "unknown key 'name'")


def test_validate_json_is_one_versioned_object() -> None:
    result = LoadResult(problems=[PROBLEM], files=2)

    assert json.loads(validate_json(result)) == {
        "format_version": 1,
        "valid": False,
        "files": 2,
        "problems": [
            {"path": "accounts/a.yaml", "line": 3, "column": 1, "message": "unknown key 'name'"}
        ],
    }
    assert json.loads(validate_json(LoadResult(files=2)))["valid"] is True


def test_text_lists_each_problem_then_counts_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    show_validation(LoadResult(problems=[PROBLEM], files=2), ["accounts"])

    out, err = capsys.readouterr()
    assert out == "accounts/a.yaml:3:1: unknown key 'name'\n"
    assert err == "1 problem in 1 file (of 2 checked).\n"


def test_no_files_names_where_it_looked(capsys: pytest.CaptureFixture[str]) -> None:
    show_validation(LoadResult(), ["accounts", "more"])

    assert capsys.readouterr().out == "No account files (*.yaml, *.yml) in accounts, more.\n"


def test_a_plan_of_invalid_files_reports_them_and_says_what_next(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(IasyncError, match="1 problem in the account files; fix them"):
        report_problems(LoadResult(problems=[PROBLEM]), as_json=False, then="apply again")
    assert capsys.readouterr().err == "accounts/a.yaml:3:1: unknown key 'name'\n"

    assert report_problems(LoadResult(problems=[PROBLEM]), as_json=True, then="") == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["format_version"], doc["valid"], len(doc["problems"])) == (1, False, 1)
