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

from iasync.emulator.generations import DEFAULT_API, Api
from iasync.emulator.store import format_instant

MAX_BATCH = 2000
MAX_TEXT = 512
MAX_LABEL = 1024
MAX_PROPERTIES = 100
_PART = r"[a-zA-Z0-9\-_]{1,64}"
ACCOUNT_KEY = re.compile(rf"^InvestmentAccount/{_PART}/{_PART}$")
INVESTOR_KEY = re.compile(rf"^InvestorRecord/{_PART}/{_PART}$")
SCOPE = re.compile(rf"^{_PART}$")
# A portfolio's identifiers under the scoped API: LUSID documents no key format (emulator choice:
# any non-empty key up to 256 characters).
PORTFOLIO_ID_KEY = re.compile(r"^.{1,256}$", re.DOTALL)
SUCCESS_MODES = {"atomic": "Atomic", "partial": "Partial"}

# The JSON fields of each request model of lusid-sdk 2.1.859 (UpsertInvestmentAccountRequest,
# ModelProperty, ...): what the SDK can send is accepted, anything else is a client bug worth
# naming. An optional field sent as null means absent, as the SDK sends every nullable field it
# was given (from_dict gives them all).
ITEM_FIELDS = frozenset(
    {
        "identifiers",
        "properties",
        "displayName",
        "description",
        "accountType",
        "accountHolders",
        "investmentPortfolios",
    }
)
PROPERTY_FIELDS = frozenset({"key", "value", "effectiveFrom", "effectiveUntil", "referenceData"})
VALUE_FIELDS = frozenset({"labelValue", "metricValue", "labelValueSet"})
METRIC_FIELDS = frozenset({"value", "unit"})
LABEL_SET_FIELDS = frozenset({"values"})
REFERENCE_DATA_FIELDS = frozenset({"stringValue", "numericValue"})
HOLDER_FIELDS = frozenset({"key", "identifiers"})
PORTFOLIO_FIELDS = frozenset({"key", "portfolioScope", "portfolioCode"})
# The scoped API's request models (lusid-sdk 2.1.949 to 2.3.313): the account gains a required
# `scope`; holders and portfolios are {key, scope, identifiers: {k: str}}.
SCOPED_ITEM_FIELDS = ITEM_FIELDS | {"scope"}
SCOPED_HOLDER_FIELDS = frozenset({"key", "scope", "identifiers"})
SCOPED_PORTFOLIO_FIELDS = frozenset({"key", "scope", "identifiers"})
# Each generation's request models, by the SDK's model name: what the conformance tests compare
# with each SDK's own models.
REQUEST_MODEL_FIELDS: dict[Api, dict[str, frozenset[str]]] = {
    "unscoped": {
        "UpsertInvestmentAccountRequest": ITEM_FIELDS,
        "ModelProperty": PROPERTY_FIELDS,
        "PropertyValue": VALUE_FIELDS,
        "MetricValue": METRIC_FIELDS,
        "LabelValueSet": LABEL_SET_FIELDS,
        "PropertyReferenceDataValue": REFERENCE_DATA_FIELDS,
        "AccountHolderIdentifier": HOLDER_FIELDS,
        "InvestmentPortfolioIdentifier": PORTFOLIO_FIELDS,
    },
    "scoped": {
        "UpsertInvestmentAccountRequest": SCOPED_ITEM_FIELDS,
        "ModelProperty": PROPERTY_FIELDS,
        "PropertyValue": VALUE_FIELDS,
        "MetricValue": METRIC_FIELDS,
        "LabelValueSet": LABEL_SET_FIELDS,
        "PropertyReferenceDataValue": REFERENCE_DATA_FIELDS,
        "AccountHolderIdentifier": SCOPED_HOLDER_FIELDS,
        "InvestmentPortfolioIdentifier": SCOPED_PORTFOLIO_FIELDS,
    },
}
# Property fields that are null in the common case (the SDK's from_dict sends them all).
_USUALLY_NULL = ("effectiveFrom", "effectiveUntil", "referenceData")

Errors = dict[str, list[str]]


class _Collector:
    def __init__(self) -> None:
        self.errors: Errors = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _unknown_fields(
    errs: _Collector, path: str, raw: dict[str, Any], known: frozenset[str]
) -> None:
    for unknown in sorted(set(raw) - known):
        errs.add(f"{path}.{unknown}", f"Unknown field '{unknown}'.")


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


