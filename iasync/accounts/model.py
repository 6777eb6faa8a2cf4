"""The account file format and the API request it becomes.

Two authoring forms are accepted for identifiers and properties:

* the short form of DESIGN.md: `Key: "text"` (label), `Key: 1.5` (metric), `Key: [a, b]` (label
  set), or a mapping `{value: ..., unit: ..., effectiveFrom: ..., effectiveUntil: ...}`;
* the API's long form, so a request body can be pasted: `{key: K, value: {labelValue: ...}}`.

Each API generation (the `api` setting; lusid-api.md, "Two API generations") has its own
model: `AccountFile` is the reference page's (`unscoped`), `ScopedAccountFile` today's (`scoped`:
a top-level `scope`, holders `{key, scope, identifiers: {key: text}}`, portfolios `{key, scope,
identifiers}`). `model_for(api)` picks one.

Both forms become the same canonical request body (`canonical_body`), byte for byte once
serialised by `canonical_json`: the API's JSON shape, keys sorted, datetimes in UTC as LUSID
writes them (`2016-01-01T00:00:00.0000000+00:00`), empty collections spelled out (a request is
the account's full new state, so "absent" and "empty" mean the same), holders and portfolios
ordered by key. Under the scoped API the body has the account's `scope`, and each holder's and
portfolio's (their own, else the account's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Protocol, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
    model_validator,
)

from iasync.accounts.format import (
    ACCOUNT_KEY_PATTERN,
    DEFAULT_ACCOUNT_TYPES,
    INVESTOR_KEY_PATTERN,
    MAX_LABEL_LENGTH,
    MAX_PORTFOLIO_IDENTIFIER_KEY,
    MAX_PROPERTIES,
    MAX_TEXT_LENGTH,
    SCOPE_PATTERN,
)
from iasync.accounts.instants import INSTANT_PATTERN, format_instant, instant_of

AccountKey = Annotated[str, Field(pattern=ACCOUNT_KEY_PATTERN)]
InvestorKey = Annotated[str, Field(pattern=INVESTOR_KEY_PATTERN)]
Label = Annotated[StrictStr, Field(max_length=MAX_LABEL_LENGTH)]
Scope = Annotated[StrictStr, Field(pattern=SCOPE_PATTERN)]
#: An identifier's value under the scoped API: plain, non-empty text.
PlainIdentifier = Annotated[
    StrictStr,
    Field(min_length=1, max_length=MAX_LABEL_LENGTH, description="The identifier's value."),
]
PortfolioIdentifierKey = Annotated[
    str, Field(min_length=1, max_length=MAX_PORTFOLIO_IDENTIFIER_KEY)
]
# NaN and infinity are not JSON: canonical_json would emit `NaN`, which LUSID cannot read.
Number = StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- timestamps -------------------------------------------------------------------------------


def _instant_schema(schema: dict[str, Any]) -> None:
    # Not `format: date-time`: editors would flag a bare date, which iasync accepts.
    schema.pop("format", None)
    schema.update(
        type="string",
        pattern=INSTANT_PATTERN,
        description="A date (2016-01-01, that day's start in UTC) or a date and time with a UTC "
        "offset (2016-01-01T00:00:00+00:00).",
    )


Instant = Annotated[datetime, Field(json_schema_extra=_instant_schema)]


class _Effective(_Strict):
    effectiveFrom: Instant | None = Field(
        None, description="When the value starts to hold (LUSID's effective date)."
    )
    effectiveUntil: Instant | None = Field(None, description="When the value stops holding.")

    @field_validator("effectiveFrom", "effectiveUntil", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> datetime | None:
        return None if value is None else instant_of(value)

    @model_validator(mode="after")
    def _ordered(self) -> _Effective:
        if self.effectiveFrom and self.effectiveUntil and self.effectiveFrom >= self.effectiveUntil:
            raise ValueError("effectiveFrom must be before effectiveUntil")
        return self

    def _effective_json(self) -> dict[str, str]:
        out = {}
        if self.effectiveFrom is not None:
            out["effectiveFrom"] = format_instant(self.effectiveFrom)
        if self.effectiveUntil is not None:
            out["effectiveUntil"] = format_instant(self.effectiveUntil)
        return out


# --- the API's long form ----------------------------------------------------------------------


class MetricValue(_Strict):
    """A number, with an optional unit."""

    value: Number = Field(description="The amount.")
    unit: StrictStr | None = Field(None, description="The unit, e.g. a currency code: GBP.")


class LabelValueSet(_Strict):
    """A set of texts."""

    values: list[Label] = Field(description="The texts (their order does not matter).")


class PropertyValue(_Strict):
    """Exactly one of the three kinds of value LUSID knows."""

    labelValue: Label | None = Field(None, description="A text value.")
    metricValue: MetricValue | None = Field(None, description="A number, with an optional unit.")
    labelValueSet: LabelValueSet | None = Field(None, description="A set of texts.")

    @model_validator(mode="after")
    def _exactly_one(self) -> PropertyValue:
        given = [
            v for v in (self.labelValue, self.metricValue, self.labelValueSet) if v is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of labelValue, metricValue, labelValueSet")
        return self


class LongProperty(_Effective):
    """The API's own form of a property: `{key, value: {labelValue | metricValue | ...}}`."""

    key: StrictStr | None = Field(
        None, description="The property key again; when given it must equal the map key."
    )
    value: PropertyValue = Field(
        description="Exactly one of labelValue, metricValue, labelValueSet."
    )


