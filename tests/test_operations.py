"""What the commands do, without click: plan now, load a saved plan, a saved plan's settings, an
apply under the state's lock, and its audit entry however it ends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from iasync.lusid import LusidApiError, LusidClient, load_lusid_config
from iasync.operations import (
    InvalidAccountFiles,
    PlanOptions,
    apply_plan,
    load_saved_plan,
    open_apply,
    plan_now,
    settings_of_plan,
    state_backend,
)
from iasync.plans.planfile import StalePlanError, save_plan
from iasync.settings import Settings
from iasync.states import LocalStateBackend, State, StateLockedError, open_backend

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def account(ident: str) -> str:
    return f"identifiers:\n  {EXT}: {ident}\ndisplayName: One\naccountType: Personal\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "accounts").mkdir()
    return Settings(root=tmp_path)


def test_plan_now_plans_every_file_against_the_state(settings: Settings) -> None:
    (settings.root / "accounts" / "a.yaml").write_text(account("IA_1"))

    plan = plan_now(settings, State.new())

    assert [(c.action, c.path) for c in plan.changes] == [("create", "accounts/a.yaml")]
    assert (plan.success_mode, plan.batch_size, plan.paths) == ("Partial", 500, [])


def test_plan_now_of_invalid_files_raises_with_their_located_problems(settings: Settings) -> None:
    (settings.root / "accounts" / "a.yaml").write_text(account("IA_1").replace("One", "[x"))

    with pytest.raises(InvalidAccountFiles) as raised:
        plan_now(settings, State.new())

    assert str(raised.value) == "1 problem in the account files"
    assert [p.path for p in raised.value.load.problems] == ["accounts/a.yaml"]


def test_a_saved_plan_is_loaded_while_fresh_and_refused_once_a_file_changed(
    settings: Settings,
) -> None:
    path = settings.root / "accounts" / "a.yaml"
    path.write_text(account("IA_1"))
    state = State.new()
    save_plan(plan_now(settings, state), settings.root / "tf.plan")

    assert load_saved_plan(settings, state, settings.root / "tf.plan").counts["create"] == 1
    path.write_text(account("IA_2"))
    with pytest.raises(StalePlanError, match=re.escape("accounts/a.yaml changed")):
        load_saved_plan(settings, state, settings.root / "tf.plan")


def test_a_saved_plans_settings_win_unless_given_on_the_command_line(settings: Settings) -> None:
    plan = plan_now(settings.with_overrides(success_mode="Atomic", batch_size=7), State.new())

    kept = settings_of_plan(settings, plan, overridden=())
    assert (kept.success_mode, kept.batch_size) == ("Atomic", 7)
    given = settings_of_plan(settings, plan, overridden={"batch_size"})
    assert (given.success_mode, given.batch_size) == ("Atomic", 500)


def test_the_state_file_named_on_the_command_line_wins(settings: Settings) -> None:
    backend = state_backend(settings.root / "elsewhere.json", settings)

    assert isinstance(backend, LocalStateBackend)
    assert backend.describe() == str(settings.root / "elsewhere.json")
    assert state_backend(None, settings).describe() == str(settings.state_path)


def test_an_apply_run_holds_the_lock_plans_applies_and_adopts_a_saved_plans_settings(
    settings: Settings, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    (settings.root / "accounts" / "a.yaml").write_text(account("IA_1"))
    atomic = settings.with_overrides(success_mode="Atomic")
    save_plan(plan_now(atomic, State.new()), settings.root / "tf.plan")

    with open_apply(settings, lock_timeout=0, on_retry=print) as run:
        with pytest.raises(StateLockedError), open_backend(settings).lock("apply"):
            pass
        assert run.target.startswith(emulator.url)
        plan = run.open_saved_plan(settings.root / "tf.plan", overridden=())
        assert run.settings.success_mode == "Atomic"  # the plan's, as reviewed
        assert [c.action for c in run.plan_every_file(PlanOptions()).changes] == ["create"]
        result = run.apply(plan)

    assert result.created == ["accounts/a.yaml"]
    assert len(open_backend(settings).read().accounts) == 1


REFUSED = "LUSID refused the token (401 Unauthorized): check FBN_ACCESS_TOKEN"


class StopsAfter:
    """A client that passes its first `upserts` batch upserts to `client`, then gets a fatal
    401 (as when LUSID stops taking the token) for every other."""

    def __init__(self, client: LusidClient, upserts: int) -> None:
        self.client, self.upserts, self.api = client, upserts, client.api

    def upsert_investment_accounts(self, requests: Any, success_mode: str) -> Any:
        if self.upserts == 0:
            raise LusidApiError(REFUSED, status=401)
        self.upserts -= 1
        return self.client.upsert_investment_accounts(requests, success_mode)


@pytest.mark.parametrize(("upserts", "created", "moved"), [(0, 0, 0), (1, 1, 1), (2, 2, 1)])
def test_an_apply_an_error_stops_records_what_it_recorded_before_and_the_error(
    settings: Settings, emulator: Any, upserts: int, created: int, moved: int
) -> None:
    settings = settings.with_overrides(batch_size=1, concurrency=1)
    backend = open_backend(settings)
    accounts = settings.root / "accounts"
    (accounts / "a.yaml").write_text(account("IA_A"))
    with LusidClient(load_lusid_config(env=emulator.env())) as client:
        state = backend.read()
        with backend.lock("apply"):
            apply_plan(settings, plan_now(settings, state), state, backend, client)
        (accounts / "a.yaml").rename(accounts / "moved.yaml")
        for n in range(3):
            (accounts / f"new-{n}.yaml").write_text(account(f"IA_{n}"))
        state = backend.read()
        plan = plan_now(settings, state)
        with backend.lock("apply"), pytest.raises(LusidApiError, match=re.escape(REFUSED)):
            apply_plan(settings, plan, state, backend, StopsAfter(client, upserts))  # type: ignore[arg-type]

    first, stopped = backend.applies()
    assert "stopped" not in first
    assert stopped["stopped"] == {"message": REFUSED, "status": 401}
    counts = {"created": created, "updated": 0, "moved": moved, "deleted": 0, "failed": 0}
    assert stopped["counts"] == counts
    # As the state has it: the move is written with the first batch recorded, or not at all.
    sources = sorted(record.source for record in backend.read().accounts.values())
    assert len(sources) == 1 + created
    assert ("accounts/moved.yaml" in sources) == bool(moved)
