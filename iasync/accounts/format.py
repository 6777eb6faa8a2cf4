"""The account file format in one place: its fields and their order, the keyed maps and lists,
the kinds of value, and LUSID's limits (lusid-api.md).

Everything else that must know the format (the rules, the messages, the model, fmt, the plan's
diff) reads it from here. Only constants, and no imports: `iasync validate` loads this without
pydantic, and `iasync.settings` takes the default account types from it.
"""

from __future__ import annotations

#: The API generations (the `api` setting; lusid-api.md "Two API generations"): the reference
#: page's, whose accounts are found by identifier alone, and today's, where every account, holder
#: and portfolio has a scope and an account is found by (scope, identifier).
API_GENERATIONS = ("unscoped", "scoped")

#: The fields of an account file, in the order DESIGN.md writes them (and `iasync fmt` keeps).
#: `scope` exists only under api = "scoped".
FIELD_ORDER = (
    "scope",
    "identifiers",
    "displayName",
    "description",
    "accountType",
    "properties",
    "accountHolders",
    "investmentPortfolios",
)
#: The fields of an account holder, and of an investment portfolio, in their order.
HOLDER_ORDER = ("key", "identifiers")
PORTFOLIO_ORDER = ("key", "portfolioScope", "portfolioCode")
#: The same, for today's (scoped) API: a holder and a portfolio have a scope and identifiers (a
#: holder's scope goes between key and identifiers under either API: fmt needs one order).
SCOPED_HOLDER_ORDER = ("key", "scope", "identifiers")
SCOPED_PORTFOLIO_ORDER = ("key", "scope", "identifiers")
#: A property's mapping in the short form, and in the API's long form, in their order.
SHORT_PROPERTY_ORDER = ("value", "unit", "effectiveFrom", "effectiveUntil")
LONG_PROPERTY_ORDER = ("key", "value", "effectiveFrom", "effectiveUntil")
EFFECTIVE_DATES = ("effectiveFrom", "effectiveUntil")

#: Maps whose keys are property keys (`InvestmentAccount/{scope}/{code}` and the like).
KEYED_MAPS = frozenset({"identifiers", "properties"})
#: Lists whose items are named by their own `key` (unique within the list).
KEYED_LISTS = frozenset({"accountHolders", "investmentPortfolios"})
#: The keyed maps and lists together: a diff matches their members by key, not by position.
KEYED_FIELDS = KEYED_MAPS | KEYED_LISTS

#: The keys of a long-form property's `value` (exactly one is given), and what each holds.
VALUE_KINDS = ("labelValue", "metricValue", "labelValueSet")
VALUE_KIND_SHAPES = {
    "labelValue": "text",
    "metricValue": "{value: a number, unit: text}",
    "labelValueSet": "{values: [text, ...]}",
}

#: The domains of property keys: an account's own, and its holders' (investor records).
ACCOUNT_DOMAIN = "InvestmentAccount"
INVESTOR_DOMAIN = "InvestorRecord"
#: lusid-api.md: scope and code are letters, digits, '-' and '_', at most 64 characters.
MAX_KEY_PART = 64
KEY_PART_PATTERN = r"[a-zA-Z0-9\-_]"
_PART = rf"{KEY_PART_PATTERN}{{1,{MAX_KEY_PART}}}"
ACCOUNT_KEY_PATTERN = rf"^{ACCOUNT_DOMAIN}/{_PART}/{_PART}$"
#: A LUSID scope (of an account, a holder or a portfolio under the scoped API): one key part.
SCOPE_PATTERN = rf"^{_PART}$"
INVESTOR_KEY_PATTERN = rf"^{INVESTOR_DOMAIN}/{_PART}/{_PART}$"

#: lusid-api.md's limits on values.
MAX_LABEL_LENGTH = 1024
MAX_TEXT_LENGTH = 512
MAX_PROPERTIES = 100
#: LUSID documents no form for a portfolio's identifier keys (scoped API): any text this long.
MAX_PORTFOLIO_IDENTIFIER_KEY = 256

#: The account types LUSID has documented: the default of the `account_types` setting.
DEFAULT_ACCOUNT_TYPES: tuple[str, ...] = (
    "Personal",
    "Corporate",
    "JointPersonal",
    "JointCorporate",
    "JointMixed",
    "Individual",
    "Joint",
    "Nominee",
)
