"""The state as `iasync state list`, `state show` and `state history` print it: a table or
JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from iasync.views.documents import JSON_FORMAT_VERSION

if TYPE_CHECKING:
    from iasync.states import AccountRecord, State


def state_list_json(state: State, records: list[AccountRecord]) -> str:
    return _dumps(
        {
            "format_version": JSON_FORMAT_VERSION,
            "lineage": state.lineage,
            "serial": state.serial,
            "canonical_format": state.canonical_format,
            "accounts": [_summary(rec) for rec in records],
        }
    )


def state_list_lines(records: list[AccountRecord]) -> list[str]:
    """One line a record: LUSID id, version, source, main identifier, when applied."""
    return _table([_row(rec) for rec in records])


def record_json(rec: AccountRecord) -> str:
    """`iasync state show`: the whole record."""
    document = rec.to_json() | {"source_hash": _source_hash(rec)}
    return _dumps({"format_version": JSON_FORMAT_VERSION} | document)


def history_json(where: str, entries: list[dict[str, Any]]) -> str:
    """`iasync state history -json`: every apply's audit entry, oldest first."""
    return _dumps({"format_version": JSON_FORMAT_VERSION, "state": where, "applies": entries})


def history_lines(entries: list[dict[str, Any]]) -> list[str]:
    """One line an apply: when, serial, by whom, commit, counts, plan hash, CI run, and the error
    that stopped it, if one did."""
    rows = []
    for entry in entries:
        counts = entry.get("counts") or {}
        done = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing"
        commit = entry.get("commit")
        plan = str(entry.get("plan_hash") or "-")
        rows.append(
            [
                str(entry.get("applied_at", "?")),
                f"serial {entry.get('serial', '?')}",
                f"by {entry.get('actor') or '?'}",
                f"commit {commit[:12]}" if isinstance(commit, str) else "no commit",
                done,
                f"plan {plan.removeprefix('sha256:')[:12]}",
                str(entry.get("ci_run_url") or ""),
                _stopped(entry),
            ]
        )
    return _table(rows)


def _stopped(entry: dict[str, Any]) -> str:
    """`stopped: <the error's words>` for an apply an error stopped (the last column: the words
    are long, and would widen every line's columns after them)."""
    stopped = entry.get("stopped")
    if not isinstance(stopped, dict):
        return ""
    words = " ".join(str(stopped.get("message") or "?").split())  # one line an apply
    return f"stopped: {words}"


def main_identifier(rec: AccountRecord) -> str:
    """The first identifier by key: enough to recognise the account on a line."""
    if not rec.identifiers:
        return "-"
    key = min(rec.identifiers)
    return f"{key}={rec.identifiers[key]}"


def _row(rec: AccountRecord) -> list[str]:
    version = "-" if rec.version is None else f"v{rec.version}"
    return [rec.lusid_id, version, rec.source, main_identifier(rec), rec.applied_at]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _summary(rec: AccountRecord) -> dict[str, Any]:
    return {
        "lusid_id": rec.lusid_id,
        "version": rec.version,
        "source": rec.source,
        "identifiers": rec.identifiers,
        "applied_at": rec.applied_at,
        "commit": rec.commit,
        "body_hash": rec.body_hash,
        "source_hash": _source_hash(rec),
    }


def _source_hash(rec: AccountRecord) -> str | None:
    """The hash of the file's bytes as applied; None (JSON null) for "" (none vouched for)."""
    return rec.source_hash or None


def _dumps(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False)
