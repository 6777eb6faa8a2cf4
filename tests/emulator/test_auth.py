"""Bearer tokens and the OAuth2 token endpoint, over real HTTP (plus the token rules on a clock)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from iasync.emulator.auth import EXPIRED_REFRESH, Authenticator
from iasync.emulator.process import EmulatorProcess

LIST = "/api/investmentaccounts"
CLIENT = {"client_id": "cid", "client_secret": "csecret"}
Factory = Callable[..., EmulatorProcess]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def password_grant(emu: EmulatorProcess, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "password",
        "username": "alice",
        "password": "pw",
        "scope": "openid client groups offline_access",
        **CLIENT,
        **overrides,
    }
    return httpx.post(emu.token_url, data=form)


def refresh_grant(
    emu: EmulatorProcess, refresh_token: str, secret: str = "csecret"
) -> httpx.Response:
    return httpx.post(
        emu.token_url,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": basic("cid", secret)},
    )


def list_with(emu: EmulatorProcess, token: str) -> httpx.Response:
    return httpx.get(f"{emu.url}{LIST}", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def oauth_emulator(emulator_factory: Factory) -> EmulatorProcess:
    return emulator_factory(
        "pat", "--user", "alice:pw", "--client-id", "cid", "--client-secret", "csecret"
    )


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer wrong-token", "Basic dGVzdC10b2tlbjo=", "test-token"]
)
def test_no_valid_bearer_token_is_401(emulator: EmulatorProcess, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.get(f"{emulator.url}{LIST}", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    problem = response.json()
    assert (problem["name"], problem["code"], problem["status"]) == (
        "InvalidIdentityToken",
        187,
        401,
    )


def test_personal_access_token_works(emulator: EmulatorProcess) -> None:
    assert list_with(emulator, "test-token").status_code == 200


def test_several_personal_tokens(emulator_factory: Factory) -> None:
    emu = emulator_factory("first", "--token", "second")

    assert list_with(emu, "first").status_code == list_with(emu, "second").status_code == 200
    assert list_with(emu, "third").status_code == 401


def test_password_grant_issues_a_working_token(oauth_emulator: EmulatorProcess) -> None:
    response = password_grant(oauth_emulator)

    assert response.status_code == 200
    grant = response.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 3600
    assert list_with(oauth_emulator, grant["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"password": "wrong"}, 400, "invalid_grant"),
        ({"username": "bob"}, 400, "invalid_grant"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "other"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ],
)
def test_password_grant_refusals(
    oauth_emulator: EmulatorProcess, overrides: dict[str, str], status: int, error: str
) -> None:
    response = password_grant(oauth_emulator, **overrides)

    assert response.status_code == status
    assert response.json()["error"] == error


def test_refresh_grant_with_basic_client_credentials(oauth_emulator: EmulatorProcess) -> None:
    first = password_grant(oauth_emulator).json()

    refreshed = refresh_grant(oauth_emulator, first["refresh_token"])

    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["access_token"] != first["access_token"]
    assert list_with(oauth_emulator, new["access_token"]).status_code == 200
    # Refresh tokens rotate: the used one is spent, and the SDK then falls back to a password grant.
    again = refresh_grant(oauth_emulator, first["refresh_token"])
    assert again.status_code == 400
    assert "refresh token is invalid or expired" in again.json()["error_description"]


def test_refresh_grant_needs_the_client_secret(oauth_emulator: EmulatorProcess) -> None:
    first = password_grant(oauth_emulator).json()

    assert refresh_grant(oauth_emulator, first["refresh_token"], secret="wrong").status_code == 401


def test_issued_tokens_expire(emulator_factory: Factory) -> None:
    emu = emulator_factory("pat", "--user", "alice:pw", "--token-expiry", "0.5")
    grant = password_grant(emu).json()
    assert list_with(emu, grant["access_token"]).status_code == 200

    time.sleep(1.0)  # let the token's lifetime pass (not a timing assertion)

    assert list_with(emu, grant["access_token"]).status_code == 401
    refreshed = refresh_grant(emu, grant["refresh_token"]).json()
    assert list_with(emu, refreshed["access_token"]).status_code == 200


def test_without_client_options_any_client_is_accepted(emulator_factory: Factory) -> None:
    emu = emulator_factory("pat", "--user", "alice:pw")

    assert password_grant(emu, client_id="x", client_secret="y").status_code == 200


def test_token_requests_are_logged_without_their_secrets(oauth_emulator: EmulatorProcess) -> None:
    grant = password_grant(oauth_emulator).json()
    refresh_grant(oauth_emulator, grant["refresh_token"])
    list_with(oauth_emulator, grant["access_token"])

    logged = oauth_emulator.requests()
    text = repr(logged) + oauth_emulator.stderr() + oauth_emulator.stdout()
    for secret in ("pw", "csecret", grant["access_token"], grant["refresh_token"], "pat"):
        assert f"'{secret}'" not in text and f"={secret}" not in text
    assert [e["body"] for e in logged[:2]] == [None, None]
    assert all("authorization" not in {k.lower() for k in e} for e in logged)


# --- the rules, on a clock the test turns ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def clocked() -> tuple[Authenticator, Clock]:
    """An authenticator for user u (password p) with 60 s tokens, on a clock the test turns."""
    clock = Clock()
    return Authenticator(users={"u": "p"}, token_expiry=60, clock=clock), clock


def password_grant_of(auth: Authenticator) -> dict[str, Any]:
    """The body of a password grant for user u, asked of the authenticator directly."""
    return auth.grant(
        {"grant_type": "password", "username": "u", "password": "p", **CLIENT}, None
    ).body


def test_access_token_expiry_on_a_clock() -> None:
    auth, clock = clocked()
    grant = password_grant_of(auth)
    bearer = f"Bearer {grant['access_token']}"

    clock.now += 59
    assert auth.user_of(bearer) == "u"
    clock.now += 1
    assert auth.user_of(bearer) is None


def test_refresh_token_expires_on_a_clock() -> None:
    auth, clock = clocked()
    grant = password_grant_of(auth)
    clock.now += 9 * 3600

    refused = auth.grant(
        {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
        basic("cid", "csecret"),
    )

    assert (refused.status, refused.body["error_description"]) == (400, EXPIRED_REFRESH)


def test_refresh_accepts_client_credentials_in_the_body() -> None:
    auth = Authenticator(users={"u": "p"}, client_id="cid", client_secret="csecret")
    grant = password_grant_of(auth)

    refreshed = auth.grant(
        {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"], **CLIENT}, None
    )

    assert refreshed.status == 200
