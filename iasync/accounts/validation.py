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

from iasync.accounts.batch_request import describe_request, is_batch_request
from iasync.accounts.clashes import claims_of
from iasync.accounts.finding import display_path, undecodable_name
from iasync.accounts.gitblobs import blob_id
from iasync.accounts.loaded import FileOutcome, LoadedAccount
from iasync.accounts.reading import decode, file_hash, read_bytes
from iasync.errors import Problem
from iasync.settings import Settings

if TYPE_CHECKING:
    from iasync.accounts.rules import Finding
    from iasync.accounts.yaml import Document


#: Past this many problems in one file the rest are counted, not shown: thousands of faults in
#: one file are one mistake repeated (a wrong indent, a pasted list), and a screenful says so.
MAX_PROBLEMS_SHOWN = 50


def load_file(path: Path, settings: Settings, *, canonical: bool = True) -> FileOutcome:
    """Read, parse, validate and (with `canonical`) canonicalise one account file."""
    outcome = _load_file(path, settings, canonical)
    outcome.problems = capped(outcome.path, outcome.problems)
    return outcome


def capped(shown: str, problems: list[Problem]) -> list[Problem]:
    """The first `MAX_PROBLEMS_SHOWN` problems, then one line saying how many more there are."""
    if len(problems) <= MAX_PROBLEMS_SHOWN:
        return problems
    ordered = sorted(problems)
    rest = ordered[MAX_PROBLEMS_SHOWN:]
    more = Problem(
        shown,
        rest[0].line,
        rest[0].column,
        f"and {len(rest):,} more problems in this file from here on, not shown; "
        "fix those above and run again",
    )
    return [*ordered[:MAX_PROBLEMS_SHOWN], more]


def _load_file(path: Path, settings: Settings, canonical: bool) -> FileOutcome:
    from iasync.accounts import yaml

    shown = display_path(path, settings)
    if undecodable_name(str(path)):
        # Its name could not be written to a plan, the state or JSON output as it is.
        return FileOutcome(shown, None, [Problem(shown, 1, 1, _UNDECODABLE_NAME)], [])
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
    if is_batch_request(document.data):  # one clear line, not a problem a misplaced field
        return FileOutcome(
            shown, None, [Problem(shown, 1, 1, describe_request(document.data, shown))], []
        )
    problems.extend(_content_problems(shown, document, settings))
    claims = claims_of(document, settings)
    if problems or not canonical:
        return FileOutcome(shown, None, sorted(set(problems)), claims)
    body, model_problems = _canonical(shown, document, api=settings.api, scope=settings.scope)
    if body is None:
        return FileOutcome(shown, None, model_problems, claims)
    account = LoadedAccount(shown, file_hash(raw), body, blob_id(raw))
    return FileOutcome(shown, account, [], claims)


_UNDECODABLE_NAME = (
    "the file name is not UTF-8 (shown here with \\x escapes for the bytes that are not); "
    "rename the file"
)
_FAST_VALIDATORS: dict[str, Any] = {}


def fast_validator(api: str = "unscoped") -> Any:
    """The jsonschema-rs validator of an API generation's committed schema, built once per
    process.

    It only says yes or no (in microseconds); a file it rejects is explained by jsonschema's own
    validator (`iasync.accounts.schema.validator()`), which holds the detail a message needs.
    """
    if api not in _FAST_VALIDATORS:
        import jsonschema_rs

        from iasync.accounts.schema import load_schema

        # Formats are annotations in draft 2020-12, as for jsonschema: the two must agree.
        _FAST_VALIDATORS[api] = jsonschema_rs.validator_for(
            load_schema(api), validate_formats=False
        )
    return _FAST_VALIDATORS[api]


def _content_problems(shown: str, document: Document, settings: Settings) -> list[Problem]:
    """Checks and schema problems, one line per fault: the most specific message wins."""
    from iasync.accounts import rules

    specific = rules.check_account(
        document.data,
        settings.account_types,
        document.line_of,
        api=settings.api,
        default_scope=settings.scope,
    )
    general: list[Finding] = []
    fast = fast_validator(settings.api)
    if not fast.is_valid(document.data):
        from iasync.accounts import messages
        from iasync.accounts.schema import validator

        general = messages.explain(validator(settings.api).iter_errors(document.data), document)
        if not general:  # the two validators disagree: jsonschema-rs's own words, then
            general = [
                rules.Finding(tuple(error.instance_path), "value", error.message)
                for error in fast.iter_errors(document.data)
            ]
    under_bad_keys = _values_under_bad_keys(document, settings.api) if specific else []
    return [
        Problem(shown, line, column, message)
        for (line, column), message in _dedupe([specific, general, under_bad_keys], document)
    ]


def _values_under_bad_keys(document: Document, api: str) -> list[Finding]:
    """What the schema says of the values under badly formed keys, were the keys good.

    A bad key and a bad value under it are two faults; the schema alone would judge the value
    only once the key is fixed, so it is judged now, under a good key put in its place.
    """
    from iasync.accounts import rules

    renamed = rules.with_good_keys(document.data)
    if renamed is None:
        return []
    data, originals = renamed
    if fast_validator(api).is_valid(data):
        return []
    from iasync.accounts import messages
    from iasync.accounts.schema import validator

    errors = list(validator(api).iter_errors(data))
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


def _canonical(
    shown: str, document: Document, *, api: str = "unscoped", scope: str | None = None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The canonical body; the model's own complaint (rare: schema and checks come first)."""
    from pydantic import ValidationError

    from iasync.accounts.model import MissingScopeError, canonical_body, model_for

    try:
        account = model_for(api).model_validate(document.data)
        return canonical_body(account, scope=scope), []
    except MissingScopeError as exc:  # the rules say it first, where the file can be pointed at
        return None, [Problem(shown, 1, 1, str(exc))]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = document.existing_prefix(error["loc"])
            line, column = document.location(path, "value")
            message = error["msg"].removeprefix("Value error, ")
            problems.append(Problem(shown, line, column, message))
        return None, sorted(set(problems))
