"""A real PostgreSQL server for the tests, and a fresh database for each test that asks for one.

`scripts/test` (and so CI) starts one server with `scripts/postgres start` before pytest and
exports its DSN as IASYNC_TEST_POSTGRES_DSN; every xdist worker then shares that server. When the
variable is not set (a developer running pytest directly), each pytest process (each xdist worker)
starts a server of its own with the same script and stops it when its session ends: no process
has to guess when another has finished with a shared one.

Tests never share a database: `postgres_dsn` creates one with a unique name for its test and drops
it afterwards (WITH (FORCE), so a connection left open by a killed subprocess cannot keep it).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

DSN_VARIABLE = "IASYNC_TEST_POSTGRES_DSN"
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: `dsn` connects as its superuser to its `postgres` database."""

    dsn: str

    def dsn_for(self, database: str) -> str:
        """The server's DSN with another database: same host, port and user."""
        parts = urlsplit(self.dsn)
        return urlunsplit(parts._replace(path=f"/{database}"))

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new, empty database for the time of the `with` block; yields its DSN."""
        import psycopg
        from psycopg import sql

        name = f"iasync_test_{uuid.uuid4().hex[:16]}"
        # CREATE/DROP DATABASE cannot run inside a transaction: autocommit.
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield self.dsn_for(name)
        finally:
            with psycopg.connect(self.dsn, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _checked_dsn(dsn: str, origin: str) -> str:
    if urlsplit(dsn).scheme not in ("postgresql", "postgres"):
        pytest.fail(f"{origin} must be a postgresql:// URL, got a DSN of another form", False)
    return dsn


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    # Installing a server is for CI's `scripts/test`, not a side effect of running pytest.
    env = {**os.environ, "IASYNC_POSTGRES_NO_INSTALL": "1"}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=180, check=False
    )


def _exports(stdout: str) -> dict[str, str]:
    """`export NAME=value` lines printed by `scripts/postgres start`, as a mapping."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            found[name] = value
    return found


@contextmanager
def _private_server() -> Iterator[PostgresServer]:
    started = _run_script("start")
    if started.returncode != 0:
        pytest.fail(
            f"{DSN_VARIABLE} is not set and scripts/postgres could not start a server:\n"
            f"{started.stderr}",
            False,
        )
    exported = _exports(started.stdout)
    try:
        yield PostgresServer(_checked_dsn(exported[DSN_VARIABLE], "scripts/postgres"))
    finally:
        _run_script("stop", exported["IASYNC_TEST_POSTGRES_DIR"])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The shared server named by IASYNC_TEST_POSTGRES_DSN, else one of this process's own."""
    shared = os.environ.get(DSN_VARIABLE)
    if shared:
        yield PostgresServer(_checked_dsn(shared, DSN_VARIABLE))
        return
    with _private_server() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """The DSN of a database made for this test alone, dropped after it."""
    with postgres_server.database() as dsn:
        yield dsn
