"""ci/comment.py, as written by `iasync init`, run for real against a stand-in of the forge's API.

The script is the scaffold's own file, run as CI runs it (`python ci/comment.py plan.md`); the
GitHub and GitLab comment endpoints are served on loopback by tests/scaffold/forge.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scaffold.conftest import run, tool_env
from tests.scaffold.forge import GITHUB_TOKEN, GITLAB_TOKEN, ForgeServer

MARKER = "<!-- iasync-plan -->"
PR = "acme/accounts#12"
MR = "7!3"


@pytest.fixture
def forge() -> Iterator[ForgeServer]:
    with ForgeServer() as server:
        yield server


def _event(tmp_path: Path, number: int | None = 12) -> str:
    event = tmp_path / "event.json"
    payload = {"pull_request": {"number": number}} if number else {"ref": "refs/heads/main"}
    event.write_text(json.dumps(payload))
    return str(event)


def _post(scaffold: Path, plan: str, extra: dict[str, str]) -> tuple[int, str, str]:
    (scaffold / "plan.md").write_text(plan)
    done = run([sys.executable, "ci/comment.py", "plan.md"], scaffold, tool_env(**extra))
    return done.returncode, done.stdout, done.stderr


def test_github_the_first_run_posts_and_later_runs_edit_the_same_comment(
    scaffold: Path, forge: ForgeServer, tmp_path: Path
) -> None:
    env = forge.github_env(_event(tmp_path))
    forge.forge.add(PR, "LGTM")  # a reviewer's comment, left alone
    assert _post(scaffold, "### iasync plan\n\nfirst\n", env)[:2] == (
        0,
        "Posted the plan on the request.\n",
    )
    code, out, _ = _post(scaffold, "### iasync plan\n\nsecond\n", env)
    assert code == 0
    assert out.startswith("Updated the plan comment")
    assert _post(scaffold, "### iasync plan\n\nthird\n", env)[0] == 0
    assert forge.forge.bodies(PR) == ["LGTM", f"{MARKER}\n### iasync plan\n\nthird\n"]
    methods = [method for method, _ in forge.forge.requests if method != "GET"]
    assert methods == ["POST", "PATCH", "PATCH"]


def test_github_the_earlier_comment_is_found_past_the_first_page(
    scaffold: Path, forge: ForgeServer, tmp_path: Path
) -> None:
    env = forge.github_env(_event(tmp_path))
    for n in range(150):
        forge.forge.add(PR, f"comment {n}")
    assert _post(scaffold, "first\n", env)[0] == 0
    assert _post(scaffold, "second\n", env)[0] == 0
    assert forge.forge.bodies(PR)[150:] == [f"{MARKER}\nsecond\n"]
    assert len(forge.forge.bodies(PR)) == 151


def test_gitlab_the_note_is_posted_once_and_then_updated(
    scaffold: Path, forge: ForgeServer
) -> None:
    env = forge.gitlab_env()
    assert _post(scaffold, "one\n", env)[0] == 0
    assert _post(scaffold, "two\n", env)[0] == 0
    assert forge.forge.bodies(MR) == [f"{MARKER}\ntwo\n"]
    assert [m for m, _ in forge.forge.requests if m != "GET"] == ["POST", "PUT"]


def test_a_plan_too_long_for_a_comment_is_cut_and_says_so(
    scaffold: Path, forge: ForgeServer
) -> None:
    assert _post(scaffold, "x" * 70_000, forge.gitlab_env())[0] == 0
    (body,) = forge.forge.bodies(MR)
    assert len(body) < 65_536
    assert body.endswith("(cut short here: the whole plan is in the job log)\n")


def test_tokens_are_sent_but_never_printed(
    scaffold: Path, forge: ForgeServer, tmp_path: Path
) -> None:
    outputs = ""
    for env in (forge.github_env(_event(tmp_path)), forge.gitlab_env()):
        code, out, err = _post(scaffold, "plan\n", env)
        assert code == 0
        outputs += out + err
    wrong = forge.gitlab_env() | {"IASYNC_GITLAB_TOKEN": "glpat-wrong-token"}
    code, out, err = _post(scaffold, "plan\n", wrong)
    assert code == 1
    assert "HTTP 401" in err and "Bad credentials" in err
    outputs += out + err
    for token in (GITHUB_TOKEN, GITLAB_TOKEN, "glpat-wrong-token"):
        assert token not in outputs


def test_a_missing_token_is_named_with_what_to_do(scaffold: Path, forge: ForgeServer) -> None:
    env = forge.gitlab_env()
    del env["IASYNC_GITLAB_TOKEN"]
    code, _, err = _post(scaffold, "plan\n", env)
    assert code == 1
    assert "Error: IASYNC_GITLAB_TOKEN is not set: add a project access token" in err
    assert forge.forge.requests == []


def test_outside_a_pull_request_nothing_is_posted(
    scaffold: Path, forge: ForgeServer, tmp_path: Path
) -> None:
    for env in (forge.github_env(_event(tmp_path, number=None)), {}):
        code, out, _ = _post(scaffold, "plan\n", env)
        assert code == 0
        assert out == "Not a pull or merge request pipeline: nothing posted.\n"
    assert forge.forge.requests == []


def test_no_plan_file_is_a_short_error(scaffold: Path) -> None:
    done = run([sys.executable, "ci/comment.py", "plan.md"], scaffold)
    assert done.returncode == 1
    assert done.stderr == "No plan.md to post: see the plan step's output.\n"
