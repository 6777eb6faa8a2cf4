"""Security (issue 13 item 8): planted secrets appear in no output, plan file or state, over every
command and its failures; TLS certificates are always verified; the emulator refuses `/api`
requests without a valid token.

Each secret is distinctive (`PLANTED-...`), so any copy of it anywhere is found.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from iasync.emulator.process import EmulatorProcess
from tests.e2e.conftest import (
    GRANT_CLIENT_ID,
    GRANT_USER,
    Project,
    clean_environ,
    make_project,
    password_grant_emulator,
)

TOKEN = "tok-PLANTED-4b1d-token"
WRONG_TOKEN = "tok-PLANTED-77aa-wrong"
PASSWORD = "pw-PLANTED-9c3e-password"
CLIENT_SECRET = "cs-PLANTED-e5f0-client-secret"
PROXY_PASSWORD = "px-PLANTED-1a2b-proxy"
SECRETS = (TOKEN, WRONG_TOKEN, PASSWORD, CLIENT_SECRET, PROXY_PASSWORD)


def written_text(root: Path) -> dict[str, str]:
    """Every file iasync may have written under the project (state, backup, lock, plans)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes().decode("utf-8", errors="replace")
        for path in root.rglob("*")
        if path.is_file() and path.name != "secrets.json"
    }


def assert_no_secret(project: Project) -> None:
    files = written_text(project.root)
    assert any(name.endswith("state.json") for name in files)  # there was something to search
    for secret in SECRETS:
        assert not [text for text in project.outputs if secret in text], secret
        assert not [name for name, text in files.items() if secret in text], secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def every_command(project: Project) -> None:
    """validate, plan (text, JSON, Markdown, saved), apply (saved, confirmed, JSON), state list
    and show: each succeeding."""
    for args in (
        ["validate"],
        ["validate", "--format", "json"],
        ["plan"],
        ["plan", "-json"],
        ["plan", "--markdown"],
        ["plan", "-out", "tf.plan"],
        ["apply", "tf.plan"],
    ):
        done = project.iasync(*args)
        assert done.returncode == 0, (args, done.stderr)
    project.write(1, suffix=" (edited)")
    assert project.iasync("apply", "--auto-approve", "-json").returncode == 0
    for args in (["state", "list"], ["state", "list", "-json"], ["state", "show", "IA_0001"]):
        done = project.iasync(*args)
        assert done.returncode == 0, (args, done.stderr)


def failures(project: Project, emulator: EmulatorProcess) -> None:
    """apply failing every way it can: a 401, an account refused, a 500 without end, LUSID
    unreachable, a bad secrets.json; each exits 1."""
    project.write(2, suffix=" (edited)")
    wrong = project.env | {"FBN_ACCESS_TOKEN": WRONG_TOKEN}
    assert project.iasync("apply", "--auto-approve", env=wrong).returncode == 1
    emulator.add_fault(kind="fail-account", identifier="IA_0002", errorType="PropertyNotDefined")
    assert project.iasync("apply", "--auto-approve").returncode == 1
    emulator.clear_faults()
    emulator.add_fault(kind="status", status=500, count=1)  # 500 is not retried
    assert project.iasync("apply", "--auto-approve", "-json").returncode == 1
    emulator.clear_faults()
    away = project.env | {"FBN_LUSID_URL": f"http://127.0.0.1:{free_port()}/api"}
    assert project.iasync("apply", "--auto-approve", env=away).returncode == 1
    assert project.iasync("plan", "-json", env=away).returncode == 0  # plan needs no LUSID


@pytest.fixture
def planted_env() -> dict[str, str]:
    """The token, and every other secret LUSID's configuration knows, in the environment."""
    return clean_environ() | {
        "FBN_ACCESS_TOKEN": TOKEN,
        "FBN_PASSWORD": PASSWORD,
        "FBN_CLIENT_SECRET": CLIENT_SECRET,
        "FBN_PROXY_PASSWORD": PROXY_PASSWORD,
    }


def test_secrets_in_the_environment_appear_nowhere(
    tmp_path: Path, planted_env: dict[str, str]
) -> None:
    with EmulatorProcess(TOKEN) as emulator:
        env = planted_env | {"FBN_LUSID_URL": emulator.url}
        project = make_project(tmp_path / "project", env, emulator, range(3))
        every_command(project)
        failures(project, emulator)
    assert_no_secret(project)


