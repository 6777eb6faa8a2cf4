"""The state as `iasync state list` and `state show` print it."""

from __future__ import annotations

import json

from iasync.states import AccountRecord, State
from iasync.views.state import record_json, state_list_json, state_list_lines

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def record(lusid_id: str, version: int | None, source: str) -> AccountRecord:
    return AccountRecord(
        lusid_id=lusid_id,
        version=version,
        identifiers={EXT: f"IA_{lusid_id}"},
        body={"displayName": "x"},
        body_hash="sha256:" + "a" * 64,
        source=source,
        source_hash="",
        applied_at="2026-11-29T07:30:00+00:00",
        commit=None,
    )


def test_list_lines_up_the_columns() -> None:
    records = [record("LUID_1", None, "accounts/a.yaml"), record("LUID_22", 3, "accounts/bb.yaml")]

    assert state_list_lines(records) == [
        f"LUID_1   -   accounts/a.yaml   {EXT}=IA_LUID_1   2026-11-29T07:30:00+00:00",
        f"LUID_22  v3  accounts/bb.yaml  {EXT}=IA_LUID_22  2026-11-29T07:30:00+00:00",
    ]


def test_list_json_and_show_are_versioned_objects() -> None:
    state = State("lineage-1", serial=4)
    rec = record("LUID_1", 2, "accounts/a.yaml")

    listed = json.loads(state_list_json(state, [rec]))
    shown = json.loads(record_json(rec))

    assert (listed["format_version"], listed["serial"], listed["lineage"]) == (1, 4, "lineage-1")
    assert [a["lusid_id"] for a in listed["accounts"]] == ["LUID_1"]
    assert listed["accounts"][0]["source_hash"] is None  # "" vouches for no bytes
    assert shown["format_version"] == 1 and shown["body"] == {"displayName": "x"}
