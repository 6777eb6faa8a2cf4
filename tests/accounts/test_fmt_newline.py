"""Issue 8, finding 8: fmt ends a file with exactly one newline, and its --check message counts
right ("1 file ... rewrite it", "2 files ... rewrite them")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iasync.accounts.fmt import format_text

HEAD = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_1
displayName: One
accountType: Personal
"""


@pytest.mark.parametrize(
    "ending",
    ["\n\n\n", "\n\n", "\n  \n\n", "", "# the end\n\n\n"],
    ids=["blank-lines", "one-blank-line", "spaces", "no-newline", "after-a-comment"],
)
def test_a_file_ends_with_exactly_one_newline(ending: str) -> None:
    text = HEAD.removesuffix("\n") + ("\n" if ending.startswith("#") else "") + ending
    formatted = format_text(text)
    assert formatted.endswith("\n") and not formatted.endswith("\n\n")
    assert formatted.rstrip("\n").rstrip() == formatted.rstrip("\n")
    assert format_text(formatted) == formatted
    if ending.startswith("#"):
        assert formatted.endswith("# the end\n")


def run_fmt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iasync", "fmt", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_check_message_counts_one_file_and_several(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    (accounts / "a.yaml").write_text(HEAD + "\n\n")

    one = run_fmt(tmp_path, "--check")
    assert one.returncode == 1
    assert one.stderr == "1 file would be reformatted; run `iasync fmt` to rewrite it.\n"

    (accounts / "b.yaml").write_text(HEAD.replace("IA_1", "IA_2") + "\n")
    two = run_fmt(tmp_path, "--check")
    assert two.stderr == "2 files would be reformatted; run `iasync fmt` to rewrite them.\n"

    assert run_fmt(tmp_path).returncode == 0
    assert (accounts / "a.yaml").read_text() == HEAD
