"""Issue 8, finding 6: `apply -json` prints exactly one JSON document on stdout, with the error
in it, when the run fails as a whole, so that CI always has a document to parse."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import Project


def one_document(stdout: str) -> dict[str, Any]:
    document = json.loads(stdout)  # fails on nothing, or on two documents
    assert isinstance(document, dict)
    assert document["format_version"] == 1
    return document


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"FBN_ACCESS_TOKEN": "not-the-token"}, 401, "LUSID refused the credentials"),
        ({"FBN_LUSID_URL": "/nowhere"}, 404, "404"),
        ({"FBN_ACCESS_TOKEN": ""}, None, "no LUSID credentials"),
    ],
    ids=["401", "404", "no-credentials"],
)
def test_a_run_that_fails_as_a_whole_prints_one_json_document_with_the_error(
    project: Project, emulator: Any, change: dict[str, str], status: int | None, says: str
) -> None:
    env = project.env | change
    if change.get("FBN_LUSID_URL") == "/nowhere":
        env["FBN_LUSID_URL"] = emulator.root + "/nowhere"
    done = project.iasync("apply", "--auto-approve", "-json", env=env)

    assert done.returncode == 1
    document = one_document(done.stdout)
    assert document["ok"] is False
    assert says in document["error"]["message"]
    assert document["error"]["status"] == status
    assert done.stderr.startswith("Error: ")  # the people reading the log are told too
    assert "not-the-token" not in done.stdout + done.stderr


def test_a_run_that_succeeds_says_ok(project: Project, emulator: Any) -> None:
    done = project.iasync("apply", "--auto-approve", "-json")
    assert done.returncode == 0, done.stderr
    document = one_document(done.stdout)
    assert document["ok"] is True
    assert document["error"] is None
    assert document["created"] == 3
