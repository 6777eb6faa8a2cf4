"""The pipelines of `iasync init`, run end to end: the very scripts the GitHub workflow and the
GitLab file call (ci/plan.sh, ci/comment.py, ci/apply.sh), in a temporary git repository, with
CI's environment, against the real emulator on loopback.

What differs from a real CI run: iasync is this checkout's (not pip-installed from
IASYNC_PACKAGE), the shared state is a file outside the checkout standing in for the PostgreSQL
database of IASYNC_STATE, and the pull-request comment goes to the loopback stand-in of GitHub's
API in tests/scaffold/forge.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scaffold.conftest import tool_env
from tests.scaffold.forge import ForgeServer

MARKER = "<!-- iasync-plan -->"
PR = "acme/accounts#7"
EXAMPLE = "accounts/example.yaml"
# The secrets the workflow passes; those not set reach the job as empty variables.
UNSET_SECRETS = dict.fromkeys(
    ["FBN_TOKEN_URL", "FBN_USERNAME", "FBN_PASSWORD", "FBN_CLIENT_ID", "FBN_CLIENT_SECRET"], ""
) | {"PGPASSWORD": ""}


class Repository:
    """A git repository scaffolded by `iasync init`, and the CI jobs run in it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.outputs: list[str] = []

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            args,
            cwd=self.root,
            env=self.env if env is None else env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def commit(self, message: str) -> None:
        assert self.run("git", "add", "-A").returncode == 0
        done = self.run("git", "commit", "-q", "-m", message)
        assert done.returncode == 0, done.stderr

    def plan_job(self, env: dict[str, str] | None = None) -> tuple[int, str]:
        """The pull-request job: ci/plan.sh, then ci/comment.py even when the plan failed."""
        planned = self.run("bash", "ci/plan.sh", env=env)
        posted = self.run(sys.executable, "ci/comment.py", "plan.md", env=env)
        assert posted.returncode == 0, posted.stderr
        return planned.returncode, (self.root / "plan.md").read_text()

    def apply_job(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return self.run("bash", "ci/apply.sh", env=env)

    def edit_example(self, old: str, new: str) -> None:
        path = self.root / EXAMPLE
        path.write_text(path.read_text().replace(old, new))


@pytest.fixture
def forge() -> Iterator[ForgeServer]:
    with ForgeServer() as server:
        yield server


@pytest.fixture
def emulator(scoped_emulator: Any) -> Any:
    """`iasync init` sets a repository up for today's LUSID (api = "scoped"): its emulator."""
    return scoped_emulator


@pytest.fixture
def repository(tmp_path: Path, emulator: Any, forge: ForgeServer) -> Repository:
    root = tmp_path / "accounts-repo"
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = tool_env(
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="CI",
        GIT_AUTHOR_EMAIL="ci@iasync.invalid",
        GIT_COMMITTER_NAME="CI",
        GIT_COMMITTER_EMAIL="ci@iasync.invalid",
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], env=env, check=True)
    repository = Repository(root, env)
    initialised = repository.run(sys.executable, "-m", "iasync", "init")
    assert initialised.returncode == 0, initialised.stderr
    repository.commit("iasync init")
    # From here on, what a CI job sees: CI=true, the secrets, the CI's own variables.
    repository.env = (
        env
        | emulator.env()
        | UNSET_SECRETS
        | forge.github_env(str(event), repository="acme/accounts")
        | {"IASYNC_STATE": str(tmp_path / "shared" / "state.json")}
    )
    return repository


