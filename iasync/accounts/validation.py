"""One account file through the validation stages, each reporting `path:line:col: message`:

1. reading (`reading`): size cap, symlinks out of the project, UTF-8;
2. YAML (`yaml`): PyYAML's C composer gives nodes with marks; plain data is built from them by
   hand (safe tags only, no aliases, no duplicate keys, YAML 1.1 traps refused), with the key
   node and value node of every path recorded;
3. the rules a schema cannot express (`rules`) and the committed JSON Schema (`schema`), one line
   per fault whichever finds it; the schema's verdict comes from jsonschema-rs (microseconds a
   file) and, for the few files it rejects, jsonschema explains each fault (`messages`);
4. the model (`model.AccountFile`), only to build the canonical body of a valid file (skipped by
   `iasync validate`, which wants only the problems).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from iasync.accounts.clashes import claims_of
from iasync.accounts.finding import display_path
from iasync.accounts.gitblobs import blob_id
from iasync.accounts.loaded import FileOutcome, LoadedAccount
from iasync.accounts.reading import decode, file_hash, read_bytes
from iasync.errors import Problem
from iasync.settings import Settings

if TYPE_CHECKING:
    from iasync.accounts.rules import Finding
    from iasync.accounts.yaml import Document


def load_file(path: Path, settings: Settings, *, canonical: bool = True) -> FileOutcome:
    """Read, parse, validate and (with `canonical`) canonicalise one account file."""
    from iasync.accounts import yaml

    shown = display_path(path, settings)
    raw, problem = read_bytes(path, settings)
    if problem is not None:
        return FileOutcome(shown, None, [Problem(shown, 1, 1, problem)], [])
    assert raw is not None
    text, located = decode(raw)
    if located is not None:
        line, column, message = located
        return FileOutcome(shown, None, [Problem(shown, line, column, message)], [])
    document = yaml.parse(text)
    problems = [Problem(shown, line, column, message) for line, column, message in document.errors]
    if document.fatal:
        return FileOutcome(shown, None, problems, [])
    problems.extend(_content_problems(shown, document, settings))
    claims = claims_of(document)
    if problems or not canonical:
        return FileOutcome(shown, None, sorted(set(problems)), claims)
    body, model_problems = _canonical(shown, document)
    if body is None:
        return FileOutcome(shown, None, model_problems, claims)
    account = LoadedAccount(shown, file_hash(raw), body, blob_id(raw))
    return FileOutcome(shown, account, [], claims)


_FAST_VALIDATOR: Any = None


def fast_validator() -> Any:
    """The jsonschema-rs validator of the committed schema, built once per process.

    It only says yes or no (in microseconds); a file it rejects is explained by jsonschema's own
    validator (`iasync.accounts.schema.validator()`), which holds the detail a message needs.
    """
    global _FAST_VALIDATOR
    if _FAST_VALIDATOR is None:
        import jsonschema_rs

        from iasync.accounts.schema import load_schema

        # Formats are annotations in draft 2020-12, as for jsonschema: the two must agree.
        _FAST_VALIDATOR = jsonschema_rs.validator_for(load_schema(), validate_formats=False)
    return _FAST_VALIDATOR


def _content_problems(shown: str, document: Document, settings: Settings) -> list[Problem]:
    """Checks and schema problems, one line per fault: the most specific message wins."""
    from iasync.accounts import rules

    specific = rules.check_account(document.data, settings.account_types, document.line_of)
    general: list[Finding] = []
    fast = fast_validator()
    if not fast.is_valid(document.data):
        from iasync.accounts import messages
        from iasync.accounts.schema import validator

        general = messages.explain(validator().iter_errors(document.data), document)
        if not general:  # the two validators disagree: jsonschema-rs's own words, then
            general = [
                rules.Finding(tuple(error.instance_path), "value", error.message)
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
    from iasync.accounts import rules

    renamed = rules.with_good_keys(document.data)
    if renamed is None:
        return []
    data, originals = renamed
    if fast_validator().is_valid(data):
        return []
    from iasync.accounts import messages
    from iasync.accounts.schema import validator

    errors = list(validator().iter_errors(data))
    for error in errors:
        _restore_keys(error, originals)
    findings = messages.explain(errors, document)
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

    from iasync.accounts.model import AccountFile, canonical_body

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
