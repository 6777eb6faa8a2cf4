"""The emulator's accounts: matching by identifier, versions, batches, persistence.

Accounts are indexed by (identifier key, label value), so matching an item costs O(its
identifiers) whatever the number of accounts. A batch is applied item by item with an undo log,
so an Atomic batch with a failure is rolled back in O(items it touched).
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from iasync.emulator.generations import DEFAULT_API, Api
from iasync.errors import IasyncError
from iasync.files import write_atomically

ID_ALPHABET = string.ascii_uppercase + string.digits
# Ids need to be unique and unguessable enough for tests, not secret: a seeded-from-OS PRNG is
# plenty and many times faster than `secrets` for a batch of 2,000 creates.
_ID_RANDOM = random.Random()
FORMAT_VERSION = 1

# (account scope, identifier key, label value); the scope is "" under the unscoped API.
Identity = tuple[str, str, str]
# A check run on every valid item before it is applied: an ErrorDetail dict, or None when fine.
ItemCheck = Callable[[str, Mapping[str, Any]], dict[str, Any] | None]


class StoreFileError(IasyncError):
    """The --data file cannot be read back."""


class _GenerationMismatch(Exception):
    """The --data file was written by an emulator serving the other API generation."""


def format_instant(value: datetime) -> str:
    """LUSID's spelling: UTC, seven fractional digits, explicit offset (as iasync.accounts.model's,
    which the emulator does not import: pydantic would double its start-up time)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def now_instant() -> str:
    return format_instant(datetime.now(UTC))


def entity_unique_id(entity_type: str, *names: str) -> str:
    """A LUID_ id that is the same for the same entity every time: the entityUniqueId of an
    investor record or portfolio, which the emulator refers to but does not keep."""
    digest = hashlib.sha256("\x1f".join((entity_type, *names)).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(8):
        number, digit = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[digit])
    return "LUID_" + "".join(chars)


def _scoped_part(entity_type: str, part: Mapping[str, Any]) -> dict[str, Any]:
    """A scoped holder or portfolio `{key, scope, identifiers: {k: str}}`, with the
    entityUniqueId of the entity its scope and identifiers name."""
    scope, ids = part["scope"], part["identifiers"]
    return {
        "key": part["key"],
        "scope": scope,
        "identifiers": ids,
        "entityUniqueId": entity_unique_id(
            entity_type, scope, *sorted(f"{k}={v}" for k, v in ids.items())
        ),
    }


def _holder(holder: Mapping[str, Any]) -> dict[str, Any]:
    """An AccountHolder, with the entityUniqueId of the investor record its identifiers name."""
    if "scope" in holder:  # scoped: {key, scope, identifiers: {k: str}}
        return _scoped_part("InvestorRecord", holder)
    names = sorted(
        f"{key}={orjson.dumps(prop['value'], option=orjson.OPT_SORT_KEYS).decode()}"
        for key, prop in holder["identifiers"].items()
    )
    return {
        "key": holder["key"],
        "identifiers": holder["identifiers"],
        "entityUniqueId": entity_unique_id("InvestorRecord", *names),
    }


def _portfolio(portfolio: Mapping[str, Any]) -> dict[str, Any]:
    if "identifiers" in portfolio:  # scoped: {key, scope, identifiers: {k: str}}
        return _scoped_part("Portfolio", portfolio)
    scope, code = portfolio["portfolioScope"], portfolio["portfolioCode"]
    return {
        "key": portfolio["key"],
        "scope": scope,
        "code": code,
        "entityUniqueId": entity_unique_id("Portfolio", scope, code),
    }


def identity_of(body: Mapping[str, Any]) -> list[Identity]:
    """What finds an account: each identifier, within the account's scope when it has one."""
    scope = body.get("scope", "")
    return [(scope, key, prop["value"]["labelValue"]) for key, prop in body["identifiers"].items()]


def account_href(server_root: str, scope: str, key: str, value: str) -> str:
    """The get-one URL of an account found by identifier `key` = `value`, in each generation's
    own form."""
    _, id_scope, id_code = key.split("/")
    accounts = f"{server_root}/api/api/investmentaccounts"
    if scope:
        return (
            f"{accounts}/{quote(id_code, safe='')}/{quote(value, safe='')}"
            f"?scope={quote(scope, safe='')}&identifierScope={quote(id_scope, safe='')}"
        )
    return f"{accounts}/{id_scope}/{id_code}/{quote(value, safe='')}"


def with_properties(rendered: dict[str, Any], keys: Collection[str]) -> dict[str, Any]:
    """A rendered account showing only the properties named in `keys` (a get or list's
    propertyKeys): LUSID returns no other."""
    properties = rendered["properties"]
    return {**rendered, "properties": {k: v for k, v in properties.items() if k in keys}}


