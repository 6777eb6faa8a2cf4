"""A coverage-guided fuzz target (atheris, libFuzzer) for the account file reader (issue 13):
bytes -> UTF-8 text -> located YAML -> the rules and the schema -> the canonical body, as
`iasync validate` and `iasync plan` read a file. Any exception is a finding: the reader must
answer every input with located problems.

Run it (a 25-second hunt, from the repository root; `scripts/test` does so):

    .venv/bin/python tests/fuzz/fuzz_yaml.py -max_total_time=25 -atheris_runs=200000 \
        tests/fuzz/corpus

The corpus directory holds the seeds (the example accounts); libFuzzer adds what it finds
there only when given a writable copy: pass a scratch directory first to keep the seeds clean,
e.g. `fuzz_yaml.py -max_total_time=25 /tmp/fuzz-yaml tests/fuzz/corpus`. A crash is written
to `crash-<hash>` in the working directory; replay it with `fuzz_yaml.py crash-<hash>`.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["iasync"]):
    from iasync.accounts import yaml as located_yaml
    from iasync.accounts.format import DEFAULT_ACCOUNT_TYPES
    from iasync.accounts.reading import decode
    from iasync.accounts.rules import check_account
    from iasync.accounts.validation import _canonical, fast_validator


def read_account(data: bytes) -> Any:
    """What loading one account file does with its bytes, without the file."""
    text, located = decode(data)
    if located is not None:
        return located
    document = located_yaml.parse(text)
    if document.fatal:
        return document.errors
    findings = check_account(document.data, DEFAULT_ACCOUNT_TYPES, document.line_of)
    if findings or document.errors or not fast_validator().is_valid(document.data):
        return findings
    return _canonical("a.yaml", document)


def main() -> None:
    atheris.Setup(sys.argv, read_account)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
