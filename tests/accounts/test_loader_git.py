"""Loading in a git work tree: a file git reports unmodified, whose blob id is the one recorded
when it was applied, is not opened; any other file is hashed (and read if it changed).

Each record's body is marked ("as recorded") to tell a body reused from one read, and its
`source_hash` is made wrong on purpose where a test shows that a file was not opened: a file
compared by its bytes would not match it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from iasync.accounts.gitblobs import blob_id
from iasync.accounts.loader import load_accounts
from iasync.plans.plan import reusable_files
from iasync.settings import Settings
from iasync.states import AccountRecord, State

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
NOT_THESE_BYTES = "sha256:" + "0" * 64


def account(ident: str, extra: str = "") -> str:
    return f"identifiers:\n  {EXT}: {ident}\ndisplayName: One\naccountType: Personal\n" + extra


def git(root: Path, *args: str) -> None:
    command = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*command, *args], capture_output=True, check=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "accounts").mkdir()
    for name in ("a", "b"):
        (tmp_path / "accounts" / f"{name}.yaml").write_text(account(f"IA_{name}"))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "accounts")
    return Settings(root=tmp_path)


def applied_state(settings: Settings, *, wrong_hashes: bool = True) -> State:
    """The state apply leaves after sending every file as it is now, bodies marked; with
    `wrong_hashes`, no file's bytes match its record's hash (only its blob id can)."""
    from iasync.accounts.model import CANONICAL_FORMAT

    state = State("lineage", 1, canonical_format=CANONICAL_FORMAT)
    for n, loaded in enumerate(load_accounts([], settings).accounts):
        raw = (settings.root / loaded.path).read_bytes()
        record = AccountRecord(
            lusid_id=f"LUID_{n}",
            version=1,
            identifiers=dict(loaded.identity),
            body={**loaded.body, "description": "as recorded"},
            body_hash=loaded.body_hash,
            source=loaded.path,
            source_hash=NOT_THESE_BYTES if wrong_hashes else loaded.file_hash,
            applied_at="2026-01-01T00:00:00+00:00",
            commit=None,
        )
        assert loaded.file_blob == blob_id(raw)  # a file read gives the blob id of its bytes
        state.record(record.with_blob(loaded.file_blob))
    return state


def descriptions(settings: Settings, state: State) -> dict[str, str | None]:
    result = load_accounts([], settings, reuse=reusable_files(state))
    assert result.ok, result.problems
    return {a.path: a.body.get("description") for a in result.accounts}


def test_a_clean_tracked_file_with_its_recorded_blob_is_not_opened(settings: Settings) -> None:
    state = applied_state(settings)

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert (result.files, result.reused) == (2, 2)
    assert {a.path: a.body["description"] for a in result.accounts} == {
        "accounts/a.yaml": "as recorded",
        "accounts/b.yaml": "as recorded",
    }
    # What apply records for them: the blob id git holds, the hash recorded.
    assert {a.file_blob for a in result.accounts} == {
        rec.source_blob for rec in state.accounts.values()
    }
    assert {a.file_hash for a in result.accounts} == {NOT_THESE_BYTES}


def test_a_modified_tracked_file_is_read(settings: Settings) -> None:
    state = applied_state(settings)
    (settings.root / "accounts" / "b.yaml").write_text(account("IA_b", "description: edited\n"))

    assert descriptions(settings, state) == {
        "accounts/a.yaml": "as recorded",
        "accounts/b.yaml": "edited",
    }


def test_a_file_changed_and_added_to_the_index_is_read(settings: Settings) -> None:
    state = applied_state(settings)
    (settings.root / "accounts" / "b.yaml").write_text(account("IA_b", "description: staged\n"))
    git(settings.root, "add", "accounts/b.yaml")

    assert descriptions(settings, state)["accounts/b.yaml"] == "staged"


def test_a_file_changed_and_committed_is_read(settings: Settings) -> None:
    state = applied_state(settings)
    (settings.root / "accounts" / "b.yaml").write_text(account("IA_b", "description: merged\n"))
    git(settings.root, "commit", "-q", "-a", "-m", "edit")

    assert descriptions(settings, state)["accounts/b.yaml"] == "merged"


def test_an_untracked_file_is_read_even_with_a_recorded_blob(settings: Settings) -> None:
    (settings.root / "accounts" / "c.yaml").write_text(account("IA_c"))
    state = applied_state(settings)  # c's record holds the blob id of c's bytes

    assert descriptions(settings, state)["accounts/c.yaml"] is None  # read: not vouched for


def test_an_untracked_file_as_applied_is_reused_by_its_bytes(settings: Settings) -> None:
    (settings.root / "accounts" / "c.yaml").write_text(account("IA_c"))
    state = applied_state(settings, wrong_hashes=False)

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert result.reused == 3
    (c,) = [a for a in result.accounts if a.path == "accounts/c.yaml"]
    assert c.file_blob == blob_id((settings.root / "accounts" / "c.yaml").read_bytes())


def test_a_file_git_is_told_to_assume_unchanged_is_read(settings: Settings) -> None:
    state = applied_state(settings)
    git(settings.root, "update-index", "--assume-unchanged", "accounts/b.yaml")
    (settings.root / "accounts" / "b.yaml").write_text(account("IA_b", "description: hidden\n"))

    assert descriptions(settings, state)["accounts/b.yaml"] == "hidden"


def test_a_record_without_a_blob_id_is_compared_by_bytes(settings: Settings) -> None:
    state = applied_state(settings, wrong_hashes=False)
    for record in state.accounts.values():
        record.source_blob = None  # as in a state from before blob ids

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert result.reused == 2
    # The blob id git gives, for apply to record: the next plan need not open them.
    assert sorted(a.file_blob or "" for a in result.accounts) == sorted(
        blob_id((settings.root / a.path).read_bytes()) for a in result.accounts
    )


def test_outside_git_every_file_is_compared_by_bytes(settings: Settings) -> None:
    state = applied_state(settings)
    subprocess.run(["rm", "-rf", str(settings.root / ".git")], check=True)

    assert descriptions(settings, state) == {"accounts/a.yaml": None, "accounts/b.yaml": None}
    state = applied_state(settings, wrong_hashes=False)
    assert load_accounts([], settings, reuse=reusable_files(state)).reused == 2


def test_without_git_every_file_is_compared_by_bytes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = applied_state(settings)
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))

    assert descriptions(settings, state) == {"accounts/a.yaml": None, "accounts/b.yaml": None}


def test_a_change_of_canonical_format_reads_every_file(settings: Settings) -> None:
    state = applied_state(settings, wrong_hashes=False)
    state.canonical_format = -1

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert result.reused == 0
    assert descriptions(settings, state) == {"accounts/a.yaml": None, "accounts/b.yaml": None}


def test_a_new_file_claiming_an_unopened_files_identifier_is_located_in_both(
    settings: Settings,
) -> None:
    state = applied_state(settings)
    (settings.root / "accounts" / "c.yaml").write_text(account("IA_a"))

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert sorted(p.path for p in result.problems) == ["accounts/a.yaml", "accounts/c.yaml"]
    assert [a.path for a in result.accounts] == ["accounts/b.yaml"]
