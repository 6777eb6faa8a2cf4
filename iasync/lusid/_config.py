"""LUSID's configuration, as the LUSID SDK reads it (lusid-api.md): `FBN_*` environment
variables first, then `secrets.json` (an `api` and a `proxy` section) at the project root, whose
values win; and the HTTP timeouts and proxy that configuration asks for.

Bearer tokens (and the password grant's password) go over https, or over plain http only to this
machine (the emulator): a token sent in the clear across a network is a token given away.

Secrets (tokens, passwords, client secrets) are held in `Secret`, whose repr and str hide them:
they cannot reach a message, a log line or a traceback by accident.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from iasync.lusid._errors import LusidConfigError

if TYPE_CHECKING:
    import httpx


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
    # Where the credentials were found, to say so ("environment", "secrets.json at <path>"):
    # no part of what the configuration is, so two configs from different places are equal.
    credentials_source: str | None = field(default=None, compare=False)

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

    @property
    def target(self) -> str:
        """The LUSID this configuration is for, fit to show (never a credential)."""
        return target_url(self.api_url)

    def describe_target(self) -> str:
        """`<URL> (credentials: <where from>)`, to say before anything is sent."""
        source = f" (credentials: {self.credentials_source})" if self.credentials_source else ""
        return self.target + source

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


def load_lusid_config(
    env: Mapping[str, str] | None = None, root: Path | None = None, *, cwd: Path | None = None
) -> LusidConfig:
    """LUSID's configuration from `FBN_*` variables, then `secrets.json` (whose values win) in
    `root`: the project root, where the settings are (default, and `cwd`'s old meaning: the
    working directory), so a command run from a subdirectory finds it as it finds the settings.
    """
    env = os.environ if env is None else env
    secrets_path = (root or cwd or Path.cwd()) / "secrets.json"
    from_env, from_file = _from_env(env), _from_secrets_file(secrets_path)
    values = from_env | from_file
    if not values.get("api_url"):
        raise LusidConfigError(
            f"no LUSID URL: set FBN_LUSID_URL (like https://<domain>.lusid.com/api) or "
            f"api.lusidUrl in {secrets_path}"
        )
    for name in ("api_url", "token_url"):
        if values.get(name):
            where = secrets_path if name in from_file else "the environment"
            check_url(values[name], f"the {_URL_NAMES[name]} from {where}")
    if not values.get("access_token"):
        missing = [name for name in _GRANT_FIELDS if not values.get(name)]
        if missing:
            names = ", ".join(_SOURCES[name][0][0] for name in missing)
            raise LusidConfigError(
                "no LUSID credentials: set FBN_ACCESS_TOKEN (a personal access token), or all of "
                "FBN_TOKEN_URL, FBN_USERNAME, FBN_PASSWORD, FBN_CLIENT_ID and FBN_CLIENT_SECRET "
                f"(missing: {names}); or the same in the `api` section of {secrets_path}"
            )
    return LusidConfig(
        **{name: _typed(name, value) for name, value in values.items()},
        credentials_source=_credentials_source(values, from_file, secrets_path),
    )


def lusid_target(env: Mapping[str, str] | None = None, root: Path | None = None) -> str:
    """The LUSID the configuration points at, fit to show in a plan: its URL without a user,
    password or query, or why it is not known. Needs no credentials (a plan sends nothing)."""
    env = os.environ if env is None else env
    secrets_path = (root or Path.cwd()) / "secrets.json"
    try:
        url = _from_secrets_file(secrets_path).get("api_url") or _from_env(env).get("api_url")
    except LusidConfigError as exc:
        return f"not known ({exc})"
    if not url:
        return "not set (FBN_LUSID_URL, or api.lusidUrl in secrets.json)"
    return target_url(url)


def target_url(url: str) -> str:
    """`url` as scheme, host, port and path only: no user, password, query or fragment.

    With the standard library's parser: a plan shows its target without importing httpx (a
    fifth of its start-up) when it has nothing to ask LUSID."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return shown_url(url).split("?", 1)[0].split("#", 1)[0]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


_URL_NAMES = {"api_url": "LUSID URL", "token_url": "token URL"}


def check_url(url: str, what: str) -> None:
    """Refuse a URL a bearer token (or a password) must not be sent to: one that is not https,
    unless it is plain http to this machine (the emulator)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() == "https" and rest:
        return
    if scheme.lower() == "http" and rest:
        host = _host_of(url)
        if is_loopback(host):
            return
        raise LusidConfigError(
            f"{what}, {shown_url(url)}, is plain http to {host or 'no host'}: iasync sends "
            "tokens over plain http only to this machine (localhost, 127.0.0.0/8 or ::1, such "
            "as the emulator); use https:// for any other host"
        )
    raise LusidConfigError(
        f"{what}, {shown_url(url)!r}, must start with https:// (or http:// for a LUSID on this "
        "machine, such as the emulator: localhost, 127.0.0.0/8 or ::1)"
    )


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    """True for a host name or address of this machine: localhost, 127.0.0.0/8, ::1."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credentials_source(
    values: Mapping[str, Any], from_file: Mapping[str, Any], secrets_path: Path
) -> str:
    """Where the credentials in use came from: the environment, secrets.json, or both."""
    used = ("access_token",) if values.get("access_token") else _GRANT_FIELDS
    in_file = [name in from_file for name in used if values.get(name)]
    file = f"secrets.json at {secrets_path}"
    if all(in_file):
        return file
    if not any(in_file):
        return "environment"
    return f"environment and {file}"


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

    import httpx

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
    import httpx

    if config.proxy_username and config.proxy_password is not None:
        return httpx.Proxy(
            config.proxy_address,
            auth=(config.proxy_username, config.proxy_password.reveal()),
        )
    return httpx.Proxy(config.proxy_address)
