"""A record's git blob id (`source_blob`): kept by every backend, optional in the JSON document,
added to a database made before it by a migration that keeps every record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from iasync.states import AccountRecord, LocalStateBackend, State, backend_for
from iasync.states.database import MIGRATIONS, SCHEMA_VERSION

BLOB = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"


def make_record(lusid_id: str = "LUID_1", blob: str | None = BLOB) -> AccountRecord:
    return AccountRecord(
        lusid_id=lusid_id,
        version=1,
        identifiers={"InvestmentAccount/ExternalIdentifier/ExternalIAId": f"IA_{lusid_id}"},
        body={"displayName": "Jane Doe", "accountType": "Personal"},
        body_hash="sha256:" + "a" * 64,
        source=f"accounts/{lusid_id.lower()}.yaml",
        source_hash="sha256:" + "b" * 64,
        applied_at="2026-11-29T07:00:00+00:00",
        commit=None,
    ).with_blob(blob)


@pytest.fixture(params=["json", "sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        dsn: str = request.getfixturevalue("postgres_dsn")
        return dsn
    return str(tmp_path / ".iasync" / f"state.{'json' if request.param == 'json' else 'db'}")


def test_the_blob_id_survives_a_write_and_a_read(location: str) -> None:
    backend = backend_for(location, Path.cwd())
    state = backend.read()
    state.record(make_record("LUID_1"))
    state.record(make_record("LUID_2", blob=None))
    backend.write(state)

    again = backend_for(location, Path.cwd()).read()

    assert again.accounts["LUID_1"].source_blob == BLOB
    assert again.accounts["LUID_2"].source_blob is None
    assert again.accounts["LUID_1"] == make_record("LUID_1")


def test_a_blob_id_set_on_a_record_read_is_written(location: str) -> None:
    backend = backend_for(location, Path.cwd())
    state = backend.read()
    state.record(make_record(blob=None))
    backend.write(state)
    state = backend.read()

    state.accounts["LUID_1"].source_blob = BLOB  # as record_moves gives one to a state from before
    backend.write(state)

    assert backend_for(location, Path.cwd()).read().accounts["LUID_1"].source_blob == BLOB


def test_the_json_document_has_the_blob_id_only_when_known(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    state = State.new()
    state.record(make_record("LUID_1"))
    state.record(make_record("LUID_2", blob=None))
    backend.write(state)

    accounts = json.loads(backend.path.read_text())["accounts"]

    assert accounts["LUID_1"]["source_blob"] == BLOB
    assert "source_blob" not in accounts["LUID_2"]  # as the first format wrote every record


def test_a_json_blob_id_that_is_not_a_string_is_named(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    record = make_record(blob=None).to_json() | {"source_blob": 7}
    document = {"format_version": 1, "lineage": "x", "serial": 1, "accounts": {"LUID_1": record}}
    backend.path.write_text(json.dumps(document))

    with pytest.raises(Exception, match=r"accounts\.LUID_1\.source_blob should be a string"):
        backend.read()


def test_a_database_of_the_first_schema_is_migrated_keeping_its_records(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("CREATE TABLE iasync_schema (version BIGINT NOT NULL)")
    conn.execute("INSERT INTO iasync_schema VALUES (1)")
    conn.execute("INSERT INTO iasync_states VALUES ('default', 'lineage-1', 4, 1, '0.1.0')")
    conn.execute(
        "INSERT INTO iasync_accounts VALUES ('default', 'LUID_1', 2, ?, '{\"a\":1}', 'sha256:h', "
        "'accounts/a.yaml', 'sha256:s', '2026-01-01T00:00:00+00:00', NULL)",
        (json.dumps({"k": "v"}),),
    )
    conn.commit()
    conn.close()

    state = backend_for(path, tmp_path).read()

    record = state.accounts["LUID_1"]
    assert (state.lineage, state.serial, record.source_hash) == ("lineage-1", 4, "sha256:s")
    assert record.body == {"a": 1} and record.source_blob is None
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM iasync_schema").fetchall() == [(SCHEMA_VERSION,)]