def _comparable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with holders and portfolios in key order: their order carries no meaning."""
    out = dict(body)
    out["accountHolders"] = sorted(body["accountHolders"], key=lambda h: h["key"])
    out["investmentPortfolios"] = sorted(body["investmentPortfolios"], key=lambda p: p["key"])
    return out


@dataclass
class Account:
    lusid_id: str
    body: dict[str, Any]
    version: int
    created: str
    modified: str
    request_id_created: str
    request_id_modified: str
    user_created: str
    user_modified: str
    # The last rendering, by server root: an account is immutable (a change makes a new one).
    _rendered: tuple[str, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "lusidInvestmentAccountId": self.lusid_id,
            "body": self.body,
            "version": self.version,
            "created": self.created,
            "modified": self.modified,
            "requestIdCreated": self.request_id_created,
            "requestIdModified": self.request_id_modified,
            "userCreated": self.user_created,
            "userModified": self.user_modified,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Account:
        return cls(
            lusid_id=rec["lusidInvestmentAccountId"],
            body=rec["body"],
            version=rec["version"],
            created=rec["created"],
            modified=rec["modified"],
            request_id_created=rec["requestIdCreated"],
            request_id_modified=rec["requestIdModified"],
            user_created=rec["userCreated"],
            user_modified=rec["userModified"],
        )

    def render(self, server_root: str) -> dict[str, Any]:
        """The InvestmentAccount JSON of the API (server_root is http://host:port)."""
        if self._rendered is not None and self._rendered[0] == server_root:
            return self._rendered[1]
        body = self.body
        href = account_href(server_root, *identity_of(body)[0])
        out: dict[str, Any] = {
            "lusidInvestmentAccountId": self.lusid_id,
            "displayName": body["displayName"],
            "identifiers": body["identifiers"],
            "accountType": body["accountType"],
            "accountHolders": [_holder(h) for h in body["accountHolders"]],
            "investmentPortfolios": [_portfolio(p) for p in body["investmentPortfolios"]],
            "properties": body["properties"],
            "relationships": [],
            "href": href,
            "version": {
                "effectiveFrom": self.created,
                "asAtDate": self.modified,
                "asAtCreated": self.created,
                "userIdCreated": self.user_created,
                "requestIdCreated": self.request_id_created,
                "asAtModified": self.modified,
                "userIdModified": self.user_modified,
                "requestIdModified": self.request_id_modified,
                "asAtVersionNumber": self.version,
                "entityUniqueId": self.lusid_id,
            },
            "links": [{"relation": "Self", "href": href, "method": "GET"}],
        }
        if "description" in body:
            out["description"] = body["description"]
        if "scope" in body:
            out["scope"] = body["scope"]
        self._rendered = (server_root, out)
        return out


def error_detail(corr_id: str, error_type: str, detail: str, **extra: str) -> dict[str, Any]:
    return {
        "id": corr_id,
        "type": error_type,
        "detail": detail,
        "errorDetails": [extra] if extra else [],
    }


@dataclass
class BatchResult:
    values: dict[str, Account] = field(default_factory=dict)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: bool = False


class AccountStore:
    def __init__(self, data_file: Path | None = None, api: Api = DEFAULT_API) -> None:
        self.data_file = data_file
        self.api = api
        self._accounts: dict[str, Account] = {}
        self._index: dict[Identity, str] = {}
        if data_file is not None and data_file.exists():
            self._load(data_file)
        elif data_file is not None:
            # Write the empty store now: a data file that cannot be written is a start-up error,
            # not a 500 on the first upsert.
            try:
                self.save()
            except OSError as exc:
                raise StoreFileError(
                    f"{data_file}: cannot write the emulator's data file ({exc.strerror}); "
                    "pass a --data path in a writable directory."
                ) from None

    # --- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._accounts)

    def __iter__(self) -> Iterator[Account]:
        return iter(list(self._accounts.values()))

    def find(self, key: str, value: str, scope: str = "") -> Account | None:
        """The account with identifier `key` = `value` (in `scope`, under the scoped API)."""
        lusid_id = self._index.get((scope, key, value))
        return None if lusid_id is None else self._accounts[lusid_id]

    # --- writing ------------------------------------------------------------------------------

    def reset(self) -> None:
        self._accounts.clear()
        self._index.clear()
        self.save()

    def delete(self, account: Account) -> None:
        self._remove(account)
        self.save()

    def upsert(
        self,
        items: Mapping[str, dict[str, Any]],
        *,
        atomic: bool,
        request_id: str,
        user: str,
        check: ItemCheck | None = None,
    ) -> BatchResult:
        result = BatchResult()
        undo: list[tuple[str, Account | None]] = []  # (lusid id, the account before the batch)
        touched: set[str] = set()
        stamp = now_instant()
        for corr_id, body in items.items():
            failure = check(corr_id, body) if check else None
            if failure is None:
                outcome = self._apply(corr_id, body, touched, undo, stamp, request_id, user)
                if isinstance(outcome, Account):
                    result.values[corr_id] = outcome
                    continue
                failure = outcome
            result.failed[corr_id] = failure
        if atomic and result.failed:
            self._rollback(undo)
            result.values = {}
            return result
        result.changed = bool(undo)
        if result.changed:
            self.save()
        return result

    def _apply(
        self,
        corr_id: str,
        body: dict[str, Any],
        touched: set[str],
        undo: list[tuple[str, Account | None]],
        stamp: str,
        request_id: str,
        user: str,
    ) -> Account | dict[str, Any]:
        identity = identity_of(body)
        matched = {self._index[i] for i in identity if i in self._index}
        if len(matched) > 1:
            return error_detail(
                corr_id,
                "DuplicateIdFailure",
                "The identifiers of this request match more than one investment account: "
                + ", ".join(sorted(matched)),
            )
        if not matched:
            account = Account(
                lusid_id=self._new_id(),
                body=body,
                version=1,
                created=stamp,
                modified=stamp,
                request_id_created=request_id,
                request_id_modified=request_id,
                user_created=user,
                user_modified=user,
            )
            undo.append((account.lusid_id, None))
            touched.add(account.lusid_id)
            self._put(account)
            return account
        existing = self._accounts[matched.pop()]
        if existing.lusid_id in touched:
            return error_detail(
                corr_id,
                "DuplicateIdFailure",
                f"Another request in this batch already targets investment account "
                f"{existing.lusid_id}.",
            )
        touched.add(existing.lusid_id)
        if _comparable(existing.body) == _comparable(body):
            return existing  # a no-op upsert keeps the version
        updated = Account(
            lusid_id=existing.lusid_id,
            body=body,
            version=existing.version + 1,
            created=existing.created,
            modified=stamp,
            request_id_created=existing.request_id_created,
            request_id_modified=request_id,
            user_created=existing.user_created,
            user_modified=user,
        )
        undo.append((existing.lusid_id, existing))
        self._remove(existing)
        self._put(updated)
        return updated

    def _rollback(self, undo: list[tuple[str, Account | None]]) -> None:
        for lusid_id, before in reversed(undo):
            self._remove(self._accounts[lusid_id])
            if before is not None:
                self._put(before)

    def _put(self, account: Account) -> None:
        self._accounts[account.lusid_id] = account
        for identity in identity_of(account.body):
            self._index[identity] = account.lusid_id

    def _remove(self, account: Account) -> None:
        del self._accounts[account.lusid_id]
        for identity in identity_of(account.body):
            if self._index.get(identity) == account.lusid_id:
                del self._index[identity]

    def _new_id(self) -> str:
        while True:
            candidate = "LUID_" + "".join(_ID_RANDOM.choices(ID_ALPHABET, k=8))
            if candidate not in self._accounts:
                return candidate

    # --- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        """Write every account to the data file atomically: temp file, fsync, rename."""
        if self.data_file is None:
            return
        payload: dict[str, Any] = {"formatVersion": FORMAT_VERSION}
        if self.api != "unscoped":  # unscoped files are as they were before the scoped API
            payload["api"] = self.api
        payload["accounts"] = [a.to_record() for a in self._accounts.values()]
        write_atomically(self.data_file, orjson.dumps(payload))

    def _load(self, path: Path) -> None:
        try:
            payload = orjson.loads(path.read_bytes())
            if payload.get("formatVersion") != FORMAT_VERSION:
                raise ValueError(f"unknown formatVersion {payload.get('formatVersion')!r}")
            # Files from before the scoped API have no "api": they were unscoped.
            written_by = payload.get("api", "unscoped")
            if written_by != self.api:
                raise _GenerationMismatch(written_by)
            for rec in payload["accounts"]:
                self._put(Account.from_record(rec))
        except _GenerationMismatch as exc:
            raise StoreFileError(
                f"{path}: the emulator's data file holds accounts of the {exc.args[0]} API, "
                f"not the {self.api} API this emulator serves; start it with --api "
                f"{exc.args[0]}, or pass another --data file."
            ) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreFileError(
                f"{path}: cannot read the emulator's data file ({exc}); "
                "fix or remove it, or pass another --data file."
            ) from None
