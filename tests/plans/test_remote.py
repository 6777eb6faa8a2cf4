"""`canonical_from_lusid`: LUSID's account, as the real emulator answers it, back to the body a
file makes; server-side fields never count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iasync.accounts.model import canonical_json
from iasync.emulator.process import EmulatorProcess
from iasync.lusid import LusidClient, load_lusid_config
from iasync.plans.remote import canonical_from_lusid, managed_property_keys
from tests.planning import body

EXAMPLE = Path(__file__).parent.parent / "data" / "reference-example-request-body.json"


def _round_trip(emulator: EmulatorProcess, tmp_path: Path, bodies: list[dict[str, Any]]) -> list:
    with LusidClient(load_lusid_config(emulator.env(), cwd=tmp_path)) as client:
        requests = {str(i): canonical_json(b) for i, b in enumerate(bodies)}
        assert not client.upsert_investment_accounts(requests, "Atomic").failed
        keys = managed_property_keys(bodies)
        return list(client.list_investment_accounts(property_keys=keys))


def test_the_reference_example_comes_back_as_its_own_body(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    from iasync.accounts.model import AccountFile, canonical_body

    bodies = [
        canonical_body(AccountFile.model_validate(b))
        for b in json.loads(EXAMPLE.read_text()).values()
    ]
    listed = _round_trip(emulator, tmp_path, bodies)

    assert sorted(canonical_from_lusid(a, "unscoped")["displayName"] for a in listed) == sorted(
        b["displayName"] for b in bodies
    )
    by_name = {a["displayName"]: canonical_from_lusid(a, "unscoped") for a in listed}
    for expected in bodies:
        assert by_name[expected["displayName"]] == expected


def test_portfolios_metrics_sets_and_dates_are_spelled_as_the_model_spells_them(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    made = body(
        "IA_1",
        description="d",
        properties={
            "InvestmentAccount/Details/Limit": {"value": 100.0, "unit": "GBP"},
            "InvestmentAccount/Details/Tags": ["b", "a"],
            "InvestmentAccount/Details/Since": {
                "value": "x",
                "effectiveFrom": "2016-01-01T00:00:00+00:00",
            },
        },
        investmentPortfolios=[
            {"key": "P2", "portfolioScope": "S", "portfolioCode": "C2"},
            {"key": "P1", "portfolioScope": "S", "portfolioCode": "C1"},
        ],
    )
    (listed,) = _round_trip(emulator, tmp_path, [made])

    assert listed["investmentPortfolios"][0]["code"]  # LUSID's response spelling
    assert canonical_from_lusid(listed, "unscoped") == made


def test_server_side_fields_are_dropped_and_open_dates_are_no_dates() -> None:
    lusid = {
        "lusidInvestmentAccountId": "LUID_1",
        "href": "http://x",
        "links": [{"relation": "Self", "href": "http://x", "method": "GET"}],
        "version": {"asAtVersionNumber": 4, "entityUniqueId": "LUID_1"},
        "relationships": [],
        "identifiers": {
            "InvestmentAccount/A/B": {
                "key": "InvestmentAccount/A/B",
                "value": {"labelValue": "v"},
                "effectiveFrom": "0001-01-01T00:00:00.0000000+00:00",
                "effectiveUntil": "9999-12-31T23:59:59.9999999+00:00",
            }
        },
        "displayName": "n",
        "accountType": "Personal",
        "accountHolders": [
            {"key": "H", "identifiers": {}, "entityUniqueId": "LUID_2", "investorRecord": {}}
        ],
    }
    assert canonical_from_lusid(lusid, "unscoped") == {
        "identifiers": {
            "InvestmentAccount/A/B": {"key": "InvestmentAccount/A/B", "value": {"labelValue": "v"}}
        },
        "displayName": "n",
        "accountType": "Personal",
        "properties": {},
        "accountHolders": [{"key": "H", "identifiers": {}}],
        "investmentPortfolios": [],
    }
