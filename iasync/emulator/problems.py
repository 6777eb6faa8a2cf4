"""LUSID's problem details (RFC 7807 with LUSID's `name` and `code`), and the JSON response
class every emulator answer uses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSONResponse


class JSONResponse(_StarletteJSONResponse):
    """orjson: a 2,000-account answer is ~3 MB of JSON, several times faster to write."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# LUSID's error names and codes (lusid-api.md); the docs link is the form LUSID uses.
CODES = {
    "InvalidRequestFailure": 157,
    "ValidationError": 132,
    "PropertyNotDefined": 121,
    "InvalidPropertyValueAssignment": 224,
    "DuplicateIdFailure": 179,
    "EntityWithIdAlreadyExists": 173,
    "PortfolioNotFound": 109,
    "AccessDenied": 186,
    "InvalidIdentityToken": 187,
    "ApiRateLimitViolation": 103,
    "BatchOperationAborted": 395,
}
# Emulator choices where LUSID documents no name (code 0: none documented).
STATUS_PROBLEMS = {
    401: "InvalidIdentityToken",
    404: "InvestmentAccountNotFound",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
    429: "ApiRateLimitViolation",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def server_root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def problem(
    request_id: str,
    root: str,
    status: int,
    name: str,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    error_details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    code = CODES.get(name, 0)
    body: dict[str, Any] = {
        "name": name,
        "code": code,
        "errorDetails": error_details or [],
        "type": f"https://docs.lusid.com/#section/Error-Codes/{code}",
        "title": name,
        "status": status,
        "detail": detail,
        "instance": f"{root}/app/insights/logs/{request_id}",
        "extensions": {},
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def invalid_request(request: Request, errors: dict[str, list[str]]) -> JSONResponse:
    return problem(
        request.state.request_id,
        server_root(request),
        400,
        "InvalidRequestFailure",
        "One or more of the bits of input data provided were not valid.",
        errors=errors,
    )
