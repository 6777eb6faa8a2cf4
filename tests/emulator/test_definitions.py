"""--definitions: what exists in this LUSID; anything else fails the item as LUSID would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from iasync.emulator.definitions import DefinitionsError, load_definitions
from iasync.emulator.process import EmulatorProcess

UPSERT = "/api/investmentaccounts/$batchUpsert"
Account = Callable[..., dict[str, Any]]

DEFINITIONS_YAML = """\
propertyKeys:
  - InvestmentAccount/Details/Name
identifierTypes:
  - InvestmentAccount/Ext/Id
  - InvestmentAccount/Int/Id
  - InvestorRecord/Ext/Id
investorRecords:
  - InvestorRecord/Ext/Id: IR_1
  - InvestorRecord/Ext/Id: IR_2
portfolios:
  - {scope: S, code: C1}
  - {scope: S, code: C2}
"""


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("defs") / "definitions.yaml"
    path.write_text(DEFINITIONS_YAML)
    with EmulatorProcess("tok", "--definitions", str(path)) as emu:
        yield emu


def upsert(emu: EmulatorProcess, body: dict[str, Any], mode: str = "Partial") -> httpx.Response:
    emu.reset()
    return httpx.post(
        f"{emu.url}{UPSERT}",
        params={"successMode": mode},
        json=body,
        headers={"Authorization": "Bearer tok"},
    )


def test_defined_things_pass(strict: EmulatorProcess, account: Account) -> None:
    response = upsert(strict, {"a": account(1), "b": account(2)})

    assert response.json()["failed"] == {}
    assert sorted(response.json()["values"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("section", "key", "detail"),
    [
        ("properties", "InvestmentAccount/Details/Shoe", "property definition"),
        ("identifiers", "InvestmentAccount/Other/Id", "identifier type"),
    ],
)
def test_undefined_key_is_property_not_defined(
    strict: EmulatorProcess, account: Account, section: str, key: str, detail: str
) -> None:
    item = account(1)
    item[section][key] = {"key": key, "value": {"labelValue": "42"}}

    payload = upsert(strict, {"a": item, "b": account(2)}).json()

    failure = payload["failed"]["a"]
    assert failure["type"] == "PropertyNotDefined"
    assert f"{detail} '{key}'" in failure["detail"]
    assert failure["errorDetails"] == [{"propertyKey": key}]
    assert list(payload["values"]) == ["b"]


def test_unknown_portfolio_is_portfolio_not_found(
    strict: EmulatorProcess, account: Account
) -> None:
    item = account(
        1, investmentPortfolios=[{"key": "P", "portfolioScope": "S", "portfolioCode": "C9"}]
    )

    failure = upsert(strict, {"a": item}).json()["failed"]["a"]

    assert failure["type"] == "PortfolioNotFound"
    assert failure["errorDetails"] == [{"scope": "S", "code": "C9"}]


def test_unknown_investor_record_fails_the_item(strict: EmulatorProcess, account: Account) -> None:
    failure = upsert(strict, {"a": account(3)}).json()["failed"]["a"]  # IR_3 does not exist

    assert failure["type"] == "InvestorRecordNotFound"


def test_atomic_with_an_undefined_key_is_a_400(strict: EmulatorProcess, account: Account) -> None:
    item = account(
        2, investmentPortfolios=[{"key": "P", "portfolioScope": "X", "portfolioCode": "Y"}]
    )

    response = upsert(strict, {"a": account(1), "b": item}, "Atomic")

    assert response.status_code == 400
    assert response.json()["errorDetails"][0]["type"] == "PortfolioNotFound"
    assert strict.accounts() == []


def test_json_definitions_with_only_some_sections(tmp_path: Path, account: Account) -> None:
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps({"portfolios": [{"scope": "S", "code": "C1"}]}))

    with EmulatorProcess("tok", "--definitions", str(path)) as emu:
        payload = upsert(emu, {"a": account(1), "b": account(2)}).json()

    # Properties, identifiers and holders are not checked: only portfolios are listed.
    assert list(payload["values"]) == ["a"]
    assert payload["failed"]["b"]["type"] == "PortfolioNotFound"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("d.yaml", "propertyKeys: [a\n", "not valid YAML"),
        ("d.json", "{", "not valid JSON"),
        ("d.yaml", "- a list\n", "expected a mapping"),
        ("d.yaml", "colours: []\n", "unknown section(s) colours"),
        ("d.yaml", "propertyKeys: InvestmentAccount/A/B\n", "'propertyKeys' must be a list"),
        ("d.yaml", "propertyKeys: [1]\n", "propertyKeys[0]"),
        ("d.yaml", "portfolios: [{scope: S}]\n", "portfolios[0]"),
        ("d.yaml", "investorRecords: [[a]]\n", "investorRecords[0]"),
    ],
)
def test_bad_definitions_are_refused_naming_the_file(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(DefinitionsError) as raised:
        load_definitions(path)

    assert str(path) in str(raised.value) and message in str(raised.value)


def test_bad_definitions_stop_the_command_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "definitions.yaml"
    path.write_text("colours: []\n")

    result = subprocess.run(
        [sys.executable, "-m", "iasync", "emulator", "--definitions", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert result.returncode == 1
    assert f"Error: {path}: unknown section(s) colours" in result.stderr
    assert "Traceback" not in result.stderr
