"""A database state is read without each record's identifiers, applied_at and commit: they are
fetched when first used, one record at a time for the first few, then all at once; a value set on
a record since the read is kept; records are found by identifier through the index table."""

from __future__ import annotations

from pathlib import Path

import pytest

from iasync.states import AccountRecord, backend_for
from iasync.states.database import DatabaseStateBackend

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def make_record(n: int) -> AccountRecord:
    return AccountRecord(
        lusid_id=f"LUID_{n:04d}",
        version=n,
        identifiers={EXT: f"IA_{n}"},
        body={"displayName": f"Account {n}"},
        body_hash=f"sha256:{n:064x}",
        source=f"accounts/{n}.yaml",
        source_hash=f"sha256:{n + 1:064x}",
        applied_at=f"2026-01-01T00:00:{n % 60:02d}+00:00",
        commit=None if n % 2 else f"{n:040x}",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseStateBackend:
    if request.param == "sqlite":
        location = str(tmp_path / "state.db")
    else:
        location = request.getfixturevalue("postgres_dsn")
    opened = backend_for(location, tmp_path)
    assert isinstance(opened, DatabaseStateBackend)
    state = opened.read()
    for n in range(450):  # more than are fetched one by one
        state.record(make_record(n))
    opened.write(state)
    return opened


def test_every_detail_read_later_is_the_one_written(backend: DatabaseStateBackend) -> None:
    state = backend.read()
    assert not any("identifiers" in rec.__dict__ for rec in state.accounts.values())

    state.accounts["LUID_0400"].applied_at = "changed in place"  # before any detail was fetched
    details = {
        lusid_id: (rec.identifiers, rec.applied_at, rec.commit)
        for lusid_id, rec in state.accounts.items()
    }

    expected = {
        f"LUID_{n:04d}": (
            {EXT: f"IA_{n}"},
            "changed in place" if n == 400 else make_record(n).applied_at,
            make_record(n).commit,
        )
        for n in range(450)
    }
    assert details == expected


def test_records_are_found_by_identifier_through_the_index(
    backend: DatabaseStateBackend,
) -> None:
    state = backend.read()

    found = state.matching({(EXT, "IA_7"), (EXT, "IA_300"), (EXT, "nobody")})

    assert [rec.lusid_id for rec in found] == ["LUID_0300", "LUID_0007"]  # by identifier, sorted
    assert state.index is not None and not state.index.any_shared()
    state.record(make_record(7))  # recorded, not written: the index no longer describes it
    assert state.indexed() is None
    assert [rec.lusid_id for rec in state.matching({(EXT, "IA_7")})] == ["LUID_0007"]
