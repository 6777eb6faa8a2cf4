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


def api_of(example: str) -> str:
    """The API generation an example is written for: today's (scoped) ones name their scope."""
    return "scoped" if re.search(r"^scope:", example, re.MULTILINE) else "unscoped"


def test_every_readme_example_account_is_valid(tmp_path: Path) -> None:
    # Each example in a project of its own: two examples may show one account in two forms.
    for number, example in enumerate(readme_accounts()):
        project = tmp_path / f"project-{number}"
        accounts = project / "accounts"
        accounts.mkdir(parents=True)
        settings = f'accounts_dir = "accounts"\napi = "{api_of(example)}"\n'
        (project / "iasync.toml").write_text(settings, encoding="utf-8")
        (accounts / "example.yaml").write_text(example, encoding="utf-8")
        result = load_accounts([], load_settings(project, env={}))
        assert result.ok, (number, [str(problem) for problem in result.problems])
        assert len(result.accounts) == 1


def test_every_readme_example_account_is_fmt_clean() -> None:
    for example in readme_accounts():
        assert format_text(example) == example