def test_init_validate_plan_apply_then_the_plan_shows_no_changes(
    repository: Repository, emulator: Any, forge: ForgeServer, tmp_path: Path
) -> None:
    code, plan = repository.plan_job()
    assert code == 0, repository.outputs
    assert "Plan: 1 to create, 0 to update, 0 orphaned, 0 unchanged." in plan
    assert EXAMPLE in plan
    assert forge.forge.bodies(PR) == [f"{MARKER}\n{plan}"]
    assert emulator.accounts() == []  # planning sends nothing

    applied = repository.apply_job()
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "1 created, 0 updated, 0 failed" in applied.stdout
    (account,) = emulator.accounts()
    assert account["displayName"] == "Example account"
    shared = tmp_path / "shared" / "state.json"
    head = repository.run("git", "rev-parse", "HEAD").stdout.strip()
    (record,) = json.loads(shared.read_text())["accounts"].values()
    assert (record["source"], record["commit"]) == (EXAMPLE, head)
    assert not (repository.root / ".iasync").exists()  # nothing on the runner's disk

    # The next pull request: the plan shows the update, in the same comment, edited.
    repository.edit_example("displayName: Example account", "displayName: Renamed account")
    repository.commit("rename the example")
    code, plan = repository.plan_job()
    assert code == 0, repository.outputs
    assert "Plan: 0 to create, 1 to update, 0 orphaned, 0 unchanged." in plan
    assert "Renamed account" in plan
    assert forge.forge.bodies(PR) == [f"{MARKER}\n{plan}"]

    assert repository.apply_job().returncode == 0
    (account,) = emulator.accounts()
    assert account["displayName"] == "Renamed account"

    code, plan = repository.plan_job()
    assert code == 0
    assert "Plan: 0 to create, 0 to update, 0 orphaned, 1 unchanged." in plan
    assert forge.forge.bodies(PR) == [f"{MARKER}\n{plan}"]
    assert [m for m, _ in forge.forge.requests if m != "GET"] == ["POST", "PATCH", "PATCH"]
    again = repository.run("iasync", "plan", "-detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout

    printed = "".join(repository.outputs) + "".join(forge.forge.bodies(PR))
    assert emulator.env()["FBN_ACCESS_TOKEN"] not in printed


@pytest.mark.parametrize("state", [None, ""])  # not set at all, or a secret that was never set
def test_in_ci_without_a_shared_state_nothing_is_planned_or_applied(
    repository: Repository, emulator: Any, forge: ForgeServer, state: str | None
) -> None:
    env = {k: v for k, v in repository.env.items() if k != "IASYNC_STATE"}
    if state is not None:
        env["IASYNC_STATE"] = state
    code, plan = repository.plan_job(env)
    assert code == 1
    assert "**Not planned: no shared state is configured.**" in plan
    assert "Set the IASYNC_STATE secret" in plan
    assert forge.forge.bodies(PR) == [f"{MARKER}\n{plan}"]  # the reviewer is told why

    applied = repository.apply_job(env)
    assert applied.returncode == 1
    assert "Error: IASYNC_STATE is not set" in applied.stderr
    assert emulator.requests() == []
    assert not (repository.root / ".iasync").exists()


def test_invalid_files_are_reported_on_the_pull_request_and_never_applied(
    repository: Repository, emulator: Any, forge: ForgeServer
) -> None:
    repository.edit_example("accountType: Personal", "accountType: Persnal")
    repository.commit("a typo")
    code, plan = repository.plan_job()
    assert code == 1
    assert "**Not planned: the account files are not valid.**" in plan
    assert f"{EXAMPLE}:8:14: accountType 'Persnal'" in plan
    assert forge.forge.bodies(PR) == [f"{MARKER}\n{plan}"]

    applied = repository.apply_job()
    assert applied.returncode == 1
    assert "Persnal" in applied.stdout
    assert emulator.requests() == []


def test_a_file_not_in_the_canonical_style_fails_the_check_after_the_plan(
    repository: Repository,
) -> None:
    repository.edit_example("displayName: Example account", 'displayName: "Example account"')
    code, plan = repository.plan_job()
    assert code == 1
    assert "Plan: 1 to create" in plan  # still planned: the style is no reason to hide the plan
    assert "**Not in the canonical style**: run `iasync fmt`" in plan
    assert EXAMPLE in plan.split("canonical style")[1]
