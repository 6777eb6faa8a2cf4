"""The emulator's HTTP surface: LUSID's Investment Accounts endpoints, the token endpoint, and the
admin API of docs/CONTRACTS.md.

Two layers. `EmulatorASGI` is the outermost ASGI callable: it stamps `lusid-meta-requestId` on
every response, logs /api/ and /oauth2/ requests, checks bearer tokens on /api/, and injects
faults; it holds the server's own `send`, which is how a "drop" fault reaches the connection. Inside
it a Starlette app routes the endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.routing import Route

from iasync.emulator.auth import Authenticator
from iasync.emulator.definitions import Definitions
from iasync.emulator.faults import Fault, Faults, FaultSpecError, parse_fault
from iasync.emulator.store import Account, AccountStore, error_detail, now_instant
from iasync.emulator.validation import parse_success_mode, validate_batch


class JSONResponse(_StarletteJSONResponse):
    """orjson: a 2,000-account answer is ~3 MB of JSON, several times faster to write."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REQUEST_ID_HEADER = b"lusid-meta-requestId"
JSON_TYPES = {"application/json", "text/json", "application/json-patch+json"}
MAX_LIMIT = 5000
MAX_LOG = 10_000  # requests kept in the admin log, the newest
MAX_LOG_BYTES = 256 * 1024 * 1024  # of request bodies kept: ~130 batches of 2,000 accounts

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


@dataclass
class Emulator:
    """Everything the server knows; one per server process."""

    store: AccountStore = field(default_factory=AccountStore)
    auth: Authenticator = field(default_factory=Authenticator)
    faults: Faults = field(default_factory=Faults)
    definitions: Definitions | None = None
    log: list[dict[str, Any]] = field(default_factory=list)

    log_bytes: int = 0  # request bodies held by the log
    # Bumped by reset: a request hanging across a reset must not commit into the new world.
    generation: int = 0

    def reset(self) -> None:
        self.generation += 1
        self.store.reset()
        self.faults.clear()
        self.clear_log()

    def clear_log(self) -> None:
        self.log.clear()
        self.log_bytes = 0

    def record(self, entry: dict[str, Any]) -> None:
        """Log a request, forgetting the oldest once the log is too long or holds too much."""
        self.log.append(entry)
        self.log_bytes += len(entry["_raw"] or b"")
        while len(self.log) > MAX_LOG or (self.log_bytes > MAX_LOG_BYTES and len(self.log) > 1):
            self.log_bytes -= len(self.log.pop(0)["_raw"] or b"")

    def check_item(self, corr_id: str, body: Any) -> dict[str, Any] | None:
        values = [prop["value"]["labelValue"] for prop in body["identifiers"].values()]
        fault = self.faults.take_account_failure(values)
        if fault is not None:
            return error_detail(corr_id, fault.error_type, fault.detail)
        return self.definitions.check(corr_id, body) if self.definitions else None


# --- problem details --------------------------------------------------------------------------


def _root(request: Request) -> str:
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
        _root(request),
        400,
        "InvalidRequestFailure",
        "One or more of the bits of input data provided were not valid.",
        errors=errors,
    )


# --- the Investment Accounts endpoints --------------------------------------------------------


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
            _root(request),
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
    root = _root(request)
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
        _root(request),
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
    root = _root(request)
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
            _root(request),
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
    return JSONResponse(account.render(_root(request)))


# --- OAuth2 -----------------------------------------------------------------------------------