# --- the short form ---------------------------------------------------------------------------


class ShortProperty(_Effective):
    """`{value: ..., unit: ...}` with optional effective dates."""

    value: Label | Number | list[Label] = Field(
        description="Text (a label), a number (a metric) or a list of texts (a label set)."
    )
    unit: StrictStr | None = Field(
        None, description="The unit of a number, e.g. a currency code: GBP."
    )

    @model_validator(mode="after")
    def _unit_needs_number(self) -> ShortProperty:
        if self.unit is not None and not isinstance(self.value, int | float):
            raise ValueError("unit is only for numbers (metric values)")
        return self


def _property_form(value: Any) -> str:
    if isinstance(value, dict):
        return "long" if isinstance(value.get("value"), dict) or "key" in value else "short"
    if isinstance(value, list):
        return "set"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "metric"
    return "label"


PropertyInput = Annotated[
    Annotated[Label, Tag("label"), Field(description="A text value (a label).")]
    | Annotated[Number, Tag("metric"), Field(description="A number (a metric value).")]
    | Annotated[list[Label], Tag("set"), Field(description="A set of texts (a label set).")]
    | Annotated[ShortProperty, Tag("short")]
    | Annotated[LongProperty, Tag("long")],
    Discriminator(_property_form),
]

IdentifierInput = Annotated[
    Annotated[Label, Tag("label"), Field(description="The identifier's value.")]
    | Annotated[LongProperty, Tag("long")],
    Discriminator(lambda v: "long" if isinstance(v, dict) else "label"),
]


# --- the account ------------------------------------------------------------------------------


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


class _Holder(_Strict):
    """What every API generation's account holder has: its key in the account."""

    key: StrictStr = Field(
        min_length=1, description="Names this holder within the account (unique in it)."
    )


class _Portfolio(_Strict):
    """What every API generation's investment portfolio has: its key in the account."""

    key: StrictStr = Field(
        min_length=1, description="Names this portfolio within the account (unique in it)."
    )


HolderT = TypeVar("HolderT", bound=_Holder)
PortfolioT = TypeVar("PortfolioT", bound=_Portfolio)


