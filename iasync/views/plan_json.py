"""The plan as JSON (`iasync plan -json`): one object with `format_version`, its shape described
by `PLAN_JSON_SCHEMA`."""

from __future__ import annotations

from typing import Any

from iasync.plans.plan import AccountChange, Plan
from iasync.views.documents import JSON_FORMAT_VERSION, render_json
from iasync.views.plan import COMPARED, pending_text

__all__ = ["JSON_FORMAT_VERSION", "PLAN_JSON_SCHEMA", "plan_json", "render_json"]


_IDENTITY_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
        "required": ["key", "value"],
        "additionalProperties": False,
    },
}
_COUNT = {"type": "integer", "minimum": 0}

#: The shape of `iasync plan -json` output at JSON_FORMAT_VERSION. Consumers check
#: `format_version`: fields may be added within a version, never removed or changed.
PLAN_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "iasync plan -json",
    "type": "object",
    "required": ["format_version", "iasync_version", "state", "counts", "apply", "changes"],
    "properties": {
        "format_version": {"const": JSON_FORMAT_VERSION},
        "iasync_version": {"type": "string"},
        # The LUSID the plan is for: its URL (never a credential), or why it is not known.
        "target": {"type": "string"},
        # What the plan compared: the files with the last applied state, LUSID not read.
        "compared": {"type": "string"},
        "lusid_read": {"type": "boolean"},
        "state": {
            "type": "object",
            "required": ["lineage", "serial"],
            "properties": {"lineage": {"type": "string"}, "serial": _COUNT},
        },
        "counts": {
            "type": "object",
            "required": ["create", "update", "unchanged", "orphaned"],
            "properties": {name: _COUNT for name in ("create", "update", "unchanged", "orphaned")},
            "additionalProperties": False,
        },
        "apply": {
            "type": "object",
            "required": ["accounts", "batches", "batch_size", "success_mode"],
            "properties": {
                "accounts": _COUNT,
                "batches": _COUNT,
                "batch_size": {"type": "integer", "minimum": 1},
                "success_mode": {"enum": ["Partial", "Atomic"]},
                "moved": _COUNT,  # unchanged accounts whose file moved: recorded, not sent
            },
        },
        "lusid": {
            "type": "object",
            "description": "What the plan read of LUSID: how (read), or why not (skipped).",
            "properties": {
                "read": {"type": ["string", "null"]},
                "skipped": {"type": ["string", "null"]},
                "offline": {"type": "boolean"},
                "refreshed": {"type": "boolean"},
                "existing": _COUNT,
            },
        },
        "subset": {
            "type": "object",
            "properties": {
                "targets": {"type": "array", "items": {"type": "string"}},
                "excludes": {"type": "array", "items": {"type": "string"}},
                "pending": {"type": "object", "additionalProperties": _COUNT},
                "warning": {"type": ["string", "null"]},
            },
        },
        "deletions": {
            "type": "object",
            "description": "Orphans apply deletes from LUSID (--prune).",
            "properties": {
                "prune": {"type": "boolean"},
                "max_deletes": {"type": ["integer", "null"]},
                "accounts": {"type": "array", "items": {"type": "object"}},
            },
        },
        "drift": {
            "type": "array",
            "description": "Managed accounts changed or deleted outside iasync (--refresh).",
            "items": {"type": "object"},
        },
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "action",
                    "path",
                    "identity",
                    "lusid_id",
                    "version",
                    "moved_from",
                    "differences",
                ],
                "properties": {
                    "action": {"enum": ["create", "update", "unchanged", "orphaned"]},
                    "path": {"type": "string"},
                    "identity": _IDENTITY_SCHEMA,
                    "scope": {"type": "string"},
                    "lusid_id": {"type": ["string", "null"]},
                    "version": {"type": ["integer", "null"]},
                    "moved_from": {"type": ["string", "null"]},
                    "body": {"type": "object"},
                    "remote": {"enum": ["absent", "exists", "same", "changed", "deleted"]},
                    "remote_id": {"type": ["string", "null"]},
                    "remote_version": {"type": ["integer", "null"]},
                    "delete": {"type": "boolean"},
                    "differences": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["path", "action", "before", "after"],
                            "properties": {
                                "path": {"type": "string"},
                                "action": {"enum": ["add", "remove", "change"]},
                            },
                        },
                    },
                },
            },
        },
    },
}


def plan_json(plan: Plan, target: str | None = None) -> dict[str, Any]:
    """The plan's facts for machines (`iasync plan -json`), as PLAN_JSON_SCHEMA describes."""
    shown = [c for c in plan.changes if c.action != "unchanged" or c.moved_from]
    return {
        "format_version": JSON_FORMAT_VERSION,
        "iasync_version": plan.iasync_version,
        **({} if target is None else {"target": target}),
        "compared": COMPARED,
        "lusid_read": False,
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "counts": plan.counts,
        "apply": {
            "accounts": len(plan.to_send),
            "batches": plan.batches,
            "batch_size": plan.batch_size,
            "success_mode": plan.success_mode,
            "moved": len(plan.moves),
        },
        "lusid": {
            "read": plan.lusid_read,
            "skipped": plan.lusid_skipped,
            "offline": plan.offline,
            "refreshed": plan.refreshed,
            "existing": len(plan.existing),
        },
        "subset": {
            "targets": plan.targets,
            "excludes": plan.excludes,
            "pending": plan.pending,
            "warning": pending_text(plan),
        },
        "deletions": {
            "prune": plan.prune,
            "max_deletes": plan.max_deletes,
            "accounts": [_identity_json(change) for change in plan.to_delete],
        },
        "drift": [_drift_json(change) for change in plan.drifted],
        "changes": [_change_json(change) for change in shown],
    }


def _identity_json(change: AccountChange) -> dict[str, Any]:
    return {
        "path": change.path,
        "identity": [{"key": key, "value": value} for key, value in change.identifiers],
        "lusid_id": change.lusid_id,
        "version": change.version,
    }


def _drift_json(change: AccountChange) -> dict[str, Any]:
    """What changed outside iasync: the state's version (before) -> LUSID's (after)."""
    return _identity_json(change) | {
        "remote": change.remote,
        "differences": [d.as_json() for d in change.drift],
    }


def _change_json(change: AccountChange) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "action": change.action,
        "path": change.path,
        "identity": [{"key": key, "value": value} for key, value in change.identifiers],
        "lusid_id": change.lusid_id,
        "version": change.version,
        "moved_from": change.moved_from,
        "differences": [d.as_json() for d in change.differences],
    }
    if change.scope is not None:  # the scoped API: an account is (scope, identifier)
        doc["scope"] = change.scope
    if change.action == "create":
        doc["body"] = change.body
    if change.remote is not None:
        doc["remote"] = change.remote
        doc["remote_id"] = change.remote_id
        doc["remote_version"] = change.remote_version
    if change.delete:
        doc["delete"] = True
    return doc
