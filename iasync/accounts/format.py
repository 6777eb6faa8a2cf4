"""The account file format in one place: its fields and their order, the keyed maps and lists,
the kinds of value, and LUSID's limits (lusid-api.md).

Everything else that must know the format (the rules, the messages, the model, fmt, the plan's
diff) reads it from here. Only constants, and no imports: `iasync validate` loads this without
pydantic, and `iasync.settings` takes the default account types from it.
"""

from __future__ import annotations

#: The fields of an account file, in the order DESIGN.md writes them (and `iasync fmt` keeps).
FIELD_ORDER = (
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
INVESTOR_KEY_PATTERN = rf"^{INVESTOR_DOMAIN}/{_PART}/{_PART}$"

#: lusid-api.md's limits on values.
MAX_LABEL_LENGTH = 1024
MAX_TEXT_LENGTH = 512
MAX_PROPERTIES = 100

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