def test_secrets_in_secrets_json_appear_nowhere(tmp_path: Path) -> None:
    with password_grant_emulator(PASSWORD, CLIENT_SECRET) as emulator:
        project = make_project(tmp_path / "project", clean_environ(), emulator, range(3))
        api = {
            "lusidUrl": emulator.url,
            "tokenUrl": emulator.token_url,
            "username": GRANT_USER,
            "password": PASSWORD,
            "clientId": GRANT_CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
        }
        secrets = project.root / "secrets.json"
        secrets.write_text(json.dumps({"api": api}), encoding="utf-8")
        every_command(project)
        # The password grant refused (a wrong password), then a secrets.json that is not JSON.
        secrets.write_text(json.dumps({"api": api | {"password": PASSWORD + "x"}}))
        project.write(2, suffix=" (edited)")
        done = project.iasync("apply", "--auto-approve")
        assert done.returncode == 1
        assert "check FBN_USERNAME, FBN_PASSWORD" in done.stdout + done.stderr
        secrets.write_text('{"api": {"password": "' + PASSWORD + '",,}}')
        done = project.iasync("apply", "--auto-approve")
        assert done.returncode == 1
        assert "not valid JSON" in done.stderr
    assert_no_secret(project)


# --- TLS --------------------------------------------------------------------------------------


def test_no_switch_turns_certificate_verification_off() -> None:
    """Read the source: no `verify=` (httpx verifies by default), no unverified SSL context."""
    source = Path(__file__).parents[2] / "iasync"
    found = [
        f"{path.relative_to(source)}:{number}: {line.strip()}"
        for path in sorted(source.rglob("*.py"))
        if "emulator" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"verify\s*=|CERT_NONE|_create_unverified_context|check_hostname", line)
    ]
    assert found == []


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTPS server on loopback with a self-signed certificate: (its URL, the requests it
    got). A client that verifies certificates never gets as far as a request."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    request += ["-subj", "/CN=127.0.0.1"]
    subprocess.run(
        ["openssl", *request, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api", requests
    finally:
        server.shutdown()
        server.server_close()


def test_a_certificate_that_cannot_be_verified_stops_apply_at_once(
    tmp_path: Path, planted_env: dict[str, str], self_signed_server: tuple[str, list[str]]
) -> None:
    url, requests = self_signed_server
    project = make_project(
        tmp_path / "project", planted_env | {"FBN_LUSID_URL": url}, None, range(2)
    )

    done = project.iasync("apply", "--auto-approve")

    assert done.returncode == 1
    assert "the server's TLS certificate could not be verified (self-signed certificate)" in (
        done.stderr
    )
    assert "iasync always verifies certificates" in done.stderr
    assert "attempts" not in done.stderr  # not retried: no retry makes a certificate trusted
    assert requests == []  # not one request reached the server
    assert not project.state_path.exists()
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr


# --- the emulator ------------------------------------------------------------------------------


def api_routes(api: str) -> list[tuple[str, str]]:
    """(method, path) of every route under /api of the emulator serving the `api` generation,
    with made-up path values."""
    from iasync.emulator.app import build_app

    routes = []
    for route in build_app(tokens=["unused"], api=api).app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/"):
            concrete = re.sub(r"\{[^}]*\}", "X", path)
            methods = sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"})
            routes += [(method, concrete) for method in methods]
    return routes


@pytest.mark.parametrize(
    ("api", "methods"),
    [("unscoped", {"GET", "POST"}), ("scoped", {"GET", "POST", "DELETE"})],  # no delete unscoped
)
def test_every_api_route_needs_a_valid_token(
    api: str, methods: set[str], emulator: EmulatorProcess, scoped_emulator: EmulatorProcess
) -> None:
    emulator = scoped_emulator if api == "scoped" else emulator
    routes = api_routes(api)
    assert {method for method, _ in routes} >= methods
    body = {"a.yaml": {"identifiers": {}, "displayName": "x", "accountType": "Personal"}}
    for method, path in routes:
        for authorization in (None, "Bearer", f"Bearer {WRONG_TOKEN}", "test-token", "Basic eA=="):
            headers = {"Authorization": authorization} if authorization else {}
            response = httpx.request(method, emulator.root + path, headers=headers, json=body)
            assert response.status_code == 401, (method, path, authorization)
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert emulator.accounts() == []
