"""Hostile inputs found by fuzzing (issue 13): each is a located message and exit 1, never a
traceback, and nothing is sent or written. Each test is one exact reproduction, run through the
real command line (`Project.iasync` fails the test on any traceback)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.conftest import Project

HUGE = "9" * 5000  # Python refuses to read integers of more than 4,300 digits


def add_property(project: Project, n: int, value: str) -> None:
    path = project.account_path(n)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "properties:\n", f"properties:\n  InvestmentAccount/Details/Amount: {value}\n"
        ),
        encoding="utf-8",
    )


def run_bytes(project: Project, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The command with its output as bytes: a stray byte must fail the test, not the runner."""
    done = subprocess.run(
        project.command(*args),
        cwd=project.root,
        env=project.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in done.stderr, done.stderr
    return done


# --- item 1: tracebacks ------------------------------------------------------------------------


def test_an_integer_of_5000_digits_in_an_account_file_is_located(project: Project) -> None:
    add_property(project, 1, HUGE)
    for command in (["validate"], ["plan"]):
        done = project.iasync(*command)
        assert done.returncode == 1
        assert (
            'accounts/account-0001.yaml:8:37: properties["InvestmentAccount/Details/Amount"]: '
            "99999999999999999999... (5,000 characters) is too large" in done.stdout + done.stderr
        )
    assert project.upserts() == []


def test_an_integer_of_5000_digits_in_the_state_file_is_a_plain_error(project: Project) -> None:
    project.state_path.parent.mkdir()
    project.state_path.write_text(
        '{"format_version": 1, "lineage": "x", "serial": ' + HUGE + ', "accounts": {}}'
    )
    for command in (["plan"], ["state", "list"], ["apply", "--auto-approve"]):
        done = project.iasync(*command)
        assert done.returncode == 1
        assert "it holds a number too long to read" in done.stderr
    assert project.upserts() == []


def undecodable_file(project: Project) -> None:
    """`accounts/bad\\xff.yaml`: a file name that is not UTF-8."""
    name = os.fsencode(project.root / "accounts") + b"/bad\xff.yaml"
    with open(name, "w", encoding="utf-8") as handle:
        handle.write(project.account_path(1).read_text(encoding="utf-8").replace("0001", "0009"))


def test_a_file_name_that_is_not_utf8_is_refused_by_plan_out(project: Project) -> None:
    undecodable_file(project)
    done = run_bytes(project, "plan", "-out", "tf.plan")
    assert done.returncode == 1
    assert (
        b"accounts/bad\\xff.yaml:1:1: the file name is not UTF-8 (shown here with \\x escapes "
        b"for the bytes that are not); rename the file\n" in done.stderr
    )
    assert not (project.root / "tf.plan").exists()


def test_a_file_name_that_is_not_utf8_keeps_json_output_valid(project: Project) -> None:
    undecodable_file(project)
    for command in (["plan", "-json"], ["validate", "--format", "json"]):
        done = run_bytes(project, *command)
        assert done.returncode == 1
        document = json.loads(done.stdout.decode("utf-8"))  # strict UTF-8, valid JSON
        assert [problem["path"] for problem in document["problems"]] == ["accounts/bad\\xff.yaml"]


def test_a_deeply_nested_state_file_is_a_plain_error(project: Project) -> None:
    project.state_path.parent.mkdir()
    project.state_path.write_text("[" * 100_000)
    for command in (["plan"], ["state", "list"]):
        done = project.iasync(*command)
        assert done.returncode == 1
        assert "it is nested too deeply to be a state" in done.stderr


def saved_plan_with_an_update(project: Project) -> tuple[Path, dict[str, Any]]:
    """A saved plan (`tf.plan`) that updates account 1 of three applied ones, and its JSON."""
    assert project.iasync("apply", "--auto-approve").returncode == 0
    project.write(1, suffix=" renamed")
    assert project.iasync("plan", "-out", "tf.plan").returncode == 0
    path = project.root / "tf.plan"
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_a_deeply_nested_saved_plan_is_a_plain_error(project: Project) -> None:
    (project.root / "tf.plan").write_text("[" * 100_000)
    done = project.iasync("apply", "tf.plan")
    assert done.returncode == 1
    assert "not a readable plan file (nested too deeply)" in done.stderr


def test_a_saved_plan_whose_lusid_id_is_a_list_is_refused(project: Project) -> None:
    path, doc = saved_plan_with_an_update(project)
    sent_before = len(project.upserts())
    update = next(c for c in doc["changes"] if c["action"] == "update")
    update["lusid_id"] = [update["lusid_id"]]
    path.write_text(json.dumps(doc), encoding="utf-8")

    done = project.iasync("apply", "tf.plan")

    assert done.returncode == 1
    assert "the plan file is corrupt (changes[1].lusid_id should be a string" in done.stderr
    assert len(project.upserts()) == sent_before


def test_a_nul_in_the_state_setting_is_a_settings_error(project: Project) -> None:
    (project.root / "iasync.toml").write_text('state = "states/a\\u0000b.json"\n')
    for command in (["plan"], ["state", "list"], ["validate"]):
        done = project.iasync(*command)
        assert done.returncode == 1
        assert "state = 'states/a\\x00b.json' is not valid; expected a path" in done.stderr


# --- item 3: a saved plan is trusted for nothing its integrity check does not cover ------------


def test_a_saved_plan_edited_to_apply_a_file_outside_the_repository_is_refused(
    project: Project,
) -> None:
    path, doc = saved_plan_with_an_update(project)
    sources_before, sent_before = project.recorded_sources(), len(project.upserts())
    update = next(c for c in doc["changes"] if c["action"] == "update")
    update["path"] = "../../etc/passwd"
    path.write_text(json.dumps(doc), encoding="utf-8")

    done = project.iasync("apply", "tf.plan")

    assert done.returncode == 1
    assert "'../../etc/passwd' is not a path inside the repository" in done.stderr
    assert len(project.upserts()) == sent_before
    assert project.recorded_sources() == sources_before


def test_a_saved_plan_with_a_string_serial_or_wrong_counts_is_refused(project: Project) -> None:
    path, original = saved_plan_with_an_update(project)
    sent_before = len(project.upserts())
    serial = json.loads(json.dumps(original))
    serial["state"]["serial"] = str(serial["state"]["serial"])
    counts = json.loads(json.dumps(original))
    counts["counts"]["update"] = 5
    for edited, message in [
        (serial, "state.serial should be a whole number, not '1'"),
        (counts, "counts {'create': 0, 'update': 5, 'unchanged': 2, 'orphaned': 0} are not"),
    ]:
        path.write_text(json.dumps(edited), encoding="utf-8")
        done = project.iasync("apply", "tf.plan")
        assert done.returncode == 1
        assert message in done.stderr
    assert len(project.upserts()) == sent_before


def test_a_saved_plan_edited_anywhere_else_is_refused_by_its_checksum(project: Project) -> None:
    path, doc = saved_plan_with_an_update(project)
    doc["created_at"] = "2001-01-01T00:00:00+00:00"
    path.write_text(json.dumps(doc), encoding="utf-8")

    done = project.iasync("apply", "tf.plan")

    assert done.returncode == 1
    assert "does not match its checksum: it was altered" in done.stderr


def test_plan_refuses_an_account_file_outside_the_repository(
    project: Project, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "x.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(project.account_path(1).read_text(encoding="utf-8"), encoding="utf-8")

    assert project.iasync("validate", str(elsewhere)).returncode == 0  # checking it is fine
    done = project.iasync("plan", "-out", "tf.plan", str(elsewhere))

    assert done.returncode == 1
    assert f"{elsewhere.as_posix()} is outside the repository ({project.root})" in done.stderr
    assert not (project.root / "tf.plan").exists()


# --- item 2: slow input ------------------------------------------------------------------------


def test_twenty_thousand_aliases_of_one_anchor_are_one_located_line(project: Project) -> None:
    path = project.account_path(1)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "properties:\n",
            "properties:\n  InvestmentAccount/D/A: &x v\n"
            + "".join(f"  InvestmentAccount/D/B{i}: *x\n" for i in range(20_000)),
        ),
        encoding="utf-8",
    )
    for command in (["validate"], ["plan"]):
        done = project.iasync(*command)
        assert done.returncode == 1
        lines = [line for line in (done.stdout + done.stderr).splitlines() if "yaml:" in line]
        assert lines == [
            "accounts/account-0001.yaml:1008:3: properties: 20,003 entries; an account holds at "
            "most 100 properties and a handful of anything else (iasync reads at most 1,000 in "
            "one place): is it really an account?"
        ]


