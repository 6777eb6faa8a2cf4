"""The committed JSON Schema: in step with the models, valid draft 2020-12, and agreeing with them.

tests/data/reference-example-request-body.json is the example request body of the API reference
page (reference/InvestmentAccountsApi.md, `request_body = ...`), copied verbatim.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from iasync.accounts.model import AccountFile, ScopedAccountFile
from iasync.accounts.schema import (
    COMMITTED_PATHS,
    REGENERATE_COMMAND,
    SCHEMA_DIALECT,
    committed_paths,
    generate_schema,
    json_compatible,
    load_schema,
    regenerate_command,
    schema_text,
    validator,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
ACCOUNT_FILES = sorted((ROOT / "accounts").glob("*.yaml"))


def reference_requests() -> dict[str, dict[str, Any]]:
    return json.loads((DATA / "reference-example-request-body.json").read_text())


def schema_errors(data: Any) -> list[str]:
    return [error.message for error in validator().iter_errors(json_compatible(data))]


def model_accepts(data: Any) -> bool:
    try:
        AccountFile.model_validate(data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("committed", COMMITTED_PATHS)
def test_committed_schema_matches_the_models(committed: str) -> None:
    on_disk = (ROOT / committed).read_text(encoding="utf-8")
    assert on_disk == schema_text(generate_schema()), (
        f"{committed} is out of date with iasync/accounts/model.py; regenerate it with:\n"
        f"  {REGENERATE_COMMAND}"
    )


def test_load_schema_reads_the_package_copy() -> None:
    assert load_schema() == json.loads((ROOT / COMMITTED_PATHS[1]).read_text(encoding="utf-8"))


def test_schema_is_a_proper_draft_2020_12_schema() -> None:
    schema = generate_schema()
    Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(load_schema())  # what validator() trusts unchecked
    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["$id"]
    assert schema["title"] == "LUSID Investment Account"
    assert schema["description"]
    assert list(schema)[:4] == ["$schema", "$id", "title", "description"]


def test_schema_command_writes_stdout_and_files(tmp_path: Path) -> None:
    expected = schema_text(generate_schema())
    shown = subprocess.run(
        [sys.executable, "-m", "iasync", "schema"], capture_output=True, text=True, check=True
    )
    assert shown.stdout == expected
    first, second = tmp_path / "a.json", tmp_path / "sub" / "b.json"
    written = subprocess.run(
        [sys.executable, "-m", "iasync", "schema", "--output", str(first), "-o", str(second)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert written.stdout == ""
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8") == expected
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "b.json", "sub"]


@pytest.mark.parametrize("path", ACCOUNT_FILES, ids=lambda p: p.name)
def test_example_accounts_validate(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(
        "# yaml-language-server: $schema=../schema/investment-account.schema.json\n"
    )
    assert schema_errors(yaml.safe_load(text)) == []


@pytest.mark.parametrize("name", ["firstExampleRequest", "secondExampleRequest"])
def test_reference_page_requests_validate(name: str) -> None:
    request = reference_requests()[name]
    assert schema_errors(request) == []
    assert model_accepts(request)


def test_schema_names_every_field_of_the_model() -> None:
    assert set(load_schema()["properties"]) == set(AccountFile.model_fields)
    assert set(load_schema()["required"]) == {"identifiers", "displayName", "accountType"}


def _john() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "accounts" / "john-doe.yaml").read_text(encoding="utf-8"))


def _with(change: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(_john())
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return data


# Each case is refused by the model, and the schema (what an editor shows) refuses it too.
REFUSED = {
    "unknown top-level key": {"colour": "blue"},
    "misspelt property key": {"properties.Details/Name": "x"},
    "property in the wrong domain": {"properties.InvestorRecord/Details/Name": "x"},
    "holder identifier in the wrong domain": {
        "accountHolders.0.identifiers.InvestmentAccount/X/Y": "x"
    },
    "boolean label (YAML's NO)": {"properties.InvestmentAccount/Details/Country": False},
    "number as identifier": {"identifiers.InvestmentAccount/ExternalIdentifier/ExternalIAId": 12},
    "empty display name": {"displayName": ""},
    "too long a display name": {"displayName": "x" * 513},
    "too long a label": {"properties.InvestmentAccount/Details/Name": "x" * 1025},
    "naive timestamp": {
        "properties.InvestmentAccount/Details/Country": {
            "value": "UK",
            "effectiveFrom": "2016-01-01T00:00:00",
        }
    },
    "long form with unknown value kind": {
        "properties.InvestmentAccount/Details/Country": {"value": {"textValue": "UK"}}
    },
    "portfolio without code": {"investmentPortfolios": [{"key": "P", "portfolioScope": "s"}]},
    "holder without identifiers": {"accountHolders": [{"key": "H", "identifiers": {}}]},
}


@pytest.mark.parametrize("change", REFUSED.values(), ids=list(REFUSED))
def test_schema_refuses_what_the_model_refuses(change: dict[str, Any]) -> None:
    data = _with(change)
    assert not model_accepts(data)
    assert schema_errors(data) != []


ACCEPTED = {
    "metric": {"properties.InvestmentAccount/Details/Balance": 1.5},
    "metric with unit": {
        "properties.InvestmentAccount/Details/Balance": {"value": 2, "unit": "GBP"}
    },
    "label set": {"properties.InvestmentAccount/Details/Tags": ["a", "b"]},
    "bare effective date": {
        "properties.InvestmentAccount/Details/Country": {
            "value": "UK",
            "effectiveFrom": "2016-01-01",
        }
    },
    "Z offset and until": {
        "properties.InvestmentAccount/Details/Country": {
            "value": "UK",
            "effectiveFrom": "2016-01-01T00:00:00Z",
            "effectiveUntil": "2017-01-01T00:00:00.0000000+00:00",
        }
    },
    "long form metric": {
        "properties.InvestmentAccount/Details/Balance": {
            "key": "InvestmentAccount/Details/Balance",
            "value": {"metricValue": {"value": 3, "unit": "USD"}},
        }
    },
    "portfolio": {
        "investmentPortfolios": [{"key": "P", "portfolioScope": "s", "portfolioCode": "c"}]
    },
}


@pytest.mark.parametrize("change", ACCEPTED.values(), ids=list(ACCEPTED))
def test_schema_accepts_what_the_model_accepts(change: dict[str, Any]) -> None:
    data = _with(change)
    assert model_accepts(data)
    assert schema_errors(data) == []


def test_editors_get_descriptions_and_completions() -> None:
    schema = load_schema()
    assert all("description" in field for field in schema["properties"].values())
    assert all("description" in definition for definition in schema["$defs"].values())
    assert "Personal" in schema["properties"]["accountType"]["examples"]
    # pydantic's generated noise is gone: no field titles like "Displayname", no `default: null`.
    text = json.dumps(schema)
    assert '"title": "Displayname"' not in text
    assert '"default": null' not in text


def test_check_jsonschema_agrees(tmp_path: Path) -> None:
    # The schema as another tool reads it: check-jsonschema, with its own YAML parser.
    schema_file = str(ROOT / COMMITTED_PATHS[0])
    command = [sys.executable, "-m", "check_jsonschema", "--schemafile", schema_file]
    good = subprocess.run([*command, *map(str, ACCOUNT_FILES)], capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        ACCOUNT_FILES[0].read_text(encoding="utf-8").replace("accountType:", "acountType:")
    )
    bad = subprocess.run([*command, str(broken)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "acountType" in bad.stdout


# --- today's (scoped) API: a schema of its own ------------------------------------------------


@pytest.mark.parametrize("committed", committed_paths("scoped"))
def test_the_committed_scoped_schema_matches_its_model(committed: str) -> None:
    on_disk = (ROOT / committed).read_text(encoding="utf-8")
    assert on_disk == schema_text(generate_schema("scoped")), (
        f"{committed} is out of date with iasync/accounts/model.py; regenerate it with:\n"
        f"  {regenerate_command('scoped')}"
    )


def test_the_scoped_schema_is_a_proper_schema_of_its_own() -> None:
    schema = load_schema("scoped")
    Draft202012Validator.check_schema(schema)
    assert schema == json.loads((ROOT / committed_paths("scoped")[1]).read_text())
    assert schema["$id"] != load_schema()["$id"]
    assert "scoped" in schema["title"]
    assert set(schema["properties"]) == set(ScopedAccountFile.model_fields)
    assert "--api scoped" in schema["$comment"]


def scoped_errors(data: Any) -> list[str]:
    return [e.message for e in validator("scoped").iter_errors(json_compatible(data))]


def test_the_scoped_schema_takes_scopes_and_todays_holders_and_portfolios() -> None:
    data = yaml.safe_load(ACCOUNT_FILES[0].read_text(encoding="utf-8"))
    data["scope"] = "Fund1"
    data["accountHolders"][0]["scope"] = "Investors"
    data["investmentPortfolios"] = [{"key": "P", "identifiers": {"Code": "Growth"}}]
    assert scoped_errors(data) == []
    assert "scope" in " ".join(schema_errors(data))  # the reference page's has no scope

    data["investmentPortfolios"] = [{"key": "P", "portfolioScope": "s", "portfolioCode": "c"}]
    assert scoped_errors(data) != []
    data["investmentPortfolios"] = []
    data["scope"] = "not a scope"
    assert scoped_errors(data) != []


def test_the_schema_command_writes_the_scoped_schema() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "iasync", "schema", "--api", "scoped"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == schema_text(generate_schema("scoped"))
