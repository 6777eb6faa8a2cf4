"""`--target` and `--exclude` on plan and apply (issue 12, item 5): only the named accounts are
planned and sent, the rest stays pending (and every form of the plan says so), saved plans keep
them."""

from __future__ import annotations

import json

from tests.e2e.conftest import Project


def test_apply_target_sends_only_the_named_accounts_and_warns(project: Project) -> None:
    done = project.iasync(
        "apply", "--auto-approve", "--target", "accounts/account-0000.yaml", "--target", "IA_0002"
    )

    assert done.returncode == 0, done.stderr
    assert "2 created, 0 updated, 0 failed" in done.stdout
    assert project.sent_ids() == ["accounts/account-0000.yaml", "accounts/account-0002.yaml"]
    assert "1 other change (1 to create) stay pending" in done.stdout  # in the plan shown
    assert project.recorded_sources() == project.sent_ids()
    assert project.plan_json()["counts"]["create"] == 1  # the rest, pending


def test_plan_exclude_and_globs_in_every_form(project: Project) -> None:
    args = ("--target", "accounts/*.yaml", "--exclude", "InvestmentAccount/*=IA_0001")
    text = project.iasync("plan", *args).stdout
    doc = json.loads(project.iasync("plan", "-json", *args).stdout)
    markdown = project.iasync("plan", "--markdown", *args).stdout

    assert text.splitlines()[0].startswith("Plan: 2 to create")
    assert "Warning: this plan is a subset (--target/--exclude)" in text
    assert "account-0001" not in text.split("Warning:")[1]
    assert doc["subset"]["targets"] == ["accounts/*.yaml"]
    assert doc["subset"]["pending"] == {"create": 1}
    assert "stay pending" in doc["subset"]["warning"]
    assert "stay pending" in markdown


def test_a_saved_plan_records_its_subset_and_apply_keeps_to_it(project: Project) -> None:
    assert project.iasync("plan", "--target", "IA_0001", "-out", "tf.plan").returncode == 0
    saved = json.loads((project.root / "tf.plan").read_text())
    assert saved["subset"]["targets"] == ["IA_0001"]

    refused = project.iasync("apply", "tf.plan", "--target", "IA_0002")
    done = project.iasync("apply", "tf.plan")
    again = project.iasync("apply", "tf.plan")

    assert refused.returncode == 1 and "a saved plan is applied as it was made" in refused.stderr
    assert done.returncode == 0, done.stderr
    assert project.sent_ids() == ["accounts/account-0001.yaml"]
    assert "stay pending" in done.stderr
    # Applied already: what is left of its subset is nothing (not the pending rest).
    assert again.returncode == 1 and "Nothing is left to do" in again.stderr


def test_a_target_that_names_nothing_plans_nothing(project: Project) -> None:
    done = project.iasync("plan", "--target", "IA_9999", "-detailed-exitcode")

    assert done.returncode == 0, done.stderr
    assert "3 other changes (3 to create) stay pending" in done.stdout
