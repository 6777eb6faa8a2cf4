"""The checks on an account file that a JSON Schema cannot express, or cannot explain well.

Each check reads the plain data of one file (which may be invalid in any way: every access is
guarded) and yields `Finding`s: a path into the data, whether the key or the value at that path is
at fault, and a message that says what to do. The loader locates them (`path:line:col`) and drops
schema errors about the same node, so a fault is reported once, in the clearest words.

Identifiers claimed by two files are checked by the loader, which sees all the files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from iasync.accounts.format import (
    ACCOUNT_DOMAIN,
    EFFECTIVE_DATES,
    INVESTOR_DOMAIN,
    KEY_PART_PATTERN,
    MAX_KEY_PART,
    MAX_LABEL_LENGTH,
    MAX_PROPERTIES,
    VALUE_KINDS,
)
from iasync.accounts.instants import parse_instant
from iasync.accounts.yaml import render_path

Path = tuple[str | int, ...]
_KEY_PART = re.compile(KEY_PART_PATTERN + "+")


#: Renders a path into one file's data as `iasync plan` does (`render_path(path, data)`).
Where = Callable[[Path], str]


@dataclass(frozen=True)
class Finding:
    path: Path
    role: str  # "key" (the key node is at fault) or "value"
    message: str


def check_account(
    data: Any,
    account_types: Sequence[str],
    line_of: Callable[[Path], int],
    *,
    api: str = "unscoped",
    default_scope: str | None = None,
) -> list[Finding]:
    """Every problem the schema leaves to us, in the order they appear in a file.

    `api` and `default_scope` are the settings of those names: what a file may hold depends on
    the API generation, and a scoped account needs a scope from its file or the setting.
    """
    if not isinstance(data, dict):
        return []
    return [
        *_check_generation(data, api, default_scope),
        *_check_keyed_maps(data, partial(render_path, data=data)),
        *_check_account_type(data.get("accountType"), account_types),
        *_check_property_count(data.get("properties")),
        *_check_unique_keys(data, "accountHolders", line_of),
        *_check_unique_keys(data, "investmentPortfolios", line_of),
    ]


# --- the API generation ----------------------------------------------------------------------

_SET_SCOPED = 'set api = "scoped" in iasync.toml if this LUSID is today\'s'
_SET_UNSCOPED = 'set api = "unscoped" in iasync.toml if this LUSID speaks the reference page\'s API'


def _check_generation(
    data: dict[str, Any], api: str, default_scope: str | None
) -> Iterator[Finding]:
    """What belongs to the other API generation, said in words that name the `api` setting."""
    if api == "scoped":
        yield from _check_scoped(data, default_scope)
        return
    if "scope" in data:
        yield Finding(
            ("scope",),
            "key",
            "scope: only today's LUSID API has scopes, and this project uses the reference page's "
            f'(api = "unscoped"): remove scope, or {_SET_SCOPED}',
        )
    for path, item in _items(data, "accountHolders"):
        if "scope" in item:
            yield Finding(
                (*path, "scope"),
                "key",
                f"{render_path(path, data)}: a holder's scope is for today's LUSID API; "
                f'this project uses api = "unscoped": remove it, or {_SET_SCOPED}',
            )
    for path, item in _items(data, "investmentPortfolios"):
        for name in ("scope", "identifiers"):
            if name in item:
                yield Finding(
                    (*path, name),
                    "key",
                    f"{render_path(path, data)}: {{key, scope, identifiers}} is today's LUSID "
                    'API\'s portfolio; under api = "unscoped" a portfolio is {key, '
                    f"portfolioScope, portfolioCode}}; or {_SET_SCOPED}",
                )


def _check_scoped(data: dict[str, Any], default_scope: str | None) -> Iterator[Finding]:
    if "scope" not in data and default_scope is None:
        yield Finding(
            (next(iter(data), "identifiers"),),
            "key",
            "the account has no scope: add `scope: <scope>` at the top of the file, or set "
            'scope in iasync.toml (under api = "scoped" every account has one)',
        )
    for path, item in _items(data, "investmentPortfolios"):
        for name in ("portfolioScope", "portfolioCode"):
            if name in item:
                yield Finding(
                    (*path, name),
                    "key",
                    f"{render_path(path, data)}: {name} is the reference page's portfolio; "
                    'under api = "scoped" a portfolio is {key, scope, identifiers: {key: text}} '
                    f"(scope defaults to the account's); or {_SET_UNSCOPED}",
                )
    for path, item in _items(data, "accountHolders"):
        identifiers = item.get("identifiers")
        if not isinstance(identifiers, dict):
            continue
        for key, value in identifiers.items():
            if isinstance(value, dict):
                yield Finding(
                    (*path, "identifiers", key),
                    "value",
                    f'{render_path((*path, "identifiers", key), data)}: under api = "scoped" '
                    "an investor record's identifier is its text alone (no key, value or "
                    "effective dates)",
                )


def _items(data: dict[str, Any], field: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    items = data.get(field)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield (field, index), item


# --- keys and the values under them -----------------------------------------------------------


def _keyed_maps(data: dict[str, Any]) -> Iterator[tuple[Path, Any, str, bool]]:
    """(path, mapping, domain, identifier?) for each map of property-keyed values."""
    yield ("identifiers",), data.get("identifiers"), ACCOUNT_DOMAIN, True
    yield ("properties",), data.get("properties"), ACCOUNT_DOMAIN, False
    holders = data.get("accountHolders")
    if isinstance(holders, list):
        for index, holder in enumerate(holders):
            if isinstance(holder, dict):
                path = ("accountHolders", index, "identifiers")
                yield path, holder.get("identifiers"), INVESTOR_DOMAIN, True


def _check_keyed_maps(data: dict[str, Any], where: Where) -> Iterator[Finding]:
    for path, mapping, domain, identifiers in _keyed_maps(data):
        if not isinstance(mapping, dict):
            continue
        for key, value in mapping.items():
            here = (*path, key)
            problem = key_problem(key, domain)
            if problem is not None:
                yield Finding(here, "key", problem)
            yield from _check_value(here, key, value, identifiers, where)


def with_good_keys(data: Any) -> tuple[dict[str, Any], dict[Path, Path]] | None:
    """`data` with each bad key of a keyed map renamed to a good one, or None when none is bad.

    The schema judges a member's value only under a key of the right form; renamed, the values
    under bad keys are judged too, as separate faults. Also returns renamed path -> original path.
    Only the maps and lists on the way are copied: the values themselves are shared.
    """
    if not isinstance(data, dict):
        return None
    copy: dict[str, Any] = dict(data)
    renamed: dict[Path, Path] = {}
    for path, mapping, domain, _ in _keyed_maps(data):
        if not isinstance(mapping, dict):
            continue
        bad = [key for key in mapping if key_problem(key, domain) is not None]
        if not bad:
            continue
        good = {key: f"{domain}/iasync-renamed/key-{n}" for n, key in enumerate(bad)}
        _replace(copy, path, {good.get(key, key): value for key, value in mapping.items()})
        renamed.update({(*path, good[key]): (*path, key) for key in bad})
    return (copy, renamed) if renamed else None


def _replace(tree: dict[str, Any], path: Path, value: Any) -> None:
    """Set `tree[path] = value`, copying the containers on the way (they may be shared)."""
    *parents, last = path
    node: Any = tree
    for part in parents:
        child = node[part]
        node[part] = child = list(child) if isinstance(child, list) else dict(child)
        node = child
    node[last] = value


@lru_cache(maxsize=4096)  # the same few keys recur in thousands of files
def key_problem(key: str, domain: str) -> str | None:
    """Why `key` is not a `{domain}/{scope}/{code}` key, or None when it is one."""
    form = f"{domain}/{{scope}}/{{code}}"
    parts = key.split("/")
    if len(parts) != 3:
        return f"key {key!r} must have the form {form}"
    if parts[0] != domain:
        return f"key {key!r} is in the {parts[0]!r} domain; here keys must have the form {form}"
    for name, part in zip(("scope", "code"), parts[1:], strict=True):
        if not part:
            return f"key {key!r} has an empty {name}; the form is {form}"
        if len(part) > MAX_KEY_PART:
            return (
                f"key {key!r}: the {name} is {len(part)} characters long; "
                f"the limit is {MAX_KEY_PART}"
            )
        if not _KEY_PART.fullmatch(part):
            bad = "".join(sorted({c for c in part if not _KEY_PART.fullmatch(c)}))
            return (
                f"key {key!r}: the {name} may hold only letters, digits, '-' and '_' (not {bad!r})"
            )
    return None


def _check_value(
    path: Path, key: str, value: Any, identifier: bool, where: Where
) -> Iterator[Finding]:
    yield from _check_labels(path, value, where)
    if identifier:
        yield from _check_identifier_text(path, value, where)
    if not isinstance(value, dict):
        return
    yield from _check_effective(path, value, where)
    inner = value.get("value")
    if isinstance(inner, dict) or "key" in value:
        yield from _check_long_form(path, key, value, identifier, where)
    elif identifier:
        yield _short_identifier_mapping(path, value, where)
    # A value of None was refused by the YAML stage (a null, `1e3`): that is the one fault.
    elif "unit" in value and inner is not None and not _is_number(inner):
        yield Finding(
            (*path, "unit"),
            "key",
            f"{where(path)}: a unit is only for numbers (metric values); "
            "make the value a number, or remove the unit",
        )


def _short_identifier_mapping(path: Path, value: dict[str, Any], where: Where) -> Finding:
    """`{value: IA_1, effectiveFrom: ...}`: the short mapping is for properties only."""
    inner = value.get("value")
    text = inner if isinstance(inner, str) else "..."
    return Finding(
        (*path, "value") if "value" in value else path,
        "value",
        f"{where(path)}: an identifier is its text alone ({text}), or the long form "
        f"{{key, value: {{labelValue: {text}}}}} when it needs effectiveFrom or effectiveUntil",
    )


def _check_long_form(
    path: Path, key: str, value: dict[str, Any], identifier: bool, where: Where
) -> Iterator[Finding]:
    stated = value.get("key")
    if isinstance(stated, str) and stated != key:
        yield Finding(
            (*path, "key"),
            "value",
            f"{where(path)}: key {stated!r} differs from the key {key!r} it is under; "
            "write the same key, or leave key out",
        )
    inner = value.get("value")
    if isinstance(inner, str | int | float | list) and not isinstance(inner, bool):
        yield _short_value_in_long_form(path, inner, identifier, where)
    if not isinstance(inner, dict):
        return
    given = [kind for kind in VALUE_KINDS if inner.get(kind) is not None]
    if not given and any(kind not in VALUE_KINDS for kind in inner):
        return  # `textValue:`, say: the schema's "unknown key" line says what a value may be
    if len(given) != 1:
        yield Finding(
            (*path, "value"),
            "value",
            f"{where(path)}: give exactly one of labelValue, metricValue, labelValueSet",
        )
    elif identifier and given != ["labelValue"]:
        yield Finding(
            (*path, "value", given[0]),
            "key",
            f"{where(path)}: an identifier's value must be a labelValue (a string)",
        )


def _short_value_in_long_form(
    path: Path, inner: str | float | list[Any], identifier: bool, where: Where
) -> Finding:
    """`{key: K, value: abc}`: a short value in the long form, which `key:` makes it."""
    if identifier:  # text only
        text = inner if isinstance(inner, str) else "..."
        long, short = f"{{labelValue: {text}}}", f"write the text alone: {text}"
    else:
        short = "leave key out (the short form)"
        if isinstance(inner, list):
            long = "{labelValueSet: {values: [...]}}"
        elif isinstance(inner, str):
            long = f"{{labelValue: {inner}}}"
        else:
            long = f"{{metricValue: {{value: {inner}}}}}"
    return Finding(
        (*path, "value"),
        "value",
        f"{where(path)}: with key: this is the API's long form, whose value is a mapping like "
        f"{long}; or {short}",
    )


def _check_labels(path: Path, value: Any, where: Where) -> Iterator[Finding]:
    """Label values (every form of them) are at most 1024 characters."""
    for label_path, label in _labels(path, value):
        if len(label) > MAX_LABEL_LENGTH:
            yield Finding(
                label_path,
                "value",
                f"{where(label_path)}: a label value is {len(label)} characters long; "
                f"the limit is {MAX_LABEL_LENGTH}",
            )


def _check_identifier_text(path: Path, value: Any, where: Where) -> Iterator[Finding]:
    """An identifier is matched by its exact text: one that is blank, or that spaces, tabs or
    line breaks make look like another, would name another account than the reader sees."""
    for label_path, label in _labels(path, value):
        if not label.strip():
            what = "empty" if not label else "blank (only spaces)"
            yield Finding(
                label_path,
                "value",
                f"{where(label_path)}: an identifier's value is {what}; write the identifier",
            )
        elif label != label.strip() or any(char in label for char in "\t\n\r"):
            yield Finding(
                label_path,
                "value",
                f"{where(label_path)}: an identifier's value {label!r} has spaces around it, or "
                "a tab or line break in it; LUSID matches identifiers by their exact text: "
                "remove them",
            )


def _labels(path: Path, value: Any) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        yield from ((p, v) for i, item in enumerate(value) for p, v in _labels((*path, i), item))
    elif isinstance(value, dict):
        if "value" in value:
            yield from _labels((*path, "value"), value["value"])
        if "labelValue" in value:
            yield from _labels((*path, "labelValue"), value["labelValue"])
        values = value.get("labelValueSet")
        if isinstance(values, dict) and "values" in values:
            yield from _labels((*path, "labelValueSet", "values"), values["values"])


# --- effective dates --------------------------------------------------------------------------


def _check_effective(path: Path, value: dict[str, Any], where: Where) -> Iterator[Finding]:
    instants: dict[str, datetime] = {}
    for name in EFFECTIVE_DATES:
        text = value.get(name)
        if not isinstance(text, str):
            continue
        parsed = parse_instant(text)
        if isinstance(parsed, str):
            yield Finding((*path, name), "value", f"{where((*path, name))}: {parsed}")
        else:
            instants[name] = parsed
    start, end = instants.get("effectiveFrom"), instants.get("effectiveUntil")
    if start is not None and end is not None and start >= end:
        yield Finding(
            (*path, "effectiveUntil"),
            "value",
            f"{where(path)}: effectiveUntil ({value['effectiveUntil']}) must be after "
            f"effectiveFrom ({value['effectiveFrom']})",
        )


# --- the account as a whole -------------------------------------------------------------------


def _check_account_type(value: Any, account_types: Sequence[str]) -> Iterable[Finding]:
    if not isinstance(value, str) or not value or value in account_types:
        return []
    message = (
        f"accountType {value!r} is not one of the configured types: {', '.join(account_types)}"
    )
    close = difflib.get_close_matches(value, account_types, n=1, cutoff=0.6)
    if not close:
        lowered = {kind.lower(): kind for kind in account_types}
        close = [lowered[value.lower()]] if value.lower() in lowered else []
    if close:
        message += f"; did you mean {close[0]}?"
    else:
        message += " (set account_types in iasync.toml to allow others)"
    return [Finding(("accountType",), "value", message)]


def _check_property_count(properties: Any) -> Iterable[Finding]:
    if not isinstance(properties, dict) or len(properties) <= MAX_PROPERTIES:
        return []
    return [
        Finding(
            ("properties",),
            "key",
            f"properties: {len(properties)} entries; an account may have at most "
            f"{MAX_PROPERTIES} properties",
        )
    ]


def _check_unique_keys(
    data: dict[str, Any], field: str, line_of: Callable[[Path], int]
) -> Iterator[Finding]:
    items = data.get(field)
    if not isinstance(items, list):
        return
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            continue
        if key in first:
            line = line_of((field, first[key], "key"))
            yield Finding(
                (field, index, "key"),
                "value",
                f"{field}[{index}].key: {key!r} is used twice (first at line {line}); "
                f"each of {field} needs a key of its own",
            )
        else:
            first[key] = index


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
