"""Optional strictness: the property keys, identifier types, investor records and portfolios that
exist, as LUSID would know them. Without a definitions file anything goes.

File (JSON or YAML); every section is optional, and a missing section is not checked:

    propertyKeys: [InvestmentAccount/Details/Name, ...]
    identifierTypes: [InvestmentAccount/ExternalIdentifier/ExternalIAId, InvestorRecord/..., ...]
    investorRecords:          # each a record's identifiers, key -> value
      - InvestorRecord/ExternalIdentifier/ExternalIRId: IR_12345678
    portfolios:
      - {scope: Investments, code: Growth}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iasync.emulator.store import error_detail
from iasync.errors import IasyncError

SECTIONS = ("propertyKeys", "identifierTypes", "investorRecords", "portfolios")


class DefinitionsError(IasyncError):
    """A definitions file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Definitions:
    property_keys: frozenset[str] | None = None
    identifier_types: frozenset[str] | None = None
    investor_records: frozenset[tuple[str, str]] | None = None  # any identifier of a record
    portfolios: frozenset[tuple[str, str]] | None = None

    def check(self, corr_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """LUSID's failure for the first thing this account refers to that does not exist."""
        return (
            self._check_identifiers(corr_id, body)
            or self._check_properties(corr_id, body)
            or self._check_holders(corr_id, body)
            or self._check_portfolios(corr_id, body)
        )

    def _check_identifiers(self, corr_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        keys = [*body["identifiers"]]
        for holder in body["accountHolders"]:
            keys.extend(holder["identifiers"])
        return _first_undefined(
            corr_id, keys, self.identifier_types, "The identifier type '{key}' is not defined."
        )

    def _check_properties(self, corr_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        return _first_undefined(
            corr_id,
            body["properties"],
            self.property_keys,
            "The property definition '{key}' does not exist.",
        )

    def _check_holders(self, corr_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.investor_records is None:
            return None
        for holder in body["accountHolders"]:
            if not _holder_identifiers(holder) & self.investor_records:
                return error_detail(
                    corr_id,
                    "InvestorRecordNotFound",
                    f"No investor record matches the identifiers of account holder "
                    f"'{holder['key']}'.",
                    holderKey=holder["key"],
                )
        return None

    def _check_portfolios(self, corr_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.portfolios is None:
            return None
        for item in body["investmentPortfolios"]:
            scope, code = _portfolio_scope_and_code(item, self.portfolios)
            if (scope, code) not in self.portfolios:
                return error_detail(
                    corr_id,
                    "PortfolioNotFound",
                    f"Portfolio with scope '{scope}' and code '{code}' does not exist.",
                    scope=scope,
                    code=code,
                )
        return None


def _holder_identifiers(holder: Mapping[str, Any]) -> set[tuple[str, Any]]:
    """(key, value) of a holder's identifiers: Properties when unscoped, strings when scoped."""
    return {
        (key, value if isinstance(value, str) else value["value"].get("labelValue"))
        for key, value in holder["identifiers"].items()
    }


def _portfolio_scope_and_code(
    item: Mapping[str, Any], defined: frozenset[tuple[str, str]]
) -> tuple[str, str]:
    """The (scope, code) a portfolio reference names. Scoped references name the code among
    their identifiers, under a key LUSID does not document: any identifier value that is a
    defined portfolio's code in that scope counts (emulator choice)."""
    if "identifiers" not in item:
        return item["portfolioScope"], item["portfolioCode"]
    scope, values = item["scope"], list(item["identifiers"].values())
    return scope, next((v for v in values if (scope, v) in defined), values[0])


def _first_undefined(
    corr_id: str, keys: Iterable[str], defined: frozenset[str] | None, message: str
) -> dict[str, Any] | None:
    """PropertyNotDefined for the first key that is not defined (`message` names it as {key});
    None when all are, or when the definitions do not list these keys at all."""
    if defined is None:
        return None
    for key in keys:
        if key not in defined:
            return error_detail(
                corr_id, "PropertyNotDefined", message.format(key=key), propertyKey=key
            )
    return None


def load_definitions(path: Path) -> Definitions:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionsError(
            f"{path}: cannot read the definitions file ({exc.strerror})."
        ) from None
    raw = _parse(path, text)
    if not isinstance(raw, dict):
        raise DefinitionsError(f"{path}: expected a mapping with {', '.join(SECTIONS)}.")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise DefinitionsError(
            f"{path}: unknown section(s) {', '.join(unknown)}; expected {', '.join(SECTIONS)}."
        )
    return Definitions(
        property_keys=_strings(path, raw, "propertyKeys"),
        identifier_types=_strings(path, raw, "identifierTypes"),
        investor_records=_records(path, raw),
        portfolios=_portfolios(path, raw),
    )


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DefinitionsError(f"{path}: not valid JSON ({exc}).") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionsError(f"{path}: not valid YAML ({exc}).") from None


def _section(
    path: Path, raw: dict[str, Any], section: str, valid: Callable[[Any], bool], must: str
) -> list[Any] | None:
    """The entries of an optional list section, each one `valid` (else: `<section>[i] must ...`);
    None when the section is left out."""
    if section not in raw:
        return None
    values = raw[section]
    if not isinstance(values, list):
        raise DefinitionsError(f"{path}: '{section}' must be a list.")
    for index, value in enumerate(values):
        if not valid(value):
            raise DefinitionsError(f"{path}: {section}[{index}] must {must}.")
    return values


def _strings(path: Path, raw: dict[str, Any], section: str) -> frozenset[str] | None:
    values = _section(path, raw, section, lambda v: isinstance(v, str), "be a key string")
    return None if values is None else frozenset(values)


def _is_record(record: Any) -> bool:
    return isinstance(record, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in record.items()
    )


def _records(path: Path, raw: dict[str, Any]) -> frozenset[tuple[str, str]] | None:
    """Any identifier (key, value) of any investor record."""
    records = _section(
        path, raw, "investorRecords", _is_record, "map identifier keys to string values"
    )
    return None if records is None else frozenset(p for r in records for p in r.items())


def _is_portfolio(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("scope"), str)
        and isinstance(item.get("code"), str)
    )


def _portfolios(path: Path, raw: dict[str, Any]) -> frozenset[tuple[str, str]] | None:
    items = _section(path, raw, "portfolios", _is_portfolio, "be {scope: S, code: C}")
    return None if items is None else frozenset((p["scope"], p["code"]) for p in items)
