"""Find and read account files into canonical request bodies, with every problem located.

One file goes through four stages, each reporting `path:line:col: message` problems:

1. reading (`_read_bytes`, `_decode`): size cap, symlinks out of the project, UTF-8;
2. YAML (`iasync.yamlnodes`): PyYAML's C composer gives nodes with marks; plain data is built
   from them by hand (safe tags only, no aliases, no duplicate keys, YAML 1.1 traps refused), with
   the key node and value node of every path recorded;
3. the checks a schema cannot express (`iasync.checks`) and the committed JSON Schema
   (`iasync.schema`), one line per fault whichever finds it; the schema's verdict comes from
   jsonschema-rs (microseconds a file) and, for the few files it rejects, jsonschema explains
   each fault (`iasync.schemaerrors`);
4. the model (`iasync.model.AccountFile`), only to build the canonical body of a valid file
   (skipped by `iasync validate`, which wants only the problems).

Files that claim the same account identifier are reported after all files are read, each naming
the other. Above a few hundred files the work is spread over a process pool (one per core).

Given the last-applied state (`reuse=state`), a file whose path and bytes are those a record was
applied from is not read again: it gives the record's body, which is what the file gave then, as
long as the state's bodies were made under this iasync's `CANONICAL_FORMAT`. Only new, edited and
moved files go through the stages above (10,000 files: ~3 s instead of ~13 s). `iasync plan` and
`iasync apply` both load this way, so they always agree.
"""

from __future__ import annotations

import gc
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from iasync.errors import Problem
from iasync.settings import Settings

if TYPE_CHECKING:
    from iasync.checks import Finding
    from iasync.states import AccountRecord, State
    from iasync.yamlnodes import Document

ACCOUNT_SUFFIXES = (".yaml", ".yml")
#: An account file is a few hundred bytes; anything past this is a mistake, not an account.
MAX_FILE_BYTES = 1024 * 1024
#: Below this many files one process is quicker than starting a pool.
PARALLEL_THRESHOLD = 300


@dataclass(frozen=True)
class LoadedAccount:
    """One valid account file and the canonical request it becomes."""

    path: str  # relative to the project root, POSIX separators: the correlation id in LUSID
    file_hash: str  # "sha256:<hex>" of the file's bytes
    body: dict[str, Any]  # canonical UpsertInvestmentAccountRequest

    @cached_property
    def body_json(self) -> bytes:
        from iasync.model import canonical_json

        return canonical_json(self.body)

    @cached_property
    def body_hash(self) -> str:
        return "sha256:" + hashlib.sha256(self.body_json).hexdigest()

    @cached_property
    def identity(self) -> frozenset[tuple[str, str]]:
        from iasync.model import identity_of

        return identity_of(self.body)


@dataclass
class LoadResult:
    accounts: list[LoadedAccount] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0  # how many account files were found (read, or reused from the state)
    reused: int = 0  # how many of them gave a state record's body without being read

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ClaimedIdentifier:
    """An account identifier a file claims, and where; for the cross-file duplicate check."""

    key: str
    value: str
    line: int
    column: int


@dataclass
class FileOutcome:
    """What reading one file gave: the account (if valid) and its problems."""

    path: str
    account: LoadedAccount | None
    problems: list[Problem]
    claims: list[ClaimedIdentifier]


# --- finding files ----------------------------------------------------------------------------


