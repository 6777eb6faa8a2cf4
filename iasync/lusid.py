"""A small httpx client for the LUSID Investment Accounts API: configuration, auth, retries.

Configuration follows the LUSID SDK (lusid-api.md): `FBN_*` environment variables first, then
`./secrets.json` (an `api` and a `proxy` section), whose values win. Authentication is a personal
access token used as is, or the OAuth2 password grant, refreshed before it expires and obtained
anew when LUSID answers 401.

Requests are retried a bounded number of times, with exponential backoff and jitter, on 429
(honouring `Retry-After`), 502, 503, 504, timeouts and dropped connections: a batch upsert is
idempotent, so sending it again is harmless. A 400 is never retried.

Secrets (tokens, passwords, client secrets) are held in `Secret`, whose repr and str hide them:
they cannot reach a message, a log line or a traceback by accident.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from iasync import __version__
from iasync.errors import IasyncError

log = logging.getLogger(__name__)
# A library does not print: without a handler configured by the program, Python's last-resort
# handler would write these lines to stderr unformatted. `LusidClient(on_retry=...)` is how a
# command shows retries to its user.
log.addHandler(logging.NullHandler())

SCOPE = "openid client groups offline_access"
REQUEST_ID_HEADER = "lusid-meta-requestId"
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
BATCH_UPSERT_PATH = "/api/investmentaccounts/$batchUpsert"
MAX_LISTED = 10  # items named in one error message; the rest are counted
ACCOUNTS_PATH = "/api/investmentaccounts"


class LusidConfigError(IasyncError):
    """LUSID's configuration is missing or unusable; the message names what to set."""


class LusidApiError(IasyncError):
    """LUSID refused a request, or could not be reached, and retrying did not help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: dict[str, Any] | None = None,
        failed: dict[str, dict[str, Any]] | None = None,
        request_id: str | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}
        self.failed = failed or {}
        self.request_id = request_id
        # No connection could be made, to the last attempt: nothing was sent, and any other
        # request to the same URL would fare the same.
        self.unreachable = unreachable


# --- configuration ----------------------------------------------------------------------------


class Secret:
    """A secret string that shows as asterisks wherever it is formatted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        # Pickling would copy the value out of the process (e.g. into a multiprocessing log).
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class LusidConfig:
    api_url: str
    access_token: Secret | None = None
    token_url: str | None = None
    username: str | None = None
    password: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    app_name: str | None = None
    proxy_address: str | None = None
    proxy_username: str | None = None
    proxy_password: Secret | None = None
    # The SDK's limits (FBN_*_TIMEOUT_MS, FBN_RATE_LIMIT_RETRIES); None: not set, iasync's own
    # defaults apply. A timeout of 0 means no limit, as in the SDK.
    total_timeout_ms: int | None = None
    connect_timeout_ms: int | None = None
    read_timeout_ms: int | None = None
    rate_limit_retries: int | None = None

    @property
    def uses_password_grant(self) -> bool:
        return self.access_token is None

    def credentials_advice(self) -> str:
        """What to check when LUSID refuses the credentials: where they are set."""
        if self.access_token is not None:
            return (
                "check FBN_ACCESS_TOKEN (or api.accessToken in secrets.json): it may be "
                "mistyped, expired or revoked; create a new one in LUSID if need be"
            )
        return (
            "check FBN_USERNAME, FBN_PASSWORD, FBN_CLIENT_ID, FBN_CLIENT_SECRET and "
            "FBN_TOKEN_URL (or the `api` section of secrets.json): the token they obtained "
            "is not accepted"
        )

    def describe_auth(self) -> str:
        if self.access_token is not None:
            return "personal access token"
        return f"password grant as {self.username} at {shown_url(self.token_url or '')}"

    def __repr__(self) -> str:
        # A URL may carry a password (http://user:password@proxy:8080 is common for proxies).
        parts = (
            f"{f.name}={shown_url(value) if isinstance(value, str) else value!r}"
            if f.name in _URL_FIELDS
            else f"{f.name}={value!r}"
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        )
        return f"LusidConfig({', '.join(parts)})"


_URL_FIELDS = frozenset({"api_url", "token_url", "proxy_address"})


def shown_url(url: str) -> str:
    """`url` fit to show: without the user and password it may carry before its host."""
    return re.sub(r"(?<=//)[^/?#@]*@", "", url, count=1)


