"""The `filter` of the list endpoint: a subset of LUSID's filter syntax, enough for iasync and its
tests, refused clearly beyond that.

    displayName eq 'Account 1'                      eq, neq, startswith
    accountType in 'Individual', 'Joint'            in, not in (values optionally in parentheses)
    properties[InvestmentAccount/Details/Name] exists      exists, not exists
    identifiers[InvestmentAccount/Ext/Id] eq 'IA_1'  (also identifiers['...'], properties.K)
    scope eq 'S' and (displayName startswith 'A' or not accountType eq 'Joint')

Fields: displayName, description, accountType, lusidInvestmentAccountId, scope (scoped API);
properties[<key>] (a label value); identifiers[<key>]. As LUSID's, comparisons ignore case and an
unset value matches no comparison (eq, neq, startswith, in, not in) but `not exists`. `and` binds
tighter than `or`; a leading `not` negates one condition or a parenthesised group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[str, Mapping[str, Any]], bool]  # (lusid id, stored body) -> keep?

FIELDS = {
    "displayname": "displayName",
    "description": "description",
    "accounttype": "accountType",
    "scope": "scope",
}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<open>\()
      | (?P<close>\))
      | (?P<comma>,)
      | (?P<operand>[A-Za-z_]\w*(?:\[[^\]]*\]|\.[\w\-/]+)?)
      | (?P<other>[^\s'(),]+)
    )""",
    re.VERBOSE,
)
SUPPORTED = (
    "the emulator supports: <field> eq|neq|startswith '<text>', <field> [not] in '<a>', '<b>', "
    "<field> [not] exists, joined by and/or, with not and parentheses; fields displayName, "
    "description, accountType, lusidInvestmentAccountId, scope, properties[<key>], "
    "identifiers[<key>]"
)


class FilterError(ValueError):
    """A filter the emulator cannot read; the message says what it supports."""


def parse_filter(text: str) -> Predicate:
    parser = _Parser(_tokens(text), text)
    predicate = parser.disjunction()
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return predicate


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise FilterError(
                f"The filter {text!r} cannot be read at {text[position:].strip()!r}; {SUPPORTED}."
            )
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def error(self, what: str) -> FilterError:
        return FilterError(f"The filter {self.text!r} is not supported ({what}); {SUPPORTED}.")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("it ends too early")
        self.position += 1
        return token

    def keyword(self, *words: str) -> str | None:
        """The next token when it is one of the (case-insensitive) keywords, consumed."""
        token = self.peek()
        if token is not None and token[0] == "operand" and token[1].lower() in words:
            self.position += 1
            return token[1].lower()
        return None

    def disjunction(self) -> Predicate:
        terms = [self.conjunction()]
        while self.keyword("or"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda i, b: any(t(i, b) for t in terms)

    def conjunction(self) -> Predicate:
        terms = [self.negation()]
        while self.keyword("and"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else lambda i, b: all(t(i, b) for t in terms)

    def negation(self) -> Predicate:
        if self.keyword("not"):
            inner = self.negation()
            return lambda i, b: not inner(i, b)
        if self.peek() == ("open", "("):
            self.next()
            inner = self.disjunction()
            self.close()
            return inner
        return self.condition()

    def condition(self) -> Predicate:
        kind, text = self.next()
        if kind != "operand":
            raise self.error(f"expected a field, got {text!r}")
        read = _reader(text, self)
        negated = self.keyword("not") is not None
        operator = self.keyword("eq", "neq", "startswith", "in", "exists")
        if operator is None or (negated and operator not in ("in", "exists")):
            raise self.error(f"no operator the emulator knows after {text!r}")
        test = self.operator(operator)
        if negated and operator == "exists":
            return lambda i, b: read(i, b) is None
        if negated:  # `not in`: as every comparison, never true of an unset value
            return lambda i, b: (value := read(i, b)) is not None and not test(value)
        return lambda i, b: test(read(i, b))

    def operator(self, operator: str) -> Callable[[str | None], bool]:
        if operator == "exists":
            return lambda value: value is not None
        if operator == "in":
            wanted = {v.casefold() for v in self.strings()}
            return lambda value: value is not None and value.casefold() in wanted
        text = self.string().casefold()
        if operator == "eq":
            return lambda value: value is not None and value.casefold() == text
        if operator == "neq":
            return lambda value: value is not None and value.casefold() != text
        return lambda value: value is not None and value.casefold().startswith(text)

    def string(self) -> str:
        kind, text = self.next()
        if kind != "string":
            raise self.error(f"expected a value in single quotes, got {text!r}")
        return text[1:-1].replace("''", "'")

    def strings(self) -> list[str]:
        parenthesised = self.peek() == ("open", "(")
        if parenthesised:
            self.next()
        values = [self.string()]
        while self.peek() == ("comma", ","):
            self.next()
            values.append(self.string())
        if parenthesised:
            self.close()
        return values

    def close(self) -> None:
        if self.peek() != ("close", ")"):
            raise self.error("a parenthesis is not closed")
        self.next()


def _reader(operand: str, parser: _Parser) -> Callable[[str, Mapping[str, Any]], str | None]:
    """How to read the operand's value (text, or None when unset) from an account."""
    name, _, rest = operand.partition("[")
    if not rest:
        name, _, rest = operand.partition(".")
    key = rest.removesuffix("]").strip().strip("'")
    lowered = name.lower()
    if lowered == "properties" and key:
        return lambda _id, body: _label(body["properties"].get(key))
    if lowered == "identifiers" and key:
        return lambda _id, body: _label(body["identifiers"].get(key))
    if rest:
        raise parser.error(f"unknown field {operand!r}")
    if lowered == "lusidinvestmentaccountid":
        return lambda lusid_id, _body: lusid_id
    field = FIELDS.get(lowered)
    if field is None:
        raise parser.error(f"unknown field {operand!r}")
    return lambda _id, body: body.get(field)


def _label(prop: Mapping[str, Any] | None) -> str | None:
    """A property's label value; other kinds of value are not compared by the emulator."""
    if prop is None:
        return None
    label = prop["value"].get("labelValue")
    return label if isinstance(label, str) else None
