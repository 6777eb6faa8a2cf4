"""`iasync fmt`: rewrite account files in the one canonical style, never changing their meaning.

The canonical style:

* top-level keys in DESIGN's order (identifiers, displayName, description, accountType,
  properties, accountHolders, investmentPortfolios), and a fixed order inside holders,
  portfolios and property mappings (value, unit, effectiveFrom, effectiveUntil);
* the short form: a pasted long-form item `{key, value: {labelValue: ...}}` becomes `Key: text`
  (a number for a metric, `{value, unit}` with a unit, a list for a label set, a mapping when it
  has effective dates); an identifier with effective dates stays long, the short form has none;
* two-space indentation, sequences indented under their key, block style for mappings, flow
  style for lists of text (`[a, b]`) and for empty collections (`[]`), no line folding;
* exactly one newline at the end (no trailing blank lines);
* plain scalars where YAML reads them back as the same text; quotes where YAML 1.1 (PyYAML's
  reading) or 1.2 would see something else (`'NO'`, `'0012'`, `'2016-01-01'` as a label).

Comments are kept (ruamel.yaml round trip): a comment above a top-level key moves with it, and a
comment inside a long-form item is kept beside its short form. A file that is not valid is refused
with the loader's located problems, and nothing is written. Before any write, the new text is read
back by the loader itself and its canonical request body must equal the old one; otherwise the
file is left as it is.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from iasync.accounts.fmt_comments import align_comments, is_map
from iasync.accounts.fmt_tree import (
    normalise_account,
    order_of,
    reorder_top_level_lines,
    reordered,
    round_trip_yaml,
)
from iasync.accounts.format import (
    FIELD_ORDER,
)
from iasync.errors import IasyncError, Problem
from iasync.files import fsync_directory, write_temporary
from iasync.files import write_atomically as write_file_atomically

if TYPE_CHECKING:
    from iasync.settings import Settings

#: From this many files on, the work is spread over a process pool (one per core).
PARALLEL_THRESHOLD = 100
#: Formatting is applied until the text stops changing; a correct formatter settles in two rounds.
MAX_ROUNDS = 4


class FmtError(IasyncError):
    """A file fmt cannot format safely (the text could not be settled or would change meaning)."""


@dataclass
class FormatResult:
    """What fmt did (or would do) to one file."""

    path: Path
    shown: str
    changed: bool = False
    problems: list[Problem] = field(default_factory=list)


# --- the text transformation ------------------------------------------------------------------


def format_text(text: str) -> str:
    """The canonical spelling of one (valid) account file's text.

    Raises `FmtError` when the text is not a YAML mapping or does not settle.
    """
    current = text.removeprefix("\ufeff").replace("\r\n", "\n")
    for _ in range(MAX_ROUNDS):
        formatted = _format_once(current)
        if formatted == current:
            return formatted
        current = formatted
    raise FmtError("the formatting does not settle; please report this file")


def _format_once(text: str) -> str:
    from ruamel.yaml.error import YAMLError

    yaml = round_trip_yaml()
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        # The loader (PyYAML) read the file, so this is a corner where the two parsers differ.
        raise FmtError(f"cannot be formatted: ruamel.yaml cannot read it ({exc})") from None
    if not is_map(data):
        raise FmtError("an account file holds one mapping (identifiers:, displayName:, ...)")
    if data.fa.flow_style():
        data = reordered(data, FIELD_ORDER)
    elif order_of(data, FIELD_ORDER) != list(data):
        data = yaml.load(reorder_top_level_lines(text, data))
    normalise_account(data)
    out = io.StringIO()
    yaml.dump(data, out)
    return _one_final_newline(align_comments(out.getvalue()))


def _one_final_newline(text: str) -> str:
    """The text ending in exactly one newline: blank lines at the end are dropped (ruamel keeps
    them; a file's last value never ends in them, and the loader checks the meaning after)."""
    return text.rstrip() + "\n"


# --- files ------------------------------------------------------------------------------------


def format_files(paths: Sequence[Path], settings: Settings, *, check: bool) -> list[FormatResult]:
    """Format every account file under `paths` (default: the accounts directory).

    With `check`, nothing is written: `changed` says which files would change.
    """
    from iasync.accounts.loader import find_account_files

    files = find_account_files(paths, settings)
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_THRESHOLD or workers < 2:
        return [_format_one(path, settings, check) for path in files]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # ruamel.yaml is pure Python (~10 ms a file): a whole repository is worth a pool.
    chunk = max(20, len(files) // (workers * 4))
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        count = len(files)
        return list(
            pool.map(_format_one, files, [settings] * count, [check] * count, chunksize=chunk)
        )


def _format_one(path: Path, settings: Settings, check: bool) -> FormatResult:
    from iasync.accounts.loader import display_path

    result = FormatResult(path, display_path(path, settings))
    try:
        _format_file(result, settings, check=check)
    except FmtError as exc:
        result.problems.append(Problem(result.shown, 1, 1, str(exc)))
    except OSError as exc:  # a read-only file or directory, say
        message = f"cannot be rewritten: {exc.strerror or exc}"
        result.problems.append(Problem(result.shown, 1, 1, message))
    except Exception as exc:
        # A corner of ruamel.yaml (its reading of a date raised, once): this file's line, not a
        # traceback that ends the run for every file.
        message = f"cannot be formatted ({type(exc).__name__}: {exc}); please report this file"
        result.problems.append(Problem(result.shown, 1, 1, message))
    return result


def _format_file(result: FormatResult, settings: Settings, *, check: bool) -> None:
    from iasync.accounts.loader import load_accounts

    before = load_accounts([result.path], settings)
    if not before.ok:
        result.problems.extend(before.problems)
        return
    raw = result.path.read_bytes()
    old_text = raw.decode("utf-8")
    new_text = format_text(old_text)
    if new_text == old_text:
        return
    result.changed = True
    target = _real_file(result.path)
    temporary = _write_temporary(target, new_text.encode())
    try:
        after = load_accounts([temporary], settings)
        if not after.ok or after.accounts[0].body_json != before.accounts[0].body_json:
            raise FmtError(
                "formatting would change what this file means, so it was left as it is; "
                "please report this file"
            )
        if not check:
            os.replace(temporary, target)
            fsync_directory(target.parent)
    finally:
        temporary.unlink(missing_ok=True)


# --- atomic writes ----------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once: a reader sees the old bytes or the new, never half.

    The temporary file sits beside the target (same file system, so the rename is atomic), is
    fsynced before the rename, and keeps the target's permission bits when it already exists.
    """
    write_file_atomically(_real_file(Path(path)), data, keep_mode=True)


def _real_file(path: Path) -> Path:
    """The file a symlink leads to: rewriting a symlinked file must not replace the link."""
    return path.resolve() if path.is_symlink() else path


def _write_temporary(path: Path, data: bytes) -> Path:
    """`data` in a hidden temporary file beside `path`, flushed to disk."""
    return write_temporary(path, data, keep_mode=True)