def validate_batch(body: Any, api: Api = DEFAULT_API) -> tuple[dict[str, dict[str, Any]], Errors]:
    """The normalised items of a parsed request body under the `api` generation's request
    models, or the errors that make it a 400."""
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
    item = _scoped_item if api == "scoped" else _item
    items = {corr_id: item(errs, corr_id, raw) for corr_id, raw in body.items()}
    if errs.errors:
        return {}, errs.errors
    return items, {}


def _item(errs: _Collector, corr: str, raw: Any) -> dict[str, Any]:
    """An unscoped UpsertInvestmentAccountRequest (lusid-sdk 2.1.859), normalised."""
    if not _is_request(errs, corr, raw):
        return {}
    _unknown_fields(errs, corr, raw, ITEM_FIELDS)
    item = _common_fields(errs, corr, raw)
    item["accountHolders"] = _holders(errs, f"{corr}.accountHolders", raw.get("accountHolders"))
    item["investmentPortfolios"] = _portfolios(
        errs, f"{corr}.investmentPortfolios", raw.get("investmentPortfolios")
    )
    return item


def _scoped_item(errs: _Collector, corr: str, raw: Any) -> dict[str, Any]:
    """A scoped UpsertInvestmentAccountRequest (lusid-sdk 2.1.949 to 2.3.313), normalised."""
    if not _is_request(errs, corr, raw):
        return {}
    _unknown_fields(errs, corr, raw, SCOPED_ITEM_FIELDS)
    item = _common_fields(errs, corr, raw)
    item["scope"] = _scope(errs, corr, raw)
    item["accountHolders"] = _scoped_entities(
        errs, f"{corr}.accountHolders", raw.get("accountHolders"), holders=True
    )
    item["investmentPortfolios"] = _scoped_entities(
        errs, f"{corr}.investmentPortfolios", raw.get("investmentPortfolios"), holders=False
    )
    return item


def _is_request(errs: _Collector, corr: str, raw: Any) -> bool:
    if isinstance(raw, dict):
        return True
    errs.add(corr, "Each request must be a JSON object (an UpsertInvestmentAccountRequest).")
    return False


