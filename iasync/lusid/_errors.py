"""How LUSID's refusals and failures are told: the errors, and LUSID's problem details in words.

Messages name what failed and what to do, carry LUSID's request id when it gave one, and never
hold a secret (a URL is shown by scheme, host and port; a secrets file is never echoed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from iasync.errors import IasyncError

if TYPE_CHECKING:  # only annotations: the errors are raised and worded without importing httpx
    import httpx

REQUEST_ID_HEADER = "lusid-meta-requestId"
MAX_LISTED = 10  # items named in one error message; the rest are counted


class LusidConfigError(IasyncError):
    """LUSID's configuration is missing or unusable; the message names what to set."""


class LusidApiError(IasyncError):
    """LUSID refused a request, or could not be reached, and retrying did not help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: dict[str, Any] | None = None,
        failed: dict[str, dict[str, Any]] | None = None,
        request_id: str | None = None,
        unreachable: bool = False,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}
        self.failed = failed or {}
        self.request_id = request_id
        # No connection could be made, to the last attempt: nothing was sent, and any other
        # request to the same URL would fare the same.
        self.unreachable = unreachable
        # Every other request of the run would fail alike (credentials refused): stop at once.
        self.fatal = fatal


class ApiGenerationError(LusidApiError):
    """LUSID speaks the other API generation than the `api` setting says: every request would
    fail the same way, so this is said once, naming the setting and what to set it to."""

    wrong_api = True  # `iasync.applying` stops at the first, as for bad credentials


#: How LUSID refuses a request of the other generation (lusid-api.md, "Two API generations").
SCOPE_REQUIRED = "The Scope field is required."
SCOPE_UNKNOWN = "Unknown field 'scope'."


def other_generation(problem: Mapping[str, Any], api: str) -> str | None:
    """The generation LUSID speaks when a 400's `errors` show it is not `api`, else None.

    `<corrId>.scope: The Scope field is required.` is today's API refusing a request without a
    scope; `<corrId>.scope: Unknown field 'scope'.` the reference page's refusing one with it.
    """
    errors = problem.get("errors")
    if not isinstance(errors, Mapping):
        return None
    for field, messages in errors.items():
        if str(field).split(".")[-1] != "scope":
            continue
        said = messages if isinstance(messages, list) else [messages]
        if api == "unscoped" and SCOPE_REQUIRED in said:
            return "scoped"
        if api == "scoped" and SCOPE_UNKNOWN in said:
            return "unscoped"
    return None


def wrong_generation(
    api: str, doing: str, response: httpx.Response, hint: str = ""
) -> ApiGenerationError:
    """The one error for a LUSID of the other generation than the `api` setting says; `hint`
    adds what else the answer may mean."""
    if api == "unscoped":
        message = (
            f"LUSID refused {doing}: this LUSID speaks today's scoped API, and iasync spoke the "
            'reference page\'s (api = "unscoped", the default). Set api = "scoped" and '
            'scope = "<scope>" in iasync.toml (or IASYNC_API=scoped and IASYNC_SCOPE=<scope>); '
            "a file's own top-level `scope:` wins over the setting"
        )
    else:
        message = (
            f"LUSID refused {doing}: this LUSID speaks the reference page's API, which has no "
            'scopes, and iasync spoke today\'s (api = "scoped"). Set api = "unscoped" in '
            "iasync.toml (or IASYNC_API=unscoped)"
        )
    problem = json_or_none(response)
    return ApiGenerationError(
        with_request_id(message + hint, request_id(response)),
        status=response.status_code,
        problem=problem if isinstance(problem, dict) else {},
        request_id=request_id(response),
    )


def request_id(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get(REQUEST_ID_HEADER)
    return value


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def with_request_id(message: str, request_id: str | None) -> str:
    return f"{message} (LUSID request id {request_id})" if request_id else message


def describe_problem(
    problem: Mapping[str, Any], skip: Collection[str] = (), limit: int = MAX_LISTED
) -> str:
    """LUSID's problem details in plain words: name, title, detail, then errors by field.

    `skip`: error keys told elsewhere (the failed items of an Atomic batch); at most `limit`
    fields are listed, so a 2,000-item batch does not become a 2,000-line message.
    """
    head = " ".join(
        str(part) for part in (problem.get("name"), problem.get("code")) if part is not None
    )
    parts = [
        str(problem[k]).strip().rstrip(".")
        for k in ("title", "detail")
        if problem.get(k) and problem[k] != problem.get("name")  # a bare name says nothing new
    ]
    text = ". ".join(dict.fromkeys(parts))  # title and detail are often the same sentence
    errors = problem.get("errors")
    if isinstance(errors, Mapping):
        listed = [
            f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in errors.items()
            if name not in skip
        ]
        by_field = at_most(listed, limit)
        if by_field:
            text = f"{text}. {by_field}" if text else by_field
    if head:
        text = f"{head}: {text}" if text else head
    return text or "no details given"


def at_most(items: list[str], limit: int) -> str:
    shown = "; ".join(items[:limit])
    return f"{shown}; and {len(items) - limit} more" if len(items) > limit else shown


def bad_request(response: httpx.Response) -> LusidApiError:
    """A 400 in words, naming the items of an Atomic batch that LUSID refused."""
    problem = json_or_none(response)
    problem = problem if isinstance(problem, dict) else {}
    failed = _failed_items(problem)
    message = f"LUSID rejected the request (400): {describe_problem(problem, skip=failed)}"
    if failed:
        items = [
            f"{corr_id}: {item.get('type', 'Error')}: {item.get('detail', '')}".rstrip(": ")
            for corr_id, item in failed.items()
        ]
        message += f". Failed: {at_most(items, MAX_LISTED)}"
    return LusidApiError(
        with_request_id(message, request_id(response)),
        status=400,
        problem=problem,
        failed=failed,
        request_id=request_id(response),
    )


def unexpected(response: httpx.Response, doing: str, hint: str | None = None) -> LusidApiError:
    """An answer the API does not give to `doing` when all is well."""
    problem = json_or_none(response)
    problem = problem if isinstance(problem, dict) else {}
    details = f": {describe_problem(problem)}" if problem else ""
    details += f"; {hint}" if hint else ""
    return LusidApiError(
        with_request_id(
            f"unexpected answer from LUSID to {doing}: "
            f"{response.status_code} {response.reason_phrase}{details}",
            request_id(response),
        ),
        status=response.status_code,
        problem=problem,
        request_id=request_id(response),
    )


def _failed_items(problem: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Items a 400 names (an Atomic batch): correlation id -> ErrorDetail."""
    failed: dict[str, dict[str, Any]] = {}
    named = problem.get("failed")
    if isinstance(named, Mapping):
        failed.update({str(k): v for k, v in named.items() if isinstance(v, dict)})
    for item in problem.get("errorDetails") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and "type" in item:
            failed.setdefault(item["id"], item)
    return failed


def transport_reason(exc: httpx.TransportError) -> str:
    # The exception's class says what happened; its text can hold the URL, never a secret.
    kind = type(exc).__name__
    return {
        "ConnectError": "could not connect",
        "ConnectTimeout": "timed out connecting",
        "ReadTimeout": "timed out waiting for the answer",
        "WriteTimeout": "timed out sending the request",
        "PoolTimeout": "timed out waiting for a connection",
        "RemoteProtocolError": "the connection was closed without an answer",
        "ReadError": "the connection failed while reading the answer",
        "WriteError": "the connection failed while sending the request",
    }.get(kind, f"connection error ({kind})")


def oauth_error(response: httpx.Response) -> str:
    doc = json_or_none(response)
    if isinstance(doc, dict) and (doc.get("error") or doc.get("error_description")):
        return f"{response.status_code} {doc.get('error', '')}: {doc.get('error_description', '')}"
    return f"{response.status_code} {response.reason_phrase}"
