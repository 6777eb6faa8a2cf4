"""Plans against a state read from a database: an account reused unread matches its own record
without a lookup, files read now are looked up in the identifiers index, and only what the
change needs is fetched; the plan is the one the same state in memory gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from iasync.accounts.loader import load_accounts
from iasync.lazybody import is_fetched
from iasync.plans.plan import AccountChange, Plan, PlanError, make_plan, reusable_files
from iasync.settings import Settings
from iasync.states import AccountRecord, State, backend_for
from iasync.states.database import DatabaseStateBackend

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
INT = "InvestmentAccount/InternalIdentifier/InternalIAId"


def account(ext: str, name: str = "One", internal: str | None = None) -> str:
    extra = f"  {INT}: {internal}\n" if internal else ""
    return f"identifiers:\n  {EXT}: {ext}\n{extra}displayName: {name}\naccountType: Personal\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    for n in range(4):
        (accounts / f"a{n}.yaml").write_text(account(f"IA_{n}", internal=f"IN_{n}"))
    return Settings(root=tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, settings: Settings) -> Iterator[DatabaseStateBackend]:
    if request.param == "sqlite":
        location = str(settings.root / ".iasync" / "state.db")
    else:
        location = request.getfixturevalue("postgres_dsn")
    opened = backend_for(location, settings.root)
    assert isinstance(opened, DatabaseStateBackend)
    yield opened
    opened.close()  # type: ignore[attr-defined]


def record_all(settings: Settings, backend: DatabaseStateBackend) -> None:
    """Record every file as apply would after sending it."""
    from iasync.accounts.model import CANONICAL_FORMAT

    state = backend.read()
    for n, loaded in enumerate(load_accounts([], settings).accounts):
        state.record(
            AccountRecord(
                lusid_id=f"LUID_{n}",
                version=1,
                identifiers=dict(sorted(loaded.identity)),
                body=loaded.body,
                body_hash=loaded.body_hash,
                source=loaded.path,
                source_hash=loaded.file_hash,
                applied_at="2026-01-01T00:00:00+00:00",
                commit=None,
            ).with_blob(loaded.file_blob)
        )
    state.canonical_format = CANONICAL_FORMAT
    backend.write(state)


def plan_of(settings: Settings, state: State) -> Plan:
    load = load_accounts([], settings, reuse=reusable_files(state))
    assert load.ok, load.problems
    return make_plan(load, state)


def in_memory(state: State) -> State:
    """The same records as plain objects, no index: the plan found by scanning."""
    records = {
        lusid_id: dataclasses.replace(rec).with_blob(rec.source_blob)
        for lusid_id, rec in state.accounts.items()
    }
    return State(state.lineage, state.serial, records, state.canonical_format)


def facts(change: AccountChange) -> tuple[object, ...]:
    """Every field of the change (an unchanged one made without `__init__` has them all too)."""
    return tuple(getattr(change, f.name) for f in dataclasses.fields(AccountChange))


def test_unchanged_accounts_are_planned_without_their_bodies_or_identifiers(
    settings: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(settings, backend)
    (settings.root / "accounts" / "a1.yaml").write_text(account("IA_1", "Edited", "IN_1"))
    state = backend.read()

    plan = plan_of(settings, state)

    assert plan.counts == {"create": 0, "update": 1, "unchanged": 3, "orphaned": 0}
    (update,) = plan.to_send
    assert update.path == "accounts/a1.yaml"
    assert [d.path for d in update.differences] == ["displayName"]
    untouched = [c for c in plan.changes if c.action == "unchanged"]
    assert not any(is_fetched(c) or is_fetched(c.record) for c in untouched)
    assert not any("identifiers" in c.record.__dict__ for c in untouched if c.record)
    # Asked for, they are the record's.
    assert [c.identity for c in untouched] == [c.record.identity for c in untouched if c.record]
    assert [facts(c) for c in plan.changes] == [
        facts(c) for c in plan_of(settings, in_memory(state)).changes
    ]


def test_orphans_moves_and_creates_are_the_same_as_in_memory(
    settings: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(settings, backend)
    accounts = settings.root / "accounts"
    (accounts / "a0.yaml").unlink()
    (accounts / "a2.yaml").rename(accounts / "moved.yaml")
    (accounts / "new.yaml").write_text(account("IA_NEW"))
    state = backend.read()

    plan = plan_of(settings, state)

    assert plan.counts == {"create": 1, "update": 0, "unchanged": 3, "orphaned": 1}
    assert [c.moved_from for c in plan.moves] == ["accounts/a2.yaml"]
    assert [facts(c) for c in plan.changes] == [
        facts(c) for c in plan_of(settings, in_memory(state)).changes
    ]


def test_a_file_read_now_matching_two_records_is_an_error(
    settings: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(settings, backend)
    # a0 now claims a1's internal identifier (a1 no longer does): two LUSID accounts.
    accounts = settings.root / "accounts"
    (accounts / "a0.yaml").write_text(account("IA_0", internal="IN_1"))
    (accounts / "a1.yaml").write_text(account("IA_1"))

    load = load_accounts([], settings, reuse=reusable_files(backend.read()))

    with pytest.raises(PlanError, match=r"accounts/a0\.yaml: its identifiers match 2 different"):
        make_plan(load, backend.read())


def test_a_state_whose_records_share_an_identifier_is_matched_in_full(
    settings: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(settings, backend)
    state = backend.read()
    shared = dataclasses.replace(state.accounts["LUID_3"], lusid_id="LUID_9", source="gone.yaml")
    state.record(shared)  # as a state pushed by hand could hold: LUID_3 and LUID_9 share all
    backend.write(state)

    load = load_accounts([], settings, reuse=reusable_files(backend.read()))

    with pytest.raises(PlanError, match=r"a3\.yaml: its identifiers match 2 different") as caught:
        make_plan(load, backend.read())
    assert "LUID_3" in str(caught.value) and "LUID_9" in str(caught.value)


def test_a_new_file_claiming_an_unread_files_identifier_is_located_in_both(
    settings: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(settings, backend)
    (settings.root / "accounts" / "b.yaml").write_text(account("IA_2"))

    load = load_accounts([], settings, reuse=reusable_files(backend.read()))

    assert sorted(p.path for p in load.problems) == ["accounts/a2.yaml", "accounts/b.yaml"]


def test_a_state_changed_in_memory_since_read_is_matched_in_full(
    settings: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(settings, backend)
    state = backend.read()
    state.forget("LUID_1")  # not written: the index no longer describes these records

    plan = plan_of(settings, state)

    assert state.indexed() is None
    assert [c.path for c in plan.of("create")] == ["accounts/a1.yaml"]