def _common_fields(errs: _Collector, corr: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The fields both generations share: identifiers, properties and the texts."""
    item: dict[str, Any] = {
        "identifiers": _identifiers(errs, corr, raw.get("identifiers")),
        "properties": _properties(errs, f"{corr}.properties", raw.get("properties")),
        "displayName": _text(errs, corr, "displayName", raw, required=True),
        "accountType": _text(errs, corr, "accountType", raw, required=True),
    }
    description = _text(errs, corr, "description", raw, required=False)
    if description is not None:
        item["description"] = description
    return item


def _scope(errs: _Collector, parent: str, raw: dict[str, Any]) -> Any:
    """A required scope: 1-64 letters, digits, '-' or '_'."""
    value = raw.get("scope")
    if value is None or value == "":
        _required(errs, parent, "scope")
    elif not isinstance(value, str):
        errs.add(f"{parent}.scope", "The value must be a string.")
    elif not SCOPE.match(value):
        errs.add(
            f"{parent}.scope",
            f"The scope '{value}' must be 1-64 letters, digits, '-' or '_'.",
        )
    return value


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
        # An empty value was a missing or bad one, already named.
        if prop.get("value") and "labelValue" not in prop["value"]:
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
        elif (plain := _plain_label_property(key, prop)) is not None:
            out[key] = plain
        else:
            normalised = _property(errs, f"{path}[{key}]", key, prop)
            if normalised is not None:
                out[key] = normalised
    return out


@lru_cache(maxsize=8192)
def _key_ok(pattern: re.Pattern[str], key: str) -> bool:
    # The same few keys recur in every item of a batch: match each once.
    return pattern.match(key) is not None


def _plain_label_property(map_key: str, raw: Any) -> dict[str, Any] | None:
    """The common case, checked cheaply and normalised: {"key": K, "value": {"labelValue": "short
    text"}}, maybe with null effectiveFrom, effectiveUntil and referenceData; else None."""
    if type(raw) is not dict or raw.get("key") != map_key:
        return None
    value = raw.get("value")
    if type(value) is not dict or len(value) != 1:
        return None
    label = value.get("labelValue")
    if type(label) is not str or len(label) > MAX_LABEL:
        return None
    if len(raw) == 2:
        return raw  # already in its normal form: kept as sent, no copy
    if raw.keys() <= PROPERTY_FIELDS and all(raw.get(field) is None for field in _USUALLY_NULL):
        return {"key": map_key, "value": value}
    return None


def _property(errs: _Collector, path: str, map_key: str, raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errs.add(path, "A property must be an object with key and value.")
        return None
    _unknown_fields(errs, path, raw, PROPERTY_FIELDS)
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
    # LUSID fills referenceData in from the property's data type, never from the request: it is
    # checked against the SDK's model and then ignored (the emulator has no data types).
    _reference_data(errs, f"{path}.referenceData", raw.get("referenceData"))
    return prop


def _reference_data(errs: _Collector, path: str, raw: Any) -> None:
    """Optional map of name -> PropertyReferenceDataValue {stringValue?, numericValue?}."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        errs.add(path, "referenceData must be a map of name to PropertyReferenceDataValue.")
        return
    for name, entry in raw.items():
        here = f"{path}[{name}]"
        if not isinstance(entry, dict):
            errs.add(here, "A PropertyReferenceDataValue must be an object.")
            continue
        _unknown_fields(errs, here, entry, REFERENCE_DATA_FIELDS)
        text, number = entry.get("stringValue"), entry.get("numericValue")
        if text is not None and not isinstance(text, str):
            errs.add(f"{here}.stringValue", "The stringValue must be a string.")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            errs.add(f"{here}.numericValue", "The numericValue must be a number.")


def _property_value(errs: _Collector, path: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        _required(errs, path.rsplit(".", 1)[0], "value")
        return {}
    if not isinstance(raw, dict):
        errs.add(path, "A property value must be an object.")
        return {}
    given = [k for k in ("labelValue", "metricValue", "labelValueSet") if raw.get(k) is not None]
    _unknown_fields(errs, path, raw, VALUE_FIELDS)
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
    _unknown_fields(errs, path, raw, METRIC_FIELDS)
    number = raw.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        errs.add(f"{path}.value", "The Value field is required and must be a number.")
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        errs.add(f"{path}.unit", "The unit must be a string.")
    return {"value": number} if unit is None else {"value": number, "unit": unit}


def _label_set(errs: _Collector, path: str, raw: Any) -> Any:
    if isinstance(raw, dict):
        _unknown_fields(errs, path, raw, LABEL_SET_FIELDS)
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
        _unknown_fields(errs, here, entry, HOLDER_FIELDS)
        ids = entry.get("identifiers")
        if ids is None:
            _required(errs, here, "identifiers")
            ids = {}
        elif not isinstance(ids, dict) or not ids:
            errs.add(f"{here}.identifiers", "At least one InvestorRecord identifier is required.")
            ids = {}
        props = _property_map(errs, f"{here}.identifiers", ids, INVESTOR_KEY, "InvestorRecord")
        holders.append({"key": entry.get("key"), "identifiers": props})
    return holders


def _portfolios(errs: _Collector, path: str, raw: Any) -> list[dict[str, Any]]:
    portfolios = []
    for here, entry in _keyed_list(errs, path, raw):
        _unknown_fields(errs, here, entry, PORTFOLIO_FIELDS)
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


def _scoped_entities(
    errs: _Collector, path: str, raw: Any, *, holders: bool
) -> list[dict[str, Any]]:
    """Scoped account holders or investment portfolios: each {key, scope, identifiers: {k: str}}.
    A holder's identifier keys are InvestorRecord identifier types."""
    fields = SCOPED_HOLDER_FIELDS if holders else SCOPED_PORTFOLIO_FIELDS
    entities = []
    for here, entry in _keyed_list(errs, path, raw):
        _unknown_fields(errs, here, entry, fields)
        entities.append(
            {
                "key": entry.get("key"),
                "scope": _scope(errs, here, entry),
                "identifiers": _string_identifiers(errs, here, entry, holders=holders),
            }
        )
    return entities


def _string_identifiers(
    errs: _Collector, parent: str, entry: dict[str, Any], *, holders: bool
) -> dict[str, str]:
    path, raw = f"{parent}.identifiers", entry.get("identifiers")
    if raw is None:
        _required(errs, parent, "identifiers")
        return {}
    if not isinstance(raw, dict) or not raw:
        errs.add(path, "At least one identifier is required (a map of key to string value).")
        return {}
    pattern = INVESTOR_KEY if holders else PORTFOLIO_ID_KEY
    for key, value in raw.items():
        if not _key_ok(pattern, key):
            errs.add(
                f"{path}[{key}]",
                f"The key '{key}' must look like InvestorRecord/<scope>/<code>, where scope and "
                "code are 1-64 letters, digits, '-' or '_'."
                if holders
                else f"The key '{key}' must be 1-256 characters long.",
            )
        elif not isinstance(value, str) or not value:
            errs.add(f"{path}[{key}]", "The identifier's value is required (a non-empty string).")
        elif len(value) > MAX_LABEL:
            errs.add(f"{path}[{key}]", f"The value must be at most {MAX_LABEL} characters long.")
    return raw
