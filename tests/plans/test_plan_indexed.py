"""Plans against a state read from a database: an account reused unread matches its own record
without a lookup, files read now are looked up in the identifiers index, and only what the
change needs is fetched; the plan is the one the same state in memory gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.accounts.loader import load_accounts
from iasync.lazybody import is_fetched
from iasync.plans.plan import AccountChange, Plan, PlanError, make_plan, reusable_files
from iasync.settings import Settings
from iasync.states import AccountRecord, State, backend_for
from iasync.states.database import DatabaseStateBackend
from iasync.views.markdown import render_markdown
from iasync.views.plan import render_plan
from iasync.views.plan_json import plan_json

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
    """Record every file as apply would after sending it (stamped as apply stamps)."""
    from iasync.accounts.model import canonical_format_for

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
    state.canonical_format = canonical_format_for(settings.api)
    backend.write(state)


def plan_of(settings: Settings, state: State) -> Plan:
    reuse = reusable_files(state, api=settings.api, scope=settings.scope)
    load = load_accounts([], settings, reuse=reuse)
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


# --- today's (scoped) API: an account is (scope, identifier) ------------------------------------


@pytest.fixture
def scoped(settings: Settings) -> Settings:
    """The four accounts in the setting's scope, uk, and one more in us sharing a0's identifier:
    two LUSID accounts, as LUSID itself has it."""
    (settings.root / "accounts" / "us.yaml").write_text("scope: us\n" + account("IA_0", "Other"))
    return settings.with_overrides(api="scoped", scope="uk")


def bodies_fetched(backend: DatabaseStateBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The LUSID ids whose bodies `backend` reads from now on, in order."""
    fetched: list[str] = []
    fetch = backend._fetch_body

    def counted(lusid_id: str) -> dict[str, Any]:
        fetched.append(lusid_id)
        return fetch(lusid_id)

    monkeypatch.setattr(backend, "_fetch_body", counted)
    return fetched


def test_a_scoped_plan_reads_the_bodies_of_changed_accounts_alone(
    scoped: Settings, backend: DatabaseStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_all(scoped, backend)
    (scoped.root / "accounts" / "a1.yaml").write_text(account("IA_1", "Edited", "IN_1"))
    state = backend.read()
    fetched = bodies_fetched(backend, monkeypatch)

    plan = plan_of(scoped, state)
    shown = (render_plan(plan), render_markdown(plan), plan_json(plan))

    assert plan.counts == {"create": 0, "update": 1, "unchanged": 4, "orphaned": 0}
    (update,) = plan.to_send
    assert (update.path, update.scope) == ("accounts/a1.yaml", "uk")
    assert fetched == [update.lusid_id]  # its differences; no other body, shown or not
    assert "scope uk: IA_1" in shown[0]
    assert [c["scope"] for c in shown[2]["changes"]] == ["uk"]
    assert state.index is not None and not state.index.any_shared()  # IA_0 in uk and in us
    untouched = [c for c in plan.changes if c.action == "unchanged"]
    assert not any(is_fetched(c.record) for c in untouched)
    # Read, not reused: a file whose own scope is not the setting's is read on every plan.
    assert [c.path for c in untouched if is_fetched(c)] == ["accounts/us.yaml"]
    assert sorted(c.scope for c in untouched) == ["uk", "uk", "uk", "us"]  # still unread
    assert fetched == [update.lusid_id]
    assert [facts(c) for c in plan.changes] == [
        facts(c) for c in plan_of(scoped, in_memory(state)).changes
    ]


def test_a_scoped_plan_of_a_state_changed_since_read_reads_no_body_to_match(
    scoped: Settings, backend: DatabaseStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_all(scoped, backend)
    state = backend.read()
    state.forget(next(r.lusid_id for r in state.accounts.values() if r.source.endswith("a1.yaml")))
    fetched = bodies_fetched(backend, monkeypatch)

    plan = plan_of(scoped, state)  # no index: every record matched by scope and identifiers

    assert state.indexed() is None
    assert [(c.path, c.scope) for c in plan.of("create")] == [("accounts/a1.yaml", "uk")]
    assert plan.counts["unchanged"] == 4 and fetched == []


def test_a_new_file_in_another_scope_is_a_create_and_reads_no_body(
    scoped: Settings, backend: DatabaseStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_all(scoped, backend)
    (scoped.root / "accounts" / "eu.yaml").write_text("scope: eu\n" + account("IA_2", "Euro"))
    state = backend.read()
    fetched = bodies_fetched(backend, monkeypatch)

    plan = plan_of(scoped, state)

    assert [(c.path, c.scope) for c in plan.of("create")] == [("accounts/eu.yaml", "eu")]
    assert plan.counts["unchanged"] == 5 and fetched == []


def test_a_new_file_claiming_an_identifier_in_the_same_scope_is_located_in_both(
    scoped: Settings, backend: DatabaseStateBackend
) -> None:
    record_all(scoped, backend)
    (scoped.root / "accounts" / "b.yaml").write_text(account("IA_2"))

    reuse = reusable_files(backend.read(), api="scoped", scope="uk")
    load = load_accounts([], scoped, reuse=reuse)

    assert sorted(p.path for p in load.problems) == ["accounts/a2.yaml", "accounts/b.yaml"]
    assert all("in scope uk" in p.message for p in load.problems)


PROPERTIES = "properties:\n  InvestmentAccount/Details/Region: {label}\n"


def test_the_property_keys_come_from_the_database_without_a_body(
    settings: Settings, backend: DatabaseStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = settings.root / "accounts"
    (accounts / "a1.yaml").write_text(account("IA_1") + PROPERTIES.format(label="EMEA"))
    (accounts / "a2.yaml").write_text(
        account("IA_2") + "properties:\n  InvestmentAccount/Details/Desk: '7'\n"
    )
    record_all(settings, backend)
    state = backend.read()
    fetched = bodies_fetched(backend, monkeypatch)

    keys = state.property_keys()

    assert fetched == []
    assert keys == in_memory(state).property_keys()
    assert keys == {"InvestmentAccount/Details/Desk", "InvestmentAccount/Details/Region"}


def test_a_plan_with_an_account_to_create_asks_lusid_without_reading_unchanged_bodies(
    settings: Settings, backend: DatabaseStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One account added to a repository of many: the keys LUSID is asked for are every managed
    # one, as before, but found by the database, not by fetching every record's body.
    from iasync.plans.remote import managed_property_keys

    (settings.root / "accounts" / "a1.yaml").write_text(
        account("IA_1", internal="IN_1") + PROPERTIES.format(label="EMEA")
    )
    record_all(settings, backend)
    (settings.root / "accounts" / "new.yaml").write_text(account("IA_NEW"))
    state = backend.read()
    fetched = bodies_fetched(backend, monkeypatch)
    reuse = reusable_files(state, api=settings.api, scope=settings.scope)
    load = load_accounts([], settings, reuse=reuse)
    read_now = [a.body for a in load.accounts if is_fetched(a)]  # as operations.read_lusid_for

    assert managed_property_keys(read_now, state) == ["InvestmentAccount/Details/Region"]
    assert fetched == []
