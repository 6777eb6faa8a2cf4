"""`iasync import`: accounts LUSID holds that no file manages become account files, recorded in
the state as applied, so that the next plan shows no changes (Terraform's import).

Each account is read in one paged list (with the managed property keys and any asked for),
mapped back to its canonical body (`plans.remote.canonical_from_lusid`), written out in the long
form and put through `iasync fmt` (so the file is in the short form and fmt-clean), then read
back by the loader: the body the loader makes must be LUSID's, or nothing is written. Files are
named from the account's first identifier value and never overwrite anything: if any name is
taken, nothing at all is written. Files are written first, then the state: a crash between
leaves files that the next plan shows as accounts that exist in LUSID, the same as the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iasync.errors import IasyncError

if TYPE_CHECKING:
    from iasync.lusid import LusidClient
    from iasync.settings import Settings
    from iasync.states import State, StateBackend


class ImportError_(IasyncError):
    """The import cannot be done safely; nothing was written."""


@dataclass
class ImportResult:
    written: list[str] = field(default_factory=list)  # files, relative to the root
    managed: int = 0  # accounts LUSID holds that files or the state manage already
    listed: int = 0


@dataclass
class _Candidate:
    account: Mapping[str, Any]
    body: dict[str, Any]
    target: Path


def import_accounts(
    settings: Settings,
    state: State,
    backend: StateBackend,
    client: LusidClient,
    into: Path,
    extra_property_keys: Sequence[str] = (),
) -> ImportResult:
    """Write a file for each account LUSID holds that no file or state record manages, and
    record each as applied. The caller holds the state lock."""
    from iasync.operations import InvalidAccountFiles, load_for_plan
    from iasync.plans.plan import scoped_pairs
    from iasync.plans.remote import canonical_from_lusid, list_all, managed_property_keys

    load = load_for_plan(settings, state)
    if not load.ok:
        raise InvalidAccountFiles(load)
    bodies = [account.body for account in load.accounts]
    keys = sorted({*managed_property_keys(bodies, state), *extra_property_keys})
    index = list_all(client, keys)
    # An identifier is one account per scope under the scoped API (scope None under unscoped).
    managed = {pair for account in load.accounts for pair in account.scoped_identity}
    managed |= {
        pair
        for record in state.accounts.values()
        for pair in scoped_pairs(record.identity, record.body)
    }
    result = ImportResult(listed=len(index.by_id))
    candidates: list[_Candidate] = []
    taken: set[str] = set()
    for _, account in sorted(index.by_id.items()):
        body = canonical_from_lusid(account, client.api)
        if scoped_pairs(_identity(body), body) & managed or not _identity(body):
            result.managed += 1
            continue
        name = _file_name(body, taken)
        candidates.append(_Candidate(account, body, into / name))
    _refuse_existing(candidates, settings)
    texts = [(c, _file_text(c.body)) for c in candidates]
    for candidate, text in texts:
        _write_new(candidate.target, text)
    _record(candidates, settings, state, backend, result)
    return result


def _identity(body: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    from iasync.accounts.model import identity_of

    return identity_of(dict(body))


def _file_name(body: Mapping[str, Any], taken: set[str]) -> str:
    """`<first identifier value>.yaml`, made safe for a file name and unique in this import."""
    key = sorted(body["identifiers"])[0]
    value = body["identifiers"][key]["value"]["labelValue"]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "account"
    name, n = f"{stem}.yaml", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.yaml"
    taken.add(name.lower())
    return name


def _refuse_existing(candidates: Sequence[_Candidate], settings: Settings) -> None:
    existing = [c.target for c in candidates if c.target.exists()]
    if existing:
        from iasync.accounts.finding import display_path

        shown = ", ".join(display_path(path, settings) for path in existing[:5])
        raise ImportError_(
            f"import never overwrites: {shown} exist{'s' if len(existing) == 1 else ''} "
            f"already{f' (and {len(existing) - 5} more)' if len(existing) > 5 else ''}; "
            "nothing was written. Move them, or import --into another directory"
        )


def _file_text(body: Mapping[str, Any]) -> str:
    """The account file of a canonical body: its long form, then `iasync fmt`'s short form."""
    import yaml

    from iasync.accounts.fmt import format_text
    from iasync.accounts.format import FIELD_ORDER

    document = {name: body[name] for name in FIELD_ORDER if name in body}
    document |= {name: value for name, value in body.items() if name not in document}
    long_form = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=10_000)
    return format_text(long_form)


def _write_new(target: Path, text: str) -> None:
    from iasync.files import write_atomically

    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text.encode())


def _record(
    candidates: Sequence[_Candidate],
    settings: Settings,
    state: State,
    backend: StateBackend,
    result: ImportResult,
) -> None:
    """Record each written file as applied, with the body the loader makes of it; a file whose
    body is not LUSID's is removed again and the import refused."""
    from iasync.accounts.loader import load_accounts
    from iasync.gitinfo import current_commit, now_iso
    from iasync.plans.remote import version_of
    from iasync.states import AccountRecord

    if not candidates:
        return
    load = load_accounts([c.target for c in candidates], settings)
    read_back = {Path(settings.resolve(Path(a.path))).resolve(): a for a in load.accounts}
    wrong = [c for c in candidates if _body_of(read_back, c) != c.body]
    if wrong or not load.ok:
        for candidate in candidates:
            candidate.target.unlink(missing_ok=True)
        problems = "; ".join(str(p) for p in load.problems[:3])
        names = ", ".join(str(c.target.name) for c in wrong[:5])
        raise ImportError_(
            "import cannot write these accounts as files that say exactly what LUSID holds "
            f"({names or problems}); nothing was written. Please report this"
        )
    applied_at, commit = now_iso(), current_commit(settings.root)
    for candidate in candidates:
        loaded = read_back[candidate.target.resolve()]
        state.record(
            AccountRecord(
                lusid_id=str(candidate.account["lusidInvestmentAccountId"]),
                version=version_of(candidate.account),
                identifiers=dict(sorted(loaded.identity)),
                body=loaded.body,
                body_hash=loaded.body_hash,
                source=loaded.path,
                source_hash=loaded.file_hash,
                applied_at=applied_at,
                commit=commit,
            ).with_blob(loaded.file_blob)  # once committed, git vouches for it: not opened
        )
        result.written.append(loaded.path)
    backend.write(state)


def _body_of(read_back: Mapping[Path, Any], candidate: _Candidate) -> Any:
    loaded = read_back.get(candidate.target.resolve())
    return None if loaded is None else loaded.body
