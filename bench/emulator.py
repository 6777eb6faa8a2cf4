"""Benchmark: the emulator's `$batchUpsert` throughput, over real HTTP on loopback.

    .venv/bin/python bench/emulator.py [--repeat 5]

Starts the real `iasync emulator` (a subprocess) and, for batches of 1, 100 and 2,000 accounts,
times round trips of one request each (the median of --repeat runs), from a client that sends
pre-serialised bytes so that only the request, the server and the response are measured:

* create:  every account in the batch is new;
* update:  every account exists and changes (version bumps);
* no-op:   every account exists unchanged (matched, compared, answered; nothing written);
* empty:   `{}`, the baseline: HTTP, auth, logging and an empty 201, for the request's fixed cost.

It prints accounts/second and milliseconds per request for each. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iasync.emulator.process import EmulatorProcess  # noqa: E402

SIZES = (1, 100, 2000)


def account(n: int, generation: int) -> dict[str, Any]:
    """The reference page's first example account, numbered n, with a changing display name."""
    return {
        "identifiers": {
            "InvestmentAccount/ExternalIdentifier/ExternalIAId": {
                "key": "InvestmentAccount/ExternalIdentifier/ExternalIAId",
                "value": {"labelValue": f"IA_{n:08d}"},
            },
            "InvestmentAccount/InternalIdentifier/InternalIAId": {
                "key": "InvestmentAccount/InternalIdentifier/InternalIAId",
                "value": {"labelValue": f"Internal_{n:08d}"},
            },
        },
        "properties": {
            "InvestmentAccount/Details/Name": {
                "key": "InvestmentAccount/Details/Name",
                "value": {"labelValue": f"Holder {n}"},
            },
            "InvestmentAccount/Details/Country": {
                "key": "InvestmentAccount/Details/Country",
                "value": {"labelValue": "United Kingdom"},
                "effectiveFrom": "2016-01-01T00:00:00.0000000+00:00",
            },
        },
        "displayName": f"Account {n} v{generation}",
        "description": f"Benchmark account {n}",
        "accountType": "Personal",
        "accountHolders": [
            {
                "key": "AccountHolder1",
                "identifiers": {
                    "InvestorRecord/ExternalIdentifier/ExternalIRId": {
                        "key": "InvestorRecord/ExternalIdentifier/ExternalIRId",
                        "value": {"labelValue": f"IR_{n:08d}"},
                    }
                },
            }
        ],
        "investmentPortfolios": [],
    }


def batch(first: int, size: int, generation: int) -> bytes:
    body = {f"accounts/{n:08d}.yaml": account(n, generation) for n in range(first, first + size)}
    return json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median shown)")
    args = parser.parse_args()

    import httpx

    with EmulatorProcess("bench-token") as emu:
        client = httpx.Client(
            base_url=emu.url,
            headers={
                "Authorization": "Bearer bench-token",
                "Content-Type": "application/json-patch+json",
            },
            timeout=120,
        )
        url = "/api/investmentaccounts/$batchUpsert?successMode=Partial"

        def post(content: bytes, expect_items: int) -> float:
            started = time.perf_counter()
            response = client.post(url, content=content)
            elapsed = time.perf_counter() - started
            if response.status_code != 201 or len(response.json()["values"]) != expect_items:
                raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:300]}")
            return elapsed

        def median(bodies: list[bytes], size: int) -> float:
            return statistics.median(post(body, size) for body in bodies)

        post(b"{}", 0)  # warm the connection and the server
        print(f"emulator {emu.url}; median of {args.repeat} requests per figure\n")
        print(f"{'batch':>6} {'kind':<7} {'ms/request':>11} {'accounts/s':>11} {'body KiB':>9}")
        empty = median([b"{}"] * args.repeat, 0)
        print(f"{'-':>6} {'empty':<7} {empty * 1000:>11.2f} {'-':>11} {0:>9.1f}")
        first = 0
        for size in SIZES:
            emu.reset()  # each size starts from an empty store
            # create: a fresh range of accounts every run
            creates = []
            for _run in range(args.repeat):
                creates.append(post(batch(first, size, 0), size))
                first += size
            base = first - size  # the last range created: now exists, generation 0
            noop = median([batch(base, size, 0)] * args.repeat, size)
            update = median([batch(base, size, run + 1) for run in range(args.repeat)], size)
            kib = len(batch(base, size, 0)) / 1024
            for kind, seconds in (
                ("create", statistics.median(creates)),
                ("update", update),
                ("no-op", noop),
            ):
                rate = size / seconds
                print(f"{size:>6} {kind:<7} {seconds * 1000:>11.2f} {rate:>11,.0f} {kib:>9.1f}")
        client.close()


if __name__ == "__main__":
    main()
