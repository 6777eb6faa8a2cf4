"""A change of the account schema reads every file again, as a change of canonical format does:
files reused from the state (unread, in git) were validated against the schema they were applied
under, so the schema is pinned to `CANONICAL_FORMAT` here."""

from __future__ import annotations

import hashlib
from importlib import resources

from iasync.accounts.model import CANONICAL_FORMAT
from iasync.accounts.schema import SCHEMA_FILENAME

#: CANONICAL_FORMAT -> the sha256 of the schema it goes with.
SCHEMA_OF_FORMAT = {1: "7da0c2b8d09dc8284d4c483f6088d24308a8569775ba0b9cdbc6b623462effc0"}


def test_the_schema_changes_only_with_the_canonical_format() -> None:
    schema = resources.files("iasync").joinpath("data", SCHEMA_FILENAME).read_bytes()
    digest = hashlib.sha256(schema).hexdigest()
    assert SCHEMA_OF_FORMAT.get(CANONICAL_FORMAT) == digest, (
        "the account schema changed: bump CANONICAL_FORMAT in iasync/accounts/model.py (every "
        "file is then read and validated again instead of being reused from the state) and add "
        f"{CANONICAL_FORMAT + 1}: {digest!r} to SCHEMA_OF_FORMAT here"
    )
