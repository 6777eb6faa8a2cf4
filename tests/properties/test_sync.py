"""plan -> apply -> plan always ends with no changes (issue 13 item 6), against the real emulator:
whatever the accounts and however they are spelled, what apply sends and records is what the
next plan finds. Few examples: each applies through HTTP."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from iasync.cli import cli
from iasync.emulator.process import EmulatorProcess
from tests.properties.accounts import Account, accounts, spellings


def distinct(batch: list[Account]) -> list[Account]:
    """The accounts with identifiers of their own: two files never name one account."""
    return [
        replace(
            account,
            identifiers={k: f"{v}-{n}" for k, v in account.identifiers.items()},
            holders=account.holders,
        )
        for n, account in enumerate(batch)
    ]


def invoke(env: dict[str, Any], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        result.output,
        result.exception,
    )
    return result


@settings(max_examples=4)
@given(st.data(), st.lists(accounts(), min_size=1, max_size=3))
def test_plan_apply_plan_ends_with_no_changes(
    emulator: EmulatorProcess, data: st.DataObject, batch: list[Account]
) -> None:
    emulator.reset()
    env = {"IASYNC_STATE": None, **emulator.env()}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "iasync.toml").write_text('accounts_dir = "accounts"\n')
        (root / "accounts").mkdir()
        for n, account in enumerate(distinct(batch)):
            text = data.draw(spellings(account))
            (root / "accounts" / f"a{n}.yaml").write_text(text, encoding="utf-8")
        cwd = os.getcwd()
        os.chdir(root)
        try:
            first = json.loads(invoke(env, "plan", "-json").output)
            assert first["counts"]["create"] == len(batch)
            applied = invoke(env, "apply", "--auto-approve", "-json")
            assert applied.exit_code == 0, applied.output
            again = json.loads(invoke(env, "plan", "-json").output)
        finally:
            os.chdir(cwd)
    assert again["counts"] == {"create": 0, "update": 0, "unchanged": len(batch), "orphaned": 0}
    assert again["changes"] == []
    assert len(emulator.accounts()) == len(batch)
