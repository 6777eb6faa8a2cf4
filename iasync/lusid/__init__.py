"""A small client for the LUSID Investment Accounts API: configuration, auth, retries.

The public surface is this module's names; `client` holds `LusidClient` and the private modules
the rest: `_config` (FBN_* variables and secrets.json), `_auth` (OAuth tokens), `_retry` (the
retry policy, on tenacity) and `_errors` (LUSID's refusals in words).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iasync.lusid._config import (
        LusidConfig,
        Secret,
        http_timeout,
        load_lusid_config,
        lusid_target,
    )
    from iasync.lusid._errors import (
        ApiGenerationError,
        LusidApiError,
        LusidConfigError,
        describe_problem,
    )
    from iasync.lusid._retry import RetryEvent, RetryPolicy, parse_retry_after
    from iasync.lusid.client import Api, LusidClient, UpsertResponse, as_api

# Where each public name lives, imported on first use: `iasync plan` shows its LUSID target and
# may need no client at all, and httpx (imported by `client`) is a fifth of its start-up.
_HOMES = {
    "LusidConfig": "_config",
    "Secret": "_config",
    "http_timeout": "_config",
    "load_lusid_config": "_config",
    "lusid_target": "_config",
    "ApiGenerationError": "_errors",
    "LusidApiError": "_errors",
    "LusidConfigError": "_errors",
    "describe_problem": "_errors",
    "RetryEvent": "_retry",
    "RetryPolicy": "_retry",
    "parse_retry_after": "_retry",
    "Api": "client",
    "LusidClient": "client",
    "UpsertResponse": "client",
    "as_api": "client",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Api",
    "ApiGenerationError",
    "LusidApiError",
    "LusidClient",
    "LusidConfig",
    "LusidConfigError",
    "RetryEvent",
    "RetryPolicy",
    "Secret",
    "UpsertResponse",
    "as_api",
    "describe_problem",
    "http_timeout",
    "load_lusid_config",
    "lusid_target",
    "parse_retry_after",
]