# config field -> (environment variable(s), secrets.json section, secrets.json key)
_SOURCES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "api_url": (("FBN_LUSID_URL", "FBN_LUSID_API_URL"), "api", "lusidUrl"),
    "access_token": (("FBN_ACCESS_TOKEN",), "api", "accessToken"),
    "token_url": (("FBN_TOKEN_URL",), "api", "tokenUrl"),
    "username": (("FBN_USERNAME",), "api", "username"),
    "password": (("FBN_PASSWORD",), "api", "password"),
    "client_id": (("FBN_CLIENT_ID",), "api", "clientId"),
    "client_secret": (("FBN_CLIENT_SECRET",), "api", "clientSecret"),
    "app_name": (("FBN_APP_NAME",), "api", "applicationName"),
    "proxy_address": (("FBN_PROXY_ADDRESS",), "proxy", "address"),
    "proxy_username": (("FBN_PROXY_USERNAME",), "proxy", "username"),
    "proxy_password": (("FBN_PROXY_PASSWORD",), "proxy", "password"),
    "total_timeout_ms": (("FBN_TOTAL_TIMEOUT_MS",), "api", "totalTimeoutMs"),
    "connect_timeout_ms": (("FBN_CONNECT_TIMEOUT_MS",), "api", "connectTimeoutMs"),
    "read_timeout_ms": (("FBN_READ_TIMEOUT_MS",), "api", "readTimeoutMs"),
    "rate_limit_retries": (("FBN_RATE_LIMIT_RETRIES",), "api", "rateLimitRetries"),
}
_SECRET_FIELDS = frozenset({"access_token", "password", "client_secret", "proxy_password"})
# Whole numbers: a string in the environment, a JSON number (or a string) in secrets.json.
_COUNT_FIELDS = frozenset(
    {"total_timeout_ms", "connect_timeout_ms", "read_timeout_ms", "rate_limit_retries"}
)
_GRANT_FIELDS = ("token_url", "username", "password", "client_id", "client_secret")