class AccountHolder(_Holder):
    """An investor record that holds the account, named by its identifiers."""

    identifiers: dict[InvestorKey, IdentifierInput] = Field(
        min_length=1,
        description="The investor record's identifiers: InvestorRecord/{scope}/{code} -> value.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AccountHolder:
        _check_identifiers("identifiers", self.identifiers)
        return self


class InvestmentPortfolio(_Portfolio):
    """A LUSID portfolio the account invests through."""

    portfolioScope: StrictStr = Field(min_length=1, description="The portfolio's scope.")
    portfolioCode: StrictStr = Field(min_length=1, description="The portfolio's code.")


class _AccountBase(_Strict):
    """What an account file holds under either API generation."""

    identifiers: dict[AccountKey, IdentifierInput] = Field(
        min_length=1,
        description="How LUSID knows the account: InvestmentAccount/{scope}/{code} -> value. "
        "An account that shares any identifier with an existing one is that account.",
    )
    displayName: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_LENGTH, description="The account's name."),
    ]
    description: Annotated[StrictStr, Field(max_length=MAX_TEXT_LENGTH)] | None = Field(
        None, description="A longer description of the account."
    )
    accountType: StrictStr = Field(
        min_length=1,
        description="The kind of account. The allowed set is configurable (account_types); "
        "by default the types LUSID has documented.",
        # Offered by editors for completion; the allowed set itself is a setting.
        json_schema_extra={"examples": list(DEFAULT_ACCOUNT_TYPES)},
    )
    properties: dict[AccountKey, PropertyInput] = Field(
        default_factory=dict,
        max_length=MAX_PROPERTIES,
        description="InvestmentAccount/{scope}/{code} -> value: text, a number, a list of "
        "texts, or a mapping {value, unit, effectiveFrom, effectiveUntil}.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> _AccountBase:
        _check_identifiers("identifiers", self.identifiers)
        _check_long_keys("properties", self.properties)
        return self


class _Parts(_Strict, Generic[HolderT, PortfolioT]):
    """An account's holders and portfolios: each API generation names their models.

    An account file names this as its first base: pydantic orders fields base first along the
    MRO, so the holders and portfolios come after the other fields, as the committed schemas
    have them.
    """

    accountHolders: list[HolderT] = Field(
        default_factory=list, description="The investor records that hold the account."
    )
    investmentPortfolios: list[PortfolioT] = Field(
        default_factory=list, description="The portfolios the account invests through."
    )

    @model_validator(mode="after")
    def _unique_keys(self) -> Self:
        _check_unique_keys("accountHolders", self.accountHolders)
        _check_unique_keys("investmentPortfolios", self.investmentPortfolios)
        return self


class AccountFile(_Parts[AccountHolder, InvestmentPortfolio], _AccountBase):
    """One account file for the reference page's API (`api = "unscoped"`), in either form."""

    model_config = ConfigDict(
        title="LUSID Investment Account",
        json_schema_extra={
            "description": "One LUSID Investment Account, as kept in git and applied by iasync."
        },
    )

    @property
    def identity(self) -> frozenset[tuple[str, str]]:
        """The (identifier key, value) pairs by which LUSID matches this account."""
        return identity_of(canonical_body(self))


class ScopedAccountHolder(_Holder):
    """An investor record that holds the account (today's API): its scope and identifiers."""

    scope: Scope | None = Field(
        None, description="The investor record's scope; by default the account's own."
    )
    identifiers: dict[InvestorKey, PlainIdentifier] = Field(
        min_length=1,
        description="The investor record's identifiers: InvestorRecord/{scope}/{code} -> text.",
    )


class ScopedInvestmentPortfolio(_Portfolio):
    """A LUSID portfolio the account invests through (today's API): its scope and identifiers."""

    scope: Scope | None = Field(
        None, description="The portfolio's scope; by default the account's own."
    )
    identifiers: dict[PortfolioIdentifierKey, PlainIdentifier] = Field(
        min_length=1, description="The portfolio's identifiers: key -> text (e.g. its code)."
    )


class _ScopedAccountBase(_AccountBase):
    """What an account file holds under today's API besides its holders and portfolios: its
    scope (a base of its own so that `scope` comes before them, as in the committed schema)."""

    scope: Scope | None = Field(
        None,
        description="The account's scope in LUSID; by default the `scope` setting. Identity is "
        "(scope, identifier): the same identifier in two scopes is two accounts.",
    )


class ScopedAccountFile(_Parts[ScopedAccountHolder, ScopedInvestmentPortfolio], _ScopedAccountBase):
    """One account file for today's LUSID API (`api = "scoped"`), in either form."""

    model_config = ConfigDict(
        title="LUSID Investment Account (scoped API)",
        json_schema_extra={
            "description": "One LUSID Investment Account for today's scoped API "
            '(iasync setting api = "scoped"), as kept in git and applied by iasync.'
        },
    )


def model_for(api: str) -> type[AccountFile] | type[ScopedAccountFile]:
    """The account file model of an API generation (the `api` setting)."""
    return ScopedAccountFile if api == "scoped" else AccountFile


def _check_identifiers(field: str, mapping: dict[str, Any]) -> None:
    _check_long_keys(field, mapping)
    for identifier in mapping.values():
        if isinstance(identifier, LongProperty) and identifier.value.labelValue is None:
            raise ValueError("an identifier's value must be a labelValue (a string)")


def _check_long_keys(field: str, mapping: dict[str, Any]) -> None:
    for key, value in mapping.items():
        if isinstance(value, LongProperty) and value.key is not None and value.key != key:
            raise ValueError(f"{field}: {key!r} holds a property whose key is {value.key!r}")


def _check_unique_keys(field: str, items: Sequence[_Keyed]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise ValueError(f"{field}: the key {item.key!r} is used twice")
        seen.add(item.key)


# --- the canonical request body ---------------------------------------------------------------


def _value_json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"labelValue": value}
    if isinstance(value, list):
        return {"labelValueSet": {"values": sorted(set(value))}}
    return {"metricValue": {"value": _number(value)}}


def _number(value: int | float) -> int | float:
    # 100 and 100.0 are the same amount: one spelling, so both forms hash alike.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _property_json(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, LongProperty):
        pv = value.value
        if pv.labelValue is not None:
            wire = _value_json(pv.labelValue)
        elif pv.labelValueSet is not None:
            wire = _value_json(pv.labelValueSet.values)
        else:
            assert pv.metricValue is not None
            wire = _metric_json(pv.metricValue.value, pv.metricValue.unit)
        return {"key": key, "value": wire, **value._effective_json()}
    if isinstance(value, ShortProperty):
        if isinstance(value.value, int | float):
            wire = _metric_json(value.value, value.unit)
        else:
            wire = _value_json(value.value)
        return {"key": key, "value": wire, **value._effective_json()}
    return {"key": key, "value": _value_json(value)}


def _metric_json(value: int | float, unit: str | None) -> dict[str, Any]:
    metric: dict[str, Any] = {"value": _number(value)}
    if unit is not None:
        metric["unit"] = unit
    return {"metricValue": metric}


def _properties_json(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: _property_json(key, value) for key, value in sorted(mapping.items())}


#: The version of what `canonical_body` makes of a file. Bump it whenever a file's canonical body
#: changes (a new default, another spelling): state records made under another version are not
#: reused for unchanged files (`load_accounts(..., reuse=state)`), so every file is read again.
#: 2: the scoped API's bodies (`scope`, scoped holders and portfolios).
CANONICAL_FORMAT = 2


def canonical_format_for(api: str) -> int:
    """The format a state's bodies are stamped with: the scoped API's bodies (with `scope`) are
    another format than the reference page's, so a state made under one `api` is never taken for
    the other without reading a body (a database state reads bodies only when used)."""
    return CANONICAL_FORMAT if api != "scoped" else CANONICAL_FORMAT + 1000


class MissingScopeError(ValueError):
    """A scoped account with no scope of its own and no `scope` setting."""


def canonical_body(
    account: AccountFile | ScopedAccountFile, *, scope: str | None = None
) -> dict[str, Any]:
    """The UpsertInvestmentAccountRequest for this account, in its one canonical shape.

    `scope`: the `scope` setting, for a scoped account whose file names none (its holders and
    portfolios default to the account's scope in turn).
    """
    body: dict[str, Any] = {
        "identifiers": _properties_json(account.identifiers),
        "displayName": account.displayName,
        "accountType": account.accountType,
        "properties": _properties_json(account.properties),
    }
    if isinstance(account, ScopedAccountFile):
        body.update(_scoped_parts(account, scope))
    else:
        body["accountHolders"] = [
            {"key": h.key, "identifiers": _properties_json(h.identifiers)}
            for h in sorted(account.accountHolders, key=lambda h: h.key)
        ]
        body["investmentPortfolios"] = [
            {"key": p.key, "portfolioScope": p.portfolioScope, "portfolioCode": p.portfolioCode}
            for p in sorted(account.investmentPortfolios, key=lambda p: p.key)
        ]
    if account.description is not None:
        body["description"] = account.description
    return body


def _scoped_parts(account: ScopedAccountFile, default_scope: str | None) -> dict[str, Any]:
    """`scope`, and holders and portfolios as `{key, scope, identifiers: {key: text}}`."""
    scope = account.scope or default_scope
    if scope is None:
        raise MissingScopeError(
            "the account has no scope: add `scope: <scope>` at the top of the file, or set "
            "scope in iasync.toml"
        )
    return {
        "scope": scope,
        "accountHolders": [
            {
                "key": h.key,
                "scope": h.scope or scope,
                "identifiers": dict(sorted(h.identifiers.items())),
            }
            for h in sorted(account.accountHolders, key=lambda h: h.key)
        ],
        "investmentPortfolios": [
            {
                "key": p.key,
                "scope": p.scope or scope,
                "identifiers": dict(sorted(p.identifiers.items())),
            }
            for p in sorted(account.investmentPortfolios, key=lambda p: p.key)
        ],
    }


def canonical_json(body: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed and sent: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def body_hash(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def scope_of(body: dict[str, Any]) -> str | None:
    """The account's scope in a canonical body (or a LUSID response); None under `unscoped`."""
    scope = body.get("scope")
    return scope if isinstance(scope, str) else None


def managed_property_keys(bodies: Iterable[dict[str, Any]]) -> list[str]:
    """The property keys of these canonical bodies (the files', the state's), sorted: what a read
    of LUSID must name in `propertyKeys`, since LUSID returns only the properties named."""
    return sorted({key for body in bodies for key in body.get("properties") or {}})


def identity_of(body: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """(key, label value) for each identifier of a canonical body (or of a LUSID response)."""
    return frozenset(
        (key, prop["value"]["labelValue"])
        for key, prop in body.get("identifiers", {}).items()
        if "labelValue" in prop.get("value", {})
    )


SuccessMode = Literal["Partial", "Atomic"]
