"""The LUSID client: configuration, then real HTTP against the real emulator (a subprocess).

Retry waits go through an injected `sleep` that records them, so the tests check which waits were
chosen (Retry-After honoured, backoff bounded) without spending them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from iasync.accounts.model import canonical_json
from iasync.emulator.process import EmulatorProcess
from iasync.lusid import (
    LusidApiError,
    LusidClient,
    LusidConfig,
    LusidConfigError,
    RetryEvent,
    RetryPolicy,
    Secret,
    describe_problem,
    http_timeout,
    load_lusid_config,
    parse_retry_after,
)

EXAMPLE = Path(__file__).parent.parent / "data" / "reference-example-request-body.json"
PASSWORD = "pa55-w0rd-s3cret"
CLIENT_SECRET = "client-s3cret-value"
USER = "alice@example.com"


def example_requests() -> dict[str, bytes]:
    """The two accounts of the API reference page's example, keyed by file-like correlation ids."""
    bodies = json.loads(EXAMPLE.read_text())
    return {
        f"accounts/{name}.yaml": canonical_json(body)
        for name, body in zip(("first", "second"), bodies.values(), strict=True)
    }


class Waits(list[float]):
    """A `sleep` that records how long it was asked to wait, and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def connect(
    emulator: EmulatorProcess, waits: Waits, tmp_path: Path
) -> Iterator[Callable[..., LusidClient]]:
    """A client for the shared emulator (personal access token); options pass to LusidClient."""
    clients: list[LusidClient] = []

    def make(retry: RetryPolicy | None = None, **options: object) -> LusidClient:
        config = load_lusid_config(emulator.env(), cwd=tmp_path)
        policy = retry or RetryPolicy(max_attempts=4, base_delay=0.01, sleep=waits)
        client = LusidClient(config, retry=policy, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def grant_env(emu: EmulatorProcess) -> dict[str, str]:
    return {
        "FBN_LUSID_URL": emu.url,
        "FBN_TOKEN_URL": emu.token_url,
        "FBN_USERNAME": USER,
        "FBN_PASSWORD": PASSWORD,
        "FBN_CLIENT_ID": "iasync-tests",
        "FBN_CLIENT_SECRET": CLIENT_SECRET,
        "FBN_APP_NAME": "iasync-tests",
    }


def grant_emulator(factory: Callable[..., EmulatorProcess], *extra: str) -> EmulatorProcess:
    return factory(
        "unused-personal-token",
        "--user",
        f"{USER}:{PASSWORD}",
        "--client-id",
        "iasync-tests",
        "--client-secret",
        CLIENT_SECRET,
        *extra,
    )


@pytest.fixture
def granted(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> Callable[..., tuple[EmulatorProcess, LusidConfig]]:
    """An emulator of its own that grants tokens (options: `extra`), and the config to use it."""

    def start(*extra: str) -> tuple[EmulatorProcess, LusidConfig]:
        emu = grant_emulator(emulator_factory, *extra)
        return emu, load_lusid_config(grant_env(emu), tmp_path)

    return start


def api_statuses(emu: EmulatorProcess) -> list[tuple[str, int | None]]:
    return [(r["path"], r["status"]) for r in emu.requests()]


BATCH = "/api/api/investmentaccounts/$batchUpsert"
TOKEN = "/oauth2/token"


# --- configuration ----------------------------------------------------------------------------


def test_personal_access_token_from_the_environment(tmp_path: Path) -> None:
    config = load_lusid_config(
        {"FBN_LUSID_URL": "https://x.lusid.com/api", "FBN_ACCESS_TOKEN": "pat-123"}, cwd=tmp_path
    )
    assert config.api_url == "https://x.lusid.com/api"
    assert config.access_token == Secret("pat-123")
    assert not config.uses_password_grant
    assert "pat-123" not in repr(config) and "pat-123" not in str(config)


def test_older_url_variable_is_read_and_the_newer_wins(tmp_path: Path) -> None:
    env = {"FBN_LUSID_API_URL": "https://old.lusid.com/api", "FBN_ACCESS_TOKEN": "t"}
    assert load_lusid_config(env, cwd=tmp_path).api_url == "https://old.lusid.com/api"
    env["FBN_LUSID_URL"] = "https://new.lusid.com/api"
    assert load_lusid_config(env, cwd=tmp_path).api_url == "https://new.lusid.com/api"


def test_secrets_json_values_win_over_the_environment(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(
        json.dumps(
            {
                "api": {
                    "lusidUrl": "https://file.lusid.com/api",
                    "tokenUrl": "https://idp.example.com/oauth2/token",
                    "username": "file-user",
                    "password": PASSWORD,
                    "clientId": "file-client",
                    "clientSecret": CLIENT_SECRET,
                    "applicationName": "from-file",
                    "accessToken": "",
                },
                "proxy": {"address": "http://proxy:8888", "username": "pu", "password": "pp"},
            }
        )
    )
    env = {
        "FBN_LUSID_URL": "https://env.lusid.com/api",
        "FBN_USERNAME": "env-user",
        "FBN_APP_NAME": "from-env",
        "FBN_CLIENT_ID": "env-client",
    }
    config = load_lusid_config(env, cwd=tmp_path)
    assert config == LusidConfig(
        api_url="https://file.lusid.com/api",
        token_url="https://idp.example.com/oauth2/token",
        username="file-user",
        password=Secret(PASSWORD),
        client_id="file-client",
        client_secret=Secret(CLIENT_SECRET),
        app_name="from-file",
        proxy_address="http://proxy:8888",
        proxy_username="pu",
        proxy_password=Secret("pp"),
    )
    assert config.uses_password_grant
    for secret in (PASSWORD, CLIENT_SECRET, "'pp'"):
        assert secret not in repr(config)


def test_a_password_in_a_url_is_never_shown(tmp_path: Path) -> None:
    env = {
        "FBN_LUSID_URL": "https://x.lusid.com/api",
        "FBN_TOKEN_URL": "https://tokenuser:t0ken-url-pass@idp.example.com/oauth2/token",
        "FBN_USERNAME": USER,
        "FBN_PASSWORD": PASSWORD,
        "FBN_CLIENT_ID": "c",
        "FBN_CLIENT_SECRET": CLIENT_SECRET,
        "FBN_PROXY_ADDRESS": "http://proxyuser:pr0xy-pass@proxy.example.com:8080",
    }
    config = load_lusid_config(env, cwd=tmp_path)
    assert config.proxy_address == env["FBN_PROXY_ADDRESS"]  # used as given
    shown = repr(config) + config.describe_auth() + repr(LusidClient(config))
    assert "http://proxy.example.com:8080" in shown
    assert "https://idp.example.com/oauth2/token" in shown
    assert_no_secret(shown, "t0ken-url-pass", "pr0xy-pass")


def test_missing_url_names_both_places(tmp_path: Path) -> None:
    with pytest.raises(LusidConfigError) as caught:
        load_lusid_config({"FBN_ACCESS_TOKEN": "t"}, cwd=tmp_path)
    assert "FBN_LUSID_URL" in str(caught.value)
    assert str(tmp_path / "secrets.json") in str(caught.value)


def test_missing_credentials_name_what_is_missing_and_no_secret(tmp_path: Path) -> None:
    env = {"FBN_LUSID_URL": "https://x.lusid.com/api", "FBN_PASSWORD": PASSWORD}
    with pytest.raises(LusidConfigError) as caught:
        load_lusid_config(env, cwd=tmp_path)
    message = str(caught.value)
    assert "FBN_ACCESS_TOKEN" in message
    assert "missing: FBN_TOKEN_URL, FBN_USERNAME, FBN_CLIENT_ID, FBN_CLIENT_SECRET" in message
    assert PASSWORD not in message


def test_url_without_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LusidConfigError, match="must start with https://"):
        load_lusid_config({"FBN_LUSID_URL": "x.lusid.com/api", "FBN_ACCESS_TOKEN": "t"}, tmp_path)


def test_broken_secrets_json_is_located_and_never_echoed(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text('{"api": {\n  "password": "' + PASSWORD + '",,\n}}')
    with pytest.raises(LusidConfigError) as caught:
        load_lusid_config({}, cwd=tmp_path)
    assert f"{tmp_path / 'secrets.json'}:2:" in str(caught.value)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[]", "expected a JSON object"),
        ('{"api": {"lusidUrl": 42}}', "api.lusidUrl must be a string"),
    ],
)
def test_secrets_json_of_the_wrong_shape_is_refused(
    tmp_path: Path, content: str, reason: str
) -> None:
    (tmp_path / "secrets.json").write_text(content)
    with pytest.raises(LusidConfigError, match=reason):
        load_lusid_config({}, cwd=tmp_path)


def test_the_sdks_limits_are_read_and_secrets_json_wins(tmp_path: Path) -> None:
    env = {
        "FBN_LUSID_URL": "https://x.lusid.com/api",
        "FBN_ACCESS_TOKEN": "t",
        "FBN_TOTAL_TIMEOUT_MS": "120000",
        "FBN_CONNECT_TIMEOUT_MS": "5000",
        "FBN_READ_TIMEOUT_MS": "0",
        "FBN_RATE_LIMIT_RETRIES": "3",
    }
    config = load_lusid_config(env, cwd=tmp_path)
    assert (config.total_timeout_ms, config.connect_timeout_ms) == (120_000, 5000)
    assert (config.read_timeout_ms, config.rate_limit_retries) == (0, 3)
    # As the SDK's own secrets file: numbers, under `api`.
    (tmp_path / "secrets.json").write_text(
        json.dumps({"api": {"readTimeoutMs": 45000, "rateLimitRetries": "4"}})
    )
    config = load_lusid_config(env, cwd=tmp_path)
    assert (config.read_timeout_ms, config.rate_limit_retries) == (45_000, 4)
    assert config.total_timeout_ms == 120_000


@pytest.mark.parametrize(
    ("env", "secrets", "where"),
    [
        ({"FBN_READ_TIMEOUT_MS": "ten"}, None, "FBN_READ_TIMEOUT_MS"),
        ({"FBN_RATE_LIMIT_RETRIES": "-1"}, None, "FBN_RATE_LIMIT_RETRIES"),
        ({}, {"totalTimeoutMs": 1.5}, "secrets.json: api.totalTimeoutMs"),
        ({}, {"connectTimeoutMs": True}, "secrets.json: api.connectTimeoutMs"),
    ],
)
def test_a_limit_that_is_not_a_whole_number_is_refused_naming_where(
    tmp_path: Path, env: dict[str, str], secrets: dict[str, object] | None, where: str
) -> None:
    if secrets is not None:
        (tmp_path / "secrets.json").write_text(json.dumps({"api": secrets}))
    base = {"FBN_LUSID_URL": "https://x.lusid.com/api", "FBN_ACCESS_TOKEN": "t"}
    with pytest.raises(LusidConfigError, match=f"{where} must be a whole number, 0 or more"):
        load_lusid_config({**base, **env}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("limits", "default", "expected"),
    [
        # (connect, read, write, pool) in seconds; None: no limit
        ({}, 30.0, (10.0, 30.0, 30.0, 30.0)),
        ({}, 5.0, (5.0, 5.0, 5.0, 5.0)),
        ({"connect_timeout_ms": 2500, "read_timeout_ms": 90_000}, 30.0, (2.5, 90.0, 30.0, 30.0)),
        ({"read_timeout_ms": 0}, 30.0, (10.0, None, 30.0, 30.0)),
        # A total replaces the default and caps every phase.
        ({"total_timeout_ms": 120_000}, 30.0, (120.0, 120.0, 120.0, 120.0)),
        (
            {"total_timeout_ms": 60_000, "connect_timeout_ms": 0, "read_timeout_ms": 90_000},
            30.0,
            (60.0, 60.0, 60.0, 60.0),
        ),
        ({"total_timeout_ms": 0}, 30.0, (None, None, None, None)),
        ({"total_timeout_ms": 0, "connect_timeout_ms": 3000}, 30.0, (3.0, None, None, None)),
    ],
)
def test_http_timeouts_follow_the_sdks_limits(
    limits: dict[str, int], default: float, expected: tuple[float | None, ...]
) -> None:
    timeout = http_timeout(LusidConfig(api_url="https://x.lusid.com/api", **limits), default)
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == expected


def test_retry_policy_needs_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


def test_secret_hides_its_value_and_refuses_pickling() -> None:
    secret = Secret(PASSWORD)
    assert PASSWORD not in f"{secret} {secret!r} {[secret]}"
    assert secret.reveal() == PASSWORD
    with pytest.raises(TypeError):
        pickle.dumps(secret)


# --- retry arithmetic and messages ------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        samples = [policy.backoff(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # jittered: retries from many clients do not line up


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.wait_for(1, 3.0) == 3.0
    assert policy.wait_for(1, 600.0) == 10.0


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_problem_details_in_plain_words() -> None:
    problem = {
        "name": "InvalidRequestFailure",
        "code": 157,
        "title": "InvalidRequestFailure",
        "detail": "One or more of the bits of input data provided were not valid.",
        "errors": {"displayName": ["The DisplayName field is required."]},
    }
    assert describe_problem(problem) == (
        "InvalidRequestFailure 157: One or more of the bits of input data provided were not "
        "valid. displayName: The DisplayName field is required."
    )
    assert describe_problem({}) == "no details given"


# --- upserts against the emulator -------------------------------------------------------------


def test_partial_upsert_sends_the_bodies_verbatim_and_returns_lusid_ids(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    requests = example_requests()
    with connect() as client:
        response = client.upsert_investment_accounts(requests, "Partial")
    assert set(response.values) == set(requests) and response.failed == {}
    for account in response.values.values():
        assert account["lusidInvestmentAccountId"].startswith("LUID_")
        assert account["version"]["asAtVersionNumber"] == 1
    assert response.request_id
    [sent] = emulator.requests()
    assert sent["method"] == "POST" and sent["path"] == BATCH
    assert sent["query"] == {"successMode": "Partial"}
    assert sent["contentType"] == "application/json-patch+json"
    assert sent["bodyBytes"] == response.bytes_sent
    assert {k: canonical_json(v) for k, v in sent["body"].items()} == requests


def test_upserting_again_is_a_no_op(connect: Callable[..., LusidClient]) -> None:
    with connect() as client:
        first = client.upsert_investment_accounts(example_requests(), "Atomic")
        again = client.upsert_investment_accounts(example_requests(), "Atomic")
    for corr_id, account in again.values.items():
        assert (
            account["lusidInvestmentAccountId"]
            == (first.values[corr_id]["lusidInvestmentAccountId"])
        )
        assert account["version"]["asAtVersionNumber"] == 1


def test_partial_upsert_reports_failed_items_by_correlation_id(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    emulator.add_fault(
        kind="fail-account", identifier="IA_12345678", errorType="PropertyNotDefined", detail="no"
    )
    with connect() as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert list(response.failed) == ["accounts/first.yaml"]
    assert response.failed["accounts/first.yaml"]["type"] == "PropertyNotDefined"
    assert list(response.values) == ["accounts/second.yaml"]


def test_atomic_failure_is_a_400_naming_the_items_and_commits_nothing(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    emulator.add_fault(
        kind="fail-account",
        identifier="IA_12345678",
        errorType="PropertyNotDefined",
        detail="Property InvestmentAccount/Details/Name is not defined",
    )
    with connect() as client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Atomic")
    error = caught.value
    assert error.status == 400 and error.problem["name"] == "BatchOperationAborted"
    assert list(error.failed) == ["accounts/first.yaml"]
    assert error.failed["accounts/first.yaml"]["type"] == "PropertyNotDefined"
    message = str(error)
    assert "accounts/first.yaml: PropertyNotDefined: Property InvestmentAccount" in message
    assert error.request_id and error.request_id in message
    assert emulator.accounts() == []


def test_a_large_failed_batch_names_ten_items_and_counts_the_rest(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient]
) -> None:
    template = json.loads(example_requests()["accounts/first.yaml"])
    requests = {}
    for i in range(25):
        body = json.loads(json.dumps(template))
        for key, prop in body["identifiers"].items():
            prop["value"]["labelValue"] = f"{key.rsplit('/', 1)[1]}_{i}"
        requests[f"accounts/a{i:02d}.yaml"] = canonical_json(body)
    for i in range(3, 25):
        emulator.add_fault(
            kind="fail-account", identifier=f"ExternalIAId_{i}", errorType="X", detail="x"
        )
    with connect() as client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(requests, "Atomic")
    message = str(caught.value)
    assert len(caught.value.failed) == 22
    assert message.count("accounts/a") == 10  # each named once, not again by field
    assert "and 12 more" in message


def test_bad_request_is_not_retried_and_says_what_is_wrong_by_field(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    body = json.loads(example_requests()["accounts/first.yaml"])
    del body["displayName"]
    with connect() as client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts({"accounts/bad.yaml": canonical_json(body)}, "Partial")
    assert caught.value.status == 400
    assert "LUSID rejected the request (400)" in str(caught.value)
    assert "displayName" in str(caught.value)
    assert len(emulator.requests()) == 1 and waits == []


def test_wrong_personal_token_is_a_clear_401_without_the_token(
    emulator: EmulatorProcess, tmp_path: Path, waits: Waits
) -> None:
    env = {"FBN_LUSID_URL": emulator.url, "FBN_ACCESS_TOKEN": "wrong-token-value"}
    policy = RetryPolicy(sleep=waits)
    client = LusidClient(load_lusid_config(env, tmp_path), retry=policy)
    with client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Partial")
    assert caught.value.status == 401
    assert "refused the credentials" in str(caught.value)
    assert "check FBN_ACCESS_TOKEN (or api.accessToken in secrets.json)" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value)
    assert api_statuses(emulator) == [(BATCH, 401)]


# --- retries against the emulator -------------------------------------------------------------


def test_429_waits_as_retry_after_says_then_succeeds(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=429, count=2, retryAfter=2)
    with connect() as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(response.values) == 2
    assert waits == [2.0, 2.0]
    assert [s for _, s in api_statuses(emulator)] == [429, 429, 201]


def test_rate_limit_retries_from_the_config_bound_429s_on_their_own_budget(
    emulator: EmulatorProcess, tmp_path: Path, waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=429, count=3, retryAfter=1)
    # One attempt for other failures, but three retries of a 429 (FBN_RATE_LIMIT_RETRIES).
    config = load_lusid_config({**emulator.env(), "FBN_RATE_LIMIT_RETRIES": "3"}, tmp_path)
    with LusidClient(config, retry=RetryPolicy(max_attempts=1, sleep=waits)) as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(response.values) == 2 and waits == [1.0, 1.0, 1.0]

    emulator.add_fault(kind="status", status=429, count=3, retryAfter=1)
    config = load_lusid_config({**emulator.env(), "FBN_RATE_LIMIT_RETRIES": "1"}, tmp_path)
    with (
        LusidClient(config, retry=RetryPolicy(max_attempts=6, sleep=waits)) as client,
        pytest.raises(LusidApiError, match=r"after 2 attempts.*429 Too Many Requests"),
    ):
        client.upsert_investment_accounts(example_requests(), "Partial")


def test_on_retry_hears_of_each_retry_with_no_secret(
    emulator: EmulatorProcess, tmp_path: Path, waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=503, count=1)
    emulator.add_fault(kind="status", status=429, count=1, retryAfter=2)
    events: list[RetryEvent] = []
    config = load_lusid_config(emulator.env(), tmp_path)
    policy = RetryPolicy(max_attempts=6, base_delay=0.01, sleep=waits)
    with LusidClient(config, retry=policy, on_retry=events.append) as client:
        client.upsert_investment_accounts(example_requests(), "Partial")
    assert [(e.status, e.attempt, e.max_attempts) for e in events] == [(503, 2, 6), (429, 3, 6)]
    assert [e.wait for e in events] == waits and events[1].wait == 2.0
    assert all(e.request_id for e in events)
    line = str(events[1])
    assert line == (
        f"the batch upsert of 2 accounts at {emulator.root}: 429 Too Many Requests; "
        "retrying in 2.0s (attempt 3 of 6)"
    )
    assert emulator.token not in "".join(map(repr, events))


def test_retries_print_nothing_unless_the_program_asks(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    # Python's last-resort handler would print the retry warning on stderr, unformatted.
    emulator.add_fault(kind="status", status=503, count=1)
    program = (
        "from iasync.lusid import LusidClient, RetryPolicy, load_lusid_config\n"
        "policy = RetryPolicy(sleep=lambda seconds: None)\n"
        "with LusidClient(load_lusid_config(), retry=policy) as client:\n"
        "    print(len(list(client.list_investment_accounts(property_keys=[]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, **emulator.env()},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("0\n", "")
    assert [r["status"] for r in emulator.requests()] == [503, 200]


def test_a_long_retry_after_is_capped(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=429, count=1, retryAfter=3600)
    policy = RetryPolicy(max_attempts=3, max_retry_after=5.0, sleep=waits)
    with connect(retry=policy) as client:
        client.upsert_investment_accounts(example_requests(), "Partial")
    assert waits == [5.0]


def test_a_burst_of_503_and_502_is_ridden_out_with_growing_backoff(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=503, count=2)
    emulator.add_fault(kind="status", status=502, count=1)  # an HTML page, not JSON
    policy = RetryPolicy(max_attempts=4, base_delay=0.02, sleep=waits)
    with connect(retry=policy) as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(response.values) == 2
    assert [s for _, s in api_statuses(emulator)] == [503, 503, 502, 201]
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 0.02 * 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize("commit", [True, False])
def test_a_dropped_connection_is_retried_and_the_account_exists_once(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits, commit: bool
) -> None:
    emulator.add_fault(kind="drop", commit=commit, count=1)
    with connect() as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(waits) == 1
    assert len(emulator.accounts()) == 2
    assert {a["version"]["asAtVersionNumber"] for a in response.values.values()} == {1}


def test_a_hanging_server_times_out_and_is_retried(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="hang", seconds=5, count=1)
    with connect(timeout=0.5) as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(response.values) == 2 and len(waits) == 1


def test_fbn_read_timeout_ms_bounds_the_wait_for_an_answer(
    emulator: EmulatorProcess, tmp_path: Path, waits: Waits
) -> None:
    emulator.add_fault(kind="hang", seconds=5, count=1)
    config = load_lusid_config({**emulator.env(), "FBN_READ_TIMEOUT_MS": "300"}, tmp_path)
    events: list[RetryEvent] = []
    with LusidClient(config, retry=RetryPolicy(sleep=waits), on_retry=events.append) as client:
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(response.values) == 2
    assert [event.reason for event in events] == ["timed out waiting for the answer"]


def test_exhausted_retries_give_a_clear_error_with_status_and_request_id(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=503, count=10)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, sleep=waits)
    with connect(retry=policy) as client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Partial")
    error = caught.value
    assert error.status == 503 and error.request_id
    assert "after 3 attempts" in str(error) and "503 Service Unavailable" in str(error)
    assert f"the batch upsert of 2 accounts at {emulator.root}" in str(error)
    assert error.request_id in str(error)
    assert "Try again later." in str(error) and not error.unreachable  # LUSID answered
    assert len(waits) == 2 and len(emulator.requests()) == 3


def test_a_batch_of_one_is_one_account(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=503, count=10)
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, sleep=waits)
    one = dict(list(example_requests().items())[:1])
    with connect(retry=policy) as client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(one, "Partial")
    assert f"the batch upsert of 1 account at {emulator.root} did not" in str(caught.value)


def test_a_url_without_api_gets_a_404_and_a_hint(
    emulator: EmulatorProcess, tmp_path: Path, waits: Waits
) -> None:
    env = {"FBN_LUSID_URL": emulator.root, "FBN_ACCESS_TOKEN": emulator.token or ""}
    client = LusidClient(load_lusid_config(env, tmp_path), retry=RetryPolicy(sleep=waits))
    with client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Partial")
    assert caught.value.status == 404
    assert "404 Not Found" in str(caught.value) and "usually ends in /api" in str(caught.value)
    assert waits == []


def test_a_500_is_not_retried(
    emulator: EmulatorProcess, connect: Callable[..., LusidClient], waits: Waits
) -> None:
    emulator.add_fault(kind="status", status=500, count=1)
    with connect() as client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Partial")
    assert caught.value.status == 500 and caught.value.request_id
    assert "500 Internal Server Error" in str(caught.value)
    assert waits == []


def test_nobody_listening_is_retried_then_reported(tmp_path: Path, waits: Waits) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"FBN_LUSID_URL": f"http://127.0.0.1:{port}/api", "FBN_ACCESS_TOKEN": "t"}
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, sleep=waits)
    client = LusidClient(load_lusid_config(env, tmp_path), retry=policy)
    with (
        client,
        pytest.raises(LusidApiError, match=r"after 3 attempts.*could not connect") as caught,
    ):
        client.upsert_investment_accounts(example_requests(), "Partial")
    assert caught.value.status is None and len(waits) == 2
    assert caught.value.unreachable  # nothing was sent: no other request would fare better
    assert "Check the LUSID URL (FBN_LUSID_URL, or api.lusidUrl in secrets.json)" in str(
        caught.value
    )


def test_an_unreachable_token_endpoint_is_retried_then_reported(
    emulator: EmulatorProcess, tmp_path: Path, waits: Waits
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **grant_env(emulator),
        "FBN_TOKEN_URL": f"http://u:url-pa55@127.0.0.1:{port}/oauth2/token",
    }
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, sleep=waits)
    client = LusidClient(load_lusid_config(env, tmp_path), retry=policy)
    with client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Partial")
    message = str(caught.value)
    assert f"the token request to http://127.0.0.1:{port}/oauth2/token" in message
    assert "after 2 attempts" in message and "could not connect" in message
    assert "Check the token URL (FBN_TOKEN_URL, or api.tokenUrl in secrets.json)" in message
    assert_no_secret(message, "url-pa55")
    assert emulator.requests() == [] and len(waits) == 1


# --- reading accounts -------------------------------------------------------------------------


def test_list_follows_pages_and_get_finds_by_identifier(
    connect: Callable[..., LusidClient],
) -> None:
    with connect() as client:
        created = client.upsert_investment_accounts(example_requests(), "Partial")
        listed = list(client.list_investment_accounts(property_keys=[], page_size=1))
        found = client.get_investment_account(
            "InvestmentAccount/ExternalIdentifier/ExternalIAId", "IA_12345678", property_keys=[]
        )
        missing = client.get_investment_account(
            "InvestmentAccount/ExternalIdentifier/ExternalIAId", "IA_404", property_keys=[]
        )
    ids = {a["lusidInvestmentAccountId"] for a in created.values.values()}
    assert {a["lusidInvestmentAccountId"] for a in listed} == ids and len(listed) == 2
    assert found is not None
    assert (
        found["lusidInvestmentAccountId"]
        == (created.values["accounts/first.yaml"]["lusidInvestmentAccountId"])
    )
    assert missing is None


# --- the password grant -----------------------------------------------------------------------


@pytest.fixture
def secrets_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore at their chattiest
    return caplog


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (PASSWORD, CLIENT_SECRET, *secrets):
        assert secret not in text


def test_password_grant_then_api_calls_share_one_token(
    granted: Callable[..., tuple[EmulatorProcess, LusidConfig]],
    waits: Waits,
    secrets_log: pytest.LogCaptureFixture,
) -> None:
    emu, config = granted()
    requests = example_requests()
    with LusidClient(config, retry=RetryPolicy(sleep=waits)) as client:
        threads = [
            threading.Thread(target=client.upsert_investment_accounts, args=({k: v}, "Partial"))
            for k, v in requests.items()
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client._tokens.current is not None
        access = client._tokens.current.access.reveal()
        shown = repr(client)
    statuses = api_statuses(emu)
    assert statuses.count((TOKEN, 200)) == 1
    assert statuses.count((BATCH, 201)) == 6
    assert len(emu.accounts()) == 2
    assert "password grant" in secrets_log.text
    assert_no_secret(secrets_log.text + shown, access)


def test_wrong_password_is_reported_without_the_password(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path, waits: Waits
) -> None:
    emu = grant_emulator(emulator_factory)
    env = {**grant_env(emu), "FBN_PASSWORD": "not-the-pa55word"}
    client = LusidClient(load_lusid_config(env, tmp_path), retry=RetryPolicy(sleep=waits))
    with client, pytest.raises(LusidApiError) as caught:
        client.upsert_investment_accounts(example_requests(), "Partial")
    message = str(caught.value)
    assert "refused the password grant" in message and USER in message
    assert "invalid_grant" in message
    assert_no_secret(message + repr(caught.value), "not-the-pa55word")
    assert api_statuses(emu) == [(TOKEN, 400)]


def test_token_is_refreshed_before_it_expires(
    granted: Callable[..., tuple[EmulatorProcess, LusidConfig]],
    waits: Waits,
    secrets_log: pytest.LogCaptureFixture,
) -> None:
    emu, config = granted("--token-expiry", "4")
    # With a 4 s token the client refreshes after 2 s (half its life): no request may see a 401.
    with LusidClient(config, retry=RetryPolicy(sleep=waits)) as client:
        client.upsert_investment_accounts(example_requests(), "Partial")
        first = client._tokens.current.access.reveal() if client._tokens.current else ""
        threading.Event().wait(2.3)
        client.upsert_investment_accounts(example_requests(), "Partial")
        second = client._tokens.current.access.reveal() if client._tokens.current else ""
    assert first != second
    assert api_statuses(emu) == [(TOKEN, 200), (BATCH, 201), (TOKEN, 200), (BATCH, 201)]
    assert "refreshing the LUSID token" in secrets_log.text
    assert_no_secret(secrets_log.text, first, second)


def test_a_401_gets_a_new_token_by_password_grant_and_one_more_try(
    granted: Callable[..., tuple[EmulatorProcess, LusidConfig]],
    waits: Waits,
    secrets_log: pytest.LogCaptureFixture,
) -> None:
    emu, config = granted("--token-expiry", "1")
    requests = example_requests()
    # A negative margin models a client whose clock runs behind: it keeps a token LUSID has
    # already expired, and only the 401 tells it so.
    with LusidClient(config, retry=RetryPolicy(sleep=waits), refresh_margin=-3600) as client:
        client.upsert_investment_accounts(requests, "Partial")
        threading.Event().wait(1.3)
        responses: list[object] = []
        threads = [
            threading.Thread(
                target=lambda: responses.append(
                    client.upsert_investment_accounts(requests, "Partial")
                )
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(responses) == 4
    statuses = api_statuses(emu)
    assert statuses[:3] == [(TOKEN, 200), (BATCH, 201), (BATCH, 401)]
    # However many threads saw the 401, one password grant renewed the token for all of them.
    assert statuses.count((TOKEN, 200)) == 2
    assert statuses.count((BATCH, 201)) == 5
    assert "LUSID answered 401" in secrets_log.text
    assert_no_secret(secrets_log.text)


def test_a_refused_refresh_falls_back_to_the_password_grant(
    granted: Callable[..., tuple[EmulatorProcess, LusidConfig]], waits: Waits
) -> None:
    import httpx

    emu, config = granted("--token-expiry", "4")
    with LusidClient(config, retry=RetryPolicy(sleep=waits)) as client:
        client.upsert_investment_accounts(example_requests(), "Partial")
        assert client._tokens.current is not None and client._tokens.current.refresh is not None
        # Someone else spends the client's refresh token (the emulator's are single-use).
        spent = httpx.post(
            emu.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": client._tokens.current.refresh.reveal(),
            },
            auth=("iasync-tests", CLIENT_SECRET),
        )
        assert spent.status_code == 200
        threading.Event().wait(2.3)
        response = client.upsert_investment_accounts(example_requests(), "Partial")
    assert len(response.values) == 2
    assert api_statuses(emu) == [
        (TOKEN, 200),
        (BATCH, 201),
        (TOKEN, 200),  # the spent refresh above
        (TOKEN, 400),  # the client's refresh, refused
        (TOKEN, 200),  # the password grant that replaced it
        (BATCH, 201),
    ]


# --- headers, seen by a small real server -------------------------------------------------------


class HeaderServer:
    """A real HTTP server on 127.0.0.1 (uvicorn in a thread) that keeps each request's target
    and headers, and answers every request with an empty 201 batch result.

    The emulator's request log leaves headers out, so this is where headers are checked; it also
    stands in for an HTTP proxy, which receives the full URL as the request target.
    """

    def __init__(self) -> None:
        import uvicorn

        self.seen: list[tuple[str, dict[str, str]]] = []
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.url = f"{self.address}/api"
        config = uvicorn.Config(self._app, interface="asgi3", log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, args=([self.socket],), daemon=True)

    async def _app(self, scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        while (await receive()).get("more_body"):
            pass
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.append((scope["raw_path"].decode(), headers))
        body = b'{"values": {}, "failed": {}}'
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def __enter__(self) -> HeaderServer:
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.socket.close()


def test_requests_carry_the_sdk_headers(tmp_path: Path) -> None:
    with HeaderServer() as server:
        env = {"FBN_LUSID_URL": server.url, "FBN_ACCESS_TOKEN": "pat", "FBN_APP_NAME": "my-app"}
        with LusidClient(load_lusid_config(env, tmp_path)) as client:
            client.upsert_investment_accounts(example_requests(), "Atomic")
    [(target, headers)] = server.seen
    assert target == BATCH
    assert headers["x-lusid-application"] == "my-app"
    assert headers["authorization"] == "Bearer pat"
    assert headers["content-type"] == "application/json-patch+json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("iasync/")


def test_the_configured_proxy_carries_the_requests(tmp_path: Path) -> None:
    with HeaderServer() as proxy:
        env = {
            # Nothing listens on this host's port: only the proxy can answer.
            "FBN_LUSID_URL": "http://lusid.invalid/api",
            "FBN_ACCESS_TOKEN": "pat",
            "FBN_PROXY_ADDRESS": proxy.address,
            "FBN_PROXY_USERNAME": "proxy-user",
            "FBN_PROXY_PASSWORD": "proxy-s3cret",
        }
        config = load_lusid_config(env, tmp_path)
        with LusidClient(config) as client:
            client.upsert_investment_accounts(example_requests(), "Partial")
    [(target, headers)] = proxy.seen
    assert target.startswith("http://lusid.invalid/api/api/investmentaccounts/")
    expected = "Basic " + base64.b64encode(b"proxy-user:proxy-s3cret").decode()
    assert headers["proxy-authorization"] == expected
    assert "proxy-s3cret" not in repr(config) + repr(client)
