"""A change of the account schema reads every file again, as a change of canonical format does:
files reused from the state (unread, in git) were validated against the schema they were applied
under, so each API generation's schema is pinned to the stamp it gives the state
(`canonical_format_for(api)`: CANONICAL_FORMAT, or CANONICAL_FORMAT + 1000 under `scoped`)."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from iasync.accounts.model import CANONICAL_FORMAT, canonical_format_for
from iasync.accounts.schema import SCHEMA_FILENAMES

UNSCOPED_SCHEMA = "7da0c2b8d09dc8284d4c483f6088d24308a8569775ba0b9cdbc6b623462effc0"
SCOPED_SCHEMA = "558413e084055dc7647395e2d7afcc0a900688768625a0515aadd30c4fd59d37"

#: A state's stamp (`canonical_format_for(api)`) -> the sha256 of the schema it goes with.
SCHEMA_OF_FORMAT = {
    1: UNSCOPED_SCHEMA,
    # 2 added the scoped API; the reference page's schema and bodies are as under 1.
    2: UNSCOPED_SCHEMA,
    1002: SCOPED_SCHEMA,
}


@pytest.mark.parametrize("api", ["unscoped", "scoped"])
def test_the_schema_changes_only_with_the_canonical_format(api: str) -> None:
    schema = resources.files("iasync").joinpath("data", SCHEMA_FILENAMES[api]).read_bytes()
    digest = hashlib.sha256(schema).hexdigest()
    stamp = canonical_format_for(api)
    assert SCHEMA_OF_FORMAT.get(stamp) == digest, (
        f"the account schema of api = {api!r} changed: bump CANONICAL_FORMAT in "
        "iasync/accounts/model.py (every file is then read and validated again instead of being "
        f"reused from the state) and add {stamp + 1}: {digest!r} to SCHEMA_OF_FORMAT here, with "
        "the other API generation's schema under its new stamp"
    )


def test_each_generation_has_its_own_stamp() -> None:
    assert canonical_format_for("unscoped") == CANONICAL_FORMAT
    assert canonical_format_for("scoped") == CANONICAL_FORMAT + 1000
