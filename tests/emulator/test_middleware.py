"""The outer layer over real HTTP: request ids on every response, auth before faults."""

from __future__ import annotations

from typing import Any

import httpx

from iasync.emulator.process import EmulatorProcess


def test_request_id_header_on_every_response(api: Any, emulator: EmulatorProcess) -> None:
    responses = [
        api.http.get("/api/investmentaccounts"),
        api.http.get("/api/investmentaccounts/A/B/missing"),
        api.http.get("/api/no/such/endpoint"),
        httpx.get(f"{emulator.url}/api/investmentaccounts"),  # no token
        httpx.get(f"{emulator.root}/_emulator/requests"),
        httpx.post(emulator.token_url, data={"grant_type": "nonsense"}),
    ]
    ids = [r.headers.get("lusid-meta-requestId") for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)
    assert [r.status_code for r in responses] == [200, 404, 404, 401, 200, 400]
