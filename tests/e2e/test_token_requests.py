"""Issue 8, finding 4: one token request per run, shared by every batch; a refused password grant
is one fatal error (exit 1) before any upsert, never one refusal (and one token request) a batch,
which on a real identity provider risks locking the account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iasync.emulator.process import EmulatorProcess
from tests.e2e.conftest import password_grant_emulator, password_grant_env

PASSWORD = "the-right-pa55word"
CLIENT_SECRET = "the-client-s3cret"


@pytest.fixture
def grant_emulator() -> Iterator[EmulatorProcess]:
    with password_grant_emulator(PASSWORD, CLIENT_SECRET) as emulator:
        yield emulator


def grant_env(emulator: EmulatorProcess, clean_env: dict[str, str], password: str) -> dict:
    return password_grant_env(emulator, clean_env, password, CLIENT_SECRET)


def token_requests(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"].startswith("/oauth2/")]


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_a_refused_password_grant_is_one_fatal_error_before_any_upsert(
    tmp_path: Path,
    make_project: Any,
    clean_env: dict[str, str],
    grant_emulator: EmulatorProcess,
    concurrency: str,
) -> None:
    env = grant_env(grant_emulator, clean_env, password="a-wrong-password")
    project = make_project(tmp_path / "project", env, grant_emulator, range(3))

    done = project.iasync(
        "apply", "--auto-approve", "--batch-size", "1", "--concurrency", concurrency
    )

    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert output.count("refused the password grant") == 1, output
    assert done.stderr.startswith("Error: the token endpoint ")
    assert len(token_requests(grant_emulator)) == 1
    assert project.upserts() == []
    assert not project.state_path.exists()
    assert "a-wrong-password" not in output


def test_every_batch_shares_one_token(
    tmp_path: Path,
    make_project: Any,
    clean_env: dict[str, str],
    grant_emulator: EmulatorProcess,
) -> None:
    env = grant_env(grant_emulator, clean_env, password=PASSWORD)
    project = make_project(tmp_path / "project", env, grant_emulator, range(5))

    done = project.iasync("apply", "--auto-approve", "--batch-size", "1")

    assert done.returncode == 0, done.stderr
    assert len(project.upserts()) == 5
    assert [r["grantType"] for r in token_requests(grant_emulator)] == ["password"]
