"""The bearer token to send: a personal access token as is, or the OAuth2 password grant,
refreshed before it expires and obtained anew when LUSID answers 401. Thread-safe: one thread
obtains a token while the others wait and share it.

A refused password grant is final for the client's life: every later request gets the same
error without asking again (asking once a batch could lock the account at the identity
provider), and the error is `fatal`, so apply stops before sending anything."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from iasync.lusid._config import LusidConfig, Secret, shown_url
from iasync.lusid._errors import LusidApiError, json_or_none, oauth_error
from iasync.lusid._retry import unless_retried

log = logging.getLogger("iasync.lusid")

SCOPE = "openid client groups offline_access"
_TOKEN_URL_SETTING = "the token URL (FBN_TOKEN_URL, or api.tokenUrl in secrets.json)"

# How the token endpoint is asked: (what, one attempt, url_setting) -> the answer, with retries.
Retrying = Callable[[str, Callable[[], httpx.Response], str], httpx.Response]


@dataclass
class Token:
    access: Secret
    refresh: Secret | None
    refresh_at: float  # monotonic time after which it is refreshed before use


class Tokens:
    """The client's bearer tokens, obtained from the token endpoint as they are needed."""

    def __init__(
        self,
        config: LusidConfig,
        post: Callable[..., httpx.Response],
        retrying: Retrying,
        refresh_margin: float,
    ) -> None:
        """`post`: httpx's POST of the client's pool; `retrying`: how the client retries;
        `refresh_margin`: refresh a token this many seconds (at most half its life) early."""
        self.config = config
        self.refresh_margin = refresh_margin
        self.current: Token | None = None
        self.refused: LusidApiError | None = None  # the password grant's refusal, once refused
        self._post = post
        self._retrying = retrying
        self._lock = threading.Lock()

    def bearer(self, rejected: str | None = None) -> str:
        """The token to send; `rejected`: the one LUSID just answered 401 to."""
        if self.config.access_token is not None:
            return self.config.access_token.reveal()
        with self._lock:  # one thread obtains the token; the others wait and share it
            if self.refused is not None:
                raise self.refused
            token = self.current
            if token is None:
                token = self._password_grant()
            elif rejected is not None and token.access.reveal() == rejected:
                # Only the first thread to see the 401 renews; the others take its new token.
                log.info("LUSID answered 401: obtaining a new token with the password grant")
                token = self._password_grant()
            elif rejected is None and time.monotonic() >= token.refresh_at:
                token = self._refresh(token)
            self.current = token
            return token.access.reveal()

    def _password_grant(self) -> Token:
        config = self.config
        assert config.password is not None and config.client_secret is not None
        log.info("obtaining a LUSID token with the password grant as %s", config.username)
        form = {
            "grant_type": "password",
            "username": config.username or "",
            "password": config.password.reveal(),
            "scope": SCOPE,
            "client_id": config.client_id or "",
            "client_secret": config.client_secret.reveal(),
        }
        response = self._token_request(form, auth=None)
        if response.status_code != 200:
            self.refused = LusidApiError(
                f"the token endpoint {shown_url(config.token_url or '')} refused the password "
                f"grant for {config.username}: {oauth_error(response)}; check FBN_USERNAME, "
                "FBN_PASSWORD, FBN_CLIENT_ID and FBN_CLIENT_SECRET",
                status=response.status_code,
                fatal=True,
            )
            raise self.refused
        return self._token_from(response)

    def _refresh(self, token: Token) -> Token:
        if token.refresh is None:
            return self._password_grant()
        config = self.config
        assert config.client_secret is not None
        log.info("refreshing the LUSID token before it expires")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": token.refresh.reveal(),
            "scope": SCOPE,
        }
        auth = httpx.BasicAuth(config.client_id or "", config.client_secret.reveal())
        response = self._token_request(form, auth=auth)
        if response.status_code != 200:
            log.info(
                "the refresh was refused (%s): using the password grant again",
                oauth_error(response),
            )
            return self._password_grant()
        return self._token_from(response)

    def _token_request(self, form: dict[str, str], auth: httpx.Auth | None) -> httpx.Response:
        url = self.config.token_url or ""
        return self._retrying(
            f"the token request to {shown_url(url)}",
            lambda: unless_retried(
                lambda: self._post(
                    url, data=form, auth=auth, headers={"Accept": "application/json"}
                )
            ),
            _TOKEN_URL_SETTING,
        )

    def _token_from(self, response: httpx.Response) -> Token:
        doc = json_or_none(response)
        if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
            raise LusidApiError(
                f"the token endpoint {shown_url(self.config.token_url or '')} answered "
                "without an access_token",
                status=response.status_code,
            )
        lifetime = _seconds(doc.get("expires_in"), default=3600.0)
        margin = min(self.refresh_margin, lifetime / 2)
        refresh = doc.get("refresh_token")
        return Token(
            access=Secret(doc["access_token"]),
            refresh=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            refresh_at=time.monotonic() + lifetime - margin,
        )


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default
