"""The Investment Accounts API over one pooled, thread-safe httpx client: the three endpoints
iasync uses, each request authorised (`_auth`) and retried (`_retry`), failures in words
(`_errors`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import quote

import httpx

from iasync import __version__
from iasync.lusid._auth import Tokens
from iasync.lusid._config import LusidConfig, http_timeout, proxy_of, shown_url
from iasync.lusid._errors import (
    LusidApiError,
    bad_request,
    json_or_none,
    request_id,
    unexpected,
    with_request_id,
)
from iasync.lusid._retry import RetryEvent, RetryPolicy, unless_retried, with_retries

BATCH_UPSERT_PATH = "/api/investmentaccounts/$batchUpsert"
ACCOUNTS_PATH = "/api/investmentaccounts"
_API_URL_SETTING = "the LUSID URL (FBN_LUSID_URL, or api.lusidUrl in secrets.json)"


@dataclass
class UpsertResponse:
    values: dict[str, dict[str, Any]]  # correlation id -> InvestmentAccount
    failed: dict[str, dict[str, Any]]  # correlation id -> ErrorDetail
    request_id: str | None
    bytes_sent: int


class LusidClient:
    """The Investment Accounts API over one pooled, thread-safe httpx client."""

    def __init__(
        self,
        config: LusidConfig,
        *,
        timeout: float = 30.0,
        max_attempts: int = 6,
        retry: RetryPolicy | None = None,
        refresh_margin: float = 60.0,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        """`timeout`: seconds, for what the config's FBN_*_TIMEOUT_MS leave unset (see
        `http_timeout`). `retry` replaces the default policy (and its `max_attempts`); the
        config's FBN_RATE_LIMIT_RETRIES fills in its `rate_limit_retries` when it has none.
        `refresh_margin`: refresh a token this many seconds (at most half its life) before it
        expires. `on_retry` is called before each wait to retry, from the thread that made the
        request (so from several threads at once when batches are sent in parallel)."""
        self.config = config
        self.retry = retry or RetryPolicy(max_attempts=max_attempts)
        if self.retry.rate_limit_retries is None and config.rate_limit_retries is not None:
            self.retry = replace(self.retry, rate_limit_retries=config.rate_limit_retries)
        self.on_retry = on_retry
        self._base = config.api_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": f"iasync/{__version__}"}
        if config.app_name:
            headers["X-LUSID-Application"] = config.app_name
        self._http = httpx.Client(
            headers=headers,
            timeout=http_timeout(config, timeout),
            proxy=proxy_of(config),
            follow_redirects=False,
        )
        self._tokens = Tokens(config, self._http.post, self._with_retries, refresh_margin)

    def __enter__(self) -> LusidClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"LusidClient({shown_url(self._base)!r}, {self.config.describe_auth()})"

    # endpoints

    def upsert_investment_accounts(
        self, requests: Mapping[str, bytes], success_mode: str
    ) -> UpsertResponse:
        """POST a batch; `requests` maps correlation id -> canonical JSON bytes, sent verbatim."""
        body = _batch_body(requests)
        response = self._send(
            "POST",
            BATCH_UPSERT_PATH,
            params={"successMode": success_mode},
            content=body,
            headers={"Content-Type": "application/json-patch+json"},
            what=f"the batch upsert of {len(requests)} account{'s' if len(requests) != 1 else ''}",
        )
        if response.status_code == 404:
            raise unexpected(
                response,
                "the batch upsert",
                hint=f"is the LUSID URL {self._base!r} right? It usually ends in /api",
            )
        if response.status_code != 201:
            raise unexpected(response, "the batch upsert")
        doc = json_or_none(response)
        if not isinstance(doc, dict):
            raise LusidApiError(
                with_request_id(
                    "LUSID answered 201 with a body that is not JSON", request_id(response)
                ),
                status=201,
                request_id=request_id(response),
            )
        return UpsertResponse(
            values=dict(doc.get("values") or {}),
            failed=dict(doc.get("failed") or {}),
            request_id=request_id(response),
            bytes_sent=len(body),
        )

    @property
    def api(self) -> Literal["unscoped", "scoped"]:
        """The API generation this client speaks (placeholder: the reference page's only)."""
        return "unscoped"

    def list_investment_accounts(
        self,
        *,
        property_keys: Sequence[str],
        scope: str | None = None,
        page_size: int = 5000,
    ) -> Iterator[dict[str, Any]]:
        """Every account LUSID has, page by page, with the properties of `property_keys` (LUSID
        returns no other). The unscoped API has no scope: `scope` filters nothing."""
        page: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size, "propertyKeys": list(property_keys)}
            if page:
                params["page"] = page
            response = self._send("GET", ACCOUNTS_PATH, params=params, what="listing the accounts")
            if response.status_code != 200:
                raise unexpected(response, "listing the accounts")
            doc = json_or_none(response) or {}
            yield from doc.get("values") or []
            page = doc.get("nextPage")
            if not page:
                return

    def get_investment_account(
        self,
        identifier_key: str,
        value: str,
        *,
        property_keys: Sequence[str],
        scope: str | None = None,
    ) -> dict[str, Any] | None:
        """The account whose identifier `identifier_key` (InvestmentAccount/{scope}/{code}) is
        `value`, with the properties of `property_keys`; None when LUSID has none."""
        _, id_scope, id_code = identifier_key.split("/", 2)
        path = "/".join(quote(part, safe="") for part in (id_scope, id_code, value))
        response = self._send(
            "GET",
            f"{ACCOUNTS_PATH}/{path}",
            params={"propertyKeys": list(property_keys)},
            what="reading an account",
        )
        if response.status_code == 404:
            problem = json_or_none(response)
            if isinstance(problem, dict) and problem.get("name") == "InvestmentAccountNotFound":
                return None
            raise unexpected(response, "reading the account")
        if response.status_code != 200:
            raise unexpected(response, "reading the account")
        account: dict[str, Any] | None = json_or_none(response)
        return account

    def delete_investment_account(self, identifier_key: str, value: str, *, scope: str) -> bool:
        """Delete one account (the scoped API only); False when LUSID had none."""
        raise LusidApiError(
            'the reference-page LUSID API (api = "unscoped") has no delete endpoint: '
            'iasync cannot delete accounts there. Set api = "scoped" for today\'s LUSID, or '
            "delete the account in LUSID's web app and `iasync state rm` it"
        )

    # one request: auth, retries

    def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        url = self._base + path
        where = httpx.URL(url)  # scheme, host and port only: never a password in a message
        what = f"{what} at {where.scheme}://{where.netloc.decode()}"
        return self._with_retries(what, lambda: self._authorised(method, url, **kwargs))

    def _with_retries(
        self,
        what: str,
        attempt: Callable[[], httpx.Response],
        url_setting: str = _API_URL_SETTING,
    ) -> httpx.Response:
        return with_retries(
            self.retry, what, attempt, url_setting=url_setting, on_retry=self.on_retry
        )

    def _authorised(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One attempt, plus one more with a new token if LUSID says the token is not valid."""
        bearer = self._tokens.bearer()
        response = self._attempt(method, url, bearer, **kwargs)
        if response.status_code == 401 and self.config.uses_password_grant:
            response = self._attempt(method, url, self._tokens.bearer(rejected=bearer), **kwargs)
        if response.status_code == 401:
            raise LusidApiError(
                with_request_id(
                    "LUSID refused the credentials (401 Unauthorized) using the "
                    f"{self.config.describe_auth()}: {self.config.credentials_advice()}",
                    request_id(response),
                ),
                status=401,
                problem=json_or_none(response) or {},
                request_id=request_id(response),
            )
        return response

    def _attempt(self, method: str, url: str, bearer: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {bearer}"}
        response = unless_retried(
            lambda: self._http.request(method, url, headers=headers, **kwargs)
        )
        if response.status_code == 400:
            raise bad_request(response)
        return response


def _batch_body(requests: Mapping[str, bytes]) -> bytes:
    """`{"<corrId>": <body>, ...}` assembled from the bodies' bytes, never re-serialised."""
    items = (json.dumps(corr_id).encode() + b":" + body for corr_id, body in requests.items())
    return b"{" + b",".join(items) + b"}"
