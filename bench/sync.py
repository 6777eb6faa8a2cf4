"""Benchmark: `iasync apply` against a naive full sync, in the steady state, on the emulator.

    .venv/bin/python bench/sync.py [--n 10000] [--changed 0.01]

N account files are written and applied once (not timed). Then 1% of the files are edited and two
syncs are timed against the same emulator, each with the emulator's request log cleared first:

* `iasync apply --auto-approve`, run as the real command (a subprocess, start-up included): it
  sends only the changed accounts;
* a naive sync with the official lusid-sdk (2.1.859): read every file and upsert every account on
  every run, in batches of 2,000 (SyncApiClientFactory + InvestmentAccountsApi, configured by the
  FBN_* env). It runs in a subprocess too; the SDK's import time is reported apart and left out of
  its time, which only flatters it.

Bytes are the request bodies the emulator received (its request log's `bodyBytes`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAIVE_BATCH = 2000
ACCOUNT_TEMPLATE = """\
identifiers:
  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_{number:08d}
  InvestmentAccount/InternalIdentifier/InternalIAId: Internal_{number:08d}
displayName: {display_name}
description: Benchmark account {number}
accountType: {account_type}
properties:
  InvestmentAccount/Details/Name: Holder {number}
  InvestmentAccount/Details/Country:
    value: United Kingdom
    effectiveFrom: 2016-01-01T00:00:00+00:00
accountHolders:
  - key: AccountHolder1
    identifiers:
      InvestorRecord/ExternalIdentifier/ExternalIRId: IR_{number:08d}
