"""`iasync import` (issue 12, item 3): files for the accounts in LUSID that no file manages, in the
short form and fmt-clean, one per account, named from an identifier, never overwriting; recorded
as applied, so the next plan shows no changes."""

from __future__ import annotations

from typing import Any

from iasync.accounts.gitblobs import blob_id
from tests.e2e.conftest import Project
from tests.e2e.test_existing_accounts import file_body, seed


def _unmanaged(project: Project) -> list[dict[str, Any]]:
    """Accounts 5 and 6 made in LUSID outside iasync; account 0 also has its file."""
    bodies = [file_body(0), file_body(5, description="Made in LUSID"), file_body(6)]
    bodies[2]["investmentPortfolios"] = [
        {"key": "P1", "portfolioScope": "Funds", "portfolioCode": "F-001"}
    ]
    seed(project, *bodies)
    return bodies


def test_import_writes_files_records_them_and_the_next_plan_has_no_changes(
    project: Project,
) -> None:
    _unmanaged(project)
    assert project.iasync("apply", "--auto-approve").returncode == 0

    done = project.iasync("import")

    assert done.returncode == 0, done.stderr
    assert "Imported 2 accounts of the 5 in LUSID (3 managed already)" in done.stdout
    written = project.root / "accounts" / "IA_0005.yaml"
    text = written.read_text()
    assert text.startswith("identifiers:\n  InvestmentAccount/ExternalIdentifier/ExternalIAId: ")
    assert "description: Made in LUSID" in text
    assert "InvestmentAccount/Details/Name: Holder 5" in text  # the short form
    assert "labelValue" not in text
    assert (project.root / "accounts" / "IA_0006.yaml").exists()
    fmt = project.iasync("fmt", "--check")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    assert "accounts/IA_0005.yaml" in project.recorded_sources()
    records = project.state()["accounts"].values()
    (record,) = [r for r in records if r["source"] == "accounts/IA_0005.yaml"]
    assert record["source_blob"] == blob_id(written.read_bytes())  # git's id, once committed
    plan = project.iasync("plan", "--refresh", "-detailed-exitcode")
    assert plan.returncode == 0, plan.stdout
    assert "No changes" in plan.stdout


def test_import_never_overwrites(project: Project) -> None:
    _unmanaged(project)
    taken = project.root / "elsewhere" / "IA_0006.yaml"
    taken.parent.mkdir()
    taken.write_text("# mine\n")

    done = project.iasync("import", "--into", "elsewhere")

    assert done.returncode == 1
    assert "import never overwrites: elsewhere/IA_0006.yaml exists already" in done.stderr
    assert taken.read_text() == "# mine\n"
    assert sorted(taken.parent.iterdir()) == [taken]
    assert not project.state_path.exists()


def test_a_bad_account_file_stops_the_import_with_its_problem(project: Project) -> None:
    _unmanaged(project)
    (project.root / "accounts" / "broken.yaml").write_text("identifiers: [\n")

    done = project.iasync("import")

    assert done.returncode == 1
    assert "accounts/broken.yaml" in done.stdout + done.stderr
    assert not (project.root / "accounts" / "IA_0005.yaml").exists()


def test_import_into_another_directory(project: Project) -> None:
    _unmanaged(project)

    done = project.iasync("import", "--into", "accounts/imported")

    assert done.returncode == 0, done.stderr
    # Account 0's file exists but was never applied: its identifiers are managed by the file.
    assert sorted(p.name for p in (project.root / "accounts" / "imported").iterdir()) == [
        "IA_0005.yaml",
        "IA_0006.yaml",
    ]
    assert project.recorded_sources() == [
        "accounts/imported/IA_0005.yaml",
        "accounts/imported/IA_0006.yaml",
    ]
