"""LUSID's configuration, as the LUSID SDK reads it (lusid-api.md): `FBN_*` environment
variables first, then `./secrets.json` (an `api` and a `proxy` section), whose values win; and the
HTTP timeouts and proxy that configuration asks for.

Secrets (tokens, passwords, client secrets) are held in `Secret`, whose repr and str hide them:
they cannot reach a message, a log line or a traceback by accident.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import httpx

from iasync.lusid._errors import LusidConfigError


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
    except (ValueError, RecursionError):  # a 4,300-digit number, or nesting without end
        raise LusidConfigError(f"{path}: not a JSON object iasync can read") from None
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


def http_timeout(config: LusidConfig, default: float = 30.0) -> httpx.Timeout:
    """httpx's timeouts from the SDK's settings, `default` seconds for what they leave unset.

    FBN_CONNECT_TIMEOUT_MS and FBN_READ_TIMEOUT_MS are httpx's connect and read (the longest
    wait for data). FBN_TOTAL_TIMEOUT_MS bounds a whole request in the SDK; httpx has no such
    limit, so here it caps every phase (connecting, sending, each wait for data) and replaces
    `default`, which could otherwise cut a request short that the user allowed more time. A
    0 means no limit, as in the SDK. Without any: connect min(default, 10 s), the rest default.
    """
    total: float | None
    unset: float | None
    unset_connect: float | None
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


def proxy_of(config: LusidConfig) -> httpx.Proxy | None:
    if not config.proxy_address:
        return None
    if config.proxy_username and config.proxy_password is not None:
        return httpx.Proxy(
            config.proxy_address,
            auth=(config.proxy_username, config.proxy_password.reveal()),
        )
    return httpx.Proxy(config.proxy_address)
