"""Conformance with the scoped API's official SDK (lusid-sdk 2.3.313, the newest release when
pinned) as an independent client: sdk_scoped/driver.py runs in .venv-sdk-scoped (made by
scripts/sdk-env; it cannot share iasync's virtualenv, which holds lusid-sdk 2.1.859) against a
real emulator serving `--api scoped` on loopback, and prints what the SDK's own models made of
each answer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.emulator import validation
from iasync.emulator.process import EmulatorProcess

ROOT = Path(__file__).parents[2]
SDK_DIR = Path(__file__).parent / "sdk_scoped"
DRIVER = SDK_DIR / "driver.py"
_PIN = re.search(r"^lusid-sdk==(\S+)$", (SDK_DIR / "requirements.txt").read_text(), re.M)
assert _PIN is not None
PINNED = _PIN.group(1)
SCOPED_SDK_PYTHON = ROOT / ".venv-sdk-scoped" / "bin" / "python"
# The newer SDK's documented upsert example, verbatim (its docs page, lusid-sdk 2.1.949; the
# models it is written for are unchanged through 2.3.313).
PAGE_EXAMPLE = SDK_DIR / "page-example-request-body.json"
IA_KEY = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
NAME, COUNTRY = "InvestmentAccount/Details/Name", "InvestmentAccount/Details/Country"
FIRST = {
    "identifierType": "ExternalIAId",
    "identifierValue": "IA_12345678",
    "scope": "InvestmentAccount1Scope",
    "identifierScope": "ExternalIdentifier",
}
SECOND = {**FIRST, "identifierValue": "IR_22345678", "scope": "InvestmentAccount2Scope"}


def check_scoped_sdk(python: Path) -> Path:
    """`python` when it has the pinned SDK; else the test fails saying how to make it (the
    conformance must not be skipped silently)."""
    how = (
        f"run scripts/sdk-env: it creates .venv-sdk-scoped with lusid-sdk=={PINNED} "
        "(scripts/test runs it)"
    )
    if not python.exists():
        pytest.fail(f"the scoped SDK's virtualenv is missing ({python}); {how}.", pytrace=False)
    found = subprocess.run(
        [str(python), "-c", 'import importlib.metadata as m; print(m.version("lusid-sdk"))'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if found.stdout.strip() != PINNED:
        pytest.fail(
            f"{python} has lusid-sdk {found.stdout.strip() or 'not installed'}, not the pinned "
            f"{PINNED}; {how}.",
            pytrace=False,
        )
    return python


class ScopedSdk:
    """driver.py running in .venv-sdk-scoped, for the whole session: importing that SDK costs
    ~25 s of CPU, paid once."""

    def __init__(self, python: Path, cwd: Path) -> None:
        self.stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        # cwd: a directory with no secrets.json for the SDK to read.
        self.process = subprocess.Popen(
            [str(python), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=cwd,
            env={k: v for k, v in os.environ.items() if not k.startswith("FBN_")},
        )
        ready = self._answer()
        assert ready["sdkVersion"] == PINNED, ready

    def _answer(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.stderr.seek(0)
            pytest.fail(f"the scoped SDK's driver stopped: {self.stderr.read()}", pytrace=False)
        return json.loads(line)

    def drive(self, emu: EmulatorProcess, *steps: dict[str, Any]) -> list[Any]:
        """Each step's result, the SDK configured from the emulator's FBN_* settings."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"env": emu.env(), "steps": steps}) + "\n")
        self.process.stdin.flush()
        results: list[Any] = self._answer()["results"]
        return results

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


@pytest.fixture(scope="session")
def scoped_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScopedSdk]:
    sdk = ScopedSdk(check_scoped_sdk(SCOPED_SDK_PYTHON), tmp_path_factory.mktemp("sdk-scoped"))
    yield sdk
    sdk.close()


@pytest.fixture
def drive(scoped_sdk: ScopedSdk) -> Callable[..., list[Any]]:
    return scoped_sdk.drive


def page_example() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(PAGE_EXAMPLE.read_text())
    return body


def completed_example() -> dict[str, Any]:
    """The page's example with its holders completed as its own model requires."""
    body = page_example()
    for item in body.values():
        item["accountHolders"] = [
            {
                "key": "AccountHolder1",
                "scope": "InvestorRecords",
                "identifiers": {"InvestorRecord/ExternalIdentifier/ExternalIRId": "IR_12345678"},
            }
        ]
    return body


def upsert(mode: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"op": "upsert", "mode": mode, "body": body}


