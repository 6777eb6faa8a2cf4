"""A database made by an earlier iasync, at any earlier schema version, is brought to the current
one when opened, keeping its state, its records and its audit trail; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.lazybody import is_fetched
from iasync.states import AccountRecord, backend_for
from iasync.states.database import MIGRATIONS, SCHEMA_VERSION, DatabaseStateBackend

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
BLOB = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"
BODY = {"displayName": "Jane Doe", "accountType": "Personal"}
ENTRY = {"applied_at": "2026-01-02T00:00:00+00:00", "actor": "alice", "counts": {"created": 1}}


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


class _Old:
    """A raw connection to the database, as an earlier iasync would have used it."""

    def __init__(self, location: str) -> None:
        self.postgres = location.startswith("postgresql://")
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(location, autocommit=True)
        else:
            self.conn = sqlite3.connect(location, isolation_level=None)

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def run(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(self.sql(statement), params)


@pytest.fixture
def made_at(location: str) -> Iterator[Any]:
    """`made_at(version, body)`: the database at `location` as schema `version` left it, with a
    state of one record (`body`) and, from version 2, one audit entry."""
    opened: list[_Old] = []

    def make(version: int, body: dict[str, Any]) -> None:
        old = _Old(location)
        opened.append(old)
        old.run("CREATE TABLE iasync_schema (version BIGINT NOT NULL)")
        for statements in MIGRATIONS[:version]:
            for statement in statements:
                if isinstance(statement, str):
                    old.run(statement)
                else:  # a migration's data step (4: the scopes), on no record yet
                    statement(old.conn, old.sql)
        old.run("INSERT INTO iasync_schema (version) VALUES (?)", (version,))
        old.run("INSERT INTO iasync_states VALUES ('default', 'lineage-1', 4, 2, '0.1.0')")
        old.run(
            "INSERT INTO iasync_accounts (workspace, lusid_id, version, identifiers, body, "
            "body_hash, source, source_hash, applied_at, applied_commit) "
            "VALUES ('default', 'LUID_1', 2, ?, ?, 'sha256:h', 'accounts/a.yaml', 'sha256:s', "
            "'2026-01-01T00:00:00+00:00', NULL)",
            (json.dumps({EXT: "IA_1"}), json.dumps(body)),
        )
        old.run("INSERT INTO iasync_identifiers VALUES ('default', ?, 'IA_1', 'LUID_1')", (EXT,))
        if version >= 4:  # the record's scope, as that iasync wrote it
            scope = body.get("scope") if isinstance(body.get("scope"), str) else None
            old.run("UPDATE iasync_accounts SET scope = ?", (scope,))
        if version >= 2:
            old.run(
                "INSERT INTO iasync_applies (workspace, number, applied_at, counts, entry) "
                "VALUES ('default', 1, ?, ?, ?)",
                (ENTRY["applied_at"], json.dumps(ENTRY["counts"]), json.dumps(ENTRY)),
            )

    yield make
    for old in opened:
        old.conn.close()


def opened(location: str) -> DatabaseStateBackend:
    backend = backend_for(location, Path.cwd())
    assert isinstance(backend, DatabaseStateBackend)
    return backend


def schema_version(location: str) -> int:
    old = _Old(location)
    try:
        row = old.conn.execute("SELECT version FROM iasync_schema").fetchall()
    finally:
        old.conn.close()
    assert len(row) == 1
    version: int = row[0][0]
    return version


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_earlier_schema_is_migrated_keeping_the_state(
    location: str, made_at: Any, version: int
) -> None:
    made_at(version, BODY)

    backend = opened(location)
    state = backend.read()

    record = state.accounts["LUID_1"]
    assert (state.lineage, state.serial, state.canonical_format) == ("lineage-1", 4, 2)
    assert (record.version, record.identifiers, record.body) == (2, {EXT: "IA_1"}, BODY)
    assert (record.source, record.source_hash, record.source_blob) == (
        "accounts/a.yaml",
        "sha256:s",
        None,  # not known before schema 3: the file is hashed
    )
    assert backend.lookup(EXT, "IA_1") == ["LUID_1"]
    assert backend.applies() == ([ENTRY] if version >= 2 else [])
    assert schema_version(location) == SCHEMA_VERSION


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_migrated_database_takes_blob_ids_and_audit_entries(
    location: str, made_at: Any, version: int
) -> None:
    made_at(version, BODY)
    backend = opened(location)
    state = backend.read()
    replaced = state.accounts["LUID_1"]
    state.record(
        AccountRecord(
            lusid_id="LUID_1",
            version=3,
            identifiers=dict(replaced.identifiers),
            body=BODY,
            body_hash="sha256:h",
            source="accounts/a.yaml",
            source_hash="sha256:s",
            applied_at="2026-01-03T00:00:00+00:00",
            commit=None,
        ).with_blob(BLOB)
    )
    backend.write(state)
    backend.record_apply(ENTRY | {"actor": "bob"})

    again = opened(location)
    assert again.read().accounts["LUID_1"].source_blob == BLOB
    assert [entry["actor"] for entry in again.applies()] == (
        ["alice", "bob"] if version >= 2 else ["bob"]
    )


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_each_records_scope_is_filled_from_its_body(
    location: str, made_at: Any, version: int
) -> None:
    scoped = BODY | {"scope": "uk-funds", "identifiers": {EXT: {"value": {"labelValue": "IA_1"}}}}
    made_at(version, scoped)

    record = opened(location).read().accounts["LUID_1"]

    assert record.scope == "uk-funds"
    assert not is_fetched(record)  # the column's, the body unread
    assert record.body == scoped


def test_a_body_without_a_string_scope_has_none(location: str, made_at: Any) -> None:
    made_at(1, BODY | {"description": 'says "scope"', "properties": {"scope": "x"}})

    record = opened(location).read().accounts["LUID_1"]

    assert record.scope is None and not is_fetched(record)


def test_a_plans_read_of_every_record_uses_the_index_alone(tmp_path: Path) -> None:
    # Schema 5: the columns a plan reads of every record are an index of their own, so SQLite
    # reads that instead of the table's rows, which hold the bodies. If `_INDEX_COLUMNS` ever
    # names a column the index lacks, this says so (the read would walk the table again).
    from iasync.states.database import _INDEX_COLUMNS

    location = str(tmp_path / "state.db")
    opened(location).write(opened(location).read())  # made, at the current schema
    with sqlite3.connect(location) as conn:
        query_plan = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT {_INDEX_COLUMNS} FROM iasync_accounts WHERE workspace = ?",
            ("default",),
        ).fetchall()
    assert "USING COVERING INDEX iasync_accounts_plan" in str(query_plan)
