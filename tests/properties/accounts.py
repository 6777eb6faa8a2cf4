"""Hypothesis strategies for account files: an account as facts (`Account`), and the many ways
of spelling the same facts in YAML (`spell`): key order, short or long form, flow or block
style, indentation, quoting, datetime spelling, the order of a label set.

Every spelling of one `Account` has one canonical body; `changed` makes a real change to it.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from iasync.accounts.format import DEFAULT_ACCOUNT_TYPES
from iasync.accounts.validation import load_file
from iasync.errors import Problem
from iasync.settings import Settings

_PART = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=6
)
# Printable text: no controls, format characters (bidi, zero-width), surrogates or line breaks.
_CHAR = st.characters(
    blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"), max_codepoint=0x2FFFF
)
TRICKY = ["NO", "yes", "0012", "1:30", "1e3", "2016-01-01", "a: b", "a #b", "null", "~", "-", "*x"]
LABEL = st.one_of(st.text(_CHAR, min_size=1, max_size=12), st.sampled_from(TRICKY))
IDENTIFIER = LABEL.filter(lambda text: text.strip() == text)
# Numbers a float keeps exactly as written, well within LUSID's decimals, written without an
# exponent: fmt (ruamel.yaml) respells numbers with one, changing some (-4.23668156677053e-218
# becomes -4.23668156677050e-218; fmt's check then leaves the file as it is): see
# test_canonical.test_fmt_keeps_a_number_written_with_an_exponent, issue 8's number round trip.
NUMBER = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
    .map(lambda number: round(number, 6))
    .filter(lambda number: number == 0 or abs(number) >= 1e-4),
)
INSTANT = st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
)


@dataclass(frozen=True)
class Property:
    key: str
    kind: str  # "label", "metric" or "set"
    value: Any  # str, a number, or a tuple of str
    unit: str | None = None
    effective_from: datetime | None = None


@dataclass(frozen=True)
class Account:
    identifiers: dict[str, str]
    display_name: str
    account_type: str
    description: str | None = None
    properties: tuple[Property, ...] = ()
    holders: tuple[tuple[str, dict[str, str]], ...] = ()
    portfolios: tuple[tuple[str, str, str], ...] = ()
    dated_identifier: datetime | None = field(default=None)  # the first one's effectiveFrom


def _key(domain: str) -> st.SearchStrategy[str]:
    return st.builds(lambda scope, code: f"{domain}/{scope}/{code}", _PART, _PART)


@st.composite
def properties(draw: st.DrawFn) -> tuple[Property, ...]:
    keys = draw(st.lists(_key("InvestmentAccount"), max_size=4, unique=True))
    out = []
    for key in keys:
        kind = draw(st.sampled_from(["label", "metric", "set"]))
        value: Any
        if kind == "label":
            value = draw(LABEL)
        elif kind == "metric":
            value = draw(NUMBER)
        else:
            value = tuple(draw(st.lists(LABEL, min_size=1, max_size=3, unique=True)))
        unit = draw(st.sampled_from([None, "GBP", "USD"])) if kind == "metric" else None
        dated = draw(st.none() | INSTANT)
        out.append(Property(key, kind, value, unit, dated))
    return tuple(out)


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    identifiers = draw(
        st.dictionaries(_key("InvestmentAccount"), IDENTIFIER, min_size=1, max_size=2)
    )
    holder_keys = draw(st.lists(st.text(_CHAR, min_size=1, max_size=6), max_size=2, unique=True))
    holders = tuple(
        (key, draw(st.dictionaries(_key("InvestorRecord"), IDENTIFIER, min_size=1, max_size=2)))
        for key in holder_keys
    )
    portfolio_keys = draw(st.lists(_PART, max_size=2, unique=True))
    portfolios = tuple((key, draw(_PART), draw(_PART)) for key in portfolio_keys)
    return Account(
        identifiers=identifiers,
        display_name=draw(st.text(_CHAR, min_size=1, max_size=20)),
        account_type=draw(st.sampled_from(DEFAULT_ACCOUNT_TYPES)),
        description=draw(st.none() | st.text(_CHAR, max_size=20)),
        properties=draw(properties()),
        holders=holders,
        portfolios=portfolios,
        dated_identifier=draw(st.none() | INSTANT),
    )


# --- spelling ---------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}


class Scalar(str):
    """Text already spelled as a YAML scalar."""


def text_scalar(draw: st.DrawFn, text: str) -> Scalar:
    plain = _PLAIN.fullmatch(text) and text.lower() not in _WORDS
    styles = ["double", "single"] + (["plain"] if plain else [])
    style = draw(st.sampled_from(styles))
    if style == "plain":
        return Scalar(text)
    if style == "single":
        return Scalar("'" + text.replace("'", "''") + "'")
    # \u escapes, or the characters themselves (YAML has no surrogate pairs: not above U+FFFF).
    ascii_ok = all(ord(char) <= 0xFFFF for char in text) and draw(st.booleans())
    return Scalar(json.dumps(text, ensure_ascii=ascii_ok))


def number_scalar(draw: st.DrawFn, value: float) -> Scalar:
    if isinstance(value, int) and draw(st.booleans()):
        return Scalar(f"{value}.0")  # the same amount
    spelled = repr(value)
    if "e" in spelled and "." not in spelled.split("e")[0]:
        spelled = spelled.replace("e", ".0e")  # YAML 1.1 reads 1e+20 as text
    return Scalar(spelled)


def instant_scalar(draw: st.DrawFn, moment: datetime) -> Scalar:
    offset = timedelta(hours=draw(st.sampled_from([0, 1, -5, 14])))
    local = moment.astimezone(timezone(offset))  # the same instant, elsewhere
    spellings = [
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        moment.strftime("%Y-%m-%d %H:%M:%S+00:00"),
        moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        local.isoformat(),
    ]
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        spellings.append(moment.strftime("%Y-%m-%d"))
    return Scalar(draw(st.sampled_from(spellings)))


def _shuffled(draw: st.DrawFn, items: dict[str, Any]) -> dict[str, Any]:
    order = draw(st.permutations(list(items)))
    return {key: items[key] for key in order}


def _identifier(draw: st.DrawFn, key: str, value: str, dated: datetime | None) -> Any:
    if dated is None and draw(st.booleans()):
        return text_scalar(draw, value)
    long: dict[str, Any] = {"value": {"labelValue": text_scalar(draw, value)}}
    if draw(st.booleans()):
        long["key"] = Scalar(key)
    if dated is not None:
        long["effectiveFrom"] = instant_scalar(draw, dated)
    return _shuffled(draw, long)


def _property(draw: st.DrawFn, prop: Property) -> Any:
    if prop.kind == "label":
        value: Any = text_scalar(draw, prop.value)
        wire: dict[str, Any] = {"labelValue": value}
    elif prop.kind == "metric":
        value = number_scalar(draw, prop.value)
        metric = {"value": value} | ({"unit": Scalar(prop.unit)} if prop.unit else {})
        wire = {"metricValue": _shuffled(draw, metric)}
    else:
        labels = list(draw(st.permutations(list(prop.value))))
        labels += draw(st.lists(st.sampled_from(labels), max_size=1))  # a repeat: still one
        value = [text_scalar(draw, label) for label in labels]
        wire = {"labelValueSet": {"values": value}}
    form = draw(st.sampled_from(["short", "mapping", "long"]))
    if form == "short" and prop.effective_from is None and prop.unit is None:
        return value
    if form in ("short", "mapping"):
        short = {"value": value} | ({"unit": Scalar(prop.unit)} if prop.unit else {})
        if prop.effective_from is not None:
            short["effectiveFrom"] = instant_scalar(draw, prop.effective_from)
        return _shuffled(draw, short)
    long: dict[str, Any] = {"value": wire}
    if draw(st.booleans()):
        long["key"] = Scalar(prop.key)
    if prop.effective_from is not None:
        long["effectiveFrom"] = instant_scalar(draw, prop.effective_from)
    return _shuffled(draw, long)


def _tree(draw: st.DrawFn, account: Account) -> dict[str, Any]:
    first = next(iter(account.identifiers))
    tree: dict[str, Any] = {
        "identifiers": _shuffled(
            draw,
            {
                key: _identifier(
                    draw, key, value, account.dated_identifier if key == first else None
                )
                for key, value in account.identifiers.items()
            },
        ),
        "displayName": text_scalar(draw, account.display_name),
        "accountType": Scalar(account.account_type),
    }
    if account.description is not None:
        tree["description"] = text_scalar(draw, account.description)
    if account.properties or draw(st.booleans()):
        tree["properties"] = _shuffled(
            draw, {prop.key: _property(draw, prop) for prop in account.properties}
        )
    if account.holders or draw(st.booleans()):
        holders = [
            _shuffled(
                draw,
                {
                    "key": text_scalar(draw, key),
                    "identifiers": {
                        k: _identifier(draw, k, v, None) for k, v in identifiers.items()
                    },
                },
            )
            for key, identifiers in account.holders
        ]
        tree["accountHolders"] = list(draw(st.permutations(holders)))
    if account.portfolios or draw(st.booleans()):
        portfolios = [
            _shuffled(
                draw,
                {
                    "key": text_scalar(draw, key),
                    "portfolioScope": text_scalar(draw, scope),
                    "portfolioCode": text_scalar(draw, code),
                },
            )
            for key, scope, code in account.portfolios
        ]
        tree["investmentPortfolios"] = list(draw(st.permutations(portfolios)))
    return _shuffled(draw, tree)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value)


def _block(draw: st.DrawFn, value: Any, indent: int, step: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item and draw(st.integers(0, 3)) != 0:
                lines.append(f"{pad}{key}:")
                lines += _block(draw, item, indent + step, step)
            else:
                lines.append(f"{pad}{key}: {_flow(item)}")
        return lines
    for item in value:
        if isinstance(item, dict) and item:
            inner = _block(draw, item, indent + 2, step)
            lines.append(pad + "- " + inner[0][indent + 2 :])
            lines += inner[1:]
        else:
            lines.append(f"{pad}- {_flow(item)}")
    return lines


@st.composite
def spellings(draw: st.DrawFn, account: Account) -> str:
    """One YAML spelling of `account`."""
    tree = _tree(draw, account)
    if draw(st.integers(0, 9)) == 0:
        return _flow(tree) + "\n"
    return "\n".join(_block(draw, tree, 0, draw(st.sampled_from([2, 4])))) + "\n"


@st.composite
def changed(draw: st.DrawFn, account: Account) -> Account:
    """`account` with one real change: a fact that makes another request."""
    options = ["name", "type", "add property", "identifier"]
    if account.properties:
        options += ["property value", "drop property"]
    if account.holders:
        options += ["drop holder"]
    choice = draw(st.sampled_from(options))
    props = list(account.properties)
    if choice == "name":
        return replace(account, display_name=account.display_name + "x")
    if choice == "type":
        others = [kind for kind in DEFAULT_ACCOUNT_TYPES if kind != account.account_type]
        return replace(account, account_type=draw(st.sampled_from(others)))
    if choice == "identifier":
        first = next(iter(account.identifiers))
        return replace(account, identifiers=account.identifiers | {first: "changed-id"})
    if choice == "add property":
        key = "InvestmentAccount/Added/ByTheChange"
        kept = [prop for prop in props if prop.key != key]
        return replace(account, properties=(*kept, Property(key, "label", "new")))
    if choice == "drop holder":
        return replace(account, holders=account.holders[1:])
    index = draw(st.integers(0, len(props) - 1))
    if choice == "drop property":
        return replace(account, properties=tuple(props[:index] + props[index + 1 :]))
    prop = props[index]
    if prop.kind == "label":
        new = replace(prop, value=prop.value + "x")
    elif prop.kind == "metric":
        new = replace(prop, value=prop.value + 1)
    else:
        new = replace(prop, value=(*prop.value, "another label value"))
    props[index] = new
    return replace(account, properties=tuple(props))


# --- reading ----------------------------------------------------------------------------------


def canonical_of(text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The canonical body of one account file's text, read as `iasync plan` reads it."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "accounts").mkdir()
        path = root / "accounts" / "a.yaml"
        path.write_text(text, encoding="utf-8")
        outcome = load_file(path, Settings(root=root))
    return (outcome.account.body if outcome.account else None), outcome.problems