def display_path(path: Path, settings: Settings) -> str:
    """The path as problems and correlation ids show it: relative to the project root, POSIX."""
    absolute, root = os.path.abspath(path), os.path.abspath(settings.root)
    if _within(absolute, root) and absolute != root:
        return absolute[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
    return path.as_posix()


def find_account_files(paths: Sequence[Path], settings: Settings) -> list[Path]:
    """Account files under `paths` (files taken as given, directories searched), sorted.

    Hidden directories (.git, .iasync, ...) are skipped; symlinked directories are not followed.
    A path that does not exist is returned as is, for `load_accounts` to report.
    """
    return [
        Path(found.given) if found.path is None else found.path for found in _find(paths, settings)
    ]


class _Found(NamedTuple):  # a tuple: built 10,000 times a run, in a fraction of a dataclass's time
    """A file found: as named (`given`, the `Path` itself when named outright) and absolute."""

    given: str
    absolute: str
    path: Path | None  # the argument itself, when the file was named rather than found


def _find(paths: Sequence[Path], settings: Settings) -> list[_Found]:
    """`find_account_files` as strings, in the order `Path`s sort (by their parts)."""
    found: dict[str, tuple[tuple[str, ...], _Found]] = {}  # by absolute path: read once
    for path in paths or [settings.accounts_path]:
        if path.is_dir():
            for key, given, absolute in _walk(path):
                found.setdefault(absolute, (key, _Found(given, absolute, None)))
        else:
            absolute = os.path.abspath(path)
            found.setdefault(absolute, (path.parts, _Found(str(path), absolute, path)))
    # Path order is the order of the parts tuples (not of the strings: "a/b" < "a-c").
    return [item for _, item in sorted(found.values(), key=_first)]


def _first(pair: tuple[tuple[str, ...], _Found]) -> tuple[str, ...]:
    return pair[0]


def _walk(directory: Path) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """(parts, path as `Path(parent, name)` would spell it, absolute path) of each account file.

    As `os.walk` would find them (a symlinked directory is listed but not entered; an unreadable
    one is skipped), with one `os.scandir` a directory and no `Path` a file: 10,000 files in
    milliseconds.
    """
    top = str(directory)
    shown = "" if top == "." else top if top.endswith(os.sep) else top + os.sep
    absolute = os.path.abspath(top)
    absolute = absolute if absolute.endswith(os.sep) else absolute + os.sep
    pending = [(directory.parts, shown, absolute, top)]
    while pending:
        parts, shown, absolute, where = pending.pop()
        try:
            with os.scandir(where) as listing:
                entries = list(listing)
        except OSError:
            continue  # unreadable: skipped, as os.walk skips it
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if _is_dir(entry):
                if not _is_symlink(entry):
                    pending.append(
                        (
                            (*parts, name),
                            shown + name + os.sep,
                            absolute + name + os.sep,
                            entry.path,
                        )
                    )
            elif name.endswith(ACCOUNT_SUFFIXES):
                yield (*parts, name), shown + name, absolute + name


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symlink, as os.walk does to sort dirs from files
    except OSError:
        return False


def _is_symlink(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


# --- loading ----------------------------------------------------------------------------------


def load_accounts(
    paths: Sequence[Path],
    settings: Settings,
    *,
    canonical: bool = True,
    reuse: State | None = None,
) -> LoadResult:
    """Read every account file under `paths`; valid ones become `LoadedAccount`s.

    Problems are sorted by file, line and column; a file with any problem gives no account.
    With `canonical=False` (`iasync validate`) only the problems are wanted: no account is built,
    and pydantic is never imported (a one-file validate starts in a fraction of the time). The
    model cannot refuse what the schema and the checks accept, so the problems are the same.

    With `reuse` (the last-applied state), files as applied give their record's body unread (see
    the module docstring). The result is the one reading every file would give: a file read now
    that claims an identifier of a reused one has that one read too, so that the clash is
    reported in both files, located, as without reuse. The trade-off: an unchanged file is not
    validated again, so a stricter setting (fewer `account_types`) shows up in `iasync validate`.
    """
    found = _find(paths, settings)
    reused = _reusable(found, settings, reuse) if canonical and reuse is not None else {}
    to_read = [file for file in found if file.given not in reused]
    # Thousands of small trees stay alive while loading: the cyclic GC would rescan them over
    # and over for nothing (the data has no cycles). A third of the time, without this.
    collecting = gc.isenabled()
    gc.disable()
    try:
        outcomes = _load_found(to_read, settings, canonical)
        clashing = _claimed_by_others(outcomes.values(), reused)
        outcomes.update(_load_found(clashing, settings, canonical))
        for file in clashing:
            del reused[file.given]
    finally:
        if collecting:
            gc.enable()
    _report_shared_identifiers(list(outcomes.values()))
    result = LoadResult(files=len(found), reused=len(reused))
    for file in found:  # the accounts in file order, whichever way each was had
        outcome = outcomes.get(file.given)
        if outcome is None:
            result.accounts.append(reused[file.given])
            continue
        result.problems.extend(outcome.problems)
        if outcome.account is not None and not outcome.problems:
            result.accounts.append(outcome.account)
    result.problems.sort()
    return result


def _reusable(
    files: Sequence[_Found], settings: Settings, state: State
) -> dict[str, LoadedAccount]:
    """The files byte for byte as a state record was applied from: file -> the record's account."""
    from iasync.model import CANONICAL_FORMAT

    if state.canonical_format != CANONICAL_FORMAT:
        return {}  # bodies made by another iasync may not be what this one makes of the files
    # A record's file is the root + its source; files are matched by absolute path, so PATH
    # arguments relative to the working directory find their records too. A file that does not
    # match (through a symlinked directory, say) is simply read: slower, never wrong.
    root = os.path.abspath(settings.root)
    applied = {os.path.join(root, record.source): record for record in state.accounts.values()}
    buffer = bytearray(_HASH_BUFFER_BYTES)
    reused = {}
    for file in files:
        record = applied.get(file.absolute)
        if record is not None and _same_bytes(file.given, record.source_hash, buffer):
            reused[file.given] = _as_loaded(record)
    return reused


def _load_found(files: list[_Found], settings: Settings, canonical: bool) -> dict[str, FileOutcome]:
    """Each file's outcome, by the file as named."""
    paths = [Path(file.given) if file.path is None else file.path for file in files]
    outcomes = _load_all(paths, settings, canonical)
    return {file.given: outcome for file, outcome in zip(files, outcomes, strict=True)}


def _as_loaded(record: AccountRecord) -> LoadedAccount:
    """The account a file gave when applied, with the hash and identity the state knows.

    `body_hash` and `identity` are cached properties: given here, they need not be computed
    again for thousands of unchanged accounts. The fields are set as `__init__` would set them,
    without its three `object.__setattr__` calls (a frozen dataclass's): thousands a run.
    """
    account = object.__new__(LoadedAccount)
    account.__dict__.update(
        path=record.source,
        file_hash=record.source_hash,
        body=record.body,
        body_hash=record.body_hash,
        identity=record.identity,
    )
    return account


#: Files are hashed through one buffer this size: an account file takes one read (and one more
#: to see the end).
_HASH_BUFFER_BYTES = 64 * 1024


def _same_bytes(path: str, file_hash: str, buffer: bytearray) -> bool:
    try:
        # O_NOFOLLOW: a symlink is left to be read, which checks where it leads.
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return False  # a symlink, or unreadable: reading it reports why
    # Reads into the caller's buffer: no file object, and no buffer allocated per file (as
    # `hashlib.file_digest` and `os.read` do; fresh 64 KiB blocks page-fault on every file).
    digest = hashlib.sha256()
    try:
        with memoryview(buffer) as view:
            while size := os.readv(fd, [view]):
                digest.update(view[:size])
    except OSError:
        return False
    finally:
        os.close(fd)
    return "sha256:" + digest.hexdigest() == file_hash


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _claimed_by_others(
    outcomes: Iterable[FileOutcome], reused: dict[str, LoadedAccount]
) -> list[_Found]:
    """The reused files holding an identifier that a file read now claims too (rare)."""
    if not reused:
        return []
    claimed = {(claim.key, claim.value) for outcome in outcomes for claim in outcome.claims}
    if not claimed:
        return []
    return [
        _Found(file, os.path.abspath(file), None)
        for file, account in reused.items()
        if account.identity & claimed
    ]


def _load_all(files: list[Path], settings: Settings, canonical: bool) -> list[FileOutcome]:
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_THRESHOLD or workers < 2:
        return _load_chunk(files, settings, canonical)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Forked workers start in milliseconds with everything imported; without fork, stay serial.
    if "fork" not in multiprocessing.get_all_start_methods():
        return _load_chunk(files, settings, canonical)

    # Build the validators once here: forked workers inherit them instead of each building its own.
    _fast_validator()
    chunk = max(50, len(files) // (workers * 4))
    chunks = [files[i : i + chunk] for i in range(0, len(files), chunk)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(_load_chunk, chunks, [settings] * len(chunks), [canonical] * len(chunks))
        return [outcome for outcomes in results for outcome in outcomes]


def _load_chunk(files: list[Path], settings: Settings, canonical: bool) -> list[FileOutcome]:
    return [load_file(path, settings, canonical=canonical) for path in files]


def load_file(path: Path, settings: Settings, *, canonical: bool = True) -> FileOutcome:
    """Read, parse, validate and (with `canonical`) canonicalise one account file."""
    from iasync import yamlnodes

    shown = display_path(path, settings)
    raw, problem = _read_bytes(path, settings)
    if problem is not None:
        return FileOutcome(shown, None, [Problem(shown, 1, 1, problem)], [])
    assert raw is not None
    text, located = _decode(raw)
    if located is not None:
        line, column, message = located
        return FileOutcome(shown, None, [Problem(shown, line, column, message)], [])
    document = yamlnodes.parse(text)
    problems = [Problem(shown, line, column, message) for line, column, message in document.errors]
    if document.fatal:
        return FileOutcome(shown, None, problems, [])
    problems.extend(_content_problems(shown, document, settings))
    claims = _claims(document)
    if problems or not canonical:
        return FileOutcome(shown, None, sorted(set(problems)), claims)
    body, model_problems = _canonical(shown, document)
    if body is None:
        return FileOutcome(shown, None, model_problems, claims)
    file_hash = "sha256:" + hashlib.sha256(raw).hexdigest()
    return FileOutcome(shown, LoadedAccount(shown, file_hash, body), [], claims)


def _read_bytes(path: Path, settings: Settings) -> tuple[bytes | None, str | None]:
    """The file's bytes, or why they cannot be read (a message for the user)."""
    try:
        escape = _symlink_escape(str(path), str(settings.root))
        if escape is not None:
            return None, (
                f"a symlink to {escape}, outside the project ({settings.root}); "
                "account files must live in the repository"
            )
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None, "not a regular file"
        if status.st_size > MAX_FILE_BYTES:
            return None, _too_big(status.st_size)
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, "no such file or directory"
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}"
    if len(raw) > MAX_FILE_BYTES:  # grew since stat
        return None, _too_big(len(raw))
    return raw, None


def _too_big(size: int) -> str:
    return (
        f"the file is {size:,} bytes; an account file may be at most {MAX_FILE_BYTES:,} bytes "
        "(1 MiB): is it really an account?"
    )


@lru_cache(maxsize=4096)
def _real_directory(directory: str) -> str:
    # Thousands of files share a few directories: resolve each directory once.
    return os.path.realpath(directory)


def _symlink_escape(path: str, root: str) -> str | None:
    """Where `path` really leads, when it lies in the project but resolves outside it."""
    absolute, root = os.path.abspath(path), os.path.abspath(root)
    real_root = _real_directory(root)
    if not (_within(absolute, root) or _within(absolute, real_root)):
        return None  # a file outside the project, named on purpose: read it as given
    directory, name = os.path.split(absolute)
    real = os.path.join(_real_directory(directory), name)
    if os.path.islink(real):
        real = os.path.realpath(real)
    return None if _within(real, real_root) else real


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _decode(raw: bytes) -> tuple[str, tuple[int, int, str] | None]:
    """UTF-8 text (without a byte-order mark), or where and why it is not UTF-8."""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start]
        return "", (
            line,
            column,
            f"not UTF-8 text (byte 0x{byte:02x}); save the file with UTF-8 encoding",
        )


# --- schema, checks, model --------------------------------------------------------------------


_FAST_VALIDATOR: Any = None


def _fast_validator() -> Any:
    """The jsonschema-rs validator of the committed schema, built once per process.

    It only says yes or no (in microseconds); a file it rejects is explained by jsonschema's own
    validator (`iasync.schema.validator()`), which holds the detail a message needs.
    """
    global _FAST_VALIDATOR
    if _FAST_VALIDATOR is None:
        import jsonschema_rs

        from iasync.schema import load_schema

        # Formats are annotations in draft 2020-12, as for jsonschema: the two must agree.
        _FAST_VALIDATOR = jsonschema_rs.validator_for(load_schema(), validate_formats=False)
    return _FAST_VALIDATOR


def _content_problems(shown: str, document: Document, settings: Settings) -> list[Problem]:
    """Checks and schema problems, one line per fault: the most specific message wins."""
    from iasync import checks

    specific = checks.check_account(document.data, settings.account_types, document.line_of)
    general: list[Finding] = []
    fast = _fast_validator()
    if not fast.is_valid(document.data):
        from iasync import schemaerrors
        from iasync.schema import validator

        general = schemaerrors.explain(validator().iter_errors(document.data), document)
        if not general:  # the two validators disagree: jsonschema-rs's own words, then
            general = [
                checks.Finding(tuple(error.instance_path), "value", error.message)
                for error in fast.iter_errors(document.data)
            ]
    under_bad_keys = _values_under_bad_keys(document) if specific else []
    return [
        Problem(shown, line, column, message)
        for (line, column), message in _dedupe([specific, general, under_bad_keys], document)
    ]


def _values_under_bad_keys(document: Document) -> list[Finding]:
    """What the schema says of the values under badly formed keys, were the keys good.

    A bad key and a bad value under it are two faults; the schema alone would judge the value
    only once the key is fixed, so it is judged now, under a good key put in its place.
    """
    from iasync import checks

    renamed = checks.with_good_keys(document.data)
    if renamed is None:
        return []
    data, originals = renamed
    if _fast_validator().is_valid(data):
        return []
    from iasync import schemaerrors
    from iasync.schema import validator

    errors = list(validator().iter_errors(data))
    for error in errors:
        _restore_keys(error, originals)
    findings = schemaerrors.explain(errors, document)
    bad = set(originals.values())
    return [
        finding
        for finding in findings
        if any(finding.path[: len(path)] == path for path in bad)
        and not (finding.path in bad and finding.role == "key")
    ]


def _restore_keys(
    error: Any, originals: dict[tuple[str | int, ...], tuple[str | int, ...]]
) -> None:
    """Put the original keys back in the paths of a jsonschema error and its sub-errors."""
    names = {renamed[-1]: original[-1] for renamed, original in originals.items()}
    for item in [error, *_sub_errors(error)]:
        item.path = type(item.path)(names.get(part, part) for part in item.path)
        item.relative_path = item.path


def _sub_errors(error: Any) -> list[Any]:
    found = []
    for sub in error.context or ():
        found += [sub, *_sub_errors(sub)]
    return found


def _dedupe(groups: list[list[Finding]], document: Document) -> list[tuple[tuple[int, int], str]]:
    """Located messages, without those about a node that something more specific covers.

    `groups` are in order of precedence (checks before the schema): a finding is dropped when an
    earlier group already has one about the same node in the same role, or when the YAML stage
    reported the node or one above it (a null, a misread number, an alias). A key and its value
    are separate faults: a bad key is reported even when its value is bad too, and the other way
    round; the YAML stage only ever reports values, so it blocks a key only from above.
    """
    taken: set[tuple[tuple[str | int, ...], str]] = set()
    out: list[tuple[tuple[int, int], str]] = []
    for findings in groups:
        mine = set()
        for finding in findings:
            node = finding.path[:-1] if finding.role == "key" else finding.path
            if (finding.path, finding.role) in taken or document.blocked(node):
                continue
            mine.add((finding.path, finding.role))
            located = (document.location(finding.path, finding.role), finding.message)
            if located not in out:
                out.append(located)
        taken |= mine
    return out


def _canonical(shown: str, document: Document) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The canonical body; the model's own complaint (rare: schema and checks come first)."""
    from pydantic import ValidationError

    from iasync.model import AccountFile, canonical_body

    try:
        return canonical_body(AccountFile.model_validate(document.data)), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = document.existing_prefix(error["loc"])
            line, column = document.location(path, "value")
            message = error["msg"].removeprefix("Value error, ")
            problems.append(Problem(shown, line, column, message))
        return None, sorted(set(problems))


# --- identifiers claimed by two files ---------------------------------------------------------


def _claims(document: Document) -> list[ClaimedIdentifier]:
    identifiers = document.data.get("identifiers") if isinstance(document.data, dict) else None
    if not isinstance(identifiers, dict):
        return []
    claims = []
    for key, value in identifiers.items():
        path: tuple[str | int, ...] = ("identifiers", key)
        if isinstance(value, dict):
            label = value.get("value")
            value = label.get("labelValue") if isinstance(label, dict) else None
            path = ("identifiers", key, "value", "labelValue")
        if isinstance(key, str) and isinstance(value, str):
            line, column = document.location(path, "value")
            claims.append(ClaimedIdentifier(key, value, line, column))
    return claims


def _report_shared_identifiers(outcomes: list[FileOutcome]) -> None:
    """Two files claiming one identifier would be one LUSID account: a problem in each file."""
    owners: dict[tuple[str, str], list[FileOutcome]] = {}
    for outcome in outcomes:
        for claim in outcome.claims:
            owners.setdefault((claim.key, claim.value), []).append(outcome)
    for (key, value), claimants in owners.items():
        files = sorted({outcome.path for outcome in claimants})
        if len(files) < 2:
            continue
        for outcome in claimants:
            others = ", ".join(path for path in files if path != outcome.path)
            for claim in outcome.claims:
                if (claim.key, claim.value) == (key, value):
                    outcome.problems.append(
                        Problem(
                            outcome.path,
                            claim.line,
                            claim.column,
                            f"identifier {key}={value} is also claimed by {others}; "
                            "each account must have its own identifiers",
                        )
                    )
            outcome.account = None
