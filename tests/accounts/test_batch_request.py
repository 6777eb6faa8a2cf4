"""Issue 8, finding 11: a whole `$batchUpsert` request body pasted as one account file (a mapping
of correlation ids to accounts) is recognised, with one clear message saying what to do."""

from __future__ import annotations

import json
from pathlib import Path

from iasync.accounts.loader import load_accounts
from iasync.settings import load_settings

DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_pasted_request_body_is_one_problem_saying_how_to_split_it(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    (tmp_path / "accounts").mkdir()
    body = (DATA / "reference-example-request-body.json").read_text()
    (tmp_path / "accounts" / "pasted.yaml").write_text(body)

    result = load_accounts([], load_settings(tmp_path, env={}))

    assert [str(problem) for problem in result.problems] == [
        "accounts/pasted.yaml:1:1: this is a whole $batchUpsert request body (2 accounts, "
        "under the correlation ids firstExampleRequest and secondExampleRequest), not one "
        "account; split it into one file per account with "
        "`iasync import --from-request accounts/pasted.yaml`"
    ]


def test_one_account_under_one_correlation_id_is_recognised_too(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    (tmp_path / "accounts").mkdir()
    request = json.loads((DATA / "reference-example-request-body.json").read_text())
    one = {"accounts/john.yaml": request["firstExampleRequest"]}
    (tmp_path / "accounts" / "one.yaml").write_text(json.dumps(one))

    [problem] = load_accounts([], load_settings(tmp_path, env={})).problems

    assert "a whole $batchUpsert request body (1 account, under the correlation id " in str(problem)
