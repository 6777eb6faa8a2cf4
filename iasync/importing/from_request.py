"""`iasync import --from-request FILE [--into DIR]`: a `$batchUpsert` request body cut into one
account file per account, in the canonical style (`iasync fmt`'s), named from an identifier.

Nothing is ever overwritten: if any file to write exists, none is written. Each is made beside its
place and linked in, which fails rather than replace a file that appeared meanwhile.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iasync.accounts.batch_request import file_stem, is_batch_request
from iasync.errors import IasyncError
from iasync.files import fsync_directory, write_temporary

#: Account files are for sharing in a repository: readable by all (the umask still applies).
FILE_MODE = 0o644


@dataclass(frozen=True)
class Written:
    path: Path
    correlation_id: str


def split_request(source: Path, into: Path, shown: str) -> list[Written]:
    """Write each account of the request body in `source` to its own file in `into`.

    `shown` names `source` in messages. Raises `IasyncError` when `source` is not a request body
    or a file to write exists already (then nothing is written).
    """
    data = _read(source, shown)
    if not is_batch_request(data):
        raise IasyncError(
            f"{shown} is not a $batchUpsert request body: expected a mapping of correlation ids "
            'to accounts, like {"id1": {"identifiers": ..., "displayName": ...}, ...}'
        )
    planned = _planned(data, into)
    existing = [path for path, _, _ in planned if path.exists()]
    if existing:
        names = ", ".join(str(path) for path in existing)
        raise IasyncError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; nothing was written "
            "(import never overwrites: move it, or import --into another directory)"
        )
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for path, correlation_id, text in planned:
        _create(path, text.encode("utf-8"))
        written.append(Written(path, correlation_id))
    fsync_directory(into)
    return written


def _read(source: Path, shown: str) -> Any:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise IasyncError(f"{shown}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IasyncError(f"cannot read {shown}: {exc}") from None
    try:
        return json.loads(text)  # what a request body usually is
    except ValueError:
        pass
    from iasync.accounts.yaml import parse

    document = parse(text)
    if document.errors:
        line, column, message = document.errors[0]
        raise IasyncError(f"{shown}:{line}:{column}: {message}")
    return document.data


def _planned(data: dict[str, Any], into: Path) -> list[tuple[Path, str, str]]:
    """(file, correlation id, text) of each account; names made distinct (`-2`, `-3`, ...)."""
    taken: set[str] = set()
    planned = []
    for correlation_id, account in data.items():
        stem = file_stem(account, str(correlation_id))
        name, number = f"{stem}.yaml", 1
        while name.lower() in taken:
            number += 1
            name = f"{stem}-{number}.yaml"
        taken.add(name.lower())
        planned.append((into / name, str(correlation_id), account_text(account)))
    return planned


def account_text(account: dict[str, Any]) -> str:
    """One account as `iasync fmt` writes it (the short form); the API's JSON as it is when fmt
    cannot settle it (an account with problems, which `iasync validate` then reports)."""
    from iasync.accounts.fmt import format_text

    text = json.dumps(account, ensure_ascii=False, indent=2) + "\n"
    try:
        return format_text(text)
    except Exception:  # fmt refuses what it cannot format safely: keep the data as it came
        return text


def _create(path: Path, data: bytes) -> None:
    """Write a new file at `path`, all at once; refuse (never replace) an existing one."""
    temporary = write_temporary(path, data, mode=FILE_MODE)
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise IasyncError(f"{path} appeared while importing; it was left as it is") from None
    finally:
        temporary.unlink(missing_ok=True)
