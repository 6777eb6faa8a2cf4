"""Request validation for `$batchUpsert`, as LUSID's model binding reports it.

Each bad field is named by its path inside the request body, `<corrId>.<field>`, with messages in
the ASP.NET wording LUSID uses ("The DisplayName field is required."). A valid item comes back
normalised: optional collections spelled out, datetimes in LUSID's own spelling, so that two
requests that mean the same account compare equal (which is what keeps a no-op upsert a no-op).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from iasync.emulator.store import format_instant

MAX_BATCH = 2000
MAX_TEXT = 512
MAX_LABEL = 1024
MAX_PROPERTIES = 100
_PART = r"[a-zA-Z0-9\-_]{1,64}"
ACCOUNT_KEY = re.compile(rf"^InvestmentAccount/{_PART}/{_PART}$")
INVESTOR_KEY = re.compile(rf"^InvestorRecord/{_PART}/{_PART}$")
SUCCESS_MODES = {"atomic": "Atomic", "partial": "Partial"}

# The fields of an UpsertInvestmentAccountRequest; anything else is a client bug worth naming.
ITEM_FIELDS = {
    "identifiers",
    "properties",
    "displayName",
    "description",
    "accountType",
    "accountHolders",
    "investmentPortfolios",
}

Errors = dict[str, list[str]]


class _Collector:
    def __init__(self) -> None:
        self.errors: Errors = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _required(errs: _Collector, parent: str, field: str) -> None:
    errs.add(f"{parent}.{field}", f"The {_pascal(field)} field is required.")


def parse_success_mode(raw: str | None) -> tuple[str | None, Errors]:
    if raw is None or raw == "":
        return None, {"successMode": ["The successMode field is required."]}
    mode = SUCCESS_MODES.get(raw.lower())
    if mode is None:
        return None, {
            "successMode": [f"The value '{raw}' is not valid. Allowed values: Atomic, Partial."]
        }
    return mode, {}


def validate_batch(body: Any) -> tuple[dict[str, dict[str, Any]], Errors]:
    """The normalised items of a parsed request body, or the errors that make it a 400."""
    if not isinstance(body, dict):
        return {}, {
            "": [
                "The request body must be a JSON object mapping correlation ids "
                "to UpsertInvestmentAccountRequest objects."
            ]
        }
    if len(body) > MAX_BATCH:
        return {}, {
            "": [f"The batch has {len(body)} items; at most {MAX_BATCH} are allowed per request."]
        }
    errs = _Collector()
    items = {corr_id: _item(errs, corr_id, raw) for corr_id, raw in body.items()}
    if errs.errors:
        return {}, errs.errors
    return items, {}


def _item(errs: _Collector, corr: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errs.add(corr, "Each request must be a JSON object (an UpsertInvestmentAccountRequest).")
        return {}
    for unknown in sorted(set(raw) - ITEM_FIELDS):
        errs.add(f"{corr}.{unknown}", f"Unknown field '{unknown}'.")
    item: dict[str, Any] = {
        "identifiers": _identifiers(errs, corr, raw.get("identifiers")),
        "properties": _properties(errs, f"{corr}.properties", raw.get("properties")),
        "displayName": _text(errs, corr, "displayName", raw, required=True),
        "accountType": _text(errs, corr, "accountType", raw, required=True),
        "accountHolders": _holders(errs, f"{corr}.accountHolders", raw.get("accountHolders")),
        "investmentPortfolios": _portfolios(
            errs, f"{corr}.investmentPortfolios", raw.get("investmentPortfolios")
        ),
    }
    description = _text(errs, corr, "description", raw, required=False)
    if description is not None:
        item["description"] = description
    return item


def _text(errs: _Collector, parent: str, field: str, raw: dict[str, Any], *, required: bool) -> Any:
    path, value = f"{parent}.{field}", raw.get(field)
    if value is None or (required and isinstance(value, str) and not value.strip()):
        if required:
            _required(errs, parent, field)
        return None
    if not isinstance(value, str):
        errs.add(path, "The value must be a string.")
        return None
    if len(value) > MAX_TEXT:
        errs.add(path, f"The value must be at most {MAX_TEXT} characters long.")
    return value


def _identifiers(errs: _Collector, corr: str, raw: Any) -> dict[str, Any]:
    path = f"{corr}.identifiers"
    if raw is None:
        _required(errs, corr, "identifiers")
        return {}
    if not isinstance(raw, dict) or not raw:
        errs.add(path, "At least one identifier is required (a map of key to Property).")
        return {}
    props = _property_map(errs, path, raw, ACCOUNT_KEY, "InvestmentAccount")
    for key, prop in props.items():
        if "labelValue" not in prop.get("value", {}):
            errs.add(f"{path}[{key}].value", "An identifier must have a labelValue.")
    return props


def _properties(errs: _Collector, path: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errs.add(path, "The value must be a map of property key to Property.")
        return {}
    if len(raw) > MAX_PROPERTIES:
        errs.add(path, f"At most {MAX_PROPERTIES} properties are allowed; got {len(raw)}.")
    return _property_map(errs, path, raw, ACCOUNT_KEY, "InvestmentAccount")


def _property_map(
    errs: _Collector, path: str, raw: dict[str, Any], pattern: re.Pattern[str], domain: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, prop in raw.items():
        if not _key_ok(pattern, key):
            errs.add(
                f"{path}[{key}]",
                f"The key '{key}' must look like {domain}/<scope>/<code>, where scope and code "
                "are 1-64 letters, digits, '-' or '_'.",
            )
        elif _plain_label_property(key, prop):
            out[key] = prop  # already in its normal form: kept as sent, no copy
        else:
            normalised = _property(errs, f"{path}[{key}]", key, prop)
            if normalised is not None:
                out[key] = normalised
    return out


@lru_cache(maxsize=8192)
def _key_ok(pattern: re.Pattern[str], key: str) -> bool:
    # The same few keys recur in every item of a batch: match each once.
    return pattern.match(key) is not None


def _plain_label_property(map_key: str, raw: Any) -> bool:
    """The common case, checked cheaply: {"key": K, "value": {"labelValue": "short text"}}."""
    if type(raw) is not dict or len(raw) != 2 or raw.get("key") != map_key:
        return False
    value = raw.get("value")
    if type(value) is not dict or len(value) != 1:
        return False
    label = value.get("labelValue")
    return type(label) is str and len(label) <= MAX_LABEL


def _property(errs: _Collector, path: str, map_key: str, raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errs.add(path, "A property must be an object with key and value.")
        return None
    for unknown in sorted(set(raw) - {"key", "value", "effectiveFrom", "effectiveUntil"}):
        errs.add(f"{path}.{unknown}", f"Unknown field '{unknown}'.")
    key = raw.get("key")
    if key is None:
        _required(errs, path, "key")
    elif key != map_key:
        errs.add(f"{path}.key", f"The key '{key}' does not match its map key '{map_key}'.")
    value = _property_value(errs, f"{path}.value", raw.get("value"))
    prop: dict[str, Any] = {"key": map_key, "value": value}
    for field in ("effectiveFrom", "effectiveUntil"):
        if raw.get(field) is not None:
            instant = _instant(errs, f"{path}.{field}", raw[field])
            if instant is not None:
                prop[field] = instant
    # Both in LUSID's one UTC spelling, so the strings order as the instants do.
    if prop.get("effectiveFrom", "") >= prop.get("effectiveUntil", "\uffff"):
        errs.add(f"{path}.effectiveUntil", "effectiveUntil must be after effectiveFrom.")
    return prop


def _property_value(errs: _Collector, path: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        _required(errs, path.rsplit(".", 1)[0], "value")
        return {}
    if not isinstance(raw, dict):
        errs.add(path, "A property value must be an object.")
        return {}
    given = [k for k in ("labelValue", "metricValue", "labelValueSet") if raw.get(k) is not None]
    for unknown in sorted(set(raw) - {"labelValue", "metricValue", "labelValueSet"}):
        errs.add(f"{path}.{unknown}", f"Unknown field '{unknown}'.")
    if len(given) != 1:
        errs.add(path, "Exactly one of labelValue, metricValue, labelValueSet must be given.")
        return {}
    kind = given[0]
    checker = {"labelValue": _label, "metricValue": _metric, "labelValueSet": _label_set}[kind]
    return {kind: checker(errs, f"{path}.{kind}", raw[kind])}


def _label(errs: _Collector, path: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        errs.add(path, "A label value must be a string.")
    elif len(raw) > MAX_LABEL:
        errs.add(path, f"A label value must be at most {MAX_LABEL} characters long.")
    return raw


def _metric(errs: _Collector, path: str, raw: Any) -> Any:
    if not isinstance(raw, dict):
        errs.add(path, "A metric value must be an object with value and optional unit.")
        return raw
    number = raw.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        errs.add(f"{path}.value", "The Value field is required and must be a number.")
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        errs.add(f"{path}.unit", "The unit must be a string.")
    return {"value": number} if unit is None else {"value": number, "unit": unit}


def _label_set(errs: _Collector, path: str, raw: Any) -> Any:
    values = raw.get("values") if isinstance(raw, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errs.add(path, "A label value set must be an object with values: a list of strings.")
        return raw
    return {"values": values}


def _instant(errs: _Collector, path: str, raw: Any) -> str | None:
    spelled = _lusid_instant(raw) if isinstance(raw, str) else None
    if spelled is None:
        errs.add(path, f"{raw!r} is not a datetime like 2016-01-01T00:00:00.0000000+00:00.")
    return spelled


@lru_cache(maxsize=4096)
def _lusid_instant(raw: str) -> str | None:
    """LUSID's spelling of an ISO 8601 datetime; None when it is not one. (Dates recur: cached.)"""
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # LUSID reads a datetime without offset as UTC
    return format_instant(parsed)


