"""End-to-end helpers: a project directory and the real `iasync` command run against the emulator.

The command runs as a subprocess (`python -m iasync`) with its working directory in a temporary
project (iasync.toml + accounts/), FBN_LUSID_URL and FBN_ACCESS_TOKEN pointing at the emulator on
loopback, and stdin not a terminal, as in CI.

Either API generation: `make_project(..., api="scoped")` writes `api = "scoped"` and `scope` in
iasync.toml (the account files are valid under both); `api_project` and `api_emulator` are the
project and emulator of the `api` parameter, for the suites that run under both generations.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iasync.emulator.process import EmulatorProcess

ACCOUNT = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_{n:04d}
  InvestmentAccount/InternalIdentifier/InternalIAId: Internal_{n:04d}
displayName: Account {n}{suffix}
description: End-to-end account {n}
accountType: Personal
properties:
  InvestmentAccount/Details/Name: Holder {n}
  InvestmentAccount/Details/Country:
    value: United Kingdom
    effectiveFrom: 2016-01-01T00:00:00+00:00
accountHolders:
  - key: AccountHolder1
    identifiers:
      InvestorRecord/ExternalIdentifier/ExternalIRId: IR_{n:04d}
investmentPortfolios: []
"""

#: The API generations (the `api` setting) the core suites run under, and the scope used.
API_GENERATIONS = ("unscoped", "scoped")
E2E_SCOPE = "e2e-scope"

TIMEOUT = 120  # seconds: a hung command fails the test instead of hanging the suite


def hear_ctrl_c() -> None:
    """A shell runs a background job with SIGINT ignored, and a child inherits that: Python then
    leaves SIGINT ignored, and a test that presses Ctrl-C would see an apply that never heard it.
    The user at a terminal is who the Ctrl-C tests play, so the child starts as theirs would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: The user and OAuth client `password_grant_emulator` grants tokens to.
GRANT_USER = "alice"
GRANT_CLIENT_ID = "iasync-tests"


def password_grant_emulator(password: str, client_secret: str) -> EmulatorProcess:
    """An emulator of its own (not yet started: use it in a with-block) that grants tokens by the
    OAuth password grant to `GRANT_USER` with `password`, through the client `GRANT_CLIENT_ID`
    with `client_secret`. Its static token is never given to iasync, so every request must use a
    granted one."""
    return EmulatorProcess(
        "unused-static-token",
        "--user",
        f"{GRANT_USER}:{password}",
        "--client-id",
        GRANT_CLIENT_ID,
        "--client-secret",
        client_secret,
    )


def password_grant_env(
    emulator: EmulatorProcess, clean_env: dict[str, str], password: str, client_secret: str
) -> dict[str, str]:
    """`clean_env` with the FBN_* settings that make iasync ask `emulator` for a token by the
    password grant (`password` may be a wrong one)."""
    return clean_env | {
        "FBN_LUSID_URL": emulator.url,
        "FBN_TOKEN_URL": emulator.token_url,
        "FBN_USERNAME": GRANT_USER,
        "FBN_PASSWORD": password,
        "FBN_CLIENT_ID": GRANT_CLIENT_ID,
        "FBN_CLIENT_SECRET": client_secret,
    }


def clean_environ() -> dict[str, str]:
    """The test's environment without any LUSID or iasync settings of the machine running it."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FBN_", "IASYNC_")) and k not in ("CI", "NO_COLOR")
    }


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    emulator: Any
    outputs: list[str] = field(default_factory=list)  # everything any command printed

    @property
    def state_path(self) -> Path:
        return self.root / ".iasync" / "state.json"

    def account_path(self, n: int) -> Path:
        return self.root / "accounts" / f"account-{n:04d}.yaml"

    def write(self, n: int, suffix: str = "") -> str:
        path = self.account_path(n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ACCOUNT.format(n=n, suffix=suffix), encoding="utf-8")
        return path.relative_to(self.root).as_posix()

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "iasync", *args]

    def iasync(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self.command(*args),
            cwd=self.root,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=hear_ctrl_c,
        )

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def recorded_sources(self) -> list[str]:
        if not self.state_path.exists():
            return []
        return sorted(rec["source"] for rec in self.state()["accounts"].values())

    def upserts(self) -> list[dict[str, Any]]:
        """The batch upserts the emulator received, in order."""
        return [r for r in self.emulator.requests() if r["path"].endswith("$batchUpsert")]

    def sent_ids(self) -> list[str]:
        """Correlation ids (file paths) of the accounts in every batch LUSID answered 201."""
        return sorted(corr for r in self.upserts() if r["status"] == 201 for corr in r["body"])

    def plan_json(self) -> dict[str, Any]:
        done = self.iasync("plan", "-json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def make_project(
    root: Path,
    env: dict[str, str],
    emulator: Any,
    accounts: Sequence[int],
    api: str = "unscoped",
) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    settings = 'accounts_dir = "accounts"\nstate = ".iasync/state.json"\n'
    if api == "scoped":
        settings += f'api = "scoped"\nscope = "{E2E_SCOPE}"\n'
    (root / "iasync.toml").write_text(settings, encoding="utf-8")
    project = Project(root=root, env=env, emulator=emulator)
    for n in accounts:
        project.write(n)
    return project


@pytest.fixture(name="make_project")
def make_project_fixture() -> Any:
    """`make_project(root, env, emulator, accounts)` for tests that run their own emulator."""
    return make_project


@pytest.fixture
def clean_env() -> dict[str, str]:
    return clean_environ()


@pytest.fixture
def project(tmp_path: Path, emulator: Any) -> Project:
    """Three account files, and the emulator's URL and token in the command's environment."""
    return make_project(tmp_path / "project", clean_environ() | emulator.env(), emulator, range(3))


@pytest.fixture
def unscoped_emulator(_shared_emulator: Any) -> EmulatorProcess:
    """The session's emulator of the reference page's API (as `emulator`), freshly reset; by
    another name, so a module may override `emulator` with `api_emulator`."""
    emu: EmulatorProcess = _shared_emulator.get()
    emu.reset()
    return emu


@pytest.fixture(params=API_GENERATIONS)
def api(request: pytest.FixtureRequest) -> str:
    """Each API generation in turn."""
    return str(request.param)


@pytest.fixture
def api_emulator(api: str, request: pytest.FixtureRequest) -> EmulatorProcess:
    """The emulator serving the `api` generation."""
    emu: EmulatorProcess = request.getfixturevalue(
        "scoped_emulator" if api == "scoped" else "unscoped_emulator"
    )
    return emu


@pytest.fixture
def api_project(tmp_path: Path, api_emulator: EmulatorProcess, api: str) -> Project:
    """`project` under the `api` generation, against that generation's emulator."""
    env = clean_environ() | api_emulator.env()
    return make_project(tmp_path / "project", env, api_emulator, range(3), api=api)