def test_check_scoped_sdk_fails_saying_how_to_make_the_virtualenv(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        check_scoped_sdk(tmp_path / "no-venv" / "bin" / "python")

    assert "the scoped SDK's virtualenv is missing" in str(failed.value)
    assert f"run scripts/sdk-env: it creates .venv-sdk-scoped with lusid-sdk=={PINNED}" in str(
        failed.value
    )


def test_the_sdk_refuses_its_own_page_example_before_sending_it(
    scoped_emulator: EmulatorProcess, drive: Any
) -> None:
    (result,) = drive(scoped_emulator, upsert("Partial", page_example()))

    refusal = result["refusedBySdk"]
    assert "firstExampleRequest -> accountHolders -> 0 -> scope" in refusal
    assert "firstExampleRequest -> accountHolders -> 0 -> identifiers" in refusal
    assert scoped_emulator.requests() == []


@pytest.mark.parametrize("mode", ["Partial", "Atomic"])
def test_sdk_upserts_the_completed_page_example(
    scoped_emulator: EmulatorProcess, drive: Any, mode: str
) -> None:
    created, again = drive(
        scoped_emulator, upsert(mode, completed_example()), upsert(mode, completed_example())
    )

    assert set(created["values"]) == {"firstExampleRequest", "secondExampleRequest"}
    assert not created.get("failed")
    first = created["values"]["firstExampleRequest"]
    assert re.fullmatch(r"LUID_[A-Z0-9]{8}", first["lusidInvestmentAccountId"])
    assert first["scope"] == "InvestmentAccount1Scope"
    assert first["displayName"] == "InvestmentAccount1DisplayName"
    assert first["version"]["asAtVersionNumber"] == 1
    (holder,) = first["accountHolders"]
    assert (holder["key"], holder["scope"]) == ("AccountHolder1", "InvestorRecords")
    assert holder["identifiers"] == {
        "InvestorRecord/ExternalIdentifier/ExternalIRId": "IR_12345678"
    }
    assert first["properties"][COUNTRY]["value"] == {"labelValue": "United Kingdom"}
    # The same request again is a no-op: the same account, still version 1.
    for corr, account in again["values"].items():
        assert (
            account["lusidInvestmentAccountId"]
            == (created["values"][corr]["lusidInvestmentAccountId"])
        )
        assert account["version"]["asAtVersionNumber"] == 1
    sent = scoped_emulator.requests()[0]
    assert sent["contentType"] == "application/json-patch+json"
    assert sent["query"] == {"successMode": mode}
    assert sent["body"]["firstExampleRequest"]["scope"] == "InvestmentAccount1Scope"


def test_sdk_gets_by_identifier_and_lists_only_the_property_keys_asked_for(
    scoped_emulator: EmulatorProcess, drive: Any
) -> None:
    _, named, bare, listed, filtered, elsewhere = drive(
        scoped_emulator,
        upsert("Atomic", completed_example()),
        {"op": "get", **FIRST, "propertyKeys": [NAME]},
        {"op": "get", **FIRST},
        {"op": "list", "limit": 1, "propertyKeys": [COUNTRY]},
        {"op": "list", "filter": "displayName eq 'InvestmentAccount2DisplayName'"},
        {"op": "get", **FIRST, "scope": "InvestmentAccount2Scope"},
    )

    assert named["displayName"] == "InvestmentAccount1DisplayName"
    assert list(named["properties"]) == [NAME]
    assert not bare.get("properties")
    assert [len(page["values"]) for page in listed["pages"]] == [1, 1]  # limit 1: two pages
    for page in listed["pages"]:
        assert all(list(v["properties"]) == [COUNTRY] for v in page["values"])
    ((only,),) = [page["values"] for page in filtered["pages"]]
    assert only["scope"] == "InvestmentAccount2Scope" and not only.get("properties")
    assert elsewhere["status"] == 404  # identity is (scope, identifier)
    gets = [r for r in scoped_emulator.requests() if r["method"] == "GET"]
    assert gets[0]["path"] == "/api/api/investmentaccounts/ExternalIAId/IA_12345678"
    assert gets[0]["query"] == {
        "scope": "InvestmentAccount1Scope",
        "identifierScope": "ExternalIdentifier",
        "propertyKeys": NAME,
    }


def test_sdk_deletes_then_get_is_404(scoped_emulator: EmulatorProcess, drive: Any) -> None:
    created, deleted, gone, again = drive(
        scoped_emulator,
        upsert("Partial", completed_example()),
        {"op": "delete", **FIRST},
        {"op": "get", **FIRST},
        {"op": "delete", **FIRST},
    )

    account_id = created["values"]["firstExampleRequest"]["lusidInvestmentAccountId"]
    assert deleted["entityUniqueId"] == account_id
    assert deleted["entityType"] == "InvestmentAccount" and deleted["asAt"]
    assert gone["status"] == 404 and gone["body"]["name"] == "InvestmentAccountNotFound"
    assert again["status"] == 404
    assert [a["displayName"] for a in scoped_emulator.accounts()] == [
        "InvestmentAccount2DisplayName"
    ]


def test_the_emulator_knows_exactly_the_fields_of_the_scoped_sdks_models(
    scoped_emulator: EmulatorProcess, drive: Any
) -> None:
    body = completed_example()
    body["firstExampleRequest"]["investmentPortfolios"] = [
        {"key": "P1", "scope": "Investments", "identifiers": {"Code": "Growth"}}
    ]
    models, _, deleted = drive(
        scoped_emulator,
        {"op": "fields"},
        upsert("Partial", body),
        {"op": "delete", **SECOND},
    )
    fields = {name: set(aliases) for name, aliases in models.items()}

    # Requests: what the SDK can send is accepted, and nothing else.
    for model, known in validation.REQUEST_MODEL_FIELDS["scoped"].items():
        assert known == fields[model], model
    # Answers, as served, before the SDK's models could drop anything: all but what the emulator
    # cannot know (investorRecord, portfolio, reasons, staging, delete metadata).
    (account,) = [a for a in scoped_emulator.accounts() if a["investmentPortfolios"]]
    assert set(account) == fields["InvestmentAccount"]
    assert set(account["accountHolders"][0]) == fields["AccountHolder"] - {"investorRecord"}
    assert set(account["investmentPortfolios"][0]) == fields["InvestmentPortfolio"] - {"portfolio"}
    assert set(account["version"]) == fields["Version"] - {
        "reasonCreated",
        "reasonModified",
        "stagedModificationIdModified",
    }
    assert set(deleted) <= fields["DeletedEntityResponse"]


def test_the_scoped_sdk_against_the_unscoped_api_is_told_so(
    emulator: EmulatorProcess, drive: Any
) -> None:
    # `emulator` serves the unscoped API: today's SDK gets LUSID-shaped refusals, not answers.
    refused, missing = drive(
        emulator, upsert("Partial", completed_example()), {"op": "get", **FIRST}
    )

    assert refused["status"] == 400
    assert refused["body"]["errors"]["firstExampleRequest.scope"] == ["Unknown field 'scope'."]
    assert missing["status"] == 404 and missing["body"]["name"] == "NotFound"
    assert emulator.accounts() == []


@pytest.mark.parametrize("mode", ["Partial", "Atomic"])
def test_every_body_iasync_makes_under_scoped_passes_the_sdks_own_models(
    scoped_emulator: EmulatorProcess, drive: Any, mode: str, tmp_path: Path
) -> None:
    # The example accounts (the page's two, in the short form) and one with every scoped part,
    # loaded as `iasync plan` loads them under api = "scoped".
    from iasync.accounts.loader import load_accounts
    from iasync.settings import Settings

    accounts = tmp_path / "accounts"
    accounts.mkdir()
    for example in (ROOT / "accounts").glob("*.yaml"):
        (accounts / example.name).write_bytes(example.read_bytes())
    (accounts / "every-part.yaml").write_text(
        "scope: Funds-2\n"
        f"identifiers:\n  {IA_KEY}: IA_EVERY\n"
        "displayName: Every part\naccountType: Nominee\n"
        f"properties:\n  {NAME}: Ann\n"
        "  InvestmentAccount/Details/Balance: {value: 10, unit: GBP}\n"
        "accountHolders:\n"
        "  - {key: H1, scope: Investors, identifiers: {InvestorRecord/A/B: IR_1}}\n"
        "  - {key: H2, identifiers: {InvestorRecord/A/B: IR_2}}\n"
        "investmentPortfolios:\n"
        "  - {key: P1, scope: Portfolios, identifiers: {Code: Growth}}\n",
        encoding="utf-8",
    )
    settings = Settings(root=tmp_path, api="scoped", scope="Funds-1")
    load = load_accounts([], settings)
    assert load.ok, load.problems
    body = {account.path: account.body for account in load.accounts}

    (result,) = drive(scoped_emulator, upsert(mode, body))

    assert "refusedBySdk" not in result, result
    assert not result.get("failed"), result["failed"]
    assert sorted(result["values"]) == sorted(body)
    every = result["values"]["accounts/every-part.yaml"]
    assert every["scope"] == "Funds-2"
    assert [(h["key"], h["scope"]) for h in every["accountHolders"]] == [
        ("H1", "Investors"),
        ("H2", "Funds-2"),
    ]
    assert result["values"]["accounts/john-doe.yaml"]["scope"] == "Funds-1"
    # The SDK's models kept every field iasync made (it respells only the datetimes).
    (sent,) = scoped_emulator.requests()
    for path, made in body.items():
        assert set(sent["body"][path]) == set(made)
        assert sent["body"][path]["accountHolders"] == made["accountHolders"]
        assert sent["body"][path]["investmentPortfolios"] == made["investmentPortfolios"]
