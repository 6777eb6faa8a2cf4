"""Bearer tokens: personal access tokens, and an OAuth2 token endpoint issuing short-lived ones.

The token endpoint speaks what the LUSID SDK sends (lusid-api.md): a form-encoded password grant
with the client credentials in the body, and a refresh grant with HTTP Basic client credentials.
Nothing here logs a token, a password or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_TOKEN_EXPIRY = 3600.0
REFRESH_TOKEN_LIFETIME = 8 * 3600.0
# The SDK looks for this phrase to fall back to a new password grant (refreshing_token.py).
EXPIRED_REFRESH = "The refresh token is invalid or expired."


@dataclass
class TokenGrant:
    status: int
    body: dict[str, object]


@dataclass
class Authenticator:
    personal_tokens: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # name -> password
    client_id: str | None = None  # None: any client id is accepted
    client_secret: str | None = None  # None: any client secret is accepted
    token_expiry: float = DEFAULT_TOKEN_EXPIRY
    clock: Callable[[], float] = time.monotonic
    _access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (user, expiry)
    _refresh: dict[str, tuple[str, float]] = field(default_factory=dict)

    def user_of(self, authorization: str | None) -> str | None:
        """The user a request acts as, or None when its bearer token is missing or not valid."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        for known in self.personal_tokens:
            if hmac.compare_digest(known.encode(), token.encode()):
                return "personal-access-token"
        issued = self._access.get(token)
        if issued is None:
            return None
        user, expiry = issued
        if self.clock() >= expiry:
            del self._access[token]
            return None
        return user

    def grant(self, form: Mapping[str, str], authorization: str | None) -> TokenGrant:
        grant_type = form.get("grant_type")
        if grant_type == "password":
            return self._password_grant(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, authorization)
        return _oauth_error(
            400, "unsupported_grant_type", "grant_type must be password or refresh_token."
        )

    def _client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        if not client_id or client_secret is None:
            return False
        id_ok = self.client_id is None or hmac.compare_digest(self.client_id, client_id)
        secret_ok = self.client_secret is None or hmac.compare_digest(
            self.client_secret.encode(), client_secret.encode()
        )
        return id_ok and secret_ok

    def _password_grant(self, form: Mapping[str, str]) -> TokenGrant:
        if not self._client_ok(form.get("client_id"), form.get("client_secret")):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        username, password = form.get("username", ""), form.get("password", "")
        expected = self.users.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return _oauth_error(400, "invalid_grant", "The credentials provided were invalid.")
        return self._issue(username)

    def _refresh_grant(self, form: Mapping[str, str], authorization: str | None) -> TokenGrant:
        client_id, client_secret = _basic_credentials(authorization)
        if client_id is None:  # RFC 6749 also allows the client credentials in the body
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not self._client_ok(client_id, client_secret):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        issued = self._refresh.pop(form.get("refresh_token", ""), None)
        if issued is None or self.clock() >= issued[1]:
            return _oauth_error(400, "invalid_grant", EXPIRED_REFRESH)
        return self._issue(issued[0])

    def _issue(self, user: str) -> TokenGrant:
        now = self.clock()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access[access] = (user, now + self.token_expiry)
        self._refresh[refresh] = (user, now + max(REFRESH_TOKEN_LIFETIME, self.token_expiry))
        return TokenGrant(
            200,
            {
                "token_type": "Bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": int(self.token_expiry) if self.token_expiry >= 1 else 1,
                "scope": "openid client groups offline_access",
                "id_token": secrets.token_urlsafe(16),
            },
        )


def _oauth_error(status: int, error: str, description: str) -> TokenGrant:
    return TokenGrant(status, {"error": error, "error_description": description})


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    if not authorization or not authorization.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else (None, None)
