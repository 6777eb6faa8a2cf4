"""The admin API (outside /api, no auth): the request log, faults, accounts, reset."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from iasync.emulator.faults import FaultSpecError, parse_fault
from iasync.emulator.problems import JSONResponse, server_root
from iasync.emulator.state import Emulator


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
            fault = parse_fault(orjson.loads(await request.body()))
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
    root = server_root(request)
    return JSONResponse({"accounts": [a.render(root) for a in emulator.store]})


ROUTES = [
    Route("/_emulator/requests", admin_requests, methods=["GET", "DELETE"]),
    Route("/_emulator/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
    Route("/_emulator/reset", admin_reset, methods=["POST"]),
    Route("/_emulator/accounts", admin_accounts, methods=["GET"]),
]