async def token_endpoint(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    raw = (await request.body()).decode("utf-8", errors="replace")
    # The SDK sends `scope=openid client groups offline_access` with bare spaces: parse leniently.
    form = dict(parse_qsl(raw, keep_blank_values=True))
    grant = emulator.auth.grant(form, request.headers.get("authorization"))
    return JSONResponse(grant.body, status_code=grant.status, headers={"Cache-Control": "no-store"})


# --- the admin API ----------------------------------------------------------------------------


def _logged_body(entry: dict[str, Any]) -> Any:
    raw = entry["_raw"]
    if raw is None or not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


async def admin_requests(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if request.method == "DELETE":
        emulator.clear_log()
        return JSONResponse({"requests": []})
    out = []
    for entry in emulator.log:
        shown = {k: v for k, v in entry.items() if k != "_raw"}
        shown["body"] = _logged_body(entry)
        out.append(shown)
    return JSONResponse({"requests": out})


async def admin_faults(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if request.method == "POST":
        try:
            fault = parse_fault(json.loads(await request.body()))
        except ValueError as exc:
            return JSONResponse({"error": f"not a JSON fault spec: {exc}"}, status_code=400)
        except FaultSpecError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        emulator.faults.add(fault)
        return JSONResponse({"faults": emulator.faults.to_json()}, status_code=201)
    if request.method == "DELETE":
        emulator.faults.clear()
    return JSONResponse({"faults": emulator.faults.to_json()})


async def admin_reset(request: Request) -> Response:
    request.app.state.emulator.reset()
    return JSONResponse({"reset": True})


async def admin_accounts(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    root = _root(request)
    return JSONResponse({"accounts": [a.render(root) for a in emulator.store]})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    name = STATUS_PROBLEMS.get(exc.status_code, "InvalidRequestFailure")
    if exc.status_code == 404:
        name, detail = "NotFound", f"No endpoint {request.method} {request.url.path}."
    else:
        detail = str(exc.detail)
    request_id = request.scope.get("state", {}).get("request_id", "")
    return problem(request_id, _root(request), exc.status_code, name, detail)


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
            Route("/_emulator/requests", admin_requests, methods=["GET", "DELETE"]),
            Route("/_emulator/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_emulator/reset", admin_reset, methods=["POST"]),
            Route("/_emulator/accounts", admin_accounts, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.emulator = emulator
    return app


# --- the outer layer: request ids, log, auth, faults -----------------------------------------


def new_request_id() -> str:
    return f"{secrets.token_hex(6).upper()}:{secrets.token_hex(4).upper()}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class ConnectionDropped(Exception):
    """Raised to make the server abort a response when its transport cannot be reached."""


def _close_transport(server_send: Send) -> bool:
    """Close the connection under uvicorn's `send` (a bound method of its per-request cycle,
    which holds the transport); False when this server's `send` gives no way to it."""
    transport = getattr(getattr(server_send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


async def _drop_connection(server_send: Send) -> None:
    """Close the client's connection with no response: the client sees a connection error."""
    if not _close_transport(server_send):
        # Another server: start a response promising a body, then fail, so it cuts the stream.
        await server_send(
            {"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"1")]}
        )
        raise ConnectionDropped
    # Let connection_lost run, so the server knows the client is gone and writes nothing more.
    for _ in range(3):
        await asyncio.sleep(0)


class EmulatorASGI:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.app = starlette_app(emulator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        is_api, is_token = path.startswith("/api/"), path.startswith("/oauth2/")
        if not (is_api or is_token):
            await self.app(scope, receive, self._stamped(send, request_id, None))
            return
        body = await _read_body(receive)
        entry = self._log(scope, body, request_id, secret=is_token)
        receive = _replay(body, receive)
        stamped = self._stamped(send, request_id, entry)
        if is_api:
            user = self.emulator.auth.user_of(_header(scope, b"authorization"))
            if user is None:
                await self._unauthorised(scope, receive, stamped, request_id)
                return
            scope["state"]["user"] = user
            fault = self.emulator.faults.take_request_fault(scope["method"])
            if fault is not None:
                entry["fault"] = fault.kind
                await self._inject(fault, scope, receive, send, stamped, request_id, entry)
                return
        await self.app(scope, receive, stamped)

    def _log(self, scope: Scope, body: bytes, request_id: str, *, secret: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "query": dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
            # The token endpoint's body holds passwords and tokens: never kept.
            "_raw": None if secret else body,
            "bodyBytes": len(body),
            "contentType": _header(scope, b"content-type"),
            "requestId": request_id,
            "status": None,
        }
        if secret:  # only the grant type, which is no secret, is kept of a token request
            entry["grantType"] = dict(parse_qsl(body.decode("latin-1"))).get("grant_type")
        self.emulator.record(entry)
        return entry

    @staticmethod
    def _stamped(send: Send, request_id: str, entry: dict[str, Any] | None) -> Send:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
                if entry is not None:
                    entry["status"] = message["status"]
            await send(message)

        return stamped

    async def _unauthorised(
        self, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> None:
        response = problem(
            request_id,
            _scope_root(scope),
            401,
            "InvalidIdentityToken",
            "Authorization: Bearer <token> is missing, not valid or expired.",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    async def _inject(
        self,
        fault: Fault,
        scope: Scope,
        receive: Receive,
        server_send: Send,
        stamped: Send,
        request_id: str,
        entry: dict[str, Any],
    ) -> None:
        if fault.kind == "status":
            await _status_response(fault, scope, request_id)(scope, receive, stamped)
            return
        if fault.kind == "hang":
            generation = self.emulator.generation
            try:
                await asyncio.sleep(fault.seconds)
            except asyncio.CancelledError:
                # The server is shutting down while we hang: end this request quietly, unserved.
                _close_transport(server_send)
                return
            if fault.commit and generation == self.emulator.generation:
                await self.app(scope, receive, stamped)
                return
        elif fault.commit:  # drop after committing: the app runs, its answer goes nowhere
            await self.app(scope, receive, _recording_sink(entry))
        await _drop_connection(server_send)


def _recording_sink(entry: dict[str, Any]) -> Send:
    async def sink(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry["status"] = message["status"]

    return sink


def _scope_root(scope: Scope) -> str:
    host = _header(scope, b"host") or "127.0.0.1"
    return f"{scope.get('scheme', 'http')}://{host}"


def _status_response(fault: Fault, scope: Scope, request_id: str) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    if fault.status == 502:
        # A gateway in front of LUSID answers in HTML, not problem details: clients must cope.
        return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, headers)
    name = STATUS_PROBLEMS[fault.status]
    return problem(
        request_id,
        _scope_root(scope),
        fault.status,
        name,
        f"Injected fault: {fault.status} {name}.",
        headers=headers,
    )


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
    return EmulatorASGI(emulator)
