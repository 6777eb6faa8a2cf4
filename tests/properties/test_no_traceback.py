"""No input makes validate, fmt or plan fail with a traceback (issue 13 item 6): random YAML,
valid accounts with random damage, and random bytes, each as an account file, through the
commands in-process (click's CliRunner: the same code as `iasync`, without a process each).

An `IasyncError` is a plain message and exit 1 (what `iasync.cli.main` prints); anything else
escaping a command would be a traceback for the user.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from iasync.cli import cli
from iasync.errors import IasyncError
from tests.properties.accounts import accounts, spellings

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["&a x", "*a", "!!python/object:os.system", "<<", "~", "1e400", "0012"]),
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    ["identifiers", "displayName", "accountType", "properties", "accountHolders", "description"]
)


@st.composite
def random_yaml(draw: st.DrawFn) -> str:
    """A YAML document, often shaped like an account (its known keys, wrong values)."""
    tree = draw(_TREES)
    if draw(st.booleans()):
        tree = draw(st.dictionaries(_KEYS, _TREES, min_size=1))
    return yaml.safe_dump(tree, default_flow_style=draw(st.sampled_from([None, True, False])))


@st.composite
def damaged_account(draw: st.DrawFn) -> str:
    """A valid account's text with a few characters deleted, repeated or replaced."""
    text = draw(spellings(draw(accounts())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        damage = draw(st.sampled_from(["delete", "repeat", "replace"]))
        if damage == "delete":
            text = text[:at] + text[at + 1 :]
        elif damage == "repeat":
            text = text[:at] + text[at : at + 8] * 2 + text[at + 8 :]
        else:
            text = text[:at] + draw(st.sampled_from(list(":-[]{}&*!|>'\"#\t\n %@`,?"))) + text[at:]
    return text


CONTENTS = st.one_of(
    random_yaml().map(str.encode),
    damaged_account().map(str.encode),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
)


def run_commands(content: bytes) -> None:
    """validate, validate -json, fmt --check, fmt, plan, plan -json on one account file."""
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "iasync.toml").write_text('accounts_dir = "accounts"\n')
        (root / "accounts").mkdir()
        (root / "accounts" / "a.yaml").write_bytes(content)
        cwd = os.getcwd()
        os.chdir(root)
        try:
            for args in (
                ["validate"],
                ["validate", "--format", "json"],
                ["fmt", "--check"],
                ["fmt"],
                ["plan"],
                ["plan", "-json"],
            ):
                result = runner.invoke(cli, args, env={"IASYNC_STATE": None})
                error = result.exception
                if error is None or isinstance(error, SystemExit | IasyncError):
                    continue
                raise AssertionError(f"iasync {' '.join(args)}: {error!r}") from error
        finally:
            os.chdir(cwd)


@given(CONTENTS)
def test_no_account_file_makes_a_command_fail_with_a_traceback(content: bytes) -> None:
    run_commands(content)