def _keyed_list(errs: _Collector, path: str, raw: Any) -> list[tuple[str, dict[str, Any]]]:
    """(path, item) for each object of an optional list whose items have a unique `key`."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errs.add(path, "The value must be a list.")
        return []
    seen: set[str] = set()
    out = []
    for index, entry in enumerate(raw):
        here = f"{path}[{index}]"
        if not isinstance(entry, dict):
            errs.add(here, "Each entry must be an object.")
            continue
        key = entry.get("key")
        if not isinstance(key, str) or not key:
            _required(errs, here, "key")
        elif key in seen:
            errs.add(f"{here}.key", f"The key '{key}' is used more than once in this account.")
        else:
            seen.add(key)
        out.append((here, entry))
    return out


def _holders(errs: _Collector, path: str, raw: Any) -> list[dict[str, Any]]:
    holders = []
    for here, entry in _keyed_list(errs, path, raw):
        for unknown in sorted(set(entry) - {"key", "identifiers"}):
            errs.add(f"{here}.{unknown}", f"Unknown field '{unknown}'.")
        ids = entry.get("identifiers")
        if not isinstance(ids, dict) or not ids:
            errs.add(f"{here}.identifiers", "At least one InvestorRecord identifier is required.")
            ids = {}
        props = _property_map(errs, f"{here}.identifiers", ids, INVESTOR_KEY, "InvestorRecord")
        holders.append({"key": entry.get("key"), "identifiers": props})
    return holders


def _portfolios(errs: _Collector, path: str, raw: Any) -> list[dict[str, Any]]:
    portfolios = []
    for here, entry in _keyed_list(errs, path, raw):
        for unknown in sorted(set(entry) - {"key", "portfolioScope", "portfolioCode"}):
            errs.add(f"{here}.{unknown}", f"Unknown field '{unknown}'.")
        for field in ("portfolioScope", "portfolioCode"):
            if not isinstance(entry.get(field), str) or not entry[field]:
                _required(errs, here, field)
        portfolios.append(
            {
                "key": entry.get("key"),
                "portfolioScope": entry.get("portfolioScope"),
                "portfolioCode": entry.get("portfolioCode"),
            }
        )
    return portfolios
