"""`iasync state list|show` and `iasync force-unlock`, run as the real command in a project dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iasync.states import AccountRecord, LocalStateBackend

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"
INT = "InvestmentAccount/InternalIdentifier/InternalIAId"


def iasync(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iasync", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def record(
    lusid_id: str, source: str, ext: str, internal: str, version: int | None
) -> AccountRecord:
    return AccountRecord(
        lusid_id=lusid_id,
        version=version,
        identifiers={EXT: ext, INT: internal},
        body={"displayName": source, "accountType": "Personal"},
        body_hash="sha256:" + "c" * 64,
        source=source,
        source_hash="sha256:" + "d" * 64,
        applied_at="2026-11-29T07:30:00+00:00",
        commit="f" * 40,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    # The first format's file, which these tests write directly (not the default SQLite).
    (tmp_path / "iasync.toml").write_text(
        'accounts_dir = "accounts"\nstate = ".iasync/state.json"\n'
    )
    backend = LocalStateBackend(tmp_path / ".iasync" / "state.json")
    state = backend.read()
    state.record(record("LUID_00000002", "accounts/uk/john.yaml", "IA_1", "SHARED", 3))
    state.record(record("LUID_00000001", "accounts/de/jane.yaml", "IA_2", "SHARED", None))
    backend.write(state)
    return tmp_path


def test_list_prints_one_aligned_line_per_account_sorted_by_source(project: Path) -> None:
    done = iasync(project, "state", "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"LUID_00000001  -   accounts/de/jane.yaml  {EXT}=IA_2  2026-11-29T07:30:00+00:00",
        f"LUID_00000002  v3  accounts/uk/john.yaml  {EXT}=IA_1  2026-11-29T07:30:00+00:00",
    ]


@pytest.mark.parametrize("flag", ["--json", "-json"])
def test_list_json(project: Path, flag: str) -> None:
    done = iasync(project, "state", "list", flag)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["serial"] == 1
    assert doc["canonical_format"] is None  # the fixture's state was written with none
    assert [a["lusid_id"] for a in doc["accounts"]] == ["LUID_00000001", "LUID_00000002"]
    assert doc["accounts"][1] == {
        "lusid_id": "LUID_00000002",
        "version": 3,
        "source": "accounts/uk/john.yaml",
        "identifiers": {EXT: "IA_1", INT: "SHARED"},
        "applied_at": "2026-11-29T07:30:00+00:00",
        "commit": "f" * 40,
        "body_hash": "sha256:" + "c" * 64,
        "source_hash": "sha256:" + "d" * 64,
    }


def test_a_record_whose_file_is_not_vouched_for_shows_a_null_source_hash(project: Path) -> None:
    # As apply leaves an orphan after a change of canonical format: source_hash "".
    backend = LocalStateBackend(project / ".iasync" / "state.json")
    state = backend.read()
    state.accounts["LUID_00000002"].source_hash = ""
    state.canonical_format = 7
    backend.write(state)

    listed = json.loads(iasync(project, "state", "list", "-json").stdout)
    assert listed["canonical_format"] == 7
    assert [a["source_hash"] for a in listed["accounts"]] == ["sha256:" + "d" * 64, None]
    shown = iasync(project, "state", "show", "LUID_00000002")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["source_hash"] is None
    text = iasync(project, "state", "list")
    assert text.returncode == 0 and "LUID_00000002  v3  accounts/uk/john.yaml" in text.stdout


def test_list_of_no_state_says_it_is_empty(tmp_path: Path) -> None:
    done = iasync(tmp_path, "state", "list")
    assert done.returncode == 0, done.stderr
    assert "holds no accounts" in done.stdout
    assert not (tmp_path / ".iasync").exists()


@pytest.mark.parametrize(
    "account",
    ["LUID_00000002", "IA_1", f"{EXT}=IA_1", "accounts/uk/john.yaml", "./accounts/uk/john.yaml"],
)
def test_show_finds_the_account_by_any_name(project: Path, account: str) -> None:
    done = iasync(project, "state", "show", account)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["lusid_id"] == "LUID_00000002"
    assert doc["body"] == {"displayName": "accounts/uk/john.yaml", "accountType": "Personal"}
    assert doc["version"] == 3 and doc["source_hash"] == "sha256:" + "d" * 64


def test_show_by_path_from_a_subdirectory(project: Path) -> None:
    sub = project / "accounts" / "uk"
    sub.mkdir(parents=True)
    done = iasync(sub, "state", "show", "john.yaml")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["lusid_id"] == "LUID_00000002"


def test_show_nothing_matching_is_a_clear_error(project: Path) -> None:
    done = iasync(project, "state", "show", "IA_404")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("Error: no account in the state")
    assert "'IA_404'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("account", ["SHARED", f"{INT}=SHARED"])
def test_show_several_matching_names_them_all(project: Path, account: str) -> None:
    done = iasync(project, "state", "show", account)
    assert done.returncode == 1
    assert "matches 2 accounts" in done.stderr
    assert "LUID_00000001 (accounts/de/jane.yaml)" in done.stderr
    assert "LUID_00000002 (accounts/uk/john.yaml)" in done.stderr


def test_state_option_points_at_another_file(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    done = iasync(elsewhere, "state", "list", "--state", str(project / ".iasync" / "state.json"))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2


def test_corrupt_state_is_reported_without_traceback(project: Path) -> None:
    path = project / ".iasync" / "state.json"
    path.write_text("{oops")
    done = iasync(project, "state", "list")
    assert done.returncode == 1
    assert str(path) in done.stderr and "not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr
    assert path.read_text() == "{oops"


def crashed_lock(path: Path) -> str:
    """Take the lock in another process and kill -9 it: the lock stays behind. Its id."""
    script = (
        "import sys, time; from pathlib import Path; from iasync.states import LocalStateBackend\n"
        "with LocalStateBackend(Path(sys.argv[1])).lock('apply') as info:\n"
        "    print(info.id, flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE)
    assert holder.stdout is not None
    lock_id = holder.stdout.readline().decode().strip()
    holder.kill()
    holder.wait()
    return lock_id


def test_force_unlock_releases_a_crashed_lock(project: Path) -> None:
    backend = LocalStateBackend(project / ".iasync" / "state.json")
    lock_id = crashed_lock(backend.path)
    done = iasync(project, "force-unlock", "wrong-id", "--force")
    assert done.returncode == 1
    assert "nothing was released" in done.stderr and backend.lock_path.exists()
    done = iasync(project, "force-unlock", lock_id, "-force")
    assert done.returncode == 0, done.stderr
    assert "Released the lock" in done.stdout and lock_id in done.stdout
    assert not backend.lock_path.exists()


def test_force_unlock_asks_first(project: Path) -> None:
    backend = LocalStateBackend(project / ".iasync" / "state.json")
    lock_id = crashed_lock(backend.path)
    done = iasync(project, "force-unlock", lock_id, stdin="n\n")
    assert done.returncode == 1
    assert backend.lock_path.exists()
    done = iasync(project, "force-unlock", lock_id, stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert not backend.lock_path.exists()


def test_force_unlock_without_lock(project: Path) -> None:
    done = iasync(project, "force-unlock", "abc", "--force")
    assert done.returncode == 1
    assert "is not locked" in done.stderr


def test_rm_forgets_the_named_records_and_nothing_else(project: Path) -> None:
    done = iasync(project, "state", "rm", "accounts/uk/john.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Removed LUID_00000002 (accounts/uk/john.yaml) from the state; LUSID still holds it.\n"
    )
    assert done.stderr == ""  # the file does not exist: an orphan, nothing to warn about
    state = LocalStateBackend(project / ".iasync" / "state.json").read()
    assert list(state.accounts) == ["LUID_00000001"] and state.serial == 2
    assert not (project / ".iasync" / "state.json.lock").exists()


def test_rm_of_a_record_whose_file_exists_warns_it_will_be_created_again(project: Path) -> None:
    (project / "accounts" / "de").mkdir(parents=True)
    (project / "accounts" / "de" / "jane.yaml").write_text("identifiers: {}\n")
    done = iasync(project, "state", "rm", "LUID_00000001")
    assert done.returncode == 0, done.stderr
    assert "accounts/de/jane.yaml still exists: the next plan shows it as a create" in done.stderr


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        (["nothing"], "no account in the state"),
        (["SHARED"], "'SHARED' matches 2 accounts"),
        (["LUID_00000001", "nothing"], "no account in the state"),  # all or none
    ],
)
def test_rm_changes_nothing_unless_every_name_is_one_record(
    project: Path, accounts: list[str], message: str
) -> None:
    state_file = project / ".iasync" / "state.json"
    before = state_file.read_bytes()
    done = iasync(project, "state", "rm", *accounts)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and message in done.stderr
    assert state_file.read_bytes() == before
