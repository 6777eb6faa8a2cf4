"""A small client for the LUSID Investment Accounts API: configuration, auth, retries.

The public surface is this module's names; `client` holds `LusidClient` and the private modules
the rest: `_config` (FBN_* variables and secrets.json), `_auth` (OAuth tokens), `_retry` (the
retry policy, on tenacity) and `_errors` (LUSID's refusals in words).
"""

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
