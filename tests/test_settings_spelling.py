"""Issue 8, finding 9: `success_mode` in any case (stored as the API spells it), and a misspelt
setting gets a "did you mean", as `iasync validate` gives for a misspelt account key."""

from __future__ import annotations

from pathlib import Path

import pytest

from iasync.settings import SettingsError, load_settings


@pytest.mark.parametrize("spelling", ["atomic", "ATOMIC", "Atomic", "aTOMIc"])
def test_success_mode_in_any_case_is_stored_as_the_api_spells_it(
    tmp_path: Path, spelling: str
) -> None:
    (tmp_path / "iasync.toml").write_text(f'success_mode = "{spelling}"\n')
    assert load_settings(tmp_path, env={}).success_mode == "Atomic"
    from_env = load_settings(tmp_path, env={"IASYNC_SUCCESS_MODE": spelling.replace("a", "A")})
    assert from_env.success_mode == "Atomic"
    assert load_settings(tmp_path, env={}, success_mode="partial").success_mode == "Partial"


def test_a_misspelt_success_mode_gets_a_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text('success_mode = "partail"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, env={})
    assert str(caught.value).endswith(
        "success_mode must be Partial or Atomic, got 'partail'; did you mean Partial?"
    )


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('acounts_dir = "x"\n', "; did you mean accounts_dir?"),
        ("batchsize = 10\n", "; did you mean batch_size?"),
        ('sucess_mode = "Atomic"\n', "; did you mean success_mode?"),
        ('acounts_dir = "x"\nstat = "s.json"\n', "; did you mean accounts_dir for acounts_dir, "),
    ],
)
def test_a_misspelt_setting_gets_a_did_you_mean(tmp_path: Path, text: str, hint: str) -> None:
    toml = tmp_path / "iasync.toml"
    toml.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, env={})
    message = str(caught.value)
    assert message.startswith(f"{toml}: unknown setting")
    assert hint in message


def test_a_setting_like_none_gets_no_guess(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text("colour = true\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, env={})
    assert "did you mean" not in str(caught.value)
