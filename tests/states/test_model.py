"""The state in memory: records matched by identifier, replaced and forgotten."""

from __future__ import annotations

from iasync.states import State
from tests.states.test_local import make_record


def test_matching_finds_records_sharing_any_identifier() -> None:
    state = State.new()
    a = make_record(
        "LUID_A", identifiers={"InvestmentAccount/S/X": "1", "InvestmentAccount/S/Y": "2"}
    )
    b = make_record("LUID_B", identifiers={"InvestmentAccount/S/X": "3"})
    state.record(a)
    state.record(b)
    assert state.matching({("InvestmentAccount/S/Y", "2"), ("InvestmentAccount/S/Q", "9")}) == [a]
    assert state.matching({("InvestmentAccount/S/X", "2")}) == []  # same key, another value
    assert a.identity == frozenset({("InvestmentAccount/S/X", "1"), ("InvestmentAccount/S/Y", "2")})


def test_record_replaces_by_lusid_id_and_forget_drops() -> None:
    state = State.new()
    state.record(make_record("LUID_A", version=1))
    state.record(make_record("LUID_A", version=2))
    assert [r.version for r in state.accounts.values()] == [2]
    state.forget("LUID_A")
    state.forget("LUID_A")
    assert state.accounts == {}
