"""LUSID's own view of the accounts, read for a plan: which accounts to create exist there
already, and which managed accounts were changed or deleted outside iasync (drift).

`canonical_from_lusid` is the one place that turns LUSID's InvestmentAccount back into the
canonical request body a file makes (`iasync.accounts.model.canonical_body`), so that the two can
be compared: server-side fields (ids, versions, hrefs, links, entityUniqueId, ...) are dropped,
values are spelled as the model spells them, holders and portfolios are ordered by key.

Reads always name the managed property keys (`propertyKeys`): LUSID returns no other property,
and without them every property would look deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iasync.accounts.format import (
    EFFECTIVE_DATES,
    HOLDER_ORDER,
    LONG_PROPERTY_ORDER,
    PORTFOLIO_ORDER,
    VALUE_KINDS,
)
from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.lusid import LusidClient
    from iasync.plans.plan import AccountChange, Plan
    from iasync.states import State

#: Up to this many accounts to create are looked up one GET each; more take one paged list.
MAX_GETS = 20
#: LUSID's spelling of "no start" and "no end" of an effective period: the same as none given.
_OPEN_DATES = ("0001-01-01T00:00:00", "9999-12-31T23:59:59")

Identity = frozenset[tuple[str, str]]


class NoListEndpoint(IasyncError):
    """The server answered the list of accounts with 404 or 405: it has no such endpoint."""


# --- LUSID's account as a canonical body ------------------------------------------------------


def canonical_from_lusid(account: Mapping[str, Any], api: str) -> dict[str, Any]:
    """LUSID's InvestmentAccount as the canonical request body of `api` ("unscoped" or
    "scoped"): what a file would have to say for apply to leave the account as it is."""
    body: dict[str, Any] = {
        "identifiers": _properties(account.get("identifiers")),
        "displayName": account.get("displayName"),
        "accountType": account.get("accountType"),
        "properties": _properties(account.get("properties")),
        "accountHolders": _by_key(_holder(h, api) for h in account.get("accountHolders") or []),
        "investmentPortfolios": _by_key(
            _portfolio(p, api) for p in account.get("investmentPortfolios") or []
        ),
    }
    if account.get("description") is not None:
        body["description"] = account["description"]
    if api == "scoped" and account.get("scope") is not None:
        body["scope"] = account["scope"]
    return body


def _by_key(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: str(item.get("key")))


def _properties(mapping: Any) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        return {}
    return {str(key): _property(str(key), prop) for key, prop in sorted(mapping.items())}


def _property(key: str, prop: Any) -> dict[str, Any]:
    """A property (or identifier) in the model's long form: key, value, effective dates."""
    prop = prop if isinstance(prop, Mapping) else {}
    out: dict[str, Any] = {"key": key, "value": _value(prop.get("value"))}
    for name in LONG_PROPERTY_ORDER:
        if name in EFFECTIVE_DATES and prop.get(name) and not _open(prop[name]):
            out[name] = _instant(prop[name])
    return out


def _value(value: Any) -> dict[str, Any]:
    """The one kind of value LUSID holds, spelled as `canonical_body` spells it."""
    value = value if isinstance(value, Mapping) else {}
    kind = next((k for k in VALUE_KINDS if value.get(k) is not None), None)
    if kind == "labelValueSet":
        return {kind: {"values": sorted(set(value[kind].get("values") or []))}}
    if kind == "metricValue":
        metric = value[kind]
        out: dict[str, Any] = {"value": _number(metric.get("value"))}
        if metric.get("unit") is not None:
            out["unit"] = metric["unit"]
        return {kind: out}
    if kind == "labelValue":
        return {kind: value[kind]}
    return dict(value)


def _number(value: Any) -> Any:
    # As the model: 100 and 100.0 are the same amount, spelled one way.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _open(text: Any) -> bool:
    return isinstance(text, str) and text.startswith(_OPEN_DATES)


def _instant(text: Any) -> Any:
    from iasync.accounts.instants import format_instant, instant_of

    try:
        return format_instant(instant_of(text))
    except ValueError:
        return text  # not a timestamp iasync reads: compared as it is


