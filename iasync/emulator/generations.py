"""The two generations of LUSID's Investment Accounts API that the emulator can serve.

`unscoped`: the reference page's API (lusid-sdk 2.1.859, up to 2.1.892): no account scope;
holders `{key, identifiers: {k: Property}}`; portfolios `{key, portfolioScope, portfolioCode}`;
get by `/{idTypeScope}/{idTypeCode}/{code}`; no delete.

`scoped`: today's API (lusid-sdk 2.1.949 through 2.3.313, the newest checked): `scope` required on
the account; holders and portfolios `{key, scope, identifiers: {k: str}}`; identity is (scope,
identifier); get and delete by `/{identifierType}/{identifierValue}?scope=&identifierScope=`.
"""

from __future__ import annotations

from typing import Literal

Api = Literal["unscoped", "scoped"]
APIS: tuple[Api, ...] = ("unscoped", "scoped")
DEFAULT_API: Api = "unscoped"


def parse_api(raw: str) -> Api:
    if raw not in APIS:
        raise ValueError(f"unknown API generation {raw!r}; expected one of {', '.join(APIS)}")
    return "scoped" if raw == "scoped" else "unscoped"
