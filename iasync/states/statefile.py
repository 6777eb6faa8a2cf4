"""The state as one JSON document (by default `.iasync/state.json`):

    {"format_version": 1, "lineage": "<uuid4>", "serial": 3, "iasync_version": "0.1.0",
     "canonical_format": 1,
     "accounts": {"LUID_00003D6X": {
         "lusid_id": "LUID_00003D6X", "version": 3, "identifiers": {...}, "body": {...},
         "body_hash": "sha256:..", "source": "accounts/..", "source_hash": "sha256:..",
         "applied_at": "..", "commit": "..", "source_blob": ".."}}}

(`source_blob`, the git blob id of the file's bytes, only when known.)

`dump_state` and `parse_state` turn a `State` into these bytes and back; a document this iasync
cannot read is a `StateCorruptError` that says what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from typing import Any

from iasync import __version__
from iasync.states.model import (
    RECORD_FIELDS,
    AccountRecord,
    State,
    StateCorruptError,
    StateError,
)

FORMAT_VERSION = 1


def state_document(state: State) -> dict[str, Any]:
    """The JSON document of `state` (records shared, not copied)."""
    return {
        "format_version": FORMAT_VERSION,
        "lineage": state.lineage,
        "serial": state.serial,
        "iasync_version": __version__,
        "canonical_format": state.canonical_format,
        "accounts": {lusid_id: _record_json(rec) for lusid_id, rec in state.accounts.items()},
    }


def _record_json(rec: AccountRecord) -> dict[str, Any]:
    """A record's document; its git blob id only when known (an optional key of format 1)."""
    document = rec.to_json()
    if rec.source_blob is not None:
        document["source_blob"] = rec.source_blob
    return document


def dump_state(state: State) -> bytes:
    """Deterministic JSON (sorted keys, indent 2, trailing newline), so states diff well.

    orjson writes the layout of `json.dumps(sort_keys=True, indent=2, ensure_ascii=False)` some
    30 times faster (the stdlib's indenting encoder is pure Python: a second per write of a
    5,000-account state). The stdlib is the fallback for what orjson refuses (integers beyond
    64 bits), so anything JSON can hold is written.
    """
    with gc_paused():
        doc = state_document(state)
    try:
        import orjson

        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    except (ImportError, TypeError):
        pass
    try:
        text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot serialise the state: {exc}") from None
    return (text + "\n").encode()


def parse_state(data: bytes, where: str) -> State:
    """A state from its JSON bytes; `StateCorruptError` naming `where` if it is not one."""
    try:
        with gc_paused():
            doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateCorruptError(_corrupt_message(where, f"it is not valid JSON ({exc})")) from None
    except ValueError:  # an integer of 4,300+ digits, which Python refuses to read
        raise StateCorruptError(
            _corrupt_message(where, "it holds a number too long to read")
        ) from None
    except RecursionError:
        raise StateCorruptError(
            _corrupt_message(where, "it is nested too deeply to be a state")
        ) from None
    try:
        with gc_paused():
            return _state_from_json(doc, where)
    except _ShapeError as exc:
        raise StateCorruptError(_corrupt_message(where, str(exc))) from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a state's objects are made: they hold no cycles.

    Building a 10,000-account state allocates some million dicts, lists and strings, each
    allocation counting towards a collection that then scans every object in the process, all
    of them still alive. That was over half of a read (0.8 s of which 0.5 s collecting).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _corrupt_message(where: str, what: str) -> str:
    return (
        f"the state {where} cannot be read: {what}. It has been left untouched. "
        f"Restore it (from {where}.backup or version control) and run again; moving it away "
        "instead makes iasync forget everything it has applied."
    )


class _ShapeError(ValueError):
    pass


def _state_from_json(doc: Any, where: str) -> State:
    if not isinstance(doc, dict):
        raise _ShapeError("the top level is not a JSON object")
    version = _get(doc, "format_version", int, "")
    if version > FORMAT_VERSION:
        raise StateCorruptError(
            f"the state {where} has format_version {version}, written by a newer iasync "
            f"(this iasync {__version__} reads format {FORMAT_VERSION}). "
            "Upgrade iasync; the state has been left untouched."
        )
    if version < 1:
        raise _ShapeError(f"format_version {version} is not a known format")
    lineage = _get(doc, "lineage", str, "")
    serial = _get(doc, "serial", int, "")
    if serial < 0:
        raise _ShapeError("serial is negative")
    accounts = _get(doc, "accounts", dict, "")
    records = {}
    for lusid_id, raw in accounts.items():
        rec = _record_from_json(raw, f"accounts.{lusid_id}.")
        if rec.lusid_id != lusid_id:
            raise _ShapeError(f"accounts.{lusid_id}.lusid_id is {rec.lusid_id!r}, not its key")
        records[lusid_id] = rec
    canonical_format = doc.get("canonical_format")
    if not isinstance(canonical_format, int) or isinstance(canonical_format, bool):
        canonical_format = None  # absent (an older state) or unreadable: reuse nothing
    return State(lineage, serial, records, canonical_format)


def _record_from_json(raw: Any, prefix: str) -> AccountRecord:
    if not isinstance(raw, dict):
        raise _ShapeError(f"{prefix.rstrip('.')} is not a JSON object")
    for key, kind, optional in _RECORD_SHAPE:
        value = raw.get(key, _MISSING)
        # The exact-type test is the fast path for 10,000 records; `_get` explains a failure.
        if value.__class__ is not kind and not (optional and value is None):
            _get(raw, key, kind, prefix, optional)
    if not all(value.__class__ is str for value in raw["identifiers"].values()):
        raise _ShapeError(f"{prefix}identifiers: every value must be a string")
    record = AccountRecord(**{name: raw[name] for name in RECORD_FIELDS})
    blob = raw.get("source_blob")
    if blob is not None:
        if blob.__class__ is not str:
            raise _ShapeError(f"{prefix}source_blob should be a string, not {blob!r:.60}")
        record.source_blob = blob
    return record


_MISSING = object()

# field, type, may be null; in the order a faulty record is explained
_RECORD_SHAPE: tuple[tuple[str, type, bool], ...] = (
    ("identifiers", dict, False),
    ("lusid_id", str, False),
    ("version", int, True),
    ("body", dict, False),
    ("body_hash", str, False),
    ("source", str, False),
    ("source_hash", str, False),
    ("applied_at", str, False),
    ("commit", str, True),
)


def _get(doc: dict[str, Any], key: str, kind: type, prefix: str, optional: bool = False) -> Any:
    if key not in doc:
        raise _ShapeError(f"{prefix}{key} is missing")
    value = doc[key]
    if value is None and optional:
        return None
    # bool is an int to Python, never to the state format.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _ShapeError(f"{prefix}{key} should be {_KIND_NAMES[kind]}, not {value!r:.60}")
    return value


_KIND_NAMES = {int: "an integer", str: "a string", dict: "a JSON object"}
