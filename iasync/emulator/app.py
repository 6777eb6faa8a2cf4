"""LUSID's Investment Accounts endpoints and the OAuth2 token endpoint, as a Starlette app, and
`build_app`, which wraps it in the outer layer of `middleware.py` (see docs/emulator.md)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

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
from iasync.emulator.filters import FilterError, parse_filter
from iasync.emulator.generations import DEFAULT_API, Api
from iasync.emulator.middleware import EmulatorASGI
from iasync.emulator.problems import (
    STATUS_PROBLEMS,
    JSONResponse,
    invalid_request,
    problem,
    server_root,
)
from iasync.emulator.state import Emulator
from iasync.emulator.store import Account, AccountStore, now_instant, with_properties
from iasync.emulator.validation import Errors, parse_success_mode, validate_batch

JSON_TYPES = {"application/json", "text/json", "application/json-patch+json"}
MAX_LIMIT = 5000
ACCOUNTS = "/api/api/investmentaccounts"


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
    items, errors = validate_batch(parsed, emulator.api)
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


# --- reading and deleting ---------------------------------------------------------------------

PROPERTY_KEY = re.compile(r"^[A-Za-z]+/[a-zA-Z0-9\-_]{1,64}/[a-zA-Z0-9\-_]{1,64}$")


def _property_keys(request: Request) -> tuple[frozenset[str], Errors]:
    """The propertyKeys of a get or list (repeated, as the SDKs send a list): only these
    properties come back."""
    keys = request.query_params.getlist("propertyKeys")
    bad = [key for key in keys if not PROPERTY_KEY.match(key)]
    if bad:
        return frozenset(), {
            "propertyKeys": [
                f"'{key}' is not a property key like InvestmentAccount/<scope>/<code>."
                for key in bad
            ]
        }
    return frozenset(keys), {}


def _page_token(offset: int, filter_text: str) -> str:
    state = {"offset": offset, "filter": filter_text}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _page_offset(token: str, filter_text: str) -> tuple[int, Errors]:
    """The offset a page token continues from (0 without one); LUSID's rule: the filter must
    not change while paging."""
    if not token:
        return 0, {}
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, was = state["offset"], state.get("filter", "")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return 0, {"page": ["The page token is not valid."]}
    if not isinstance(offset, int) or offset < 0:
        return 0, {"page": ["The page token is not valid."]}
    if was != filter_text:
        return 0, {"page": ["The filter must not change while paging with a page token."]}
    return offset, {}


def _limit(raw: str | None) -> tuple[int, Errors]:
    try:
        limit = MAX_LIMIT if raw is None else int(raw)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        return 0, {"limit": [f"limit must be 1 to {MAX_LIMIT}."]}
    return limit, {}


def _filtered(emulator: Emulator, filter_text: str) -> tuple[list[Account], Errors]:
    accounts = list(emulator.store)
    if not filter_text.strip():
        return accounts, {}
    try:
        keep = parse_filter(filter_text)
    except FilterError as exc:
        return [], {"filter": [str(exc)]}
    return [a for a in accounts if keep(a.lusid_id, a.body)], {}


async def list_accounts(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    params = request.query_params
    if params.getlist("sortBy"):
        return invalid_request(
            request, {"sortBy": ["The emulator does not sort; leave sortBy out."]}
        )
    filter_text = params.get("filter") or ""
    limit, limit_errors = _limit(params.get("limit"))
    keys, key_errors = _property_keys(request)
    offset, page_errors = _page_offset(params.get("page") or "", filter_text)
    accounts, filter_errors = _filtered(emulator, filter_text)
    errors = limit_errors | page_errors | filter_errors | key_errors
    if errors:
        return invalid_request(request, errors)
    root = server_root(request)
    window = accounts[offset : offset + limit]
    more = offset + limit < len(accounts)
    return JSONResponse(
        {
            "values": [with_properties(a.render(root), keys) for a in window],
            "nextPage": _page_token(offset + limit, filter_text) if more else None,
            "previousPage": _page_token(max(0, offset - limit), filter_text) if offset else None,
            "href": str(request.url),
            "links": [],
        }
    )


def _not_found(request: Request, described: str) -> JSONResponse:
    return problem(
        request.state.request_id,
        server_root(request),
        404,
        "InvestmentAccountNotFound",
        f"No investment account has identifier {described}.",
    )


async def unscoped_account(request: Request) -> Response:
    """GET /{idTypeScope}/{idTypeCode}/{code}: the reference page's get (no delete exists)."""
    emulator: Emulator = request.app.state.emulator
    params = request.path_params
    key = f"InvestmentAccount/{params['scope']}/{params['code']}"
    keys, errors = _property_keys(request)
    if errors:
        return invalid_request(request, errors)
    account = emulator.store.find(key, params["value"])
    if account is None:
        return _not_found(request, f"{key} = '{params['value']}'")
    return JSONResponse(with_properties(account.render(server_root(request)), keys))


