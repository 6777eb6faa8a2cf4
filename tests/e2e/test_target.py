"""Issue 8, findings 5 and 7: plan and apply say which LUSID they target (its URL, never a
credential) and where the credentials came from; secrets.json is found at the project root."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.e2e.conftest import TIMEOUT
from tests.e2e.test_confirmation import run_on_terminal

if TYPE_CHECKING:
    from tests.e2e.conftest import Project


def test_the_plan_names_the_target_lusid_in_text_markdown_and_json(
    project: Project, emulator: Any
) -> None:
    text = project.iasync("plan")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1] == f"Target: LUSID at {emulator.url}"

    markdown = project.iasync("plan", "--markdown")
    assert f"Target: LUSID at `{emulator.url}`" in markdown.stdout

    assert project.plan_json()["target"] == emulator.url
    assert all(emulator.token not in output for output in project.outputs)


def test_apply_names_the_target_and_the_credentials_before_asking(
    project: Project, emulator: Any
) -> None:
    code, output = run_on_terminal(project, "no")
    assert code == 1
    target = f"Target: LUSID at {emulator.url} (credentials: environment)"
    assert target in output
    assert output.index(target) < output.index("Enter a value")
    assert emulator.token not in output


def test_applying_a_saved_plan_names_the_target(project: Project, emulator: Any) -> None:
    assert project.iasync("plan", "-out", "changes.plan").returncode == 0
    done = project.iasync("apply", "changes.plan")
    assert done.returncode == 0, done.stderr
    target = f"Target: LUSID at {emulator.url} (credentials: environment)"
    assert done.stdout.index(target) < done.stdout.index("Applying 3 accounts")


def test_apply_from_a_subdirectory_reads_secrets_json_at_the_project_root(
    project: Project, emulator: Any, clean_env: dict[str, str]
) -> None:
    secrets = project.root / "secrets.json"
    secrets.write_text(
        json.dumps({"api": {"lusidUrl": emulator.url, "accessToken": emulator.token}})
    )
    done = subprocess.run(
        project.command("apply", "--auto-approve"),
        cwd=project.root / "accounts",
        env=clean_env,  # no FBN_* variable: the credentials are in secrets.json only
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"Target: LUSID at {emulator.url} (credentials: secrets.json at {secrets})" in done.stdout
    )
    assert len(emulator.accounts()) == 3
    assert emulator.token not in done.stdout + done.stderr


def test_the_target_shown_carries_no_user_password_or_query(tmp_path: Path) -> None:
    from iasync.lusid import lusid_target

    env = {"FBN_LUSID_URL": "https://user:pa55word@x.lusid.com/api?token=abc#top"}
    assert lusid_target(env, tmp_path) == "https://x.lusid.com/api"
    assert lusid_target({}, tmp_path).startswith("not set (FBN_LUSID_URL")
