"""Problems in account files, as `iasync validate` shows them and as plan and apply report them
when the files are not valid: one `path:line:col: message` a problem, or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from iasync.errors import IasyncError, Problem
from iasync.views.documents import JSON_FORMAT_VERSION, render_json

if TYPE_CHECKING:
    from iasync.accounts.loader import LoadResult


def problems_json(problems: Sequence[Problem]) -> dict[str, Any]:
    """Invalid account files, for `iasync plan -json` (exit 1)."""
    return {
        "format_version": JSON_FORMAT_VERSION,
        "valid": False,
        "problems": [problem.as_json() for problem in problems],
    }


def report_problems(load: LoadResult, as_json: bool, then: str) -> int:
    """Invalid files: the located problems (as `iasync validate` prints them), exit 1.

    As JSON they are the output (exit 1); otherwise they go to stderr and an `IasyncError`
    ends the command, saying what to do `then`.
    """
    if as_json:
        click.echo(render_json(problems_json(load.problems)), nl=False)
        return 1
    for problem in load.problems:
        click.echo(str(problem), err=True)
    count = len(load.problems)
    raise IasyncError(
        f"{count} problem{'s' if count != 1 else ''} in the account files; "
        f"fix them (see `iasync validate`) and {then}"
    )


def validate_json(result: LoadResult) -> str:
    """`iasync validate --format json`: one object, the problems under `problems`."""
    document = {
        "format_version": JSON_FORMAT_VERSION,
        "valid": result.ok,
        "files": result.files,
        "problems": [problem.as_json() for problem in result.problems],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def show_validation(result: LoadResult, searched: Sequence[str]) -> None:
    """`iasync validate`'s text: each problem, then a summary (on stderr when any failed).

    `searched` are the paths searched as problems name them, for "no account files in ...".
    """
    for problem in result.problems:
        click.echo(str(problem))
    if result.ok:
        if result.files:
            click.echo(f"{_count(result.files, 'file')} valid.")
        else:
            click.echo(f"No account files (*.yaml, *.yml) in {', '.join(searched)}.")
        return
    failed = len({problem.path for problem in result.problems})
    click.echo(
        f"{_count(len(result.problems), 'problem')} in {_count(failed, 'file')} "
        f"(of {result.files} checked).",
        err=True,
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
