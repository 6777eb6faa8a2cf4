"""Issue 8, finding 11: `iasync import --from-request FILE [--into DIR]` splits a `$batchUpsert`
request body into one fmt-clean, valid account file per account, named from an identifier,
never overwriting a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iasync.accounts.fmt import format_text
from iasync.accounts.loader import load_accounts
from iasync.accounts.model import AccountFile, canonical_body
from iasync.settings import load_settings

DATA = Path(__file__).resolve().parents[1] / "data"
REQUEST = DATA / "reference-example-request-body.json"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    (tmp_path / "accounts").mkdir()
    return tmp_path


def iasync(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "iasync", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr
    return done


def test_a_request_body_becomes_one_valid_fmt_clean_file_per_account(project: Path) -> None:
    done = iasync(project, "import", "--from-request", str(REQUEST))

    assert done.returncode == 0, done.stderr
    written = sorted((project / "accounts").iterdir())
    assert [path.name for path in written] == ["IA_12345678.yaml", "IR_22345678.yaml"]
    assert done.stdout.splitlines() == [
        "accounts/IA_12345678.yaml  (firstExampleRequest)",
        "accounts/IR_22345678.yaml  (secondExampleRequest)",
        "Wrote 2 account files to accounts; run `iasync validate` and `iasync plan` next.",
    ]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert format_text(text) == text
    loaded = load_accounts([], load_settings(project, env={}))
    assert loaded.ok, loaded.problems
    request = json.loads(REQUEST.read_text())
    expected = [canonical_body(AccountFile.model_validate(item)) for item in request.values()]
    assert [account.body for account in loaded.accounts] == expected


def test_into_names_the_directory(project: Path) -> None:
    done = iasync(project, "import", "--from-request", str(REQUEST), "--into", "accounts/uk")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (project / "accounts" / "uk").iterdir()) == [
        "IA_12345678.yaml",
        "IR_22345678.yaml",
    ]


def test_an_existing_file_is_never_overwritten_and_nothing_is_written(project: Path) -> None:
    existing = project / "accounts" / "IR_22345678.yaml"
    existing.write_text("mine\n")
    done = iasync(project, "import", "--from-request", str(REQUEST))
    assert done.returncode == 1
    assert "accounts/IR_22345678.yaml already exists" in done.stderr
    assert existing.read_text() == "mine\n"
    assert not (project / "accounts" / "IA_12345678.yaml").exists()


def test_two_accounts_of_one_name_get_distinct_files(project: Path) -> None:
    request = json.loads(REQUEST.read_text())
    item = request["firstExampleRequest"]
    twin = json.loads(json.dumps(item))
    twin["identifiers"].pop("InvestmentAccount/InternalIdentifier/InternalIAId")
    twin["identifiers"]["InvestmentAccount/ExternalIdentifier/ExternalIAId"]["key"] = (
        "InvestmentAccount/ExternalIdentifier/ExternalIAId"
    )
    body = project / "body.json"
    body.write_text(json.dumps({"a": item, "b/../c": twin}))
    done = iasync(project, "import", "--from-request", "body.json")
    # Both claim IA_12345678: written, then reported as a clash for the user to resolve.
    assert sorted(p.name for p in (project / "accounts").iterdir()) == [
        "IA_12345678-2.yaml",
        "IA_12345678.yaml",
    ]
    assert done.returncode == 1
    assert "is also claimed by" in done.stderr


def test_a_file_that_is_not_a_request_body_is_refused_plainly(project: Path) -> None:
    one = project / "one.json"
    one.write_text(json.dumps(json.loads(REQUEST.read_text())["firstExampleRequest"]))
    done = iasync(project, "import", "--from-request", "one.json")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: one.json is not a $batchUpsert request body")
    assert list((project / "accounts").iterdir()) == []


def test_without_a_mode_or_lusid_configured_it_names_from_request(project: Path) -> None:
    done = iasync(project, "import")
    assert done.returncode == 1
    assert "Importing from LUSID needs its URL and credentials" in done.stderr
    assert "--from-request FILE" in done.stderr