def _scoped_path(request: Request) -> tuple[str, str] | None:
    """(identifierType, identifierValue) from the raw path, as LUSID routes it: exactly two
    segments, each percent-decoded on its own (so an encoded '/' stays inside the value, and the
    unscoped API's three-segment path matches nothing)."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):  # a server that gives no raw path: trust the router
        return request.path_params["identifierType"], request.path_params["identifierValue"]
    segments = raw.decode("latin-1").split("?", 1)[0].removeprefix(ACCOUNTS + "/").split("/")
    if len(segments) != 2:
        return None
    return unquote(segments[0]), unquote(segments[1])


def _scope_params(request: Request) -> tuple[str, str, Errors]:
    """The scope and identifierScope that every scoped get and delete requires."""
    errors: Errors = {}
    values = []
    for name in ("scope", "identifierScope"):
        value = request.query_params.get(name) or ""
        if not value:
            errors[name] = [f"The {name} field is required."]
        values.append(value)
    return values[0], values[1], errors


async def scoped_account(request: Request) -> Response:
    """GET or DELETE /{identifierType}/{identifierValue}?scope=&identifierScope=."""
    emulator: Emulator = request.app.state.emulator
    path = _scoped_path(request)
    if path is None:
        raise HTTPException(404)
    id_type, id_value = path
    scope, id_scope, errors = _scope_params(request)
    keys, key_errors = _property_keys(request)
    if errors or key_errors:
        return invalid_request(request, errors | key_errors)
    key = f"InvestmentAccount/{id_scope}/{id_type}"
    account = emulator.store.find(key, id_value, scope)
    if account is None:
        return _not_found(request, f"{key} = '{id_value}' in scope '{scope}'")
    if request.method == "DELETE":
        emulator.store.delete(account)
        return JSONResponse(_deleted(account))
    return JSONResponse(with_properties(account.render(server_root(request)), keys))


def _deleted(account: Account) -> dict[str, Any]:
    """A DeletedEntityResponse."""
    return {
        "href": None,
        "asAt": now_instant(),
        "entityType": "InvestmentAccount",
        "entityUniqueId": account.lusid_id,
        "links": [],
    }


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


def _one_account_route(api: Api) -> Route:
    """Get (and, where the API has it, delete) one account: each generation's own path."""
    if api == "scoped":
        return Route(
            f"{ACCOUNTS}/{{identifierType}}/{{identifierValue:path}}",
            scoped_account,
            methods=["GET", "DELETE"],
        )
    return Route(f"{ACCOUNTS}/{{scope}}/{{code}}/{{value:path}}", unscoped_account, methods=["GET"])


def starlette_app(emulator: Emulator) -> Starlette:
    app = Starlette(
        routes=[
            Route(f"{ACCOUNTS}/$batchUpsert", batch_upsert, methods=["POST"]),
            Route(ACCOUNTS, list_accounts, methods=["GET"]),
            _one_account_route(emulator.api),
            Route("/oauth2/token", token_endpoint, methods=["POST"]),
            *admin.ROUTES,
        ],
        exception_handlers={HTTPException: http_error},
    )
    # LUSID answers a path it does not route with 404, never a redirect to the same path with a
    # trailing slash (Starlette's default, which would turn the scoped API's two-segment get
    # into the unscoped API's three-segment one).
    app.router.redirect_slashes = False
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
    api: Api = DEFAULT_API,
) -> EmulatorASGI:
    """The emulator's ASGI app, serving the `api` generation ("unscoped" or "scoped")."""
    emulator = Emulator(
        api=api,
        store=AccountStore(data_file, api),
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
