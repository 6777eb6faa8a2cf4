"""Drift (issue 12, item 2): `plan --refresh` reads the managed accounts in one paged list and
reports those changed or deleted outside iasync, attribute by attribute; `apply --refresh`
restores the files' version. A server without the list endpoint is told plainly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.conftest import Project
from tests.e2e.test_existing_accounts import file_body, seed


@pytest.fixture
def applied(project: Project) -> Project:
    done = project.iasync("apply", "--auto-approve")
    assert done.returncode == 0, done.stderr
    project.emulator.clear_requests()
    return project


def test_a_change_in_lusid_is_drift_and_apply_refresh_restores_the_file(applied: Project) -> None:
    seed(applied, file_body(1, description="Changed in LUSID"))
    applied.emulator.clear_requests()

    quiet = applied.iasync("plan", "-detailed-exitcode")
    refreshed = applied.iasync("plan", "--refresh", "-detailed-exitcode")
    doc = json.loads(applied.iasync("plan", "--refresh", "-json").stdout)

    assert quiet.returncode == 0 and "No changes" in quiet.stdout  # no refresh, no read
    assert refreshed.returncode == 2, refreshed.stderr
    out = refreshed.stdout
    assert "Changed outside iasync (as last applied -> LUSID now): 1 account" in out
    assert '~ description: "End-to-end account 1" -> "Changed in LUSID"' in out
    assert "1 changed outside iasync" in out.splitlines()[0]
    gets = [r for r in applied.emulator.requests() if r["method"] == "GET"]
    assert [r["path"] for r in gets] == ["/api/api/investmentaccounts"] * 2  # one list a plan
    assert doc["drift"][0]["path"] == "accounts/account-0001.yaml"
    assert doc["drift"][0]["differences"] == [
        {
            "path": "description",
            "action": "change",
            "before": "End-to-end account 1",
            "after": "Changed in LUSID",
        }
    ]

    done = applied.iasync("apply", "--auto-approve", "--refresh")

    assert done.returncode == 0, done.stderr
    assert "0 created, 1 updated, 0 failed" in done.stdout
    assert applied.sent_ids() == ["accounts/account-0001.yaml"]
    after = applied.iasync("plan", "--refresh", "-detailed-exitcode")
    assert after.returncode == 0 and "No changes" in after.stdout


def test_accounts_deleted_outside_iasync_are_created_again(applied: Project) -> None:
    applied.emulator.reset()  # every account gone from LUSID, as if deleted in its web app

    plan = applied.iasync("plan", "--refresh")
    markdown = applied.iasync("plan", "--refresh", "--markdown").stdout
    done = applied.iasync("apply", "--auto-approve", "--refresh")

    assert plan.stdout.count("deleted in LUSID outside iasync") == 3
    assert "#### Changed outside iasync" in markdown
    assert done.returncode == 0, done.stderr
    assert len(applied.emulator.accounts()) == 3
    # The state follows LUSID's new ids: the next refresh finds every account as applied.
    assert applied.iasync("plan", "--refresh", "-detailed-exitcode").returncode == 0


def test_server_fields_and_unmanaged_properties_are_no_drift(applied: Project) -> None:
    # Re-sent as is: a new version, new modification times, the same content.
    seed(applied, file_body(0))
    done = applied.iasync("plan", "--refresh", "-detailed-exitcode")
    assert done.returncode == 0, done.stdout


def test_refresh_with_offline_is_refused(project: Project) -> None:
    done = project.iasync("plan", "--refresh", "--offline")
    assert done.returncode == 1 and "choose one" in done.stderr


class _NoList(BaseHTTPRequestHandler):
    status = 404

    def do_GET(self) -> None:
        body = json.dumps({"name": "NotFound", "title": "No endpoint"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=[404, 405])
def no_list_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_NoList,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_a_server_without_the_list_endpoint_is_told_plainly(
    project: Project, no_list_server: str
) -> None:
    env = project.env | {"FBN_LUSID_URL": no_list_server}
    done = project.iasync("plan", "--refresh", env=env)

    assert done.returncode == 1
    assert "LUSID has no list endpoint here (GET /api/investmentaccounts answered 40" in (
        done.stderr
    )
