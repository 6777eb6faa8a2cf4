"""Fault injection over real HTTP: status answers, hangs, dropped connections, failing accounts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from iasync.emulator.faults import Faults, FaultSpecError, parse_fault
from iasync.emulator.process import EmulatorProcess

Account = Callable[..., dict[str, Any]]


def wait_for(condition: Callable[[], bool], limit: float = 20.0) -> bool:
    """Poll until condition() holds or the limit passes (a bound, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_429_with_retry_after_and_rate_limit_problem(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    emulator.add_fault(kind="status", status=429, retryAfter=7)

    limited = api.upsert({"a": account(1)})
    after = api.upsert({"a": account(1)})

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["lusid-meta-requestId"]
    assert (limited.json()["name"], limited.json()["code"]) == ("ApiRateLimitViolation", 103)
    assert after.status_code == 201
    assert [e.get("fault") for e in emulator.requests()] == ["status", None]


@pytest.mark.parametrize("status", [500, 503, 504])
def test_server_errors_are_problem_details(
    api: Any, account: Account, emulator: EmulatorProcess, status: int
) -> None:
    emulator.add_fault(kind="status", status=status, count=2)

    statuses = [api.upsert({"a": account(1)}).status_code for _ in range(3)]

    assert statuses == [status, status, 201]
    assert len(emulator.accounts()) == 1


def test_502_is_a_gateways_html_page(api: Any, account: Account, emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="status", status=502)

    response = api.upsert({"a": account(1)})

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert emulator.accounts() == []


def test_fault_for_one_method_only(api: Any, account: Account, emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="status", status=503, method="POST")

    assert api.http.get("/api/investmentaccounts").status_code == 200
    assert api.upsert({"a": account(1)}).status_code == 503


def test_faults_are_used_in_the_order_added(api: Any, emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="status", status=500)
    emulator.add_fault(kind="status", status=429, count=2)

    statuses = [api.http.get("/api/investmentaccounts").status_code for _ in range(4)]

    assert statuses == [500, 429, 429, 200]


def test_unauthorised_requests_use_up_no_fault(emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="status", status=500)

    assert httpx.get(f"{emulator.url}/api/investmentaccounts").status_code == 401
    assert len(emulator.faults()) == 1


def test_faults_leave_admin_and_token_endpoints_alone(emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="status", status=500, count=5)

    assert httpx.get(f"{emulator.root}/_emulator/requests").status_code == 200
    assert httpx.post(emulator.token_url, data={"grant_type": "password"}).status_code == 401
    assert emulator.faults()[0]["count"] == 5


def test_drop_before_commit(api: Any, account: Account, emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="drop", commit=False)

    with pytest.raises(httpx.TransportError):
        api.upsert({"a": account(1)})

    assert emulator.accounts() == []
    (entry,) = emulator.requests()
    assert (entry["fault"], entry["status"], entry["bodyBytes"] > 0) == ("drop", None, True)
    assert api.upsert({"a": account(1)}).status_code == 201  # the next request is served


def test_drop_after_commit(api: Any, account: Account, emulator: EmulatorProcess) -> None:
    emulator.add_fault(kind="drop", commit=True)

    with pytest.raises(httpx.TransportError):
        api.upsert({"a": account(1)})

    (committed,) = emulator.accounts()
    assert committed["displayName"] == "Account 1"
    assert emulator.requests()[0]["status"] == 201
    # Sending it again is a harmless no-op: same account, same version.
    again = api.values({"a": account(1)})["a"]
    assert again["lusidInvestmentAccountId"] == committed["lusidInvestmentAccountId"]
    assert again["version"]["asAtVersionNumber"] == 1


def test_hang_past_the_clients_timeout_then_commit(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    emulator.add_fault(kind="hang", seconds=1.5, commit=True)

    with pytest.raises(httpx.TimeoutException):
        api.upsert({"a": account(1)}, timeout=0.3)

    assert wait_for(lambda: len(emulator.accounts()) == 1)
    assert wait_for(lambda: emulator.requests()[0]["status"] == 201)


@pytest.mark.parametrize(
    ("commit", "reset"), [(False, False), (True, True)], ids=["without-commit", "reset-during-it"]
)
def test_a_hang_that_does_not_commit(
    api: Any, account: Account, emulator: EmulatorProcess, commit: bool, reset: bool
) -> None:
    emulator.add_fault(kind="hang", seconds=0.5, commit=commit)
    with pytest.raises(httpx.TimeoutException):
        api.upsert({"a": account(1)}, timeout=0.2)

    if reset:
        emulator.reset()  # as the next test's fixture does: it cancels the hang's commit
    time.sleep(1.0)  # past the hang: had it committed, the account would be there now

    assert emulator.accounts() == []


def test_hang_shorter_than_the_timeout_is_just_slow(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    emulator.add_fault(kind="hang", seconds=0.2)

    assert api.upsert({"a": account(1)}, timeout=30).status_code == 201


def test_fail_account_for_n_times(api: Any, account: Account, emulator: EmulatorProcess) -> None:
    emulator.add_fault(
        kind="fail-account", identifier="INT_2", errorType="InvalidPropertyValueAssignment", count=1
    )

    first = api.upsert({"a": account(1), "b": account(2)}).json()
    second = api.upsert({"a": account(1), "b": account(2)}).json()

    assert first["failed"]["b"]["type"] == "InvalidPropertyValueAssignment"
    assert second["failed"] == {} and sorted(second["values"]) == ["a", "b"]


def test_fail_account_without_count_fails_every_time(
    api: Any, account: Account, emulator: EmulatorProcess
) -> None:
    emulator.add_fault(kind="fail-account", identifier="IA_1", count=None, detail="always")

    for _ in range(3):
        failed = api.upsert({"a": account(1)}).json()["failed"]
        assert failed["a"]["detail"] == "always"
    assert emulator.faults()[0]["count"] is None


def test_fault_at_start_up(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(
        "tok", "--fault", '{"kind": "status", "status": 503, "retryAfter": 2, "count": 1}'
    )
    headers = {"Authorization": "Bearer tok"}

    first = httpx.get(f"{emu.url}/api/investmentaccounts", headers=headers)
    second = httpx.get(f"{emu.url}/api/investmentaccounts", headers=headers)

    assert (first.status_code, first.headers["Retry-After"]) == (503, "2")
    assert second.status_code == 200


# --- the fault list itself ---------------------------------------------------------------------


def test_parse_fault_defaults() -> None:
    assert parse_fault({"kind": "status", "status": 429}).retry_after == 1
    assert parse_fault({"kind": "drop"}).commit is False
    assert parse_fault({"kind": "hang"}).seconds == 30
    assert parse_fault({"kind": "fail-account", "identifier": "X"}).count is None


def test_parse_fault_refuses_a_non_object() -> None:
    with pytest.raises(FaultSpecError, match="JSON object"):
        parse_fault(["status"])


def test_account_failures_do_not_consume_request_faults() -> None:
    faults = Faults()
    faults.add(parse_fault({"kind": "fail-account", "identifier": "X", "count": 1}))
    faults.add(parse_fault({"kind": "status", "status": 500}))

    assert faults.take_account_failure(["Y"]) is None
    assert faults.take_request_fault("GET").status == 500  # type: ignore[union-attr]
    assert faults.take_account_failure(["X"]) is not None
    assert faults.to_json() == []
