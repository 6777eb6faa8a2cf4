"""jsonschema's errors as `Finding`s: one plain message per fault, at the node at fault.

jsonschema reports a `oneOf` failure as one error holding every branch's errors; the branch the
author meant is the one whose type matches the value (and, among those, the one with the fewest
errors), and only its errors are reported. An unknown key is reported at the key, with the
nearest known key as a hint; a number or boolean where text is expected says how YAML read it
and how to quote it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yaml.nodes import ScalarNode

from iasync.accounts.format import ACCOUNT_DOMAIN, INVESTOR_DOMAIN, VALUE_KIND_SHAPES
from iasync.accounts.rules import Finding, Path
from iasync.accounts.yaml import BOOL, FLOAT, INT, Document, quote, render_path

if TYPE_CHECKING:
    from jsonschema import ValidationError

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list",
    "object": "a mapping",
    "boolean": "true or false",
}
_UNIONS = ("anyOf", "oneOf")


@dataclass
class _Context:
    document: Document
    # (mapping path, key name) a "did you mean" already pointed to: no second line saying the
    # key is missing, the misspelling is the one fault.
    suggested: set[tuple[Path, str]] = field(default_factory=set)
    missing: set[tuple[Path, str]] = field(default_factory=set)  # already reported


def explain(errors: Iterable[ValidationError], document: Document) -> list[Finding]:
    context = _Context(document)
    errors = list(errors)
    # Unknown keys first: their suggestions decide which "missing key" errors are the same fault.
    errors.sort(key=lambda error: error.validator != "additionalProperties")
    findings: list[Finding] = []
    for error in errors:
        findings.extend(_explain(error, context))
    return findings


def _explain(error: ValidationError, context: _Context) -> list[Finding]:
    path = tuple(error.absolute_path)
    where = render_path(path, context.document.data)
    # jsonschema's stubs type these as "anything, or unset": here they are always set.
    validator: Any = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    if validator in ("additionalProperties", "unevaluatedProperties"):
        return list(_unknown_keys(error, path, context))
    if validator == "required":
        return list(_missing_keys(error, path, context))
    if validator in _UNIONS:
        return _explain_union(error, context)
    if validator == "type":
        types = [expected] if isinstance(expected, str) else list(expected)
        return [Finding(path, "value", _type_message(path, types, instance, context.document))]
    if validator == "maxLength":
        message = f"{where}: {len(instance)} characters long; the limit is {expected}"
    elif validator == "minLength":
        message = f"{where}: must not be empty" if expected == 1 else f"{where}: too short"
    elif validator == "maxProperties":
        return [Finding(path, "key", f"{where}: {len(instance)} entries; the limit is {expected}")]
    elif validator == "minProperties":
        if path[-1:] == ("identifiers",) and expected == 1:
            domain = INVESTOR_DOMAIN if path[:1] == ("accountHolders",) else ACCOUNT_DOMAIN
            message = f"{where}: needs at least one identifier ({domain}/{{scope}}/{{code}}: value)"
            return [Finding(path, "key", message)]
        entries = "entry" if expected == 1 else "entries"
        return [Finding(path, "key", f"{where}: needs at least {expected} {entries}")]
    elif validator == "pattern":
        message = f"{where}: {instance!r} is not in the expected form"
        schema: Any = error.schema
        described = schema.get("description") if isinstance(schema, dict) else None
        if described:  # the schema says what the form is, in words
            message += f": {described[0].lower()}{described[1:].rstrip('.')}"
    elif validator == "enum":
        message = f"{where}: {instance!r} is not one of {', '.join(map(str, expected))}"
        message += _suggestion(str(instance), [str(item) for item in expected])
    else:
        message = f"{where}: {error.message}"
    return [Finding(path, "value", message)]


def _unknown_keys(error: ValidationError, path: Path, context: _Context) -> Iterator[Finding]:
    schema: Any = error.schema
    instance: Any = error.instance
    if not isinstance(instance, dict):
        return
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key in known or any(re.search(pattern, key) for pattern in patterns):
            continue
        inside = f" in {render_path(path, context.document.data)}" if path else ""
        message = f"unknown key {key!r}{inside}"
        value_kinds = set(known) == set(VALUE_KIND_SHAPES)
        # Among the value kinds only a typo is a hint: textValue is no more metricValue than
        # labelValue, whatever difflib's ratio says.
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8 if value_kinds else 0.6)
        if value_kinds and not close:
            message += "; a value is one of: " + ", ".join(
                f"{kind} ({meaning})" for kind, meaning in VALUE_KIND_SHAPES.items()
            )
        elif close:
            message += f"; did you mean {close[0]}?"
            if close[0] not in instance:
                context.suggested.add((path, close[0]))
        elif known:
            message += f"; expected one of: {', '.join(known)}"
        yield Finding((*path, key), "key", message)


def _missing_keys(error: ValidationError, path: Path, context: _Context) -> Iterator[Finding]:
    if not isinstance(error.instance, dict):
        return
    # jsonschema raises one error per missing key, each with the whole list: report each once.
    required: Any = error.validator_value
    for name in required:
        if name in error.instance or (path, name) in context.suggested | context.missing:
            continue
        context.missing.add((path, name))
        inside = f"{render_path(path, context.document.data)}: " if path else ""
        yield Finding(path, "value", f"{inside}missing required key {name!r}")


# --- oneOf / anyOf ----------------------------------------------------------------------------


def _explain_union(error: ValidationError, context: _Context) -> list[Finding]:
    path = tuple(error.absolute_path)
    if not error.context:  # oneOf: valid under more than one branch
        return [
            Finding(
                path,
                "value",
                f"{render_path(path, context.document.data)}: matches more than one form",
            )
        ]
    branches = _branches(error)
    meant = [errors for errors in branches.values() if not _type_mismatch(errors)]
    if not meant:
        types = _expected_types(error)
        return [
            Finding(path, "value", _type_message(path, types, error.instance, context.document))
        ]
    # Fewest errors; on a tie, the branch whose errors lie deepest: more of it matched.
    best = min(meant, key=lambda errors: (len(errors), -max(len(e.relative_path) for e in errors)))
    return [finding for sub in best for finding in _explain(sub, context)]


def _branches(error: ValidationError) -> dict[Any, list[ValidationError]]:
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    return branches


def _type_mismatch(errors: list[ValidationError]) -> bool:
    """True when a branch failed because the value is of another type altogether."""
    for error in errors:
        if error.relative_path:
            continue
        if error.validator == "type":
            return True
        if (
            error.validator in _UNIONS
            and error.context
            and all(_type_mismatch(sub) for sub in _branches(error).values())
        ):
            return True
    return False


def _expected_types(error: ValidationError) -> list[str]:
    types: list[str] = []
    for sub in error.context or []:
        if sub.relative_path:
            continue
        if sub.validator == "type":
            expected: Any = sub.validator_value
            types.extend([expected] if isinstance(expected, str) else expected)
        elif sub.validator in _UNIONS:
            types.extend(_expected_types(sub))
    return types


def _type_message(path: Path, types: list[str], instance: Any, document: Document) -> str:
    where = render_path(path, document.data)
    words = _expected_words(types)
    nodes = document.node(path)
    node = nodes[1] if nodes else None
    if (
        "string" in types
        and isinstance(node, ScalarNode)
        and not node.style
        and node.tag in (BOOL, INT, FLOAT)
    ):
        return (
            f"{where}: expected {words}, but YAML reads {node.value} as {_describe(instance)}; "
            f"quote it: {quote(node.value)}"
        )
    return f"{where}: expected {words}, got {_describe(instance)}"


def _expected_words(types: list[str]) -> str:
    kinds = [t for t in _TYPE_WORDS if t in types]
    if "number" in kinds and "integer" in kinds:
        kinds.remove("integer")
    words = [_TYPE_WORDS[kind] for kind in kinds] or ["another kind of value"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing"


def _suggestion(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
