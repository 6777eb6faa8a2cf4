"""Which records a name on the command line means (`iasync state show ACCOUNT`), scoped records
included: their `identifiers` also hold the scope, which is no identifier."""

from __future__ import annotations

from pathlib import Path

from iasync.states import AccountRecord, State
from iasync.states.lookup import find_records
from iasync.states.model import SCOPE_KEY, record_identifiers

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def scoped_record(lusid_id: str, value: str, scope: str) -> AccountRecord:
    return AccountRecord(
        lusid_id=lusid_id,
        version=1,
        identifiers=record_identifiers({(EXT, value)}, scope),
        body={"scope": scope},
        body_hash="sha256:" + "0" * 64,
        source=f"accounts/{lusid_id}.yaml",
        source_hash="sha256:" + "1" * 64,
        applied_at="2026-01-01T00:00:00+00:00",
        commit=None,
    )


def test_a_scoped_records_scope_is_kept_apart_from_its_identifiers() -> None:
    record = scoped_record("LUID_1", "IA_1", "uk")
    assert record.identifiers == {EXT: "IA_1", SCOPE_KEY: "uk"}
    assert record.identity == {(EXT, "IA_1")}
    assert record.scope == "uk"
    assert record_identifiers({(EXT, "IA_1")}, None) == {EXT: "IA_1"}


def test_records_are_found_by_identifier_never_by_their_scope(tmp_path: Path) -> None:
    state = State("lineage")
    state.record(scoped_record("LUID_1", "IA_1", "uk"))
    state.record(scoped_record("LUID_2", "IA_1", "fr"))  # the same identifier, another scope

    assert [r.lusid_id for r in find_records(state, "IA_1", tmp_path)] == ["LUID_1", "LUID_2"]
    assert [r.lusid_id for r in find_records(state, f"{EXT}=IA_1", tmp_path)] == [
        "LUID_1",
        "LUID_2",
    ]
    assert find_records(state, "uk", tmp_path) == []
    assert find_records(state, "scope=uk", tmp_path) == []
