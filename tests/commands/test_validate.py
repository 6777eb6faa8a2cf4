"""`iasync validate` run as the real command (`python -m iasync`) in a project directory.

One run over a directory of broken files asserts every line it prints: each bad input gets
exactly one located, plain line per fault, and nothing else (no traceback, no repeated fault).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iasync.accounts.loader import load_accounts
from iasync.settings import Settings

EXT = "InvestmentAccount/ExternalIdentifier/ExternalIAId"


def account(ident: str, extra: str = "", *, name: str = "Account One") -> str:
    """A valid account (4 lines) with `extra` lines appended."""
    return f"identifiers:\n  {EXT}: {ident}\ndisplayName: {name}\naccountType: Personal\n" + extra


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IASYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "iasync", "validate", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "accounts").mkdir(parents=True)
    (root / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    return root


def write(project: Path, name: str, content: str | bytes) -> Path:
    path = project / "accounts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


LAUGHS = (
    "identifiers:\n"
    f"  {EXT}: IA_LOL\n"
    "displayName: Lol\n"
    "accountType: Personal\n"
    'properties:\n  InvestmentAccount/Lol/A: &a ["lol","lol","lol","lol","lol","lol","lol"]\n'
    "  InvestmentAccount/Lol/B: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "  InvestmentAccount/Lol/C: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "  InvestmentAccount/Lol/D: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
)

#: file name -> (content, the exact lines `iasync validate` prints for it, without the path)
BAD_FILES: dict[str, tuple[str | bytes, list[str]]] = {
    "invalid-yaml.yaml": (
        "identifiers: [a, b\ndisplayName: x\n",
        [
            "2:12: invalid YAML: did not find expected ',' or ']' "
            "(while parsing a flow sequence at line 1)"
        ],
    ),
    "tab.yaml": (
        account("IA_TAB").replace("  Invest", "\tInvest"),
        ["2:1: a tab character; YAML indents with spaces only: replace the tab"],
    ),
    "duplicate-key.yaml": (
        account("IA_DUPKEY", "displayName: Again\n"),
        [
            "5:1: duplicate key 'displayName' (first at line 3); "
            "a key may appear only once in a mapping"
        ],
    ),
    "empty.yaml": (
        "",
        [
            "1:1: the file is empty; an account file is a mapping with at least identifiers, "
            "displayName and accountType"
        ],
    ),
    "only-comments.yaml": (
        "# nothing here yet\n\n",
        [
            "1:1: the file holds only comments; an account file is a mapping with at least "
            "identifiers, "
            "displayName and accountType"
        ],
    ),
    "a-list.yaml": (
        f"- identifiers: {{{EXT}: IA_LIST}}\n- displayName: x\n",
        [
            "1:1: the file holds a list; an account file is one mapping of keys "
            "(identifiers:, displayName:, accountType:, ...)"
        ],
    ),
    "not-utf8.yaml": (
        account("IA_LATIN1").encode() + b"description: caf\xe9\n",
        ["5:17: not UTF-8 text (byte 0xe9); save the file with UTF-8 encoding"],
    ),
    "two-documents.yaml": (
        account("IA_DOC1") + "---\n" + account("IA_DOC2"),
        ["5:1: a second YAML document starts here; an account file holds exactly one account"],
    ),
    "alias-bomb.yaml": (
        LAUGHS,
        [
            "7:32: YAML alias *a: aliases are not allowed in account files; "
            "write the value out in full (26 more in this file)"
        ],
    ),
    "python-object.yaml": (
        account("IA_PY", "description: !!python/object/apply:os.system [echo hi]\n"),
        [
            "5:14: unsupported YAML tag !!python/object/apply:os.system; "
            "account files hold plain text, numbers, lists and mappings only"
        ],
    ),
    "null.yaml": (
        account("IA_NULL", "description:\n"),
        [
            "5:13: description: no value (YAML reads it as null); write a value, "
            "or remove the key if it is optional"
        ],
    ),
    "naive-timestamp.yaml": (
        account(
            "IA_NAIVE",
            "properties:\n  InvestmentAccount/Details/Country:\n    value: UK\n"
            "    effectiveFrom: 2016-01-01T00:00:00\n",
        ),
        [
            '8:20: properties["InvestmentAccount/Details/Country"].effectiveFrom: the time has '
            "no UTC offset; add one, e.g. 2016-01-01T00:00:00+00:00"
        ],
    ),
    "yaml11-boolean.yaml": (
        account("IA_BOOL", "properties:\n  InvestmentAccount/Details/Country: NO\n"),
        [
            '6:38: properties["InvestmentAccount/Details/Country"]: expected text, a number, '
            "a list or a mapping, but YAML reads NO as the boolean false; quote it: 'NO'"
        ],
    ),
    "octal-code.yaml": (
        account("IA_OCTAL", "properties:\n  InvestmentAccount/Details/Code: 0012\n"),
        [
            '6:35: properties["InvestmentAccount/Details/Code"]: YAML 1.1 reads 0012 as the '
            "number 10; quote it: '0012'"
        ],
    ),
    "number-identifier.yaml": (
        account("12345"),
        [
            f'2:54: identifiers["{EXT}"]: expected text or a mapping, but YAML reads 12345 as '
            "the number 12345; quote it: '12345'"
        ],
    ),
    "near-miss-key.yaml": (
        account("IA_NEAR").replace("displayName", "displayname"),
        ["3:1: unknown key 'displayname'; did you mean displayName?"],
    ),
    "bad-keys.yaml": (
        "identifiers:\n"
        "  InvestorRecord/Ext/Id: IA_K1\n"
        "  InvestmentAccount/Bad Scope/Id: IA_K2\n"
        f"  InvestmentAccount/Ext/{'c' * 65}: IA_K3\n"
        "  InvestmentAccount/Ext: IA_K4\n"
        "displayName: Keys\naccountType: Personal\n",
        [
            "2:3: key 'InvestorRecord/Ext/Id' is in the 'InvestorRecord' domain; here keys must "
            "have the form InvestmentAccount/{scope}/{code}",
            "3:3: key 'InvestmentAccount/Bad Scope/Id': the scope may hold only letters, digits, "
            "'-' and '_' (not ' ')",
            f"4:3: key 'InvestmentAccount/Ext/{'c' * 65}': the code is 65 characters long; "
            "the limit is 64",
            "5:3: key 'InvestmentAccount/Ext' must have the form InvestmentAccount/{scope}/{code}",
        ],
    ),
    "holder-keys.yaml": (
        account(
            "IA_HOLDERS",
            "accountHolders:\n"
            "  - key: H\n    identifiers:\n      InvestorRecord/Ext/Id: IR_1\n"
            "  - key: H\n    identifiers:\n      InvestorRecord/Ext/Id: IR_2\n",
        ),
        [
            "9:10: accountHolders[1].key: 'H' is used twice (first at line 6); "
            "each of accountHolders needs a key of its own"
        ],
    ),
    "portfolio-keys.yaml": (
        account(
            "IA_PORTFOLIOS",
            "investmentPortfolios:\n"
            "  - {key: P, portfolioScope: s, portfolioCode: c}\n"
            "  - {key: P, portfolioScope: s, portfolioCode: d}\n",
        ),
        [
            "7:11: investmentPortfolios[1].key: 'P' is used twice (first at line 6); "
            "each of investmentPortfolios needs a key of its own"
        ],
    ),
    "dates-reversed.yaml": (
        account(
            "IA_DATES",
            "properties:\n  InvestmentAccount/Details/Country:\n    value: UK\n"
            "    effectiveFrom: 2017-01-01\n    effectiveUntil: 2016-06-01T00:00:00+00:00\n",
        ),
        [
            '9:21: properties["InvestmentAccount/Details/Country"]: effectiveUntil '
            "(2016-06-01T00:00:00+00:00) must be after effectiveFrom (2017-01-01)"
        ],
    ),
    "account-type.yaml": (
        account("IA_TYPE").replace("Personal", "Persnal"),
        [
            "4:14: accountType 'Persnal' is not one of the configured types: Personal, "
            "Corporate, JointPersonal, JointCorporate, JointMixed, Individual, Joint, Nominee; "
            "did you mean Personal?"
        ],
    ),
    "long-label.yaml": (
        account("IA_LONG", f"properties:\n  InvestmentAccount/Details/Note: {'x' * 1025}\n"),
        [
            '6:35: properties["InvestmentAccount/Details/Note"]: a label value is 1025 '
            "characters long; the limit is 1024"
        ],
    ),
    "many-properties.yaml": (
        account(
            "IA_MANY",
            "properties:\n" + "".join(f"  InvestmentAccount/P/K{i}: v\n" for i in range(101)),
        ),
        ["5:1: properties: 101 entries; an account may have at most 100 properties"],
    ),
    "missing-keys.yaml": (
        f"identifiers:\n  {EXT}: IA_MISSING\n",
        [
            "1:1: missing required key 'accountType'",
            "1:1: missing required key 'displayName'",
        ],
    ),
    "identifier-with-dates.yaml": (
        f"identifiers:\n  {EXT}:\n    value: IA_DATED\n    effectiveFrom: 2020-01-01\n"
        "displayName: Dated\naccountType: Personal\n",
        [
            f'3:12: identifiers["{EXT}"]: an identifier is its text alone (IA_DATED), or the '
            "long form {key, value: {labelValue: IA_DATED}} when it needs effectiveFrom or "
            "effectiveUntil"
        ],
    ),
    "holder-by-key.yaml": (
        account(
            "IA_HOLDERS_BY_KEY",
            "accountHolders:\n"
            "  - key: H1\n    identifiers: [IR_1]\n"
            "  - key: H2\n    identifiers:\n      InvestorRecord/Ext/Id: 12\n"
            "  - identifiers:\n      InvestorRecord/Ext/Id: IR_3\n",
        ),
        [
            '7:18: accountHolders["H1"].identifiers: expected a mapping, got a list',
            '10:30: accountHolders["H2"].identifiers["InvestorRecord/Ext/Id"]: expected text '
            "or a mapping, but YAML reads 12 as the number 12; quote it: '12'",
            "11:5: accountHolders[2]: missing required key 'key'",
        ],
    ),
    "word-keys.yaml": (
        account("IA_WORDS", "properties:\n  Country: yes\n  Bad Key: [1]\n"),
        [
            "6:3: key 'Country' must have the form InvestmentAccount/{scope}/{code}",
            '6:12: properties["Country"]: expected text, a number, a list or a mapping, '
            "but YAML reads yes as the boolean true; quote it: 'yes'",
            "7:3: key 'Bad Key' must have the form InvestmentAccount/{scope}/{code}",
            '7:13: properties["Bad Key"][0]: expected text, but YAML reads 1 as the number 1; '
            "quote it: '1'",
        ],
    ),
    "value-kind.yaml": (
        account(
            "IA_KIND",
            "properties:\n"
            "  InvestmentAccount/D/X: {key: InvestmentAccount/D/X, value: {textValue: a}}\n"
            "  InvestmentAccount/D/Y: {key: InvestmentAccount/D/Y, value: {labelvalue: a}}\n"
            "  InvestmentAccount/D/Z: {unit: GBP}\n",
        ),
        [
            "6:63: unknown key 'textValue' in properties[\"InvestmentAccount/D/X\"].value; "
            "a value is one of: labelValue (text), metricValue ({value: a number, unit: text}), "
            "labelValueSet ({values: [text, ...]})",
            "7:63: unknown key 'labelvalue' in properties[\"InvestmentAccount/D/Y\"].value; "
            "did you mean labelValue?",
            "8:26: properties[\"InvestmentAccount/D/Z\"]: missing required key 'value'",
        ],
    ),
    "exponent-metric.yaml": (
        account(
            "IA_EXPONENT",
            "properties:\n  InvestmentAccount/D/G: {value: 2.5e3, unit: GBP}\n",
        ),
        [
            '6:34: properties["InvestmentAccount/D/G"].value: YAML 1.1 reads 2.5e3 as text, not '
            "a number; for the number write 2500, for the text quote it: '2.5e3'",
        ],
    ),
    "control-character.yaml": (
        account("IA_CTRL", "description: a\x07b\n"),
        ["5:15: a control character (#x0007) that YAML does not allow; remove it"],
    ),
}


def expected_lines(files: dict[str, tuple[str | bytes, list[str]]]) -> list[str]:
    return sorted(f"accounts/{name}:{line}" for name, (_, lines) in files.items() for line in lines)


def sort_key(line: str) -> tuple[str, int, int]:
    path, line_number, column, _ = line.split(":", 3)
    return path, int(line_number), int(column)


def test_every_problem_in_every_file_in_one_run(project: Path) -> None:
    for name, (content, _) in BAD_FILES.items():
        write(project, name, content)
    write(project, "good.yaml", account("IA_GOOD"))

    done = run(project)

    assert done.returncode == 1, done.stderr
    printed = done.stdout.splitlines()
    assert sorted(printed) == expected_lines(BAD_FILES)
    assert printed == sorted(printed, key=sort_key)  # by file, then line, then column
    problems = sum(len(lines) for _, lines in BAD_FILES.values())
    assert done.stderr == (
        f"{problems} problems in {len(BAD_FILES)} files (of {len(BAD_FILES) + 1} checked).\n"
    )


@pytest.mark.parametrize(
    "name",
    ["alias-bomb.yaml", "python-object.yaml", "yaml11-boolean.yaml", "not-utf8.yaml"],
)
def test_a_file_named_alone_reports_the_same_lines(project: Path, name: str) -> None:
    content, lines = BAD_FILES[name]
    write(project, name, content)

    done = run(project, f"accounts/{name}")

    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"accounts/{name}:{line}" for line in lines]
    assert "Traceback" not in done.stderr


def test_an_enormous_file_is_refused_unread(project: Path) -> None:
    path = write(project, "huge.yaml", account("IA_HUGE") + "# " + "x" * (1024 * 1024) + "\n")
    size = path.stat().st_size

    done = run(project)

    assert done.returncode == 1
    assert done.stdout == (
        f"accounts/huge.yaml:1:1: the file is {size:,} bytes; an account file may be at most "
        "1,048,576 bytes (1 MiB): is it really an account?\n"
    )


def test_a_symlink_out_of_the_repository_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(account("IA_OUTSIDE"))
    (project / "accounts" / "escape.yaml").symlink_to(outside)
    (project / "accounts" / "inside.yaml").symlink_to(project / "accounts" / "real.yml")
    write(project, "real.yml", account("IA_INSIDE"))

    done = run(project)

    assert done.returncode == 1
    assert done.stdout == (
        f"accounts/escape.yaml:1:1: a symlink to {outside.resolve()}, outside the project "
        f"({project}); account files must live in the repository\n"
        # The symlink inside the repository is read: as a second file with the same identifier.
        f"accounts/inside.yaml:2:54: identifier {EXT}=IA_INSIDE is also claimed by "
        "accounts/real.yml; each account must have its own identifiers\n"
        f"accounts/real.yml:2:54: identifier {EXT}=IA_INSIDE is also claimed by "
        "accounts/inside.yaml; each account must have its own identifiers\n"
    )


def test_an_identifier_claimed_by_two_files_names_both(project: Path) -> None:
    write(project, "uk/one.yaml", account("IA_SAME"))
    write(project, "uk/two.yaml", account("IA_SAME", name="Account Two"))
    write(project, "three.yaml", account("IA_OTHER"))

    done = run(project)

    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"accounts/uk/one.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by "
        "accounts/uk/two.yaml; each account must have its own identifiers",
        f"accounts/uk/two.yaml:2:54: identifier {EXT}=IA_SAME is also claimed by "
        "accounts/uk/one.yaml; each account must have its own identifiers",
    ]
    assert done.stderr == "2 problems in 2 files (of 3 checked).\n"


def test_valid_files_exit_0_with_a_summary(project: Path) -> None:
    write(project, "one.yaml", account("IA_1"))
    write(project, "sub/two.yml", account("IA_2"))
    write(project, "notes.txt", "not an account")

    done = run(project)

    assert (done.returncode, done.stdout, done.stderr) == (0, "2 files valid.\n", "")


def test_json_format_lists_every_problem(project: Path) -> None:
    write(project, "good.yaml", account("IA_1"))
    write(project, "bad.yaml", account("IA_2", "description:\n").replace("displayName", "name"))

    for flags in (["--format", "json"], ["--json"], ["-json"]):
        done = run(project, *flags)

        assert done.returncode == 1
        assert json.loads(done.stdout)["problems"] == [
            {
                "path": "accounts/bad.yaml",
                "line": 1,
                "column": 1,
                "message": "missing required key 'displayName'",
            },
            {
                "path": "accounts/bad.yaml",
                "line": 3,
                "column": 1,
                "message": "unknown key 'name'; expected one of: identifiers, displayName, "
                "description, accountType, properties, accountHolders, investmentPortfolios",
            },
            {
                "path": "accounts/bad.yaml",
                "line": 5,
                "column": 13,
                "message": "description: no value (YAML reads it as null); write a value, "
                "or remove the key if it is optional",
            },
        ]


def test_json_format_of_valid_files_is_an_empty_list(project: Path) -> None:
    write(project, "good.yaml", account("IA_1"))

    done = run(project, "--format", "json")

    assert (done.returncode, json.loads(done.stdout)["problems"]) == (0, [])


def test_account_types_come_from_the_settings(project: Path) -> None:
    (project / "iasync.toml").write_text('account_types = ["Pension", "Personal"]\n')
    write(project, "pension.yaml", account("IA_1").replace("Personal", "Pension"))
    write(project, "corporate.yaml", account("IA_2").replace("Personal", "Corporate"))

    done = run(project)

    assert done.stdout == (
        "accounts/corporate.yaml:4:14: accountType 'Corporate' is not one of the configured "
        "types: Pension, Personal (set account_types in iasync.toml to allow others)\n"
    )


def test_a_missing_path_is_a_located_problem(project: Path) -> None:
    done = run(project, "accounts/nowhere.yaml")

    assert done.returncode == 1
    assert done.stdout == "accounts/nowhere.yaml:1:1: no such file or directory\n"


def test_no_accounts_directory_is_a_plain_error(tmp_path: Path) -> None:
    (tmp_path / "iasync.toml").write_text("")

    done = run(tmp_path)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"Error: no accounts directory at {tmp_path / 'accounts'}; create it, set accounts_dir "
        "in iasync.toml, or name the files to validate\n"
    )


def test_the_example_accounts_are_valid() -> None:
    repository = Path(__file__).resolve().parents[2]

    done = run(repository)

    assert (done.returncode, done.stdout) == (0, "2 files valid.\n")


def test_an_empty_accounts_directory_is_said_plainly(project: Path) -> None:
    done = run(project)

    assert (done.returncode, done.stdout) == (0, "No account files (*.yaml, *.yml) in accounts.\n")

    # Other files are not accounts, and a directory named like one is searched, not read.
    (project / "accounts" / "README.md").write_text("# accounts\n")
    (project / "accounts" / "x.yaml").mkdir()
    done = run(project, "accounts/x.yaml")

    assert (done.returncode, done.stdout) == (
        0,
        "No account files (*.yaml, *.yml) in accounts/x.yaml.\n",
    )


def test_validate_skips_the_model_and_finds_the_same_problems(tmp_path: Path) -> None:
    # `iasync validate` skips the model: over every bad input above, and valid files in both
    # forms, the model finds nothing that the schema and the checks did not.
    settings = Settings(root=tmp_path)
    for name, (content, _) in BAD_FILES.items():
        write(tmp_path, name, content)
    for example in (Path(__file__).resolve().parents[2] / "accounts").glob("*.yaml"):
        write(tmp_path, example.name, example.read_text().replace("IA_", "EX_"))
    long_form = (
        f"identifiers:\n  {EXT}: {{key: {EXT}, value: {{labelValue: IA_LONG_FORM}}}}\n"
        "displayName: Long\naccountType: Corporate\nproperties:\n"
        "  InvestmentAccount/A/B: {value: {metricValue: {value: 1, unit: GBP}}}\n"
        "  InvestmentAccount/A/C: {value: {labelValueSet: {values: [b, a]}}}\n"
    )
    write(tmp_path, "long-form.yaml", long_form)

    with_bodies = load_accounts([], settings)
    without = load_accounts([], settings, canonical=False)

    assert without.problems == with_bodies.problems
    assert without.accounts == []
    assert len(with_bodies.accounts) == 3


#: Values YAML, the schema, the checks and the model might each read their own way.
AWKWARD_VALUES = [
    "~", "''", "0", "-1", "1.5", "true", "NO", "1e3", ".inf", "0012", "' '", "[]", "{}", "[a]",
    "2016-01-01", "2016-01-01T00:00:00", "2016-01-01t00:00:00z", "2016-13-01", "2016-02-30",
    "2016-01-01 10:00:00+01:00", "'2016-01-01T00:00:00+01'", "'  2016-01-01T00:00:00Z  '",
    "2016-01-01T00:00:00.1234567Z", "2016-01-01T00:00:00.1234560Z", "'2016-01-01T24:00:00Z'",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "x" * 1025,
    "{value: 1}", "{value: a, unit: GBP}", "{value: [a], effectiveUntil: 2016-01-01}",
    "{labelValue: x}", "{key: K, value: {labelValue: a}}", "{effectiveFrom: 2016-01-01}",
    "{value: {metricValue: {value: 1, unit: 2}}}", "{value: x, effectiveFrom: '2016-01-01T24:00Z'}",
]  # fmt: skip
#: Where each value goes (at VALUE) in a valid account (identified by IDENT).
AWKWARD_PLACES = [
    f"identifiers:\n  {EXT}: VALUE\ndisplayName: A\naccountType: Personal\n",
    f"identifiers:\n  {EXT}: IDENT\ndisplayName: VALUE\naccountType: Personal\n",
    f"identifiers:\n  {EXT}: IDENT\ndisplayName: A\naccountType: VALUE\n",
    account("IDENT", "properties:\n  InvestmentAccount/D/X: VALUE\n"),
    account(
        "IDENT", "properties:\n  InvestmentAccount/D/X:\n    value: a\n    effectiveFrom: VALUE\n"
    ),
    account(
        "IDENT", "accountHolders:\n  - key: H\n    identifiers:\n      InvestorRecord/A/B: VALUE\n"
    ),
    account(
        "IDENT", "investmentPortfolios:\n  - {key: P, portfolioScope: S, portfolioCode: VALUE}\n"
    ),
]


@pytest.mark.parametrize("place", AWKWARD_PLACES, ids=range(len(AWKWARD_PLACES)))
def test_validate_and_the_model_agree_on_awkward_values(tmp_path: Path, place: str) -> None:
    # What `iasync validate` (no model) passes, plan (the model) must turn into a body, and the
    # other way round: the same problems, never a traceback.
    settings = Settings(root=tmp_path)
    for number, value in enumerate(AWKWARD_VALUES):
        content = place.replace("VALUE", value).replace("IDENT", f"IA_{number}")
        write(tmp_path, f"v{number:02d}.yaml", content)

    with_bodies = load_accounts([], settings)
    without = load_accounts([], settings, canonical=False)

    assert without.problems == with_bodies.problems
    refused = {problem.path for problem in with_bodies.problems}
    assert refused  # the values are awkward
    assert len(refused) + len(with_bodies.accounts) == len(AWKWARD_VALUES)