# --- item 4: silent changes of meaning ----------------------------------------------------------


def test_fmt_and_plan_refuse_a_number_they_cannot_keep_exact(project: Project) -> None:
    add_property(project, 1, "3.14159265358979323846")
    before = project.account_path(1).read_bytes()
    expected = (
        'accounts/account-0001.yaml:8:37: properties["InvestmentAccount/Details/Amount"]: '
        "3.14159265358979323846 has more significant digits than a number sent to LUSID keeps "
        "(17); it would be sent as 3.141592653589793."
    )
    for command in (["fmt"], ["fmt", "--check"], ["plan"], ["validate"]):
        done = project.iasync(*command)
        assert done.returncode == 1, command
        assert expected in done.stdout + done.stderr, command
    done = project.iasync("plan", "-json")
    assert done.returncode == 1
    (problem,) = json.loads(done.stdout)["problems"]
    assert (
        f"{problem['path']}:{problem['line']}:{problem['column']}: {problem['message']}"[
            : len(expected)
        ]
        == expected
    )
    assert project.account_path(1).read_bytes() == before  # fmt left it as it was
    assert project.upserts() == []


# --- item 5: accepted without a word -------------------------------------------------------------


def set_identifier(project: Project, n: int, value: str) -> None:
    path = project.account_path(n)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"ExternalIAId: IA_{n:04d}", f"ExternalIAId: {value}"), "utf-8")