def _holder(holder: Mapping[str, Any], api: str) -> dict[str, Any]:
    if api == "scoped":
        return {
            "key": holder.get("key"),
            "scope": holder.get("scope"),
            "identifiers": dict(sorted((holder.get("identifiers") or {}).items())),
        }
    out = {name: holder.get(name) for name in HOLDER_ORDER}
    out["identifiers"] = _properties(holder.get("identifiers"))
    return out


def _portfolio(portfolio: Mapping[str, Any], api: str) -> dict[str, Any]:
    if api == "scoped":
        return {
            "key": portfolio.get("key"),
            "scope": portfolio.get("scope"),
            "identifiers": dict(sorted((portfolio.get("identifiers") or {}).items())),
        }
    # The response names them scope and code; the request portfolioScope and portfolioCode.
    key, scope_field, code_field = PORTFOLIO_ORDER
    return {
        key: portfolio.get(key),
        scope_field: portfolio.get(scope_field, portfolio.get("scope")),
        code_field: portfolio.get(code_field, portfolio.get("code")),
    }


def identity_in_lusid(account: Mapping[str, Any]) -> Identity:
    from iasync.accounts.model import identity_of

    return identity_of(dict(account))


def version_of(account: Mapping[str, Any]) -> int | None:
    version = account.get("version")
    number = version.get("asAtVersionNumber") if isinstance(version, Mapping) else None
    return number if isinstance(number, int) else None


# --- what to read -----------------------------------------------------------------------------


def managed_property_keys(
    bodies: Iterable[Mapping[str, Any]], state: State | None = None
) -> list[str]:
    """Every property key the files or the state name: the keys every read asks LUSID for.

    `bodies` need only be those of files read now: an account reused from the state has its
    record's body, whose keys the state gives (`State.property_keys`, from the database without
    reading a body)."""
    keys: set[str] = set() if state is None else state.property_keys()
    for body in bodies:
        keys.update(body.get("properties") or {})
    return sorted(keys)


@dataclass
class LusidIndex:
    """Accounts LUSID returned, found by LUSID id or by any identifier. Under the scoped API
    (`scoped`) an identifier is one account per scope: it is found in the account's scope."""

    scoped: bool = False
    by_id: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    by_identifier: dict[tuple[str | None, str, str], Mapping[str, Any]] = field(
        default_factory=dict
    )

    def add(self, account: Mapping[str, Any]) -> None:
        lusid_id = account.get("lusidInvestmentAccountId")
        if isinstance(lusid_id, str):
            self.by_id[lusid_id] = account
        scope = self._scope(account.get("scope"))
        for key, value in identity_in_lusid(account):
            self.by_identifier[(scope, key, value)] = account

    def find(
        self, identity: Identity, lusid_id: str | None = None, scope: str | None = None
    ) -> Mapping[str, Any] | None:
        if lusid_id is not None and lusid_id in self.by_id:
            return self.by_id[lusid_id]
        wanted = self._scope(scope)
        pairs = ((wanted, key, value) for key, value in sorted(identity))
        return next((self.by_identifier[p] for p in pairs if p in self.by_identifier), None)

    def _scope(self, scope: Any) -> str | None:
        return scope if self.scoped and isinstance(scope, str) else None


def list_all(client: LusidClient, property_keys: Sequence[str]) -> LusidIndex:
    """Every account LUSID holds, in one paged list read; `NoListEndpoint` when it has none."""
    from iasync.lusid import LusidApiError

    index = LusidIndex(scoped=client.api == "scoped")
    try:
        for account in client.list_investment_accounts(property_keys=property_keys):
            index.add(account)
    except LusidApiError as exc:
        if exc.status in (404, 405):
            raise NoListEndpoint(
                f"LUSID has no list endpoint here (GET /api/investmentaccounts answered "
                f"{exc.status}): it cannot be read for drift or existing accounts. Is the LUSID "
                "URL right? Use --offline to plan without reading LUSID"
            ) from None
        raise
    return index


