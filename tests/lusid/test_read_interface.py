"""The client's read and delete interface (list, get, delete, api) against the real emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iasync.accounts.model import canonical_json
from iasync.emulator.process import EmulatorProcess
from iasync.lusid import LusidApiError, LusidClient, load_lusid_config

EXAMPLE = Path(__file__).parent.parent / "data" / "reference-example-request-body.json"
EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
NAME = "InvestmentAccount/Details/Name"


@pytest.fixture
def client(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[LusidClient]:
    with LusidClient(load_lusid_config(emulator.env(), cwd=tmp_path)) as made:
        bodies = json.loads(EXAMPLE.read_text())
        requests = {f"a{i}": canonical_json(body) for i, body in enumerate(bodies.values())}
        made.upsert_investment_accounts(requests, "Partial")
        yield made


def test_reads_return_only_the_asked_property_keys(client: LusidClient) -> None:
    listed = list(client.list_investment_accounts(property_keys=[NAME], page_size=1))
    bare = client.get_investment_account(EXT, "IA_12345678", property_keys=[])
    found = client.get_investment_account(EXT, "IA_12345678", property_keys=[NAME])
    assert len(listed) == 2 and all(set(a["properties"]) <= {NAME} for a in listed)
    assert bare is not None and bare["properties"] == {}
    assert found is not None and set(found["properties"]) == {NAME}


def test_get_of_an_absent_account_is_none(client: LusidClient) -> None:
    assert client.get_investment_account(EXT, "IA_404", property_keys=[NAME]) is None


def test_the_unscoped_api_has_no_delete_and_says_which_setting(client: LusidClient) -> None:
    assert client.api == "unscoped"
    with pytest.raises(LusidApiError, match=r"has no delete.*api = \"scoped\""):
        client.delete_investment_account(EXT, "IA_12345678", scope="default")
