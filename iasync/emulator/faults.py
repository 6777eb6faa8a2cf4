"""Injected faults: what the next requests to /api/ (or a given account) suffer.

Specs (docs/contracts.md):
  {"kind": "status", "status": 429|500|502|503, "count": N, "retryAfter": seconds}
  {"kind": "hang", "seconds": S, "count": N, "commit": true}
  {"kind": "drop", "commit": true|false, "count": N}
  {"kind": "fail-account", "identifier": "<label value>", "errorType": "...", "detail": "...",
   "count": N|null}
Request faults may add "method": "POST" to hit only that method. Faults are used up in the order
they were added; `count: null` on fail-account means "every time".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iasync.errors import IasyncError

STATUSES = {429, 500, 502, 503, 504}
KINDS = ("status", "hang", "drop", "fail-account")


class FaultSpecError(IasyncError):
    """A fault spec that cannot be used; the message says which field and why."""


@dataclass
class Fault:
    kind: str
    count: int | None  # None: without end (fail-account only)
    status: int = 0
    retry_after: int | None = None
    seconds: float = 0.0
    commit: bool = True
    identifier: str = ""
    error_type: str = ""
    detail: str = ""
    method: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "count": self.count}
        if self.kind == "status":
            out.update(status=self.status, retryAfter=self.retry_after)
        elif self.kind == "hang":
            out.update(seconds=self.seconds, commit=self.commit)
        elif self.kind == "drop":
            out.update(commit=self.commit)
        else:
            out.update(identifier=self.identifier, errorType=self.error_type, detail=self.detail)
        if self.method:
            out["method"] = self.method
        return out


def _number(spec: dict[str, Any], name: str, default: float | None = None) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"fault field '{name}' must be a non-negative number; got {value!r}")
    return value


def parse_fault(spec: Any) -> Fault:
    """A Fault from its JSON spec; FaultSpecError naming the bad field otherwise."""
    if not isinstance(spec, dict):
        raise FaultSpecError('a fault spec must be a JSON object, e.g. {"kind": "status", ...}')
    kind = spec.get("kind")
    if kind not in KINDS:
        raise FaultSpecError(f"fault 'kind' must be one of {', '.join(KINDS)}; got {kind!r}")
    known = {"kind", "count", "method"} | {
        "status": {"status", "retryAfter"},
        "hang": {"seconds", "commit"},
        "drop": {"commit"},
        "fail-account": {"identifier", "errorType", "detail"},
    }[kind]
    unknown = sorted(set(spec) - known)
    if unknown:
        raise FaultSpecError(f"unknown field(s) for a {kind} fault: {', '.join(unknown)}")
    if kind == "fail-account" and spec.get("count") is None:
        count = None
    else:
        count = int(_number(spec, "count", 1))
        if count < 1:
            raise FaultSpecError("fault field 'count' must be at least 1")
    method = spec.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultSpecError("fault field 'method' must be an HTTP method name, e.g. POST")
    fault = Fault(kind=kind, count=count, method=method.upper() if method else None)
    if kind == "status":
        fault.status = spec.get("status", 0)
        if fault.status not in STATUSES:
            raise FaultSpecError(f"fault 'status' must be one of {sorted(STATUSES)}")
        if spec.get("retryAfter") is not None:
            fault.retry_after = int(_number(spec, "retryAfter"))
        elif fault.status == 429:
            fault.retry_after = 1
    elif kind == "hang":
        fault.seconds = _number(spec, "seconds", 30)
        fault.commit = bool(spec.get("commit", True))
    elif kind == "drop":
        fault.commit = bool(spec.get("commit", False))
    else:
        identifier, error_type = spec.get("identifier"), spec.get("errorType", "ValidationError")
        if not isinstance(identifier, str) or not identifier:
            raise FaultSpecError("a fail-account fault needs 'identifier': an identifier value")
        if not isinstance(error_type, str):
            raise FaultSpecError("fault field 'errorType' must be a string")
        fault.identifier, fault.error_type = identifier, error_type
        fault.detail = str(spec.get("detail") or f"Injected failure ({error_type}).")
    return fault


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def to_json(self) -> list[dict[str, Any]]:
        return [f.to_json() for f in self._faults]

    def _use(self, fault: Fault) -> None:
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)

    def take_request_fault(self, method: str) -> Fault | None:
        """The first request fault that applies to this request, used up by one."""
        for fault in self._faults:
            if fault.kind == "fail-account" or (fault.method and fault.method != method):
                continue
            self._use(fault)
            return fault
        return None

    def take_account_failure(self, identifier_values: list[str]) -> Fault | None:
        """The first fail-account fault naming one of these identifier values, used up by one."""
        for fault in self._faults:
            if fault.kind == "fail-account" and fault.identifier in identifier_values:
                self._use(fault)
                return fault
        return None
