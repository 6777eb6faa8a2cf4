"""A plan loads only what its change needs: with nothing to look up in LUSID (no account to
create, no --refresh) it never imports httpx; an account to create is looked up, with httpx."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.conftest import Project


def imported_by(project: Project, *args: str) -> set[str]:
    """The top-level modules `iasync ARGS` imports (-X importtime lists them on stderr)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "iasync", *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_a_plan_of_an_update_does_not_import_httpx(project: Project) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    project.write(1, suffix=" edited")

    modules = imported_by(project, "plan")

    assert "httpx" not in modules
    assert "pydantic" in modules  # the edited file is read: the import check itself works


def test_a_plan_with_an_account_to_create_asks_lusid(project: Project) -> None:
    assert project.iasync("apply", "--auto-approve").returncode == 0
    project.write(7)

    assert "httpx" in imported_by(project, "plan")
    assert "Plan: 1 to create" in project.iasync("plan").stdout
