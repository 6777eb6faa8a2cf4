"""`--target` / `--exclude`: which changes a pattern names, and what stays pending."""

from __future__ import annotations

from iasync.plans.plan import make_plan
from iasync.plans.subset import named, select
from iasync.states import State
from tests.planning import EXT, body, loaded, record


def _plan() -> tuple:
    state = State.new()
    state.record(record("LUID_9", body("IA_9"), "accounts/gone.yaml"))
    state.record(record("LUID_1", body("IA_1"), "accounts/eu/one.yaml"))
    load_accounts = [
        loaded("accounts/eu/one.yaml", body("IA_1", displayName="New")),
        loaded("accounts/eu/two.yaml", body("IA_2")),
        loaded("accounts/us/three.yaml", body("IA_3")),
    ]

    class Load:
        accounts = load_accounts

    return make_plan(Load(), state), state  # type: ignore[arg-type]


def test_a_pattern_names_files_directories_globs_identifiers_and_ids() -> None:
    plan, _ = _plan()
    one = next(c for c in plan.changes if c.path == "accounts/eu/one.yaml")
    assert named(one, "accounts/eu/one.yaml") and named(one, "./accounts/eu/one.yaml")
    assert named(one, "accounts/eu") and named(one, "accounts/eu/")
    assert named(one, "accounts/*/one.yaml") and named(one, "accounts/eu/*")
    assert named(one, "IA_1") and named(one, "IA_*") and named(one, f"{EXT}=IA_1")
    assert named(one, "LUID_1")
    assert not named(one, "accounts/e") and not named(one, "IA_2") and not named(one, f"{EXT}=IA_2")


def test_targets_keep_their_changes_and_count_the_rest_as_pending() -> None:
    plan, _ = _plan()
    select(plan, ["accounts/eu"], ["IA_2"])

    assert [c.path for c in plan.changes] == ["accounts/eu/one.yaml"]
    assert plan.pending == {"create": 2, "orphaned": 1}
    assert plan.targets == ["accounts/eu"] and plan.excludes == ["IA_2"]


def test_no_pattern_keeps_everything() -> None:
    plan, _ = _plan()
    select(plan, [], [])
    assert len(plan.changes) == 4 and plan.pending == {}