def load_lusid_config(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> LusidConfig:
    """LUSID's configuration from `FBN_*` variables, then `./secrets.json` (whose values win)."""
    env = os.environ if env is None else env
    secrets_path = (cwd or Path.cwd()) / "secrets.json"
    values = _from_env(env)
    values.update(_from_secrets_file(secrets_path))
    where = f"the environment or {secrets_path}"
    if not values.get("api_url"):
        raise LusidConfigError(
            f"no LUSID URL: set FBN_LUSID_URL (like https://<domain>.lusid.com/api) or "
            f"api.lusidUrl in {secrets_path}"
        )
    if not values["api_url"].startswith(("http://", "https://")):
        raise LusidConfigError(
            f"the LUSID URL {values['api_url']!r} from {where} must start with https://"
        )
    if not values.get("access_token"):
        missing = [name for name in _GRANT_FIELDS if not values.get(name)]
        if missing:
            names = ", ".join(_SOURCES[name][0][0] for name in missing)
            raise LusidConfigError(
                "no LUSID credentials: set FBN_ACCESS_TOKEN (a personal access token), or all of "
                "FBN_TOKEN_URL, FBN_USERNAME, FBN_PASSWORD, FBN_CLIENT_ID and FBN_CLIENT_SECRET "
                f"(missing: {names}); or the same in the `api` section of {secrets_path}"
            )
    return LusidConfig(**{name: _typed(name, value) for name, value in values.items()})


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (variables, _, _) in _SOURCES.items():
        for variable in variables:
            if env.get(variable):
                values[name] = _checked(name, env[variable], variable)
                break
    return values


def _from_secrets_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise LusidConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # Never echo the file: it holds secrets. Line and column are enough to find the fault.
        raise LusidConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(doc, dict):
        raise LusidConfigError(f"{path}: expected a JSON object with an `api` section")
    values: dict[str, Any] = {}
    for name, (_, section, key) in _SOURCES.items():
        part = doc.get(section)
        value = part.get(key) if isinstance(part, dict) else None
        if value is None or value == "":
            continue
        if not isinstance(value, str) and name not in _COUNT_FIELDS:
            raise LusidConfigError(f"{path}: {section}.{key} must be a string")
        values[name] = _checked(name, value, f"{path}: {section}.{key}")
    return values


def _checked(name: str, value: Any, where: str) -> Any:
    """`value` as the field `name` holds it: a whole number for the SDK's limits."""
    if name not in _COUNT_FIELDS:
        return value
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = int(value)
    if number is None or number < 0:
        raise LusidConfigError(f"{where} must be a whole number, 0 or more; it is {value!r}")
    return number


def _typed(name: str, value: str) -> Any:
    return Secret(value) if name in _SECRET_FIELDS else value


# --- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with jitter, `Retry-After` honoured up to a cap."""

    max_attempts: int = 6
    base_delay: float = 0.5  # the first backoff, doubled at each attempt
    max_delay: float = 30.0  # no backoff is longer than this
    max_retry_after: float = 60.0  # a server's Retry-After is honoured up to this
    # When set, a 429 is retried up to this many times on a budget of its own, as the SDK's
    # FBN_RATE_LIMIT_RETRIES; when None, 429s count towards max_attempts like the rest.
    rate_limit_retries: int | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.rate_limit_retries is not None and self.rate_limit_retries < 0:
            raise ValueError("rate_limit_retries must be 0 or more")

    @property
    def attempts_at_most(self) -> int:
        return self.max_attempts + (self.rate_limit_retries or 0)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen, for `LusidClient(on_retry=...)`. Holds no secret."""

    what: str  # "the batch upsert of 500 accounts at https://x.lusid.com"
    reason: str  # "503 Service Unavailable", "timed out waiting for the answer"
    status: int | None  # the HTTP status, None for a connection that failed
    wait: float  # seconds until the next attempt
    attempt: int  # the number of the attempt about to be made (2 for the first retry)
    max_attempts: int  # the most attempts there can be
    request_id: str | None  # LUSID's id of the request that failed, when it gave one

    def __str__(self) -> str:
        return (
            f"{self.what}: {self.reason}; retrying in {self.wait:.1f}s "
            f"(attempt {self.attempt} of {self.max_attempts})"
        )


# --- responses --------------------------------------------------------------------------------


@dataclass
class UpsertResponse:
    values: dict[str, dict[str, Any]]  # correlation id -> InvestmentAccount
    failed: dict[str, dict[str, Any]]  # correlation id -> ErrorDetail
    request_id: str | None
    bytes_sent: int


def _request_id(response: httpx.Response) -> str | None:
    return response.headers.get(REQUEST_ID_HEADER)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def describe_problem(
    problem: Mapping[str, Any], skip: Collection[str] = (), limit: int = MAX_LISTED
) -> str:
    """LUSID's problem details in plain words: name, title, detail, then errors by field.

    `skip`: error keys told elsewhere (the failed items of an Atomic batch); at most `limit`
    fields are listed, so a 2,000-item batch does not become a 2,000-line message.
    """
    head = " ".join(
        str(part) for part in (problem.get("name"), problem.get("code")) if part is not None
    )
    parts = [
        str(problem[k]).strip().rstrip(".")
        for k in ("title", "detail")
        if problem.get(k) and problem[k] != problem.get("name")  # a bare name says nothing new
    ]
    text = ". ".join(dict.fromkeys(parts))  # title and detail are often the same sentence
    errors = problem.get("errors")
    if isinstance(errors, Mapping):
        listed = [
            f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in errors.items()
            if name not in skip
        ]
        by_field = _at_most(listed, limit)
        if by_field:
            text = f"{text}. {by_field}" if text else by_field
    if head:
        text = f"{head}: {text}" if text else head
    return text or "no details given"


def _at_most(items: list[str], limit: int) -> str:
    shown = "; ".join(items[:limit])
    return f"{shown}; and {len(items) - limit} more" if len(items) > limit else shown


def _failed_items(problem: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Items a 400 names (an Atomic batch): correlation id -> ErrorDetail."""
    failed: dict[str, dict[str, Any]] = {}
    named = problem.get("failed")
    if isinstance(named, Mapping):
        failed.update({str(k): v for k, v in named.items() if isinstance(v, dict)})
    for item in problem.get("errorDetails") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and "type" in item:
            failed.setdefault(item["id"], item)
    return failed


def _with_request_id(message: str, request_id: str | None) -> str:
    return f"{message} (LUSID request id {request_id})" if request_id else message


# --- the client -------------------------------------------------------------------------------


_API_URL_SETTING = "the LUSID URL (FBN_LUSID_URL, or api.lusidUrl in secrets.json)"


class _Retry(Exception):
    """An attempt that may be retried: why, and how long the server asked us to wait."""

    def __init__(
        self,
        reason: str,
        status: int | None,
        retry_after: float | None,
        request_id: str | None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id
        self.unreachable = unreachable  # no connection was made


@dataclass
class _Token:
    access: Secret
    refresh: Secret | None
    refresh_at: float  # monotonic time after which it is refreshed before use


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
        self.refresh_margin = refresh_margin
        self.on_retry = on_retry
        self._base = config.api_url.rstrip("/")
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        headers = {"Accept": "application/json", "User-Agent": f"iasync/{__version__}"}
        if config.app_name:
            headers["X-LUSID-Application"] = config.app_name
        self._http = httpx.Client(
            headers=headers,
            timeout=http_timeout(config, timeout),
            proxy=_proxy(config),
            follow_redirects=False,
        )

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
            raise self._unexpected(
                response,
                "the batch upsert",
                hint=f"is the LUSID URL {self._base!r} right? It usually ends in /api",
            )
        if response.status_code != 201:
            raise self._unexpected(response, "the batch upsert")
        doc = _json_or_none(response)
        if not isinstance(doc, dict):
            raise LusidApiError(
                _with_request_id(
                    "LUSID answered 201 with a body that is not JSON", _request_id(response)
                ),
                status=201,
                request_id=_request_id(response),
            )
        return UpsertResponse(
            values=dict(doc.get("values") or {}),
            failed=dict(doc.get("failed") or {}),
            request_id=_request_id(response),
            bytes_sent=len(body),
        )

    def list_investment_accounts(self, page_size: int = 5000) -> Iterator[dict[str, Any]]:
        """Every account LUSID has, page by page."""
        page: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if page:
                params["page"] = page
            response = self._send("GET", ACCOUNTS_PATH, params=params, what="listing the accounts")
            if response.status_code != 200:
                raise self._unexpected(response, "listing the accounts")
            doc = _json_or_none(response) or {}
            yield from doc.get("values") or []
            page = doc.get("nextPage")
            if not page:
                return

    def get_investment_account(
        self, id_type_scope: str, id_type_code: str, code: str
    ) -> dict[str, Any] | None:
        """The account with identifier `InvestmentAccount/{scope}/{code}` = `code`, or None."""
        path = "/".join(quote(part, safe="") for part in (id_type_scope, id_type_code, code))
        response = self._send("GET", f"{ACCOUNTS_PATH}/{path}", what="reading an account")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._unexpected(response, "reading the account")
        return _json_or_none(response)

    # one request: auth, retries

    def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        url = self._base + path
        where = httpx.URL(url)  # scheme, host and port only: never a password in a message
        what = f"{what} at {where.scheme}://{where.netloc.decode()}"
        return self._with_retries(what, lambda: self._authorised(method, url, **kwargs))

    def _authorised(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One attempt, plus one more with a new token if LUSID says the token is not valid."""
        bearer = self._bearer()
        response = self._attempt(method, url, bearer, **kwargs)
        if response.status_code == 401 and self.config.uses_password_grant:
            response = self._attempt(method, url, self._bearer(rejected=bearer), **kwargs)
        if response.status_code == 401:
            raise LusidApiError(
                _with_request_id(
                    "LUSID refused the credentials (401 Unauthorized) using the "
                    f"{self.config.describe_auth()}: {self.config.credentials_advice()}",
                    _request_id(response),
                ),
                status=401,
                problem=_json_or_none(response) or {},
                request_id=_request_id(response),
            )
        return response

    def _attempt(self, method: str, url: str, bearer: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {bearer}"}
        response = _unless_retried(
            lambda: self._http.request(method, url, headers=headers, **kwargs)
        )
        if response.status_code == 400:
            raise self._bad_request(response)
        return response

    def _with_retries(
        self, what: str, attempt: Callable[[], httpx.Response], url_setting: str = _API_URL_SETTING
    ) -> httpx.Response:
        """`attempt()` until it answers, retrying what may pass; `url_setting` names where the
        URL comes from, for the message when it cannot be reached at all."""
        policy = self.retry
        failed = rate_limited = 0  # failed attempts on each budget
        while True:
            try:
                return attempt()
            except _Retry as retry:
                if retry.status == 429 and policy.rate_limit_retries is not None:
                    rate_limited += 1
                    exhausted = rate_limited > policy.rate_limit_retries
                else:
                    failed += 1
                    exhausted = failed >= policy.max_attempts
                made = failed + rate_limited
                if exhausted:
                    advice = (
                        f"Check {url_setting} and that it can be reached from here "
                        "(a proxy is set with FBN_PROXY_ADDRESS)."
                        if retry.unreachable
                        else "Try again later."
                    )
                    raise LusidApiError(
                        _with_request_id(
                            f"{what} did not succeed after {made} attempts; "
                            f"the last answer: {retry.reason}. {advice}",
                            retry.request_id,
                        ),
                        status=retry.status,
                        request_id=retry.request_id,
                        unreachable=retry.unreachable,
                    ) from None
                event = RetryEvent(
                    what=what,
                    reason=retry.reason,
                    status=retry.status,
                    wait=policy.wait_for(made, retry.retry_after),
                    attempt=made + 1,
                    max_attempts=policy.attempts_at_most,
                    request_id=retry.request_id,
                )
                log.warning("%s", event)
                if self.on_retry is not None:
                    self.on_retry(event)
                policy.sleep(event.wait)

    def _bad_request(self, response: httpx.Response) -> LusidApiError:
        problem = _json_or_none(response)
        problem = problem if isinstance(problem, dict) else {}
        failed = _failed_items(problem)
        message = f"LUSID rejected the request (400): {describe_problem(problem, skip=failed)}"
        if failed:
            items = [
                f"{corr_id}: {item.get('type', 'Error')}: {item.get('detail', '')}".rstrip(": ")
                for corr_id, item in failed.items()
            ]
            message += f". Failed: {_at_most(items, MAX_LISTED)}"
        return LusidApiError(
            _with_request_id(message, _request_id(response)),
            status=400,
            problem=problem,
            failed=failed,
            request_id=_request_id(response),
        )

    def _unexpected(
        self, response: httpx.Response, doing: str, hint: str | None = None
    ) -> LusidApiError:
        problem = _json_or_none(response)
        problem = problem if isinstance(problem, dict) else {}
        details = f": {describe_problem(problem)}" if problem else ""
        details += f"; {hint}" if hint else ""
        return LusidApiError(
            _with_request_id(
                f"unexpected answer from LUSID to {doing}: "
                f"{response.status_code} {response.reason_phrase}{details}",
                _request_id(response),
            ),
            status=response.status_code,
            problem=problem,
            request_id=_request_id(response),
        )

    # tokens

    def _bearer(self, rejected: str | None = None) -> str:
        """The token to send; `rejected`: the one LUSID just answered 401 to."""
        if self.config.access_token is not None:
            return self.config.access_token.reveal()
        with self._token_lock:  # one thread obtains the token; the others wait and share it
            token = self._token
            if token is None:
                token = self._password_grant()
            elif rejected is not None and token.access.reveal() == rejected:
                # Only the first thread to see the 401 renews; the others take its new token.
                log.info("LUSID answered 401: obtaining a new token with the password grant")
                token = self._password_grant()
            elif rejected is None and time.monotonic() >= token.refresh_at:
                token = self._refresh(token)
            self._token = token
            return token.access.reveal()

    def _password_grant(self) -> _Token:
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
            raise LusidApiError(
                f"the token endpoint {shown_url(config.token_url or '')} refused the password "
                f"grant for {config.username}: {_oauth_error(response)}; check FBN_USERNAME, "
                "FBN_PASSWORD, FBN_CLIENT_ID and FBN_CLIENT_SECRET",
                status=response.status_code,
            )
        return self._token_from(response)

    def _refresh(self, token: _Token) -> _Token:
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
                _oauth_error(response),
            )
            return self._password_grant()
        return self._token_from(response)

    def _token_request(self, form: dict[str, str], auth: httpx.Auth | None) -> httpx.Response:
        url = self.config.token_url or ""
        return self._with_retries(
            f"the token request to {shown_url(url)}",
            lambda: _unless_retried(
                lambda: self._http.post(
                    url, data=form, auth=auth, headers={"Accept": "application/json"}
                )
            ),
            url_setting="the token URL (FBN_TOKEN_URL, or api.tokenUrl in secrets.json)",
        )

    def _token_from(self, response: httpx.Response) -> _Token:
        doc = _json_or_none(response)
        if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
            raise LusidApiError(
                f"the token endpoint {shown_url(self.config.token_url or '')} answered "
                "without an access_token",
                status=response.status_code,
            )
        lifetime = _seconds(doc.get("expires_in"), default=3600.0)
        margin = min(self.refresh_margin, lifetime / 2)
        refresh = doc.get("refresh_token")
        return _Token(
            access=Secret(doc["access_token"]),
            refresh=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            refresh_at=time.monotonic() + lifetime - margin,
        )


def _unless_retried(send: Callable[[], httpx.Response]) -> httpx.Response:
    """`send()`'s response; `_Retry` for a failed connection or a status worth retrying."""
    try:
        response = send()
    except httpx.TransportError as exc:
        unreachable = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        raise _Retry(_transport_reason(exc), None, None, None, unreachable) from None
    if response.status_code in RETRIED_STATUSES:
        raise _Retry(
            f"{response.status_code} {response.reason_phrase}",
            response.status_code,
            parse_retry_after(response.headers.get("Retry-After")),
            _request_id(response),
        )
    return response


def http_timeout(config: LusidConfig, default: float = 30.0) -> httpx.Timeout:
    """httpx's timeouts from the SDK's settings, `default` seconds for what they leave unset.

    FBN_CONNECT_TIMEOUT_MS and FBN_READ_TIMEOUT_MS are httpx's connect and read (the longest
    wait for data). FBN_TOTAL_TIMEOUT_MS bounds a whole request in the SDK; httpx has no such
    limit, so here it caps every phase (connecting, sending, each wait for data) and replaces
    `default`, which could otherwise cut a request short that the user allowed more time. A
    0 means no limit, as in the SDK. Without any: connect min(default, 10 s), the rest default.
    """
    if config.total_timeout_ms is None:
        total, unset, unset_connect = None, default, min(default, 10.0)
    else:
        total = _seconds_or_unlimited(config.total_timeout_ms)
        unset = unset_connect = total

    def phase(milliseconds: int | None, otherwise: float | None) -> float | None:
        seconds = otherwise if milliseconds is None else _seconds_or_unlimited(milliseconds)
        if total is None:
            return seconds
        return total if seconds is None else min(seconds, total)

    return httpx.Timeout(
        unset,
        connect=phase(config.connect_timeout_ms, unset_connect),
        read=phase(config.read_timeout_ms, unset),
    )


def _seconds_or_unlimited(milliseconds: int) -> float | None:
    return milliseconds / 1000 if milliseconds > 0 else None


def _batch_body(requests: Mapping[str, bytes]) -> bytes:
    """`{"<corrId>": <body>, ...}` assembled from the bodies' bytes, never re-serialised."""
    items = (json.dumps(corr_id).encode() + b":" + body for corr_id, body in requests.items())
    return b"{" + b",".join(items) + b"}"


def _proxy(config: LusidConfig) -> httpx.Proxy | None:
    if not config.proxy_address:
        return None
    if config.proxy_username and config.proxy_password is not None:
        return httpx.Proxy(
            config.proxy_address,
            auth=(config.proxy_username, config.proxy_password.reveal()),
        )
    return httpx.Proxy(config.proxy_address)


def _transport_reason(exc: httpx.TransportError) -> str:
    # The exception's class says what happened; its text can hold the URL, never a secret.
    kind = type(exc).__name__
    return {
        "ConnectError": "could not connect",
        "ConnectTimeout": "timed out connecting",
        "ReadTimeout": "timed out waiting for the answer",
        "WriteTimeout": "timed out sending the request",
        "PoolTimeout": "timed out waiting for a connection",
        "RemoteProtocolError": "the connection was closed without an answer",
        "ReadError": "the connection failed while reading the answer",
        "WriteError": "the connection failed while sending the request",
    }.get(kind, f"connection error ({kind})")


def _oauth_error(response: httpx.Response) -> str:
    doc = _json_or_none(response)
    if isinstance(doc, dict) and (doc.get("error") or doc.get("error_description")):
        return f"{response.status_code} {doc.get('error', '')}: {doc.get('error_description', '')}"
    return f"{response.status_code} {response.reason_phrase}"


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default


__all__ = [
    "LusidApiError",
    "LusidClient",
    "LusidConfig",
    "LusidConfigError",
    "RetryEvent",
    "RetryPolicy",
    "Secret",
    "UpsertResponse",
    "describe_problem",
    "http_timeout",
    "load_lusid_config",
    "parse_retry_after",
]
