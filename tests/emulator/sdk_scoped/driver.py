"""Drive emulators with the official LUSID SDK of the scoped API (lusid-sdk 2.3.313), as its
users do: SyncApiClientFactory configured from FBN_* environment variables, InvestmentAccountsApi.

Run with .venv-sdk-scoped's python (scripts/sdk-env makes it), never with iasync's: this SDK
cannot share a virtualenv with lusid-sdk 2.1.859. It imports nothing of iasync.

Importing this SDK takes ~25 s of CPU (2,000 models, 100 APIs), so one process serves a whole
test session: it prints {"sdkVersion": ...} once ready, then reads requests, one JSON line each,

    {"env": {"FBN_LUSID_URL": ..., "FBN_ACCESS_TOKEN": ...}, "steps": [step, ...]}

and answers each with one JSON line, {"results": [...]}: every step's result, in order. Each
answer went through the SDK's own models (the SDK parses it, `to_dict()` gives it back); a
refused call is {"status": ..., "body": ...} (an ApiException) or {"refusedBySdk": ...}
(the SDK's client-side validation). Steps:

    {"op": "fields"}                                   the JSON fields of the SDK's models
    {"op": "upsert", "mode": "Partial", "body": {...}} upsert_investment_accounts
    {"op": "get", "identifierType": T, "identifierValue": V, "scope": S,
     "identifierScope": IS, "propertyKeys": [...]}      get_investment_account
    {"op": "list", "limit": N, "propertyKeys": [...], "filter": F}
                                                       list_all_investment_accounts, every page
    {"op": "delete", "identifierType": T, ...}         delete_investment_account
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import lusid
from lusid import InvestmentAccountsApi, SyncApiClientFactory
from lusid.exceptions import ApiException

SDK_VERSION = importlib.metadata.version("lusid-sdk")
MODELS = (
    "UpsertInvestmentAccountRequest",
    "ModelProperty",
    "PropertyValue",
    "MetricValue",
    "LabelValueSet",
    "PropertyReferenceDataValue",
    "AccountHolderIdentifier",
    "InvestmentPortfolioIdentifier",
    "InvestmentAccount",
    "AccountHolder",
    "InvestmentPortfolio",
    "Version",
    "Link",
    "DeletedEntityResponse",
    "ResourceListOfInvestmentAccount",
    "UpsertInvestmentAccountsResponse",
)


def fields(_api: InvestmentAccountsApi, _step: dict[str, Any]) -> Any:
    return {
        name: sorted(f.alias for f in getattr(lusid.models, name).__fields__.values())
        for name in MODELS
    }


def upsert(api: InvestmentAccountsApi, step: dict[str, Any]) -> Any:
    return api.upsert_investment_accounts(step["mode"], step["body"]).to_dict()


def get(api: InvestmentAccountsApi, step: dict[str, Any]) -> Any:
    return api.get_investment_account(
        step["identifierType"],
        step["identifierValue"],
        step["scope"],
        step["identifierScope"],
        property_keys=step.get("propertyKeys"),
    ).to_dict()


def list_all(api: InvestmentAccountsApi, step: dict[str, Any]) -> Any:
    pages, page = [], None
    while True:
        answer = api.list_all_investment_accounts(
            page=page,
            limit=step.get("limit"),
            filter=step.get("filter"),
            property_keys=step.get("propertyKeys"),
        )
        pages.append(answer.to_dict())
        page = answer.next_page
        if not page:
            return {"pages": pages}


def delete(api: InvestmentAccountsApi, step: dict[str, Any]) -> Any:
    return api.delete_investment_account(
        step["identifierType"], step["identifierValue"], step["scope"], step["identifierScope"]
    ).to_dict()


OPS: dict[str, Callable[[InvestmentAccountsApi, dict[str, Any]], Any]] = {
    "fields": fields,
    "upsert": upsert,
    "get": get,
    "list": list_all,
    "delete": delete,
}


def run(api: InvestmentAccountsApi, step: dict[str, Any]) -> Any:
    try:
        return OPS[step["op"]](api, step)
    except ApiException as exc:
        return {"status": exc.status, "body": json.loads(exc.body) if exc.body else None}
    except ValueError as exc:  # pydantic's ValidationError: the SDK refused before sending
        return {"refusedBySdk": str(exc)}


def serve(request: dict[str, Any]) -> dict[str, Any]:
    # The SDK reads its configuration from the environment when a factory is built.
    for name in [n for n in os.environ if n.startswith("FBN_")]:
        del os.environ[name]
    os.environ.update(request["env"])
    api = SyncApiClientFactory().build(InvestmentAccountsApi)
    return {"results": [run(api, step) for step in request["steps"]]}


def main() -> None:
    answers = sys.stdout
    sys.stdout = sys.stderr  # anything the SDK prints stays out of the answers
    answers.write(json.dumps({"sdkVersion": SDK_VERSION}) + "\n")
    answers.flush()
    for line in sys.stdin:
        answers.write(json.dumps(serve(json.loads(line)), default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
