"""Which failures are retried, how long to wait, and when to give up: the retry policy on tenacity.

Requests are retried a bounded number of times, with exponential backoff and jitter, on 429
(honouring `Retry-After`), 502, 503, 504, timeouts and dropped connections: a batch upsert is
idempotent, so sending it again is harmless. A 400 is never retried.
"""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import tenacity

from iasync.lusid._errors import LusidApiError, request_id, transport_reason, with_request_id

log = logging.getLogger("iasync.lusid")
# A library does not print: without a handler configured by the program, Python's last-resort
# handler would write these lines to stderr unformatted. `LusidClient(on_retry=...)` is how a
# command shows retries to its user.
log.addHandler(logging.NullHandler())

RETRIED_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with jitter, `Retry-After` honoured up to a cap."""

    max_attempts: int = 6
    base_delay: float = 0.5  # the first backoff, doubled at each attempt
    max_delay: float = 30.0  # no backoff is longer than this
    max_retry_after: float = 60.0  # a server's Retry-After is honoured up to this
    # When set, a 429 is retried up to this many times on a budget of its own, as the SDK's
    # FBN_RATE_LIMIT_RETRIES; when None, 429s count towards max_attempts like the rest.
    rate_limit_retries: int | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.rate_limit_retries is not None and self.rate_limit_retries < 0:
            raise ValueError("rate_limit_retries must be 0 or more")

    @property
    def attempts_at_most(self) -> int:
        return self.max_attempts + (self.rate_limit_retries or 0)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1-based): half fixed, half random."""
        ceiling: float = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen, for `LusidClient(on_retry=...)`. Holds no secret."""

    what: str  # "the batch upsert of 500 accounts at https://x.lusid.com"
    reason: str  # "503 Service Unavailable", "timed out waiting for the answer"
    status: int | None  # the HTTP status, None for a connection that failed
    wait: float  # seconds until the next attempt
    attempt: int  # the number of the attempt about to be made (2 for the first retry)
    max_attempts: int  # the most attempts there can be
    request_id: str | None  # LUSID's id of the request that failed, when it gave one

    def __str__(self) -> str:
        return (
            f"{self.what}: {self.reason}; retrying in {self.wait:.1f}s "
            f"(attempt {self.attempt} of {self.max_attempts})"
        )


class Retryable(Exception):
    """An attempt that may be retried: why, and how long the server asked us to wait."""

    def __init__(
        self,
        reason: str,
        status: int | None,
        retry_after: float | None,
        request_id: str | None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id
        self.unreachable = unreachable  # no connection was made


def unless_retried(send: Callable[[], httpx.Response]) -> httpx.Response:
    """`send()`'s response; `Retryable` for a failed connection or a status worth retrying."""
    try:
        response = send()
    except httpx.TransportError as exc:
        refused = _certificate_refusal(exc)
        if refused is not None:  # no retry makes a certificate trusted
            raise LusidApiError(
                f"the server's TLS certificate could not be verified ({refused}); nothing was "
                "sent. iasync always verifies certificates: if your organisation signs its own, "
                "point SSL_CERT_FILE at its CA bundle",
                unreachable=True,
            ) from None
        unreachable = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        raise Retryable(transport_reason(exc), None, None, None, unreachable) from None
    if response.status_code in RETRIED_STATUSES:
        raise Retryable(
            f"{response.status_code} {response.reason_phrase}",
            response.status_code,
            parse_retry_after(response.headers.get("Retry-After")),
            request_id(response),
        )
    return response


def _certificate_refusal(exc: BaseException) -> str | None:
    """The reason, when `exc` comes of a TLS certificate that could not be verified."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "certificate verify failed")
        cause = cause.__cause__ or cause.__context__
    return None


def with_retries(
    policy: RetryPolicy,
    what: str,
    attempt: Callable[[], httpx.Response],
    *,
    url_setting: str,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> httpx.Response:
    """`attempt()` until it answers, retrying what `Retryable` says may pass, within `policy`.

    `what` names the request in messages; `url_setting` names where its URL comes from, for
    the message when it cannot be reached at all. `on_retry` is told of each retry before its
    wait, from the calling thread.
    """
    budgets = _Budgets(policy)

    def announce(state: tenacity.RetryCallState) -> None:
        failure = _failure(state)
        event = RetryEvent(
            what=what,
            reason=failure.reason,
            status=failure.status,
            wait=state.next_action.sleep if state.next_action else 0.0,
            attempt=state.attempt_number + 1,
            max_attempts=policy.attempts_at_most,
            request_id=failure.request_id,
        )
        log.warning("%s", event)
        if on_retry is not None:
            on_retry(event)

    def give_up(state: tenacity.RetryCallState) -> httpx.Response:
        failure = _failure(state)
        advice = (
            f"Check {url_setting} and that it can be reached from here "
            "(a proxy is set with FBN_PROXY_ADDRESS)."
            if failure.unreachable
            else "Try again later."
        )
        raise LusidApiError(
            with_request_id(
                f"{what} did not succeed after {state.attempt_number} attempts; "
                f"the last answer: {failure.reason}. {advice}",
                failure.request_id,
            ),
            status=failure.status,
            request_id=failure.request_id,
            unreachable=failure.unreachable,
        ) from None

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Retryable),
        stop=budgets.exhausted,
        wait=lambda state: policy.wait_for(state.attempt_number, _failure(state).retry_after),
        before_sleep=announce,
        sleep=policy.sleep,
        retry_error_callback=give_up,
    )
    response: httpx.Response = retrying(attempt)
    return response


class _Budgets:
    """The attempts one request may still make: 429s on a budget of their own when the policy
    gives them one (the SDK's FBN_RATE_LIMIT_RETRIES), everything else on `max_attempts`."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failed = 0
        self.rate_limited = 0

    def exhausted(self, state: tenacity.RetryCallState) -> bool:
        """Spend the attempt that just failed; True when its budget has none left."""
        if _failure(state).status == 429 and self.policy.rate_limit_retries is not None:
            self.rate_limited += 1
            return self.rate_limited > self.policy.rate_limit_retries
        self.failed += 1
        return self.failed >= self.policy.max_attempts


def _failure(state: tenacity.RetryCallState) -> Retryable:
    """The `Retryable` the last attempt raised (tenacity only consults us after one did)."""
    assert state.outcome is not None
    failure = state.outcome.exception()
    assert isinstance(failure, Retryable)
    return failure
