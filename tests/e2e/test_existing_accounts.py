"""Accounts to create that LUSID already holds are never overwritten unseen (issue 12, item 1):
the plan asks LUSID, and shows what apply would overwrite; `--offline` asks nothing and says so;
a saved plan that did not ask is checked again before apply sends anything."""

from __future__ import annotations

import json
from typing import Any

import yaml

from iasync.accounts.model import canonical_json
from iasync.lusid import LusidClient, load_lusid_config
from tests.e2e.conftest import ACCOUNT, Project
from tests.planning import canonical

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def seed(project: Project, *bodies: dict[str, Any]) -> None:
    """Accounts made in LUSID outside iasync (as someone would in LUSID's web app)."""
    with LusidClient(load_lusid_config(project.env, cwd=project.root)) as client:
        requests = {f"seed-{i}": canonical_json(body) for i, body in enumerate(bodies)}
        response = client.upsert_investment_accounts(requests, "Atomic")
        assert not response.failed


def file_body(n: int, **changes: Any) -> dict[str, Any]:
    document = yaml.safe_load(ACCOUNT.format(n=n, suffix=""))
    document.update(changes)
    return canonical(document)


def api_reads(project: Project) -> list[dict[str, Any]]:
    return [r for r in project.emulator.requests() if r["method"] == "GET"]


def test_an_account_in_lusid_is_shown_with_what_apply_would_overwrite(project: Project) -> None:
    # In LUSID: a description the file does not have, and another holder's name.
    lusid = file_body(0, description="Set in LUSID")
    lusid["properties"]["InvestmentAccount/Details/Name"]["value"]["labelValue"] = "Someone"
    seed(project, lusid)
    (project.root / "accounts" / "account-0000.yaml").write_text(
        ACCOUNT.format(n=0, suffix="").replace("description: End-to-end account 0\n", "")
    )

    done = project.iasync("plan")

    assert done.returncode == 0, done.stderr
    assert "exists in LUSID, not in the state" in done.stdout
    assert "- description" in done.stdout
    # Properties are read (propertyKeys): the one that differs shows, the others do not.
    assert 'properties["InvestmentAccount/Details/Name"].value: "Someone" -> "Holder 0"' in (
        done.stdout
    )
    # (The plain creates of accounts 1 and 2 show every attribute: look at account 0's alone.)
    existing = done.stdout.split("account-0000.yaml", 1)[1].split("accounts/account-0001", 1)[0]
    assert "Details/Country" not in existing
    assert "2 to create already in LUSID" not in done.stdout
    assert "1 to create already in LUSID" in done.stdout.splitlines()[0]
    gets = api_reads(project)
    # A few accounts to create: GETs by identifier (the one found at once, the two absent
    # ones by each of their two identifiers), not a list.
    assert len(gets) == 5 and "/api/api/investmentaccounts" not in [r["path"] for r in gets]
    assert all("InvestmentAccount/Details/Name" in r["query"].get("propertyKeys", []) for r in gets)


def test_json_and_markdown_show_it_too_and_server_fields_never_count(project: Project) -> None:
    seed(project, file_body(1), file_body(2, displayName="Renamed in LUSID"))

    doc = project.plan_json()
    markdown = project.iasync("plan", "--markdown").stdout

    changes = {c["path"]: c for c in doc["changes"]}
    same, renamed = changes["accounts/account-0001.yaml"], changes["accounts/account-0002.yaml"]
    assert same["remote"] == "exists" and same["differences"] == []  # ids, version, href, links
    assert renamed["remote"] == "exists" and renamed["remote_id"].startswith("LUID_")
    assert renamed["differences"] == [
        {
            "path": "displayName",
            "action": "change",
            "before": "Renamed in LUSID",
            "after": "Account 2",
        }
    ]
    assert changes["accounts/account-0000.yaml"]["remote"] == "absent"
    assert doc["lusid"]["existing"] == 2 and doc["lusid"]["offline"] is False
    assert "exists in LUSID, not in the state" in markdown
    assert '!     displayName: "Renamed in LUSID" -> "Account 2"' in markdown


def test_many_accounts_to_create_take_one_paged_list(project: Project) -> None:
    for n in range(3, 25):
        project.write(n)

    doc = project.plan_json()

    gets = api_reads(project)
    assert [r["path"] for r in gets] == ["/api/api/investmentaccounts"]
    assert doc["lusid"]["read"] == "one list of 0 accounts"
    assert {c["remote"] for c in doc["changes"]} == {"absent"}


def test_offline_reads_nothing_and_says_so(project: Project) -> None:
    env = {k: v for k, v in project.env.items() if not k.startswith("FBN_")}
    done = project.iasync("plan", "--offline", env=env)

    assert done.returncode == 0, done.stderr
    assert "LUSID was not read (--offline)" in done.stdout
    assert project.emulator.requests() == []


def test_a_plan_without_credentials_says_it_did_not_read_lusid(project: Project) -> None:
    env = {k: v for k, v in project.env.items() if not k.startswith("FBN_")}
    doc = json.loads(project.iasync("plan", "-json", env=env).stdout)

    assert doc["lusid"]["read"] is None
    assert doc["lusid"]["skipped"].startswith("LUSID is not configured")


def test_apply_of_an_offline_plan_refuses_an_account_lusid_holds(project: Project) -> None:
    assert project.iasync("plan", "--offline", "-out", "tf.plan").returncode == 0
    seed(project, file_body(1, description="Made in LUSID meanwhile"))
    project.emulator.clear_requests()

    done = project.iasync("apply", "tf.plan")

    assert done.returncode == 1
    assert "accounts/account-0001.yaml exists in LUSID, not in the state" in done.stderr
    assert "Nothing was sent" in done.stderr
    assert project.upserts() == [] and not project.state_path.exists()


def test_apply_of_an_offline_plan_goes_ahead_when_lusid_holds_none(project: Project) -> None:
    assert project.iasync("plan", "--offline", "-out", "tf.plan").returncode == 0

    done = project.iasync("apply", "tf.plan")

    assert done.returncode == 0, done.stderr
    assert "3 created, 0 updated, 0 failed" in done.stdout
