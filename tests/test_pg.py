"""The tests' PostgreSQL (tests/pg.py, scripts/postgres): a real server, a database per test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from tests.pg import SCRIPT, PostgresServer


def test_a_test_database_is_a_real_server_answering_queries(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        database = conn.execute("SELECT current_database()").fetchone()
        conn.execute("CREATE TABLE probe (n integer)")
        conn.execute("INSERT INTO probe VALUES (1), (2), (3)")
        total = conn.execute("SELECT sum(n) FROM probe").fetchone()
    assert version is not None and int(version[0]) >= 150000
    assert database is not None and postgres_dsn.endswith(f"/{database[0]}")
    assert total == (6,)


def test_each_database_starts_empty_and_is_dropped_after(postgres_server: PostgresServer) -> None:
    with postgres_server.database() as first, postgres_server.database() as second:
        assert first != second
        with psycopg.connect(first) as conn:
            conn.execute("CREATE TABLE only_here (n integer)")
        with psycopg.connect(second) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
        assert tables == (0,)
        name = first.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.dsn) as admin:
        left = admin.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
    assert left == (0,)


def test_stop_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    # `stop` ends with rm -rf: anything but an iasync-postgres.* directory is refused, untouched.
    result = subprocess.run(
        [str(SCRIPT), "stop", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "not a directory made by 'scripts/postgres start'" in result.stderr
    assert tmp_path.exists()
