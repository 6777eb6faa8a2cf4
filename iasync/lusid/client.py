"""The Investment Accounts API over one pooled, thread-safe httpx client: upsert, list, get and
delete, each request authorised (`_auth`) and retried (`_retry`), failures in words (`_errors`).

Either API generation (lusid-api.md, "Two API generations"; the `api` setting): `unscoped`, the
reference page's, or `scoped`, today's LUSID. Upsert and list share their paths; get and delete
differ, and the unscoped API has no delete. A LUSID answering as the other generation does (a 400
saying `scope` is required or unknown, a 404 `NotFound` for a path it does not have) is one
`ApiGenerationError` naming the setting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast
from urllib.parse import quote

import httpx

from iasync import __version__
from iasync.lusid._auth import Tokens
from iasync.lusid._config import LusidConfig, http_timeout, proxy_of, shown_url
from iasync.lusid._errors import (
    LusidApiError,
    bad_request,
    json_or_none,
    other_generation,
    request_id,
    unexpected,
    with_request_id,
    wrong_generation,
)
from iasync.lusid._retry import RetryEvent, RetryPolicy, unless_retried, with_retries

BATCH_UPSERT_PATH = "/api/investmentaccounts/$batchUpsert"
ACCOUNTS_PATH = "/api/investmentaccounts"
_API_URL_SETTING = "the LUSID URL (FBN_LUSID_URL, or api.lusidUrl in secrets.json)"
#: LUSID's `name` for a path it has no endpoint for (as against InvestmentAccountNotFound).
NO_ENDPOINT = "NotFound"

Api = Literal["unscoped", "scoped"]


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
        api: Api = "unscoped",
    ) -> None:
        """`timeout`: seconds, for what the config's FBN_*_TIMEOUT_MS leave unset (see
        `http_timeout`). `retry` replaces the default policy (and its `max_attempts`); the
        config's FBN_RATE_LIMIT_RETRIES fills in its `rate_limit_retries` when it has none.
        `refresh_margin`: refresh a token this many seconds (at most half its life) before it
        expires. `on_retry` is called before each wait to retry, from the thread that made the
        request (so from several threads at once when batches are sent in parallel). `api`: the
        API generation LUSID speaks (the `api` setting)."""
        if api not in ("unscoped", "scoped"):
            raise ValueError(f"api must be 'unscoped' or 'scoped', not {api!r}")
        self._api: Api = api
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
        return f"LusidClient({shown_url(self._base)!r}, {self.config.describe_auth()}, {self._api})"

    @property
    def api(self) -> Api:
        """The API generation this client speaks: "unscoped" or "scoped"."""
        return self._api

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

    def list_investment_accounts(
        self, *, property_keys: Sequence[str], scope: str | None = None, page_size: int = 5000
    ) -> Iterator[dict[str, Any]]:
        """Every account LUSID has (under `scoped` with `scope`: those of that scope), page by page.

        `property_keys`: the properties to read (LUSID returns an account's properties only for
        the keys named): give every key iasync manages, or properties look deleted. The filter
        goes with every page, as LUSID wants it unchanged while paging. Under `unscoped`,
        `scope` is ignored (that API has no scopes).
        """
        base: dict[str, Any] = {"limit": page_size}
        if property_keys:
            base["propertyKeys"] = list(property_keys)
        if scope is not None and self._api == "scoped":
            base["filter"] = f"scope eq '{scope}'"
        page: str | None = None
        while True:
            params = {**base, "page": page} if page else base
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
        """The account whose identifier `identifier_key` (`InvestmentAccount/{idScope}/{idType}`)
        is `value`, in `scope` under `scoped` (required there); None when LUSID has none.

        `property_keys` as for `list_investment_accounts`.
        """
        id_scope, id_type = _identifier_parts(identifier_key)
        params: dict[str, Any] = {}
        if property_keys:
            params["propertyKeys"] = list(property_keys)
        if self._api == "scoped":
            params.update(scope=_required_scope(scope, "reading"), identifierScope=id_scope)
            path = _segments(id_type, value)
        else:
            path = _segments(id_scope, id_type, value)
        response = self._send(
            "GET", f"{ACCOUNTS_PATH}/{path}", params=params, what="reading an account"
        )
        if response.status_code == 404:
            self._check_endpoint(response, "reading an account")
            return None
        if response.status_code != 200:
            raise unexpected(response, "reading the account")
        account: dict[str, Any] | None = json_or_none(response)
        return account

    def delete_investment_account(self, identifier_key: str, value: str, *, scope: str) -> bool:
        """Delete the account of `scope` whose identifier `identifier_key` is `value` (scoped API
        only). True when deleted, False when LUSID had no such account."""
        if self._api != "scoped":
            raise LusidApiError(
                'the reference page\'s LUSID API (api = "unscoped") has no delete: accounts '
                'cannot be deleted through it. Today\'s LUSID (api = "scoped" in iasync.toml) '
                "has one"
            )
        id_scope, id_type = _identifier_parts(identifier_key)
        params = {"scope": _required_scope(scope, "deleting"), "identifierScope": id_scope}
        response = self._send(
            "DELETE",
            f"{ACCOUNTS_PATH}/{_segments(id_type, value)}",
            params=params,
            what="deleting an account",
        )
        if response.status_code == 404:
            self._check_endpoint(response, "deleting an account")
            return False
        if response.status_code != 200:
            raise unexpected(response, "deleting the account")
        return True

    def _check_endpoint(self, response: httpx.Response, doing: str) -> None:
        """A 404 `NotFound` is a path LUSID does not have, so LUSID speaks the other API
        generation (`InvestmentAccountNotFound` is an account that does not exist)."""
        problem = json_or_none(response)
        if isinstance(problem, dict) and problem.get("name") == NO_ENDPOINT:
            # A wrong base URL is answered the same way: say that too (a plan's read of LUSID
            # is often the first request, so this is where a mistyped URL shows).
            hint = (
                f". Or, if the api setting is right, LUSID answered 404 for the path: is the "
                f"LUSID URL {self._base!r} right? It usually ends in /api"
            )
            raise wrong_generation(self._api, doing, response, hint)

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
            problem = json_or_none(response)
            if isinstance(problem, dict) and other_generation(problem, self._api):
                raise wrong_generation(self._api, _doing(method), response)
            raise bad_request(response)
        return response


def _doing(method: str) -> str:
    return {"POST": "the batch upsert", "DELETE": "the delete"}.get(method, "the read")


def _identifier_parts(identifier_key: str) -> tuple[str, str]:
    """`InvestmentAccount/ExternalIdentifier/ExternalIAId` -> ("ExternalIdentifier",
    "ExternalIAId"): the identifier's scope and type, as the get and delete paths take them."""
    parts = identifier_key.split("/")
    if len(parts) != 3 or parts[0] != "InvestmentAccount" or not all(parts[1:]):
        raise ValueError(
            f"{identifier_key!r} is not an account identifier key "
            "(InvestmentAccount/{idScope}/{idType})"
        )
    return parts[1], parts[2]


def _segments(*parts: str) -> str:
    """Path segments, each encoded whole (a `/` in a value is `%2F`, as the SDK sends it)."""
    return "/".join(quote(part, safe="") for part in parts)


def _required_scope(scope: str | None, doing: str) -> str:
    if not scope:
        raise ValueError(f"{doing} an account under the scoped API needs its scope")
    return scope


def as_api(value: str) -> Api:
    """The `api` setting as the client's type (settings validate it to one of the two)."""
    if value not in ("unscoped", "scoped"):
        raise ValueError(f"api must be 'unscoped' or 'scoped', not {value!r}")
    return cast(Api, value)


def _batch_body(requests: Mapping[str, bytes]) -> bytes:
    """`{"<corrId>": <body>, ...}` assembled from the bodies' bytes, never re-serialised."""
    items = (json.dumps(corr_id).encode() + b":" + body for corr_id, body in requests.items())
    return b"{" + b",".join(items) + b"}"
