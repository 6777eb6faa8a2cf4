"""Finding and loading account files: canonical bodies of valid files, located problems."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from iasync.accounts import pool, reading, validation
from iasync.accounts.loader import find_account_files, load_accounts
from iasync.accounts.model import AccountFile, body_hash, canonical_body, identity_of
from iasync.errors import Problem
from iasync.plans.plan import reusable_files
from iasync.settings import Settings
from iasync.states import AccountRecord, State

REPOSITORY = Path(__file__).resolve().parents[2]
EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def account(ident: str, extra: str = "") -> str:
    return f"identifiers:\n  {EXT}: {ident}\ndisplayName: One\naccountType: Personal\n" + extra


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "accounts").mkdir()
    return Settings(root=tmp_path)


def write(settings: Settings, name: str, content: str | bytes) -> Path:
    path = settings.root / "accounts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def test_the_example_accounts_load_as_the_model_reads_them() -> None:
    settings = Settings(root=REPOSITORY)

    result = load_accounts([], settings)

    assert result.ok and result.files == 2
    for loaded in result.accounts:
        path = REPOSITORY / loaded.path
        raw = path.read_bytes()
        # PyYAML's own safe loader (datetimes and all) and the model give the same body.
        assert loaded.body == canonical_body(AccountFile.model_validate(yaml.safe_load(raw)))
        assert loaded.file_hash == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert loaded.identity == {
            (key, value["value"]["labelValue"]) for key, value in loaded.body["identifiers"].items()
        }
    assert [a.path for a in result.accounts] == ["accounts/jane-doe.yaml", "accounts/john-doe.yaml"]


def test_timestamps_in_every_spelling_become_the_same_body(settings: Settings) -> None:
    spellings = [
        "2016-01-01",
        "'2016-01-01'",
        "2016-01-01T00:00:00Z",
        "2016-01-01T00:00:00+00:00",
        "2016-01-01 01:00:00+01:00",
        "'2016-01-01T00:00:00.000+00:00'",
    ]
    for index, spelling in enumerate(spellings):
        prop = (
            f"properties:\n  InvestmentAccount/A/B:\n    value: x\n    effectiveFrom: {spelling}\n"
        )
        write(settings, f"a{index}.yaml", account(f"IA_{index}", prop))

    result = load_accounts([], settings)

    assert result.ok, result.problems
    effective = {
        a.body["properties"]["InvestmentAccount/A/B"]["effectiveFrom"] for a in result.accounts
    }
    assert effective == {"2016-01-01T00:00:00.0000000+00:00"}


def test_find_account_files_skips_hidden_and_other_files(settings: Settings) -> None:
    write(settings, "b.yaml", account("IA_B"))
    write(settings, "sub/a.yml", account("IA_A"))
    write(settings, ".hidden/c.yaml", account("IA_C"))
    write(settings, ".d.yaml", account("IA_D"))
    write(settings, "notes.txt", "no")
    outside = settings.root / "elsewhere"
    outside.mkdir()
    (settings.root / "accounts" / "linked").symlink_to(outside, target_is_directory=True)
    (outside / "e.yaml").write_text(account("IA_E"))

    found = find_account_files([], settings)

    assert [p.relative_to(settings.root).as_posix() for p in found] == [
        "accounts/b.yaml",
        "accounts/sub/a.yml",
    ]
    named = settings.root / "accounts" / "notes.txt"
    assert find_account_files([named], settings) == [named]


def test_files_are_listed_in_the_order_paths_sort_by_their_parts(settings: Settings) -> None:
    for name in ("a-c/x.yaml", "a/b.yaml", "a.b/y.yml", "a0.yaml", "Z/z.yaml", "x.yaml/in.yaml"):
        write(settings, name, account("IA_" + name))

    found = find_account_files([], settings)

    # By parts, as `Path`s compare ("a/b" before "a-c", though "-" sorts before "/" in text); a
    # directory named like an account file is searched, not listed.
    assert [p.relative_to(settings.root / "accounts").as_posix() for p in found] == [
        "Z/z.yaml",
        "a/b.yaml",
        "a-c/x.yaml",
        "a.b/y.yml",
        "a0.yaml",
        "x.yaml/in.yaml",
    ]
    assert found == sorted(found)
    assert find_account_files([Path("relative/../named.yaml")], settings) == [
        Path("relative/../named.yaml")
    ]


def test_symlinked_files_found_in_a_search_are_checked_when_read(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    inside = write(settings, "a.yaml", account("IA_A"))
    outside = tmp_path_factory.mktemp("outside") / "o.yaml"
    outside.write_text(account("IA_O"))
    accounts = settings.root / "accounts"
    (accounts / "in.yaml").symlink_to(inside)
    (accounts / "out.yaml").symlink_to(outside)
    (accounts / "broken.yaml").symlink_to(settings.root / "missing.yaml")

    result = load_accounts([settings.root / "accounts", settings.root], settings)

    assert result.files == 4  # each once, though both paths hold them
    clash = "each account must have its own identifiers"
    assert [str(p) for p in result.problems] == [
        f"accounts/a.yaml:2:54: identifier {EXT}=IA_A is also claimed by accounts/in.yaml; {clash}",
        "accounts/broken.yaml:1:1: no such file or directory",
        f"accounts/in.yaml:2:54: identifier {EXT}=IA_A is also claimed by accounts/a.yaml; {clash}",
        f"accounts/out.yaml:1:1: a symlink to {outside.resolve()}, outside the project "
        f"({settings.root}); account files must live in the repository",
    ]


def test_a_file_with_any_problem_gives_no_account(settings: Settings) -> None:
    write(settings, "good.yaml", account("IA_1"))
    write(settings, "bad.yaml", account("IA_2", "description: 12\n"))

    result = load_accounts([], settings)

    assert not result.ok
    assert [a.path for a in result.accounts] == ["accounts/good.yaml"]
    assert result.problems == [
        Problem(
            "accounts/bad.yaml",
            5,
            14,
            "description: expected text, but YAML reads 12 as the number 12; quote it: '12'",
        )
    ]


def test_problems_are_sorted_and_never_repeated(settings: Settings) -> None:
    write(settings, "b.yaml", account("IA_1", "displayname: x\ndescription: [1]\n"))
    write(settings, "a.yaml", "displayName: [x]\n")

    problems = load_accounts([], settings).problems

    assert [(p.path, p.line, p.column) for p in problems] == sorted(
        (p.path, p.line, p.column) for p in problems
    )
    assert len(problems) == len(set(problems))
    assert [str(p) for p in problems] == [
        "accounts/a.yaml:1:1: missing required key 'accountType'",
        "accounts/a.yaml:1:1: missing required key 'identifiers'",
        "accounts/a.yaml:1:14: displayName: expected text, got a list",
        "accounts/b.yaml:5:1: unknown key 'displayname'; did you mean displayName?",
        "accounts/b.yaml:6:14: description: expected text, got a list",
    ]


BAD_SCOPE = (
    "accounts/a.yaml:2:3: key 'InvestmentAccount/Bad Scope/X': the scope may hold only "
    "letters, digits, '-' and '_' (not ' ')"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "identifiers:\n  InvestmentAccount/Bad Scope/X: 0012\ndisplayName: x\n"
            "accountType: Personal\nproperties:\n  Country: null\n",
            [
                BAD_SCOPE,
                'accounts/a.yaml:2:34: identifiers["InvestmentAccount/Bad Scope/X"]: YAML 1.1 '
                "reads 0012 as the number 10; quote it: '0012'",
                "accounts/a.yaml:6:3: key 'Country' must have the form "
                "InvestmentAccount/{scope}/{code}",
                'accounts/a.yaml:6:12: properties["Country"]: no value (YAML reads it as null); '
                "write a value, or remove the key if it is optional",
            ],
            id="values-the-yaml-stage-refuses",
        ),
        pytest.param(
            "identifiers:\n  InvestmentAccount/Bad Scope/X: [a]\n"
            "  Inv/x: {value: {labelValue: x}, bogus: 1}\ndisplayName: x\naccountType: Personal\n",
            [
                BAD_SCOPE,
                'accounts/a.yaml:2:34: identifiers["InvestmentAccount/Bad Scope/X"]: expected '
                "text or a mapping, got a list",
                "accounts/a.yaml:3:3: key 'Inv/x' must have the form "
                "InvestmentAccount/{scope}/{code}",
                "accounts/a.yaml:3:35: unknown key 'bogus' in identifiers[\"Inv/x\"]; expected "
                "one of: effectiveFrom, effectiveUntil, key, value",
            ],
            id="values-the-schema-refuses-as-under-a-good-key",
        ),
    ],
)
def test_a_bad_key_with_a_bad_value_is_two_faults_each_on_its_own_line(
    settings: Settings, text: str, expected: list[str]
) -> None:
    write(settings, "a.yaml", text)

    assert [str(p) for p in load_accounts([], settings).problems] == expected


def test_an_identifier_shared_by_three_files_is_reported_in_each(settings: Settings) -> None:
    for name in ("a", "b", "c"):
        write(settings, f"{name}.yaml", account("IA_SAME"))
    write(settings, "d.yaml", account("IA_OWN"))

    result = load_accounts([], settings)

    assert [a.path for a in result.accounts] == ["accounts/d.yaml"]
    assert [str(p) for p in result.problems] == [
        f"accounts/a.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by accounts/b.yaml, "
        "accounts/c.yaml; each account must have its own identifiers",
        f"accounts/b.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by accounts/a.yaml, "
        "accounts/c.yaml; each account must have its own identifiers",
        f"accounts/c.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by accounts/a.yaml, "
        "accounts/b.yaml; each account must have its own identifiers",
    ]


def test_shared_identifiers_are_found_in_the_long_form_and_in_invalid_files(
    settings: Settings,
) -> None:
    write(settings, "a.yaml", account("IA_SAME"))
    long_form = f"identifiers:\n  {EXT}:\n    value: {{labelValue: IA_SAME}}\ndisplayName: 12\n"
    write(settings, "b.yaml", long_form)

    messages = [str(p) for p in load_accounts([], settings).problems]

    assert (
        f"accounts/b.yaml:3:25: identifier {EXT}=IA_SAME is also claimed by accounts/a.yaml; "
        "each account must have its own identifiers"
    ) in messages
    assert messages[0].startswith("accounts/a.yaml:2:54: identifier")


def test_the_same_value_under_another_identifier_is_no_clash(settings: Settings) -> None:
    write(settings, "a.yaml", account("IA_1"))
    other = "InvestmentAccount/InternalIdentifier/InternalIAId"
    write(settings, "b.yaml", account("IA_1").replace(EXT, other))

    assert load_accounts([], settings).ok


def test_a_non_utf8_file_is_located_at_its_first_bad_byte(settings: Settings) -> None:
    write(settings, "latin.yaml", b"identifiers:\n  x: \xff\xfe\n")

    assert [str(p) for p in load_accounts([], settings).problems] == [
        "accounts/latin.yaml:2:6: not UTF-8 text (byte 0xff); save the file with UTF-8 encoding"
    ]


def test_a_utf8_byte_order_mark_is_fine(settings: Settings) -> None:
    write(settings, "bom.yaml", b"\xef\xbb\xbf" + account("IA_BOM").encode())

    assert load_accounts([], settings).ok


def test_not_a_regular_file(settings: Settings) -> None:
    fifo = settings.root / "accounts" / "pipe.yaml"
    os.mkfifo(fifo)

    assert [str(p) for p in load_accounts([fifo], settings).problems] == [
        "accounts/pipe.yaml:1:1: not a regular file"
    ]


def test_a_symlinked_directory_out_of_the_project_is_refused_when_named(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "x.yaml").write_text(account("IA_X"))
    (settings.root / "accounts" / "linked").symlink_to(outside, target_is_directory=True)

    named = settings.root / "accounts" / "linked" / "x.yaml"
    problems = load_accounts([named], settings).problems

    assert [str(p) for p in problems] == [
        f"accounts/linked/x.yaml:1:1: a symlink to {outside.resolve() / 'x.yaml'}, outside the "
        f"project ({settings.root}); account files must live in the repository"
    ]


def test_a_file_outside_the_project_named_on_purpose_is_read(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.yaml"
    elsewhere.write_text(account("IA_X"))

    result = load_accounts([elsewhere], settings)

    assert result.ok
    assert [a.path for a in result.accounts] == [elsewhere.as_posix()]


def test_many_files_load_in_a_process_pool_with_the_same_result(settings: Settings) -> None:
    count = pool.PARALLEL_THRESHOLD + 20
    for number in range(count):
        write(settings, f"g{number % 7}/a{number:04d}.yaml", account(f"IA_{number}"))
    write(settings, "g0/clash.yaml", account("IA_5"))
    write(settings, "g1/bad.yaml", account("IA_BAD", "description: yes\n"))

    pooled = load_accounts([], settings)
    files = find_account_files([], settings)
    serial = [validation.load_file(path, settings) for path in files]

    assert pooled.files == count + 2
    assert len(pooled.accounts) == count - 1  # IA_5 is claimed twice
    claimed_twice = {"IA_5"}
    assert [a.body for a in pooled.accounts] == [
        o.account.body
        for o in serial
        if o.account is not None and not {c.value for c in o.claims} & claimed_twice
    ]
    assert [str(p) for p in pooled.problems] == [
        f"accounts/g0/clash.yaml:2:54: identifier {EXT}=IA_5 is also claimed by "
        "accounts/g5/a0005.yaml; each account must have its own identifiers",
        "accounts/g1/bad.yaml:5:14: description: expected text, but YAML reads yes as the "
        "boolean true; quote it: 'yes'",
        f"accounts/g5/a0005.yaml:2:54: identifier {EXT}=IA_5 is also claimed by "
        "accounts/g0/clash.yaml; each account must have its own identifiers",
    ]


def test_when_the_validators_disagree_jsonschema_rs_words_are_used(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A schema stricter than the one jsonschema explains with: the fallback must still locate.
    import jsonschema_rs

    from iasync.accounts.schema import load_schema

    strict = {**load_schema(), "properties": {**load_schema()["properties"]}}
    strict["properties"]["displayName"] = {"type": "string", "maxLength": 2}
    monkeypatch.setitem(
        validation._FAST_VALIDATORS,
        "unscoped",
        jsonschema_rs.validator_for(strict, validate_formats=False),
    )
    write(settings, "a.yaml", account("IA_1"))

    assert [str(p) for p in load_accounts([], settings).problems] == [
        'accounts/a.yaml:3:14: "One" is longer than 2 characters'
    ]


def test_a_file_named_twice_is_read_once(settings: Settings) -> None:
    path = write(settings, "a.yaml", account("IA_1"))

    result = load_accounts([settings.root / "accounts", path, path.absolute()], settings)

    assert result.ok and result.files == 1


def test_the_models_own_complaint_is_located_at_the_deepest_node_it_names() -> None:
    # Checks catch this before the model runs; called directly, the model's message is located.
    from iasync.accounts.yaml import parse

    text = account("IA_1", "properties:\n  InvestmentAccount/A/B:\n    value: x\n    unit: GBP\n")

    body, problems = validation._canonical("a.yaml", parse(text))

    assert body is None
    assert [str(p) for p in problems] == ["a.yaml:7:5: unit is only for numbers (metric values)"]


# --- reusing the state's bodies for files as applied --------------------------------------------


def applied_state(settings: Settings, canonical_format: int | None = None) -> State:
    """The state apply would leave after sending every file as it is now (stamped as apply
    stamps it under the settings' API generation)."""
    from iasync.accounts.model import canonical_format_for

    stamp = canonical_format or canonical_format_for(settings.api)
    state = State("lineage", 1, canonical_format=stamp)
    for n, account_ in enumerate(load_accounts([], settings).accounts):
        state.record(
            AccountRecord(
                lusid_id=f"LUID_{n}",
                version=1,
                identifiers=dict(account_.identity),
                body=account_.body,
                body_hash=account_.body_hash,
                source=account_.path,
                source_hash=account_.file_hash,
                applied_at="2026-01-01T00:00:00+00:00",
                commit=None,
            )
        )
    return state


def marked(state: State) -> State:
    """The state with each record's body marked, to tell reused bodies from bodies read."""
    for record in state.accounts.values():
        record.body = {**record.body, "description": "as recorded"}
    return state


def test_files_as_applied_give_the_recorded_body_and_only_others_are_read(
    settings: Settings,
) -> None:
    for name in ("a", "b", "c"):
        write(settings, f"{name}.yaml", account(f"IA_{name}"))
    state = marked(applied_state(settings))
    write(settings, "b.yaml", account("IA_b", "description: edited\n"))
    (settings.root / "accounts" / "c.yaml").rename(settings.root / "accounts" / "moved.yaml")
    write(settings, "d.yaml", account("IA_d"))

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert result.ok and (result.files, result.reused) == (4, 1)
    assert {a.path: a.body.get("description") for a in result.accounts} == {
        "accounts/a.yaml": "as recorded",
        "accounts/b.yaml": "edited",
        "accounts/d.yaml": None,
        "accounts/moved.yaml": None,
    }
    assert [a.path for a in result.accounts] == [
        a.path for a in load_accounts([], settings).accounts
    ]


def test_a_state_of_another_canonical_format_is_not_reused(settings: Settings) -> None:
    write(settings, "a.yaml", account("IA_1"))
    state = marked(applied_state(settings, canonical_format=-1))

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert result.reused == 0
    assert "description" not in result.accounts[0].body
    state.canonical_format = None  # a state written before the format was recorded
    assert load_accounts([], settings, reuse=reusable_files(state)).reused == 0


def test_a_new_file_claiming_a_reused_files_identifier_is_located_in_both(
    settings: Settings,
) -> None:
    write(settings, "a.yaml", account("IA_SAME"))
    write(settings, "b.yaml", account("IA_OTHER"))
    state = applied_state(settings)
    write(settings, "c.yaml", account("IA_SAME"))

    with_reuse = load_accounts([], settings, reuse=reusable_files(state))

    assert with_reuse.problems == load_accounts([], settings).problems
    assert [str(p) for p in with_reuse.problems] == [
        f"accounts/a.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by accounts/c.yaml; "
        "each account must have its own identifiers",
        f"accounts/c.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by accounts/a.yaml; "
        "each account must have its own identifiers",
    ]
    assert [a.path for a in with_reuse.accounts] == ["accounts/b.yaml"]
    assert with_reuse.reused == 1


def test_a_broken_edit_of_an_applied_file_is_reported(settings: Settings) -> None:
    write(settings, "a.yaml", account("IA_1"))
    write(settings, "b.yaml", account("IA_2"))
    state = applied_state(settings)
    write(settings, "b.yaml", "displayName: [unclosed\n")

    result = load_accounts([], settings, reuse=reusable_files(state))

    assert {p.path for p in result.problems} == {"accounts/b.yaml"}
    (kept,) = result.accounts
    assert kept.path == "accounts/a.yaml"
    # Given from the state, the same as computed from the body.
    assert kept.body_hash == body_hash(kept.body)
    assert kept.identity == identity_of(kept.body)


def test_files_named_relative_to_the_working_directory_are_reused_too(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(settings, "uk/a.yaml", account("IA_1"))
    state = marked(applied_state(settings))
    monkeypatch.chdir(settings.root / "accounts")

    result = load_accounts([Path("uk")], settings, reuse=reusable_files(state))

    assert result.reused == 1
    assert [(a.path, a.body["description"]) for a in result.accounts] == [
        ("accounts/uk/a.yaml", "as recorded")
    ]


def test_a_file_longer_than_one_read_is_reused_only_byte_for_byte(settings: Settings) -> None:
    padding = "# padding\n" * (2 * reading.HASH_BUFFER_BYTES // 10)
    path = write(settings, "a.yaml", account("IA_1") + padding)
    state = marked(applied_state(settings))

    assert load_accounts([], settings, reuse=reusable_files(state)).reused == 1
    path.write_text(account("IA_1") + padding + "# one more line\n")
    result = load_accounts([], settings, reuse=reusable_files(state))
    assert result.reused == 0
    assert "description" not in result.accounts[0].body


# --- today's (scoped) API ---------------------------------------------------------------------


@pytest.fixture
def scoped_settings(settings: Settings) -> Settings:
    return settings.with_overrides(api="scoped", scope="Default")


def test_scoped_files_get_their_scope_from_the_file_or_the_setting(
    scoped_settings: Settings,
) -> None:
    write(scoped_settings, "a.yaml", account("IA_1"))
    write(scoped_settings, "b.yaml", "scope: Own\n" + account("IA_2"))

    result = load_accounts([], scoped_settings)

    assert result.ok, result.problems
    assert {a.path: a.body["scope"] for a in result.accounts} == {
        "accounts/a.yaml": "Default",
        "accounts/b.yaml": "Own",
    }
    assert {a.path: a.scope for a in result.accounts} == {
        "accounts/a.yaml": "Default",
        "accounts/b.yaml": "Own",
    }


def test_a_scoped_file_without_a_scope_and_no_setting_says_where_to_put_one(
    settings: Settings,
) -> None:
    write(settings, "a.yaml", account("IA_1"))
    write(settings, "b.yaml", "scope: Own\n" + account("IA_2"))

    result = load_accounts([], settings.with_overrides(api="scoped"))

    assert [str(p) for p in result.problems] == [
        "accounts/a.yaml:1:1: the account has no scope: add `scope: <scope>` at the top of the "
        'file, or set scope in iasync.toml (under api = "scoped" every account has one)'
    ]
    assert [a.path for a in result.accounts] == ["accounts/b.yaml"]


def test_the_same_identifier_in_two_scopes_is_two_accounts_but_in_one_scope_a_clash(
    scoped_settings: Settings,
) -> None:
    write(scoped_settings, "a.yaml", account("IA_SAME"))
    write(scoped_settings, "b.yaml", "scope: Other\n" + account("IA_SAME"))
    assert load_accounts([], scoped_settings).ok

    write(scoped_settings, "c.yaml", "scope: Default\n" + account("IA_SAME"))
    messages = [str(p) for p in load_accounts([], scoped_settings).problems]
    assert messages == [
        f"accounts/a.yaml:2:54: identifier {EXT}=IA_SAME in scope Default is also claimed by "
        "accounts/c.yaml; each account must have its own identifiers",
        f"accounts/c.yaml:3:54: identifier {EXT}=IA_SAME in scope Default is also claimed by "
        "accounts/a.yaml; each account must have its own identifiers",
    ]


def test_the_other_generations_fields_are_refused_naming_the_api_setting(
    settings: Settings, scoped_settings: Settings
) -> None:
    legacy_portfolio = "investmentPortfolios:\n  - {key: P, portfolioScope: s, portfolioCode: c}\n"
    write(settings, "a.yaml", account("IA_1", legacy_portfolio))
    scoped_problems = [str(p) for p in load_accounts([], scoped_settings).problems]
    assert scoped_problems[1].startswith(
        'accounts/a.yaml:6:14: investmentPortfolios["P"]: portfolioScope is the reference '
        'page\'s portfolio; under api = "scoped" a portfolio is {key, scope, identifiers: '
        "{key: text}}"
    )
    assert scoped_problems[1].endswith(
        'or set api = "unscoped" in iasync.toml if this LUSID speaks the reference page\'s API'
    )
    assert "portfolioCode is the reference page's portfolio" in scoped_problems[2]

    write(settings, "a.yaml", "scope: S\n" + account("IA_1"))
    (unscoped_problem,) = load_accounts([], settings).problems
    assert str(unscoped_problem) == (
        "accounts/a.yaml:1:1: scope: only today's LUSID API has scopes, and this project uses "
        'the reference page\'s (api = "unscoped"): remove scope, or set api = "scoped" in '
        "iasync.toml if this LUSID is today's"
    )


def test_a_scoped_holders_identifiers_are_text_alone(scoped_settings: Settings) -> None:
    holder = (
        "accountHolders:\n  - key: H\n    identifiers:\n"
        "      InvestorRecord/A/B: {value: {labelValue: IR_1}}\n"
    )
    write(scoped_settings, "a.yaml", account("IA_1", holder))

    messages = [str(p) for p in load_accounts([], scoped_settings).problems]

    assert any(
        'under api = "scoped" an investor record\'s identifier is its text alone' in m
        for m in messages
    ), messages


def test_state_records_are_reused_only_under_the_same_scope_setting(
    scoped_settings: Settings,
) -> None:
    write(scoped_settings, "a.yaml", account("IA_1"))
    state = marked(applied_state(scoped_settings))

    same = load_accounts(
        [], scoped_settings, reuse=reusable_files(state, api="scoped", scope="Default")
    )
    assert same.reused == 1

    other = scoped_settings.with_overrides(scope="Moved")
    result = load_accounts([], other, reuse=reusable_files(state, api="scoped", scope="Moved"))
    assert result.reused == 0 and result.accounts[0].body["scope"] == "Moved"
    # Nor are scoped records reused for the reference page's API, nor the other way round.
    assert reusable_files(state, api="unscoped") == {}
