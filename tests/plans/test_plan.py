"""make_plan, differences, saved plans and staleness, on constructed files and states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iasync.accounts.loader import LoadResult
from iasync.accounts.model import canonical_json
from iasync.errors import Problem
from iasync.plans.diff import Difference, differences
from iasync.plans.plan import PLAN_FORMAT_VERSION, PlanError, make_plan
from iasync.plans.planfile import PlanFileError, StalePlanError, check_fresh, load_plan, save_plan
from iasync.states import AccountRecord, State
from tests.planning import COUNTRY, EXT, HOLDER_ID, INT, body, loaded, record, scoped_body


def state_of(*records: AccountRecord, serial: int = 3) -> State:
    state = State(lineage="lineage-1", serial=serial)
    for rec in records:
        state.record(rec)
    return state


# --- make_plan --------------------------------------------------------------------------------


def test_an_account_not_in_the_state_is_created() -> None:
    plan = make_plan(LoadResult([loaded("accounts/a.yaml", body("IA_1"))]), State.new())

    (change,) = plan.changes
    assert change.action == "create"
    assert change.identity == frozenset({(EXT, "IA_1")})
    assert change.lusid_id is None
    assert plan.counts == {"create": 1, "update": 0, "unchanged": 0, "orphaned": 0}
    assert plan.to_send == [change]
    assert plan.has_changes


def test_under_the_scoped_api_an_account_is_its_scope_and_identifier() -> None:
    # The same identifier in another scope is another LUSID account: created, not matched.
    state = state_of(record("LUID_1", scoped_body("IA_1", "A"), "accounts/a.yaml"))
    files = [
        loaded("accounts/a.yaml", scoped_body("IA_1", "A")),
        loaded("accounts/b.yaml", scoped_body("IA_1", "B")),
    ]

    plan = make_plan(LoadResult(files), state)

    assert [(c.path, c.action, c.scope, c.lusid_id) for c in plan.changes] == [
        ("accounts/a.yaml", "unchanged", "A", "LUID_1"),
        ("accounts/b.yaml", "create", "B", None),
    ]


def test_a_changed_scope_setting_makes_other_accounts() -> None:
    # Records of scope A; the files now in scope B: new accounts, and the old ones orphaned.
    state = state_of(record("LUID_1", scoped_body("IA_1", "A"), "accounts/a.yaml"))
    plan = make_plan(LoadResult([loaded("accounts/a.yaml", scoped_body("IA_1", "B"))]), state)

    assert [(c.action, c.scope) for c in plan.changes] == [("create", "B"), ("orphaned", "A")]


def test_the_same_body_is_unchanged_and_not_sent() -> None:
    desired = loaded("accounts/a.yaml", body("IA_1"))
    plan = make_plan(
        LoadResult([desired]), state_of(record("LUID_1", body("IA_1"), "accounts/a.yaml"))
    )

    (change,) = plan.changes
    assert (change.action, change.lusid_id, change.moved_from) == ("unchanged", "LUID_1", None)
    assert plan.to_send == []
    assert not plan.has_changes


def test_a_renamed_file_with_the_same_body_is_a_move_recorded_but_not_sent() -> None:
    desired = loaded("accounts/uk/a.yaml", body("IA_1"))
    plan = make_plan(
        LoadResult([desired]), state_of(record("LUID_1", body("IA_1"), "accounts/a.yaml"))
    )

    (change,) = plan.changes
    assert change.action == "unchanged"
    assert change.path == "accounts/uk/a.yaml"
    assert change.moved_from == "accounts/a.yaml"
    assert plan.moves == [change]
    assert plan.to_send == []
    assert plan.has_changes  # apply has something to record


def test_an_account_is_matched_by_any_shared_identifier() -> None:
    applied = body("IA_1")
    desired = body("IA_1", identifiers={EXT: "IA_1", INT: "Internal_1"})
    plan = make_plan(
        LoadResult([loaded("a.yaml", desired)]), state_of(record("LUID_1", applied, "a.yaml"))
    )

    (change,) = plan.changes
    assert change.action == "update"
    assert change.differences == [
        Difference(f'identifiers["{INT}"]', "add", None, {"value": "Internal_1"})
    ]


def test_an_update_lists_each_changed_attribute_in_readable_paths() -> None:
    applied = body(
        "IA_1",
        displayName="John Doe",
        accountHolders=[
            {"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_1"}},
            {"key": "AccountHolder2", "identifiers": {HOLDER_ID: "IR_2"}},
        ],
    )
    desired = body(
        "IA_1",
        displayName="John A. Doe",
        properties={COUNTRY: "France", "InvestmentAccount/Details/Email": "john@example.com"},
        description="Main account",
    )
    plan = make_plan(
        LoadResult([loaded("a.yaml", desired)]), state_of(record("LUID_9", applied, "a.yaml", 3))
    )

    (change,) = plan.changes
    assert (change.action, change.lusid_id, change.version) == ("update", "LUID_9", 3)
    assert change.differences == [
        Difference("displayName", "change", "John Doe", "John A. Doe"),
        Difference("description", "add", None, "Main account"),
        Difference(f'properties["{COUNTRY}"].value', "change", "United Kingdom", "France"),
        Difference(
            'properties["InvestmentAccount/Details/Email"]',
            "add",
            None,
            {"value": "john@example.com"},
        ),
        Difference(
            'accountHolders["AccountHolder2"]',
            "remove",
            {"identifiers": {HOLDER_ID: {"value": "IR_2"}}},
            None,
        ),
    ]
    assert plan.to_send == [change]


def test_keyed_list_items_are_matched_by_key_not_position() -> None:
    holders = [
        {"key": "A", "identifiers": {HOLDER_ID: "IR_A"}},
        {"key": "B", "identifiers": {HOLDER_ID: "IR_B"}},
        {"key": "C", "identifiers": {HOLDER_ID: "IR_C"}},
    ]
    before = body("IA_1", accountHolders=holders)
    after = body("IA_1", accountHolders=holders[1:])

    assert differences(before, after) == [
        Difference('accountHolders["A"]', "remove", {"identifiers": {HOLDER_ID: {"value": "IR_A"}}})
    ]


def test_a_changed_holder_identifier_and_portfolio_have_nested_paths() -> None:
    portfolio = {"key": "P1", "portfolioScope": "S", "portfolioCode": "C1"}
    before = body("IA_1", investmentPortfolios=[portfolio])
    after = body(
        "IA_1",
        accountHolders=[{"key": "AccountHolder1", "identifiers": {HOLDER_ID: "IR_NEW"}}],
        investmentPortfolios=[portfolio | {"portfolioCode": "C2"}],
    )

    assert differences(before, after) == [
        Difference(
            f'accountHolders["AccountHolder1"].identifiers["{HOLDER_ID}"].value',
            "change",
            "IR_1",
            "IR_NEW",
        ),
        Difference('investmentPortfolios["P1"].portfolioCode', "change", "C1", "C2"),
    ]


def test_a_label_set_change_shows_the_whole_set() -> None:
    key = "InvestmentAccount/Details/Tags"
    before = body("IA_1", properties={key: ["a", "b"]})
    after = body("IA_1", properties={key: ["a", "c", "d"]})

    assert differences(before, after) == [
        Difference(f'properties["{key}"].value', "change", ["a", "b"], ["a", "c", "d"])
    ]


def test_a_metric_and_an_effective_date_change() -> None:
    key = "InvestmentAccount/Details/Limit"
    before = body("IA_1", properties={key: {"value": 100, "unit": "GBP"}})
    after = body(
        "IA_1",
        properties={key: {"value": 150, "unit": "GBP", "effectiveFrom": "2020-01-01T00:00:00Z"}},
    )

    assert differences(before, after) == [
        Difference(
            f'properties["{key}"].effectiveFrom', "add", None, "2020-01-01T00:00:00.0000000+00:00"
        ),
        Difference(f'properties["{key}"].value.value', "change", 100, 150),
    ]


def test_a_state_record_no_file_matches_is_orphaned_never_dropped() -> None:
    plan = make_plan(
        LoadResult([loaded("accounts/a.yaml", body("IA_1"))]),
        state_of(
            record("LUID_1", body("IA_1"), "accounts/a.yaml"),
            record("LUID_2", body("IA_2"), "accounts/gone.yaml", 4),
        ),
    )

    orphan = plan.of("orphaned")[0]
    assert (orphan.path, orphan.lusid_id, orphan.version, orphan.file_hash) == (
        "accounts/gone.yaml",
        "LUID_2",
        4,
        None,
    )
    assert plan.counts == {"create": 0, "update": 0, "unchanged": 1, "orphaned": 1}
    assert not plan.has_changes  # nothing to send: orphans are reported, not deleted


def test_a_plan_of_some_paths_orphans_only_records_under_them() -> None:
    state = state_of(
        record("LUID_1", body("IA_1"), "accounts/uk/a.yaml"),
        record("LUID_2", body("IA_2"), "accounts/de/b.yaml"),
    )
    plan = make_plan(LoadResult([]), state, paths=["accounts/uk"])

    assert [c.lusid_id for c in plan.of("orphaned")] == ["LUID_1"]


def test_identifiers_matching_two_state_records_is_an_error_naming_file_and_ids() -> None:
    state = state_of(
        record("LUID_1", body("IA_1"), "a.yaml"), record("LUID_2", body("IA_2"), "b.yaml")
    )
    both = body("IA_1", identifiers={EXT: "IA_1", INT: "x"})
    state.accounts["LUID_2"].identifiers = {INT: "x"}

    with pytest.raises(PlanError) as caught:
        make_plan(LoadResult([loaded("accounts/both.yaml", both)]), state)

    message = str(caught.value)
    assert "accounts/both.yaml" in message
    # Which identifier is whose, so the user knows which one to change.
    assert f"LUID_1 has {EXT}=IA_1 (last applied from a.yaml)" in message
    assert f"LUID_2 has {INT}=x (last applied from b.yaml)" in message


def test_two_files_matching_one_state_record_is_an_error() -> None:
    applied = body("IA_1", identifiers={EXT: "IA_1", INT: "Internal_1"})
    first = body("IA_1")
    second = body("IA_X", identifiers={EXT: "IA_X", INT: "Internal_1"})
    with pytest.raises(PlanError, match=r"a\.yaml and b\.yaml .*LUID_1"):
        make_plan(
            LoadResult([loaded("a.yaml", first), loaded("b.yaml", second)]),
            state_of(record("LUID_1", applied, "a.yaml")),
        )


def test_batches_follow_the_batch_size() -> None:
    accounts = [loaded(f"a{i}.yaml", body(f"IA_{i}")) for i in range(5)]
    plan = make_plan(LoadResult(accounts), State.new(), batch_size=2, success_mode="Atomic")

    assert (plan.batches, plan.success_mode) == (3, "Atomic")


# --- saved plans ------------------------------------------------------------------------------


def _mixed_plan() -> tuple[LoadResult, State]:
    load = LoadResult(
        [
            loaded("accounts/a.yaml", body("IA_1", displayName="New name")),
            loaded("accounts/b.yaml", body("IA_2")),
            loaded("accounts/c.yaml", body("IA_3")),
        ]
    )
    state = state_of(
        record("LUID_1", body("IA_1"), "accounts/a.yaml", 2),
        record("LUID_3", body("IA_3"), "accounts/c.yaml"),
        record("LUID_4", body("IA_4"), "accounts/d.yaml"),
    )
    return load, state


def test_a_saved_plan_loads_back_with_the_exact_bodies(tmp_path: Path) -> None:
    load, state = _mixed_plan()
    plan = make_plan(load, state, success_mode="Atomic", batch_size=7)
    target = tmp_path / "plans" / "tf.plan"

    save_plan(plan, target)
    again = load_plan(target)

    assert [p.name for p in target.parent.iterdir()] == ["tf.plan"]  # no temp file left
    assert (again.lineage, again.serial) == ("lineage-1", 3)
    assert (again.success_mode, again.batch_size) == ("Atomic", 7)
    assert again.file_hashes == plan.file_hashes
    assert again.counts == plan.counts == {"create": 1, "update": 1, "unchanged": 1, "orphaned": 1}
    assert again.format_version == PLAN_FORMAT_VERSION
    assert again.created_at == plan.created_at
    for before, after in zip(plan.to_send, again.to_send, strict=True):
        assert canonical_json(after.body) == canonical_json(before.body)
        assert (after.path, after.action, after.lusid_id, after.body_hash, after.file_hash) == (
            before.path,
            before.action,
            before.lusid_id,
            before.body_hash,
            before.file_hash,
        )
        assert after.differences == before.differences
        assert after.identity == before.identity


def test_a_saved_plan_holds_no_more_than_it_needs(tmp_path: Path) -> None:
    load, state = _mixed_plan()
    save_plan(make_plan(load, state), tmp_path / "p")
    doc = json.loads((tmp_path / "p").read_text())

    assert set(doc) >= {"format_version", "iasync_version", "created_at", "state", "settings"}
    sent = [c for c in doc["changes"] if "body" in c]
    assert [c["action"] for c in sent] == ["update", "create"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not a readable plan file"),
        (b"[]", "not an iasync plan file"),
        (b'{"format_version": 1, "changes": []}', "the plan file is corrupt"),
    ],
)
def test_a_corrupt_plan_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "p").write_bytes(content)
    with pytest.raises(PlanFileError, match=expected):
        load_plan(tmp_path / "p")


def test_a_plan_from_a_newer_iasync_is_refused(tmp_path: Path) -> None:
    load, state = _mixed_plan()
    save_plan(make_plan(load, state), tmp_path / "p")
    doc = json.loads((tmp_path / "p").read_text())
    doc["format_version"] = PLAN_FORMAT_VERSION + 1
    (tmp_path / "p").write_text(json.dumps(doc))

    with pytest.raises(PlanFileError, match="newer iasync"):
        load_plan(tmp_path / "p")


def test_an_edited_body_in_a_plan_file_is_refused(tmp_path: Path) -> None:
    load, state = _mixed_plan()
    save_plan(make_plan(load, state), tmp_path / "p")
    doc = json.loads((tmp_path / "p").read_text())
    doc["changes"][0]["body"]["displayName"] = "Sneaky"
    (tmp_path / "p").write_text(json.dumps(doc))

    with pytest.raises(PlanFileError, match=r"accounts/a\.yaml does not match its hash"):
        load_plan(tmp_path / "p")


def test_a_missing_plan_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="iasync plan -out"):
        load_plan(tmp_path / "nothing")


# --- staleness --------------------------------------------------------------------------------


def test_a_fresh_plan_passes_and_gets_its_records_back(tmp_path: Path) -> None:
    load, state = _mixed_plan()
    save_plan(make_plan(load, state), tmp_path / "p")
    plan = load_plan(tmp_path / "p")

    check_fresh(plan, state, load)

    update = plan.of("update")[0]
    assert update.record is state.accounts["LUID_1"]


def test_a_plan_is_stale_once_the_state_serial_moved() -> None:
    load, state = _mixed_plan()
    plan = make_plan(load, state)
    state.serial = 4

    with pytest.raises(
        StalePlanError, match=r"state changed since the plan was made \(serial 3 -> 4\)"
    ):
        check_fresh(plan, state, load)


def test_a_plan_made_before_any_state_is_fresh_while_there_is_still_none() -> None:
    load = LoadResult([loaded("accounts/a.yaml", body("IA_1"))])
    plan = make_plan(load, State.new())
    state = State.new()  # an absent state: another made-up lineage on each read

    check_fresh(plan, state, load)

    assert state.lineage == plan.lineage  # its first write carries the reviewed plan's lineage


def test_a_plan_is_stale_against_another_lineage() -> None:
    load, state = _mixed_plan()
    plan = make_plan(load, state)

    with pytest.raises(StalePlanError, match="different state"):
        check_fresh(plan, State(lineage="other", serial=3, accounts=state.accounts), load)


def test_a_plan_is_stale_once_a_file_changed_was_added_or_removed() -> None:
    load, state = _mixed_plan()
    plan = make_plan(load, state)
    a, b, c = load.accounts

    edited = LoadResult([a, loaded(b.path, b.body, text="edited"), c])
    with pytest.raises(StalePlanError, match=r"accounts/b\.yaml changed"):
        check_fresh(plan, state, edited)
    added = LoadResult([a, b, c, loaded("accounts/new.yaml", body("IA_5"))])
    with pytest.raises(StalePlanError, match=r"accounts/new\.yaml added"):
        check_fresh(plan, state, added)
    with pytest.raises(StalePlanError, match=r"accounts/c\.yaml removed"):
        check_fresh(plan, state, LoadResult([a, b]))
    broken = LoadResult([a, b], [Problem("accounts/c.yaml", 3, 1, "bad")])
    with pytest.raises(StalePlanError, match=r"accounts/c\.yaml changed"):
        check_fresh(plan, state, broken)


def test_a_plan_of_some_paths_ignores_files_outside_them() -> None:
    load, state = _mixed_plan()
    plan = make_plan(LoadResult(load.accounts[:1]), state, paths=["accounts/a.yaml"])

    check_fresh(plan, state, load)  # b.yaml and c.yaml were never part of this plan


def test_replacing_every_member_names_each_one_not_the_whole_field() -> None:
    # DeepDiff's default reports a dict sharing under a third of its keys as one replaced value.
    before = body("IA_1", properties={COUNTRY: "UK"})
    after = body("IA_1", properties={"InvestmentAccount/Details/Name": "Jo"})

    assert differences(before, after) == [
        Difference(f'properties["{COUNTRY}"]', "remove", {"value": "UK"}, None),
        Difference('properties["InvestmentAccount/Details/Name"]', "add", None, {"value": "Jo"}),
    ]


def test_a_saved_plan_that_read_lusid_loads_back_with_what_lusid_said(tmp_path: Path) -> None:
    # What the plan's read of LUSID found is text (`remote`, `lusid_read`): a saved plan holding
    # it must load back, not be called corrupt.
    load, state = _mixed_plan()
    plan = make_plan(load, state)
    plan.lusid_read = "a GET for each of 1 account"
    created = plan.of("create")[0]
    created.remote, created.remote_id, created.remote_version = "exists", "LUID_X", 4
    target = tmp_path / "read.plan"

    save_plan(plan, target)
    again = load_plan(target)

    assert again.lusid_read == "a GET for each of 1 account"
    (loaded,) = again.of("create")
    assert (loaded.remote, loaded.remote_id, loaded.remote_version) == ("exists", "LUID_X", 4)
    text = target.read_text().replace('"remote": "exists"', '"remote": "elsewhere"')
    target.write_text(text)
    with pytest.raises(PlanFileError, match=r"remote: unknown answer 'elsewhere'"):
        load_plan(target)
