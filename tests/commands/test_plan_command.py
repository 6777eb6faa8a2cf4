"""`iasync plan` run as the real command in a project directory, against a real state file."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from iasync.accounts.loader import load_accounts
from iasync.plans.planfile import StalePlanError, check_fresh, load_plan
from iasync.settings import load_settings
from iasync.states import AccountRecord, LocalStateBackend, State
from iasync.views.plan_json import PLAN_JSON_SCHEMA
from tests.planning import EXT, INT, canonical, record

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def account_yaml(ext: str, name: str = "", internal: str | None = None, **extra: str) -> str:
    identifiers = f"  {EXT}: {ext}\n" + (f"  {INT}: {internal}\n" if internal else "")
    text = f"""\
        identifiers:
        {{identifiers}}displayName: {name or "Account " + ext}
        accountType: Personal
        properties:
          InvestmentAccount/Details/Country: United Kingdom
        {{extra}}accountHolders:
          - key: AccountHolder1
            identifiers:
              InvestorRecord/ExternalIdentifier/ExternalIRId: IR_1
        investmentPortfolios: []
        """
    lines = "".join(f"  {key}: {value}\n" for key, value in extra.items())
    return textwrap.dedent(text).format(identifiers=identifiers, extra=lines)


class Project:
    """A project directory: iasync.toml, accounts/, and the state at .iasync/state.json."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # The first format's file, which these tests write directly (not the default SQLite).
        (root / "iasync.toml").write_text('batch_size = 2\nstate = ".iasync/state.json"\n')
        (root / "accounts").mkdir()
        self.backend = LocalStateBackend(root / ".iasync" / "state.json")

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def applied(self, path: str, text: str, lusid_id: str, version: int = 1) -> AccountRecord:
        """A state record for `text` as if apply had sent it from `path`."""
        return record(lusid_id, canonical(yaml.safe_load(text)), path, version)

    def save_state(self, *records: AccountRecord) -> State:
        state = self.backend.read()
        for rec in records:
            state.record(rec)
        self.backend.write(state)
        return state

    def plan(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "iasync", "plan", *args],
            cwd=self.root,
            env=_clean_env() | (env or {}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IASYNC_") and k != "NO_COLOR"}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def ok(done: subprocess.CompletedProcess, code: int = 0) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


# --- what the plan says -----------------------------------------------------------------------


def test_new_accounts_are_created(project: Project) -> None:
    project.write("accounts/a.yaml", account_yaml("IA_1"))
    project.write("accounts/b.yaml", account_yaml("IA_2"))

    lines = ok(project.plan()).splitlines()

    assert lines[0] == "Plan: 2 to create, 0 to update, 0 orphaned, 0 unchanged."
    assert f"  + accounts/a.yaml  ({EXT}=IA_1)" in lines
    assert '      displayName: "Account IA_2"' in lines
    assert lines[-1] == "Run `iasync apply` to send 2 accounts in 1 batch (successMode=Partial)."


def test_an_update_shows_each_changed_attribute(project: Project) -> None:
    old = account_yaml("IA_1", name="John Doe")
    project.save_state(project.applied("accounts/john.yaml", old, "LUID_00003D6X", 3))
    project.write(
        "accounts/john.yaml",
        account_yaml("IA_1", name="John A. Doe", **{"InvestmentAccount/Details/Email": "j@x.com"}),
    )

    lines = ok(project.plan()).splitlines()

    assert lines[0] == "Plan: 0 to create, 1 to update, 0 orphaned, 0 unchanged."
    assert "  ~ accounts/john.yaml  (IA_1, LUID_00003D6X, version 3)" in lines
    diffs = [" ".join(line.split()) for line in lines if line.startswith("      ")]
    assert diffs == [
        '~ displayName: "John Doe" -> "John A. Doe"',
        '+ properties["InvestmentAccount/Details/Email"]: "j@x.com"',
    ]


def test_unchanged_accounts_mean_no_changes(project: Project) -> None:
    text = account_yaml("IA_1")
    project.write("accounts/a.yaml", text)
    project.save_state(project.applied("accounts/a.yaml", text, "LUID_1"))

    lines = ok(project.plan()).splitlines()

    assert lines[0] == "Plan: 0 to create, 0 to update, 0 orphaned, 1 unchanged."
    assert lines[-1] == (
        "No changes. The account files match the last applied state (LUSID itself was not "
        "read: `iasync plan --refresh` will check it)."
    )


def test_a_renamed_file_is_no_change(project: Project) -> None:
    text = account_yaml("IA_1")
    project.save_state(project.applied("accounts/a.yaml", text, "LUID_1"))
    project.write("accounts/uk/renamed.yaml", "# moved and commented\n" + text)

    out = ok(project.plan("-detailed-exitcode"), code=2)  # the move is to be recorded

    assert out.splitlines()[0] == (
        "Plan: 0 to create, 0 to update, 0 orphaned, 1 unchanged (1 moved)."
    )
    assert (
        "  > accounts/uk/renamed.yaml  (IA_1, LUID_1, version 1; moved from accounts/a.yaml)" in out
    )


def test_an_account_gone_from_the_files_is_reported_orphaned(project: Project) -> None:
    project.write("accounts/a.yaml", account_yaml("IA_1"))
    project.save_state(project.applied("accounts/gone.yaml", account_yaml("IA_9"), "LUID_9", 2))

    lines = ok(project.plan()).splitlines()

    assert lines[0] == "Plan: 1 to create, 0 to update, 1 orphaned, 0 unchanged."
    assert "  ! accounts/gone.yaml  (IA_9, LUID_9, version 2)" in lines


def test_identifiers_matching_two_lusid_accounts_is_an_error(project: Project) -> None:
    project.save_state(
        project.applied("accounts/one.yaml", account_yaml("IA_1"), "LUID_1"),
        project.applied("accounts/two.yaml", account_yaml("IA_2", internal="Int_2"), "LUID_2"),
    )
    project.write("accounts/both.yaml", account_yaml("IA_1", internal="Int_2"))

    done = project.plan()

    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: cannot make a plan")
    assert "accounts/both.yaml" in done.stderr
    assert "LUID_1" in done.stderr and "LUID_2" in done.stderr


def test_invalid_account_files_fail_with_located_problems(project: Project) -> None:
    project.write("accounts/a.yaml", account_yaml("IA_1"))
    project.write("accounts/bad.yaml", "identifiers:\n  InvestmentAccount/A/B: x\n")

    done = project.plan("-detailed-exitcode")

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert re.search(r"^accounts/bad\.yaml:\d+:\d+: ", done.stderr, re.MULTILINE)
    assert done.stderr.rstrip().splitlines()[-1].startswith("Error: ")
    assert "Plan:" not in done.stdout

    as_json = project.plan("-json")
    assert as_json.returncode == 1
    doc = json.loads(as_json.stdout)
    assert doc["valid"] is False
    assert {p["path"] for p in doc["problems"]} == {"accounts/bad.yaml"}


def test_a_plan_of_one_folder_leaves_the_others_alone(project: Project) -> None:
    project.save_state(
        project.applied("accounts/uk/a.yaml", account_yaml("IA_1"), "LUID_1"),
        project.applied("accounts/de/b.yaml", account_yaml("IA_2"), "LUID_2"),
    )
    project.write("accounts/uk/a.yaml", account_yaml("IA_1"))

    lines = ok(project.plan("accounts/uk")).splitlines()

    assert lines[0] == "Plan: 0 to create, 0 to update, 0 orphaned, 1 unchanged."


def test_state_option_reads_another_state_file(project: Project) -> None:
    text = account_yaml("IA_1")
    project.write("accounts/a.yaml", text)
    other = LocalStateBackend(project.root / "elsewhere.json")
    state = other.read()
    state.record(project.applied("accounts/a.yaml", text, "LUID_1"))
    other.write(state)

    assert ok(project.plan()).startswith("Plan: 1 to create")
    assert ok(project.plan("--state", "elsewhere.json")).startswith("Plan: 0 to create")


# --- machine output ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-json", "--json"])
def test_json_output_has_a_format_version_and_the_same_facts(project: Project, flag: str) -> None:
    project.save_state(project.applied("accounts/a.yaml", account_yaml("IA_1", "Old"), "LUID_1", 4))
    project.write("accounts/a.yaml", account_yaml("IA_1", "New"))
    project.write("accounts/b.yaml", account_yaml("IA_2"))

    doc = json.loads(ok(project.plan(flag)))

    jsonschema.Draft202012Validator(PLAN_JSON_SCHEMA).validate(doc)
    assert doc["format_version"] == 1
    assert doc["counts"] == {"create": 1, "update": 1, "unchanged": 0, "orphaned": 0}
    assert doc["apply"] == {
        "accounts": 2,
        "batches": 1,
        "batch_size": 2,
        "success_mode": "Partial",
        "moved": 0,
    }
    update = next(c for c in doc["changes"] if c["action"] == "update")
    assert (update["path"], update["lusid_id"], update["version"]) == (
        "accounts/a.yaml",
        "LUID_1",
        4,
    )
    assert update["identity"] == [{"key": EXT, "value": "IA_1"}]
    assert update["differences"] == [
        {"path": "displayName", "action": "change", "before": "Old", "after": "New"}
    ]


def test_markdown_for_many_changes_stays_under_60000_characters(project: Project) -> None:
    for i in range(400):
        project.write(f"accounts/a{i:03}.yaml", account_yaml(f"IA_{i:03}", "x" * 120))

    text = ok(project.plan("--markdown"))

    assert len(text) < 60_000
    assert text.startswith("### iasync plan\n\n**Plan: 400 to create, 0 to update")
    shown = len(re.findall(r"^\+ accounts/", text, re.MULTILINE))
    assert 0 < shown < 400
    assert f"... and {400 - shown} more changes" in text
    assert text.count("<details>") == text.count("</details>") == 1


@pytest.mark.parametrize("flag", ["-detailed-exitcode", "--detailed-exitcode"])
def test_detailed_exitcode(project: Project, flag: str) -> None:
    text = account_yaml("IA_1")
    project.write("accounts/a.yaml", text)
    assert project.plan(flag).returncode == 2
    assert project.plan().returncode == 0  # without it: 0 unless an error

    project.save_state(project.applied("accounts/a.yaml", text, "LUID_1"))
    assert project.plan(flag).returncode == 0


def test_errors_exit_1_even_with_detailed_exitcode(project: Project) -> None:
    project.write("accounts/a.yaml", account_yaml("IA_1"))

    missing = project.plan("-detailed-exitcode", "accounts/nope.yaml")
    both = project.plan("-detailed-exitcode", "-json", "--markdown")

    assert (missing.returncode, both.returncode) == (1, 1)
    assert missing.stderr == "Error: no such file or directory: accounts/nope.yaml\n"
    assert both.stderr == "Error: choose one of -json and --markdown\n"


def test_no_colour_when_piped_colour_on_a_terminal_unless_no_color(project: Project) -> None:
    project.write("accounts/a.yaml", account_yaml("IA_1"))

    assert not ANSI.search(project.plan().stdout)
    assert ANSI.search(_plan_on_a_terminal(project))
    assert not ANSI.search(_plan_on_a_terminal(project, {"NO_COLOR": "1"}))
    assert not ANSI.search(_plan_on_a_terminal(project, extra=["--no-color"]))


def _plan_on_a_terminal(
    project: Project, env: dict[str, str] | None = None, extra: list[str] | None = None
) -> str:
    """Run `iasync plan` with its stdout on a pseudo-terminal and return what it wrote."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "iasync", "plan", *(extra or [])],
            cwd=project.root,
            env=_clean_env() | (env or {}),
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
        os.close(follower)
        follower = -1
        assert done.returncode == 0, done.stderr
        return _drain(leader)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other end is closed and all is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


# --- saved plans ------------------------------------------------------------------------------


def _saved(project: Project) -> tuple[Path, Any]:
    project.save_state(project.applied("accounts/a.yaml", account_yaml("IA_1", "Old"), "LUID_1"))
    project.save_state()  # serial 2
    project.write("accounts/a.yaml", account_yaml("IA_1", "New"))
    project.write("accounts/b.yaml", account_yaml("IA_2"))
    out = ok(project.plan("-out", "tf.plan"))
    assert out.splitlines()[-1] == (
        "Saved the plan to tf.plan. Run `iasync apply tf.plan` to send 2 accounts in 1 batch "
        "(successMode=Partial)."
    )
    return project.root / "tf.plan", load_settings(project.root, env={})


def test_a_plan_of_no_changes_says_it_was_saved(project: Project) -> None:
    text = account_yaml("IA_1")
    project.write("accounts/a.yaml", text)
    project.save_state(project.applied("accounts/a.yaml", text, "LUID_1"))
    lines = ok(project.plan("-out", "same.plan")).splitlines()
    assert lines[-1] == (
        "No changes. The account files match the last applied state (LUSID itself was not "
        "read: `iasync plan --refresh` will check it). "
        "Saved the plan to same.plan (applying it does nothing)."
    )
    assert not load_plan(project.root / "same.plan").has_changes


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("accounts/a.yaml/x.plan", "accounts/a.yaml is not a directory"),
        ("plans/", "it names a directory; name a file"),
        ("accounts", "is a directory"),
    ],
)
def test_a_plan_that_cannot_be_saved_there_is_a_clear_error(
    project: Project, out: str, reason: str
) -> None:
    project.write("accounts/a.yaml", account_yaml("IA_1"))
    done = project.plan("-out", out)
    assert done.returncode == 1  # never 2, which -detailed-exitcode keeps for "changes"
    assert "Traceback" not in done.stderr
    assert reason in done.stderr
    assert not (project.root / "plans").exists()


def test_a_saved_plan_round_trips(project: Project) -> None:
    path, settings = _saved(project)

    plan = load_plan(path)
    load = load_accounts([], settings)

    assert (plan.serial, plan.batch_size, plan.success_mode) == (2, 2, "Partial")
    assert plan.counts == {"create": 1, "update": 1, "unchanged": 0, "orphaned": 0}
    assert plan.file_hashes == {a.path: a.file_hash for a in load.accounts}
    by_path = {a.path: a for a in load.accounts}
    for change in plan.to_send:
        assert change.body_hash == by_path[change.path].body_hash
        assert change.body == by_path[change.path].body
    assert [c.lusid_id for c in plan.of("update")] == ["LUID_1"]
    assert "secret" not in path.read_text().lower()
    check_fresh(plan, project.backend.read(), load)


def test_a_saved_plan_is_stale_once_the_state_moved(project: Project) -> None:
    path, settings = _saved(project)
    project.save_state()  # someone applied meanwhile: serial 3

    with pytest.raises(StalePlanError, match=r"serial 2 -> 3"):
        check_fresh(load_plan(path), project.backend.read(), load_accounts([], settings))


def test_a_saved_plan_is_stale_once_a_file_is_edited(project: Project) -> None:
    path, settings = _saved(project)
    project.write("accounts/b.yaml", account_yaml("IA_2") + "# a comment is an edit too\n")

    with pytest.raises(StalePlanError, match=r"accounts/b\.yaml changed"):
        check_fresh(load_plan(path), project.backend.read(), load_accounts([], settings))


def test_a_saved_plan_is_stale_once_a_file_is_added(project: Project) -> None:
    path, settings = _saved(project)
    project.write("accounts/c.yaml", account_yaml("IA_3"))

    with pytest.raises(StalePlanError, match=r"accounts/c\.yaml added"):
        check_fresh(load_plan(path), project.backend.read(), load_accounts([], settings))


# --- files as applied ---------------------------------------------------------------------------


def test_a_file_as_applied_gives_its_records_body_only_under_the_same_canonical_format(
    project: Project,
) -> None:
    import hashlib

    from iasync.accounts.model import CANONICAL_FORMAT, body_hash

    text = account_yaml("IA_1")
    raw = project.write("accounts/a.yaml", text).read_bytes()
    applied = project.applied("accounts/a.yaml", text, "LUID_1")
    applied.source_hash = "sha256:" + hashlib.sha256(raw).hexdigest()
    # What another iasync made of the same bytes (say, before a change of canonical bodies).
    applied.body = {**applied.body, "description": "as another iasync made it"}
    applied.body_hash = body_hash(applied.body)
    project.save_state(applied)  # records no canonical format: the file is read again

    assert ok(project.plan()).splitlines()[0] == (
        "Plan: 0 to create, 1 to update, 0 orphaned, 0 unchanged."
    )

    state = project.backend.read()
    state.canonical_format = CANONICAL_FORMAT  # now the record is taken for the file, unread
    project.backend.write(state)
    assert ok(project.plan()).splitlines()[0] == (
        "Plan: 0 to create, 0 to update, 0 orphaned, 1 unchanged."
    )


def test_no_accounts_directory_is_named_with_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iasync", "plan", "-detailed-exitcode"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # an error, not "no changes"
    assert done.stderr == (
        f"Error: no accounts directory at {tmp_path / 'accounts'}; create it, set accounts_dir "
        "in iasync.toml, or name the files to plan\n"
    )