def get_each(
    client: LusidClient,
    wanted: Iterable[tuple[Identity, str | None]],
    property_keys: Sequence[str],
) -> LusidIndex:
    """The accounts holding any of these identities (each with its scope: None under the
    unscoped API), one GET an identifier until found."""
    index = LusidIndex(scoped=client.api == "scoped")
    for identity, scope in wanted:
        if index.find(identity, scope=scope) is not None:
            continue
        for key, value in sorted(identity):
            account = client.get_investment_account(
                key, value, property_keys=property_keys, scope=scope
            )
            if account is not None:
                index.add(account)
                break
    return index


# --- reading LUSID for a plan -----------------------------------------------------------------


@dataclass
class RemoteRead:
    """What a plan read of LUSID, in words for the plan: how, and what it found."""

    reads: str  # "3 GET requests", "one list of 1,234 accounts"
    existing: int = 0  # accounts to create that LUSID already holds
    changed: int = 0  # managed accounts changed outside iasync (refresh)
    deleted: int = 0  # managed accounts deleted outside iasync (refresh)


def read_lusid(
    plan: Plan,
    client: LusidClient,
    property_keys: Sequence[str],
    *,
    refresh: bool,
) -> RemoteRead:
    """Mark the plan's creates that LUSID holds already (with LUSID's version against the file)
    and, with `refresh`, the managed accounts changed or deleted outside iasync, which become
    updates that restore the files' version."""
    creates = plan.of("create")
    if refresh or len(creates) > MAX_GETS:
        index = list_all(client, property_keys)
        reads = f"one list of {len(index.by_id):,} accounts"
    else:
        index = get_each(client, ((c.identity, c.scope) for c in creates), property_keys)
        reads = "no read (nothing to create)" if not creates else _gets(creates)
    read = RemoteRead(reads=reads)
    read.existing = mark_existing(creates, index, client.api)
    if refresh:
        managed = [c for c in plan.changes if c.record is not None and c.action != "orphaned"]
        read.changed, read.deleted = mark_drift(managed, index, client.api)
    return read


def _gets(creates: Sequence[AccountChange]) -> str:
    return f"a GET for each of {len(creates):,} account{'s' if len(creates) != 1 else ''}"


def mark_existing(creates: Sequence[AccountChange], index: LusidIndex, api: str) -> int:
    """Creates that LUSID already holds: `remote` "exists", and the differences from LUSID's
    version to the file (what apply would overwrite)."""
    from iasync.plans.diff import differences_of

    found = []
    for change in creates:
        account = index.find(change.identity, scope=change.scope)
        change.remote = "absent" if account is None else "exists"
        if account is not None:
            change.remote_id = account.get("lusidInvestmentAccountId")
            change.remote_version = version_of(account)
            found.append((change, canonical_from_lusid(account, api)))
    pairs = [(lusid_body, change.body) for change, lusid_body in found]
    for (change, _), diffs in zip(found, differences_of(pairs), strict=True):
        change.differences = diffs
    return len(found)


def mark_drift(managed: Sequence[AccountChange], index: LusidIndex, api: str) -> tuple[int, int]:
    """Managed accounts as LUSID holds them now. One deleted outside iasync is `remote`
    "deleted"; one changed is "changed", with its `drift` (the state's version to LUSID's); both
    become updates, whose differences run from LUSID's version to the file's."""
    from iasync.plans.diff import differences_of

    changed: list[tuple[AccountChange, dict[str, Any]]] = []
    deleted = 0
    for change in managed:
        assert change.record is not None
        account = index.find(change.identity, change.record.lusid_id, change.scope)
        if account is None:
            change.remote, change.action = "deleted", "update"
            deleted += 1
            continue
        lusid_body = canonical_from_lusid(account, api)
        if lusid_body == change.record.body:
            change.remote = "same"
        else:
            change.remote_version = version_of(account)
            changed.append((change, lusid_body))
    drift = differences_of([(c.record.body, body) for c, body in changed if c.record])
    restore = differences_of([(body, c.body) for c, body in changed])
    for (change, _), drifted, differences in zip(changed, drift, restore, strict=True):
        change.remote, change.action = "changed", "update"
        change.drift, change.differences = drifted, differences
    return len(changed), deleted