investmentPortfolios: []
"""
ACCOUNT_TYPES = ("Personal", "Corporate", "JointPersonal", "Nominee")


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    requests: int
    bytes_sent: int
    accounts_sent: int


# --- the project ------------------------------------------------------------------------------


def write_account(project: Path, number: int, display_name: str) -> None:
    path = project / "accounts" / f"group-{number // 1000:03d}" / f"account-{number:08d}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ACCOUNT_TEMPLATE.format(
        number=number,
        display_name=display_name,
        account_type=ACCOUNT_TYPES[number % len(ACCOUNT_TYPES)],
    )
    path.write_text(text, encoding="utf-8")


def make_project(project: Path, n: int) -> None:
    (project / "iasync.toml").write_text(
        'accounts_dir = "accounts"\nstate = ".iasync/state.json"\n', encoding="utf-8"
    )
    for number in range(n):
        write_account(project, number, f"Account {number}")


def change_some(project: Path, n: int, fraction: float) -> int:
    """Edit the display name of every k-th account; returns how many were edited."""
    step = max(1, round(1 / fraction))
    edited = range(0, n, step)
    for number in edited:
        write_account(project, number, f"Account {number} (renamed)")
    return len(edited)


# --- the two syncs ----------------------------------------------------------------------------


def run_iasync_apply(project: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "iasync", "apply", "--auto-approve"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"iasync apply failed ({done.returncode}):\n{_tail(done.stdout + done.stderr)}")
    return seconds


def _tail(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def run_naive(project: Path, env: dict[str, str]) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--naive-sync", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the naive sync failed ({done.returncode}):\n{_tail(done.stdout + done.stderr)}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["seconds"], figures["import_seconds"]


def naive_sync(project: Path) -> None:
    """Read every account file and upsert every account with lusid-sdk; print the timings."""
    started = time.perf_counter()
    import yaml
    from lusid import InvestmentAccountsApi, SyncApiClientFactory, UpsertInvestmentAccountRequest

    from iasync.model import AccountFile, canonical_body

    imported = time.perf_counter()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    requests: dict[str, Any] = {}
    for path in sorted((project / "accounts").rglob("*.yaml")):
        data = yaml.load(path.read_bytes(), Loader=loader)
        body = canonical_body(AccountFile.model_validate(data))
        # parse_obj keeps unset optional fields out of the JSON (from_dict would send them as
        # nulls): fewer bytes for the naive sync, so the comparison only flatters it.
        requests[path.relative_to(project).as_posix()] = UpsertInvestmentAccountRequest.parse_obj(
            body
        )
    api = SyncApiClientFactory().build(InvestmentAccountsApi)
    ids = list(requests)
    for start in range(0, len(ids), NAIVE_BATCH):
        batch = {corr_id: requests[corr_id] for corr_id in ids[start : start + NAIVE_BATCH]}
        response = api.upsert_investment_accounts(success_mode="Partial", request_body=batch)
        if response.failed:
            sys.exit(f"the naive sync had failures: {list(response.failed)[:5]}")
    finished = time.perf_counter()
    print(json.dumps({"seconds": finished - imported, "import_seconds": imported - started}))


# --- measuring --------------------------------------------------------------------------------


def measured(name: str, emulator: Any, seconds: float) -> Run:
    log = emulator.requests()
    upserts = [r for r in log if r["path"].endswith("$batchUpsert")]
    return Run(
        name=name,
        seconds=seconds,
        requests=len(log),
        bytes_sent=sum(r.get("bodyBytes") or 0 for r in log),
        accounts_sent=sum(len(r.get("body") or {}) for r in upserts),
    )


def report(n: int, changed: int, ours: Run, naive: Run, naive_import: float) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2%}" if b else "n/a"

    rows = [
        ("accounts sent", f"{ours.accounts_sent:,}", f"{naive.accounts_sent:,}", "", ""),
        ("requests", f"{ours.requests:,}", f"{naive.requests:,}", "", ""),
        (
            "bytes sent",
            f"{ours.bytes_sent:,}",
            f"{naive.bytes_sent:,}",
            ratio(ours.bytes_sent, naive.bytes_sent),
            "of the naive bytes",
        ),
        (
            "seconds",
            f"{ours.seconds:.2f}",
            f"{naive.seconds:.2f}",
            f"{naive.seconds / ours.seconds:.1f}x" if ours.seconds else "n/a",
            "sooner",
        ),
    ]
    lines = [
        f"{n:,} accounts, {changed:,} changed ({changed / n:.1%}); steady state, emulator",
        f"{'':16}{'iasync apply':>16}{'naive lusid-sdk':>18}{'ratio':>10}",
    ]
    lines += [f"{label:16}{a:>16}{b:>18}{r:>10} {note}".rstrip() for label, a, b, r, note in rows]
    lines.append(
        f"(iasync's time includes its process start-up; the naive sync's leaves out "
        f"{naive_import:.2f}s of importing lusid-sdk)"
    )
    return "\n".join(lines)


def benchmark(n: int, fraction: float) -> str:
    from iasync.emulator.process import EmulatorProcess

    with (
        tempfile.TemporaryDirectory(prefix="iasync-bench-") as tmp,
        EmulatorProcess(secrets.token_urlsafe(24)) as emulator,
    ):
        project = Path(tmp)
        make_project(project, n)
        env = {**os.environ, **emulator.env(), "PYTHONPATH": str(ROOT)}
        env.pop("IASYNC_STATE", None)
        print(f"initial apply of {n:,} accounts (not timed in the comparison) ...", flush=True)
        initial = run_iasync_apply(project, env)
        print(f"  {initial:.2f}s", flush=True)
        changed = change_some(project, n, fraction)

        emulator.clear_requests()
        ours = measured("iasync", emulator, run_iasync_apply(project, env))
        emulator.clear_requests()
        naive_seconds, naive_import = run_naive(project, env)
        naive = measured("naive", emulator, naive_seconds)
        return report(n, changed, ours, naive, naive_import)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of accounts (10,000)")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction edited (0.01)")
    parser.add_argument("--naive-sync", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_sync is not None:
        naive_sync(args.naive_sync)
        return
    if args.n < 1 or not 0 < args.changed <= 1:
        parser.error("--n must be positive and --changed in (0, 1]")
    print(benchmark(args.n, args.changed))


if __name__ == "__main__":
    main()
