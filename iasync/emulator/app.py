"""LUSID's Investment Accounts endpoints and the OAuth2 token endpoint, as a Starlette app, and
`build_app`, which wraps it in the outer layer of `middleware.py` (see docs/emulator.md)."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from iasync.emulator import admin
from iasync.emulator.auth import Authenticator
from iasync.emulator.definitions import Definitions
from iasync.emulator.faults import Fault
from iasync.emulator.middleware import EmulatorASGI
from iasync.emulator.problems import (
    STATUS_PROBLEMS,
    JSONResponse,
    invalid_request,
    problem,
    server_root,
)
from iasync.emulator.state import Emulator
from iasync.emulator.store import Account, AccountStore, now_instant
from iasync.emulator.validation import parse_success_mode, validate_batch

JSON_TYPES = {"application/json", "text/json", "application/json-patch+json"}
MAX_LIMIT = 5000


def _media_type_ok(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


async def batch_upsert(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    mode, errors = parse_success_mode(request.query_params.get("successMode"))
    if errors:
        return invalid_request(request, errors)
    if not _media_type_ok(request.headers.get("content-type")):
        return problem(
            request.state.request_id,
            server_root(request),
            415,
            "UnsupportedMediaType",
            "Send the body as application/json-patch+json, application/json, text/json "
            "or application/*+json.",
        )
    raw = await request.body()
    if not raw.strip():
        return invalid_request(request, {"": ["A non-empty request body is required."]})
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # bad UTF-8 too
        return invalid_request(request, {"": [f"The request body is not valid JSON: {exc}."]})
    items, errors = validate_batch(parsed)
    if errors:
        return invalid_request(request, errors)
    result = emulator.store.upsert(
        items,
        atomic=mode == "Atomic",
        request_id=request.state.request_id,
        user=request.state.user,
        check=emulator.check_item,
    )
    if mode == "Atomic" and result.failed:
        return _atomic_failure(request, result.failed)
    root = server_root(request)
    return JSONResponse(
        {
            "values": {corr: account.render(root) for corr, account in result.values.items()},
            "failed": result.failed,
            "href": None,
            "links": [],
        },
        status_code=201,
    )


def _atomic_failure(request: Request, failed: dict[str, dict[str, Any]]) -> JSONResponse:
    """Atomic: nothing committed; the 400 names every failed item (emulator choice of shape)."""
    return problem(
        request.state.request_id,
        server_root(request),
        400,
        "BatchOperationAborted",
        f"The Atomic batch was aborted: {len(failed)} of its requests failed; nothing was "
        "committed.",
        errors={corr: [f"{e['type']}: {e['detail']}"] for corr, e in failed.items()},
        error_details=[
            {"id": corr, "type": e["type"], "detail": e["detail"]} for corr, e in failed.items()
        ],
    )


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _page_offset(token: str) -> int | None:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None


async def list_accounts(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    raw_limit = request.query_params.get("limit")
    try:
        limit = MAX_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        return invalid_request(request, {"limit": [f"limit must be 1 to {MAX_LIMIT}."]})
    offset = 0
    if request.query_params.get("page"):
        offset = _page_offset(request.query_params["page"])
        if offset is None:
            return invalid_request(request, {"page": ["The page token is not valid."]})
    accounts = list(emulator.store)
    root = server_root(request)
    window = accounts[offset : offset + limit]
    return JSONResponse(
        {
            "values": [a.render(root) for a in window],
            "nextPage": _page_token(offset + limit) if offset + limit < len(accounts) else None,
            "previousPage": _page_token(max(0, offset - limit)) if offset > 0 else None,
            "href": str(request.url),
            "links": [],
        }
    )


def _find(request: Request) -> Account | None:
    emulator: Emulator = request.app.state.emulator
    params = request.path_params
    key = f"InvestmentAccount/{params['scope']}/{params['code']}"
    return emulator.store.find(key, params["value"])


async def one_account(request: Request) -> Response:
    account = _find(request)
    if account is None:
        params = request.path_params
        return problem(
            request.state.request_id,
            server_root(request),
            404,
            "InvestmentAccountNotFound",
            f"No investment account has identifier InvestmentAccount/{params['scope']}/"
            f"{params['code']} = '{params['value']}'.",
        )
    if request.method == "DELETE":
        request.app.state.emulator.store.delete(account)
        return JSONResponse(
            {
                "href": None,
                "asAt": now_instant(),
                "entityType": "InvestmentAccount",
                "entityUniqueId": account.lusid_id,
                "links": [],
            }
        )
    return JSONResponse(account.render(server_root(request)))


# --- OAuth2 -----------------------------------------------------------------------------------


async def token_endpoint(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    raw = (await request.body()).decode("utf-8", errors="replace")
    # The SDK sends `scope=openid client groups offline_access` with bare spaces: parse leniently.
    form = dict(parse_qsl(raw, keep_blank_values=True))
    grant = emulator.auth.grant(form, request.headers.get("authorization"))
    return JSONResponse(grant.body, status_code=grant.status, headers={"Cache-Control": "no-store"})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    name = STATUS_PROBLEMS.get(exc.status_code, "InvalidRequestFailure")
    if exc.status_code == 404:
        name, detail = "NotFound", f"No endpoint {request.method} {request.url.path}."
    else:
        detail = str(exc.detail)
    request_id = request.scope.get("state", {}).get("request_id", "")
    return problem(request_id, server_root(request), exc.status_code, name, detail)


def starlette_app(emulator: Emulator) -> Starlette:
    accounts = "/api/api/investmentaccounts"
    app = Starlette(
        routes=[
            Route(f"{accounts}/$batchUpsert", batch_upsert, methods=["POST"]),
            Route(accounts, list_accounts, methods=["GET"]),
            Route(
                f"{accounts}/{{scope}}/{{code}}/{{value:path}}",
                one_account,
                methods=["GET", "DELETE"],
            ),
            Route("/oauth2/token", token_endpoint, methods=["POST"]),
            *admin.ROUTES,
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.emulator = emulator
    return app


def build_app(
    *,
    tokens: list[str],
    users: dict[str, str] | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    token_expiry: float = 3600.0,
    data_file: Path | None = None,
    definitions: Definitions | None = None,
    faults: list[Fault] | None = None,
) -> EmulatorASGI:
    emulator = Emulator(
        store=AccountStore(data_file),
        auth=Authenticator(
            personal_tokens=list(tokens),
            users=dict(users or {}),
            client_id=client_id,
            client_secret=client_secret,
            token_expiry=token_expiry,
        ),
        definitions=definitions,
    )
    for fault in faults or []:
        emulator.faults.add(fault)
    return EmulatorASGI(emulator, starlette_app(emulator))
