"""Issue 8, finding 8: the README's example account files are valid and fmt-clean, so what a new
user copies from it passes `iasync validate` and `iasync fmt --check` as it is."""

from __future__ import annotations

import re
from pathlib import Path

from iasync.accounts.fmt import format_text
from iasync.accounts.loader import load_accounts
from iasync.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def readme_accounts() -> list[str]:
    """Every ```yaml block of the README that is an account file (it has `identifiers:`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return [block for block in blocks if re.search(r"^identifiers:", block, re.MULTILINE)]


def test_the_readme_has_an_example_account() -> None:
    assert readme_accounts()


def settings_for(example: str) -> str:
    """The iasync.toml an example is written for: the scoped API's when its schema line names
    that API's schema (the README shows both generations), else the defaults."""
    if "investment-account-scoped.schema.json" in example:
        return 'accounts_dir = "accounts"\napi = "scoped"\nscope = "my-accounts"\n'
    return 'accounts_dir = "accounts"\n'


def test_every_readme_example_account_is_valid(tmp_path: Path) -> None:
    # Each in a project of its own: examples of one account under each API generation share
    # identifiers, as they may (they are never in one repository).
    for number, example in enumerate(readme_accounts()):
        project = tmp_path / f"project-{number}"
        (project / "accounts").mkdir(parents=True)
        (project / "iasync.toml").write_text(settings_for(example))
        (project / "accounts" / "example.yaml").write_text(example, encoding="utf-8")
        result = load_accounts([], load_settings(project, env={}))
        assert result.ok, [str(problem) for problem in result.problems]
        assert len(result.accounts) == 1


def test_every_readme_example_account_is_fmt_clean() -> None:
    for example in readme_accounts():
        assert format_text(example) == example