def test_empty_and_blank_identifier_values_are_refused(project: Project) -> None:
    set_identifier(project, 0, '""')
    set_identifier(project, 1, '"   "')
    set_identifier(project, 2, '" IA_0002"')
    done = project.iasync("plan")
    assert done.returncode == 1
    key = 'identifiers["InvestmentAccount/ExternalIdentifier/ExternalIAId"]'
    assert done.stderr.splitlines()[:3] == [
        f"accounts/account-0000.yaml:2:54: {key}: an identifier's value is empty; write the "
        "identifier",
        f"accounts/account-0001.yaml:2:54: {key}: an identifier's value is blank (only spaces); "
        "write the identifier",
        f"accounts/account-0002.yaml:2:54: {key}: an identifier's value ' IA_0002' has spaces "
        "around it, or a tab or line break in it; LUSID matches identifiers by their exact text: "
        "remove them",
    ]
    assert project.upserts() == []


def test_control_characters_and_bidi_overrides_in_values_are_refused(project: Project) -> None:
    set_identifier(project, 0, '"IA_\\u202e1000"')  # shows as IA_0001
    path = project.account_path(1)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "displayName: Account 1", 'displayName: "A\\e[2J"'
        ),
        encoding="utf-8",
    )
    done = project.iasync("validate")
    assert done.returncode == 1
    key = 'identifiers["InvestmentAccount/ExternalIdentifier/ExternalIAId"]'
    assert done.stdout.splitlines() == [
        f"accounts/account-0000.yaml:2:54: {key}: character 4 is U+202E (RIGHT-TO-LEFT "
        "OVERRIDE), which is invisible or makes text read otherwise than it is; remove it",
        "accounts/account-0001.yaml:4:14: displayName: character 2 is U+001B (a control "
        "character), which is invisible or makes text read otherwise than it is; remove it",
    ]


def test_an_accounts_dir_outside_the_repository_is_refused(project: Project) -> None:
    (project.root / "iasync.toml").write_text('accounts_dir = "../elsewhere"\n')
    for command in (["validate"], ["plan"], ["fmt", "--check"]):
        done = project.iasync(*command)
        assert done.returncode == 1
        assert (
            f"accounts_dir = '../elsewhere' is outside the repository ({project.root}); keep "
            "the account files in it" in done.stderr
        )


def test_upper_case_suffixes_are_read_and_hidden_files_are_refused_by_name(
    project: Project,
) -> None:
    project.account_path(1).rename(project.root / "accounts" / "x.YAML")
    project.account_path(2).rename(project.root / "accounts" / ".hidden.yaml")

    done = project.iasync("plan", "-json")

    assert done.returncode == 1
    assert [(p["path"], p["message"]) for p in json.loads(done.stdout)["problems"]] == [
        (
            "accounts/.hidden.yaml",
            "a hidden file (its name starts with '.'): iasync does not apply hidden files; "
            "rename it to apply it, or move it out of the accounts directory",
        )
    ]
    (project.root / "accounts" / ".hidden.yaml").unlink()
    assert [c["path"] for c in project.plan_json()["changes"]] == [
        "accounts/account-0000.yaml",
        "accounts/x.YAML",
    ]
