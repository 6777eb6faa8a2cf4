"""The outermost ASGI layer: request ids, the request log, bearer tokens and injected faults.

It holds the server's own `send`, which is how a "drop" fault reaches the connection; inside it,
the Starlette app of `app.py` routes the endpoints.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import HTMLResponse, Response

from iasync.emulator.faults import Fault
from iasync.emulator.problems import STATUS_PROBLEMS, problem
from iasync.emulator.state import Emulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"lusid-meta-requestId"


def new_request_id() -> str:
    return f"{secrets.token_hex(6).upper()}:{secrets.token_hex(4).upper()}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
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
    def __init__(self, emulator: Emulator, app: ASGIApp) -> None:
        self.emulator = emulator
        self.app = app

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
