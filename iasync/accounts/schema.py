"""The JSON Schema of the account file format, generated from the models in `iasync.accounts.model`.

`generate_schema()` builds it from `AccountFile` (pydantic's `model_json_schema`, tidied into a
plain draft 2020-12 schema for editors and other tools). The result is committed twice, byte for
byte the same: `schema/investment-account.schema.json` for editors (account files name it in a
`# yaml-language-server: $schema=...` line) and `iasync/data/investment-account.schema.json`, the
package-data copy that an installed iasync (a pre-commit hook environment, say) validates against.
A test fails when either drifts from the models; `REGENERATE_COMMAND` rewrites both.

Each API generation (the `api` setting) has its own schema, generated from its own model:
`investment-account.schema.json` for the reference page's (`unscoped`) and
`investment-account-scoped.schema.json` for today's (`scoped`), both committed the same way.

`load_schema()` and `validator()` read the package-data copy, so validation never depends on
pydantic's schema generation at run time.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_FILENAME = "investment-account.schema.json"
SCOPED_SCHEMA_FILENAME = "investment-account-scoped.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A URN rather than a URL: no server publishes the schema; tools find it by the relative path in
# each account file's `yaml-language-server` line, and every `$ref` inside is local (`#/$defs/...`).
SCHEMA_ID = "urn:iasync:schema:investment-account"
SCHEMA_IDS = {"unscoped": SCHEMA_ID, "scoped": "urn:iasync:schema:investment-account-scoped"}
SCHEMA_FILENAMES = {"unscoped": SCHEMA_FILENAME, "scoped": SCOPED_SCHEMA_FILENAME}


def committed_paths(api: str = "unscoped") -> tuple[str, str]:
    """Where an API generation's committed copies live, relative to the project root."""
    name = SCHEMA_FILENAMES[api]
    return (f"schema/{name}", f"iasync/data/{name}")


def regenerate_command(api: str = "unscoped") -> str:
    option = " --api scoped" if api == "scoped" else ""
    return f"iasync schema{option} " + " ".join(f"--output {p}" for p in committed_paths(api))


#: Where the committed copies live, relative to the project root.
COMMITTED_PATHS = committed_paths("unscoped")
REGENERATE_COMMAND = regenerate_command("unscoped")

_HEADER_KEYS = ("$schema", "$id", "title", "description", "$comment")


def generate_schema(api: str = "unscoped") -> dict[str, Any]:
    """The schema of an API generation's account file model (`AccountFile` for `unscoped`,
    `ScopedAccountFile` for `scoped`), as a self-contained draft 2020-12 JSON Schema."""
    from iasync.accounts.model import model_for

    generated = model_for(api).model_json_schema(mode="validation")
    body = _tidy(generated)
    header = {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_IDS[api],
        "title": body.pop("title"),
        "description": body.pop("description"),
        "$comment": "Generated from iasync/accounts/model.py; regenerate: "
        + regenerate_command(api),
    }
    return {**header, **{k: v for k, v in body.items() if k not in _HEADER_KEYS}}


def schema_text(schema: dict[str, Any]) -> str:
    """The one spelling of a schema on disk: two-space indent, key order kept, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


_SCHEMA_MAPS = ("patternProperties", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "propertyNames", "not", "contains")


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's noise and close the open maps, keyword by keyword, recursively.

    * Field titles pydantic derives from attribute names ("Displayname") help nobody: dropped.
    * `default: null` on optional fields would make editors offer to insert `null`: dropped.
    * A map whose keys must match a pattern (`patternProperties`) gets `additionalProperties:
      false`, so a misspelt key is an error in the editor, as it is for iasync.
    """
    out: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword == "default" and value is None:
            continue
        if keyword == "properties":
            out[keyword] = {name: _tidy(_untitled(sub)) for name, sub in value.items()}
        elif keyword in _SCHEMA_MAPS:
            out[keyword] = {name: _tidy(sub) for name, sub in value.items()}
        elif keyword in _SCHEMA_LISTS:
            out[keyword] = [_tidy(sub) for sub in value]
        elif keyword in _SCHEMA_ONE and isinstance(value, dict):
            out[keyword] = _tidy(value)
        else:
            out[keyword] = value
    if "patternProperties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _untitled(field_schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in field_schema.items() if k != "title"}


@cache
def load_schema(api: str = "unscoped") -> dict[str, Any]:
    """The committed schema of an API generation (the package-data copy), parsed. Cached: treat
    it as read-only."""
    name = SCHEMA_FILENAMES[api]
    text = resources.files("iasync").joinpath("data", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(api: str = "unscoped") -> Draft202012Validator:
    """A cached draft 2020-12 validator for an API generation's committed schema.

    Give it JSON-shaped data: YAML timestamps loaded as `datetime`/`date` go through
    `json_compatible` first (editors read them as strings, and so does the schema).
    """
    from jsonschema import Draft202012Validator

    # No check_schema here (65 ms on every run that meets an invalid file): the tests check the
    # committed schema against the metaschema, and it cannot change after installation.
    return Draft202012Validator(load_schema(api))


def json_compatible(data: Any) -> Any:
    """`data` with YAML-only values (timestamps) turned into the strings a JSON document holds."""
    if isinstance(data, dict):
        return {key: json_compatible(value) for key, value in data.items()}
    if isinstance(data, list):
        return [json_compatible(item) for item in data]
    if isinstance(data, datetime | date):
        return data.isoformat()
    return data
