"""Benchmark: `iasync apply` against a naive full sync, in the steady state, on the emulator.

    .venv/bin/python bench/sync.py [--n 10000] [--changed 0.01] [--repeat 1] [--first-sync-only]

N account files are written and applied once: the first sync (N new accounts, batches sent four at
a time), whose time is printed with the CPU time of iasync and of the emulator apart (with
`--first-sync-only`, e.g. at `--n 100000`, that is all). Then 1% of the files are edited and two
syncs are timed against the same emulator, each with the emulator's request log cleared first
(with --repeat R, R rounds of new edits, and the best time of each is shown):

* `iasync apply --auto-approve`, run as the real command (a subprocess, start-up included): it
  sends only the changed accounts;
* a naive sync with the official lusid-sdk (2.1.859): read every file and upsert every account on
  every run, in batches of 2,000 (SyncApiClientFactory + InvestmentAccountsApi, configured by the
  FBN_* env). It runs in a subprocess too. Its time is shown twice: the whole process (as
  iasync's is), and its sync work alone, without the seconds lusid-sdk takes to import, which
  only flatters it.

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
        'accounts_dir = "accounts"\nstate = ".iasync/state.db"\n', encoding="utf-8"
    )
    for number in range(n):
        write_account(project, number, f"Account {number}")


def change_some(project: Path, n: int, fraction: float, round_number: int = 1) -> int:
    """Edit the display name of every k-th account; returns how many were edited."""
    step = max(1, round(1 / fraction))
    edited = range(0, n, step)
    for number in edited:
        write_account(project, number, f"Account {number} (edit {round_number})")
    return len(edited)


# --- the two syncs ----------------------------------------------------------------------------


def run_iasync_apply(project: Path, env: dict[str, str]) -> float:
    return run_apply_measured(project, env)[0]


def run_apply_measured(project: Path, env: dict[str, str]) -> tuple[float, float]:
    """`iasync apply --auto-approve`: (wall-clock seconds, the process's CPU seconds)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "iasync", "apply", "--auto-approve"],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            text = output.read().decode(errors="replace")
            sys.exit(f"iasync apply failed ({process.returncode}):\n{_tail(text)}")
    return seconds, usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_sync(project: Path, env: dict[str, str], emulator: Any, n: int) -> str:
    """The first apply of n new accounts: its time, and the CPU time of iasync and of the
    emulator apart (batches are sent `concurrency` at a time: the default 4)."""
    before = cpu_seconds(emulator.process.pid)
    seconds, ours = run_apply_measured(project, env)
    theirs = cpu_seconds(emulator.process.pid) - before
    return (
        f"first sync of {n:,} new accounts: {seconds:.1f} s wall clock; CPU: iasync {ours:.1f} s, "
        f"the emulator {theirs:.1f} s ({theirs / max(ours, 1e-9):.1f}x iasync's)"
    )


def _tail(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def run_naive(project: Path, env: dict[str, str]) -> tuple[float, float]:
    """(the whole process's seconds, the seconds of its sync work without importing lusid-sdk)"""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--naive-sync", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the naive sync failed ({done.returncode}):\n{_tail(done.stdout + done.stderr)}")
    whole = time.perf_counter() - started
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return whole, figures["seconds"]


def naive_sync(project: Path) -> None:
    """Read every account file and upsert every account with lusid-sdk; print the timings."""
    started = time.perf_counter()
    import yaml
    from lusid import InvestmentAccountsApi, SyncApiClientFactory, UpsertInvestmentAccountRequest

    from iasync.accounts.model import AccountFile, canonical_body

    imported = time.perf_counter()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    requests: dict[str, Any] = {}
    for path in sorted((project / "accounts").rglob("*.yaml")):
        data = yaml.load(path.read_bytes(), Loader=loader)
        body = canonical_body(AccountFile.model_validate(data))
        # The SDK's own way from a dict to a request model: what a naive user writes. (It sends
        # each nullable field it was not given as an explicit null, as LUSID accepts.)
        requests[path.relative_to(project).as_posix()] = UpsertInvestmentAccountRequest.from_dict(
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


def report(n: int, changed: int, repeat: int, ours: Run, naive: Run, naive_work: float) -> str:
    def share(a: float, b: float) -> str:
        return f"{a / b:.2%}" if b else "n/a"

    def times(a: float, b: float) -> str:
        return f"{b / a:.1f}x" if a else "n/a"

    rows = [
        ("accounts sent", f"{ours.accounts_sent:,}", f"{naive.accounts_sent:,}", "", ""),
        ("requests", f"{ours.requests:,}", f"{naive.requests:,}", "", ""),
        (
            "bytes sent",
            f"{ours.bytes_sent:,}",
            f"{naive.bytes_sent:,}",
            share(ours.bytes_sent, naive.bytes_sent),
            "of the naive bytes",
        ),
        (
            "seconds",
            f"{ours.seconds:.2f}",
            f"{naive.seconds:.2f}",
            times(ours.seconds, naive.seconds),
            "sooner (each a whole process run)",
        ),
        (
            "  without import",
            f"{ours.seconds:.2f}",
            f"{naive_work:.2f}",
            times(ours.seconds, naive_work),
            "sooner (naive sync without importing lusid-sdk)",
        ),
    ]
    best = f"best of {repeat} runs each" if repeat > 1 else "one run each"
    lines = [
        f"{n:,} accounts, {changed:,} changed ({changed / n:.1%}); steady state; emulator on "
        f"loopback; {best}",
        f"{'':16}{'iasync apply':>16}{'naive lusid-sdk':>18}{'ratio':>10}",
    ]
    lines += [f"{label:16}{a:>16}{b:>18}{r:>10} {note}".rstrip() for label, a, b, r, note in rows]
    return "\n".join(lines)


def benchmark(n: int, fraction: float, repeat: int, first_only: bool = False) -> str:
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
        initial = first_sync(project, env, emulator, n)
        print(f"  {initial}", flush=True)
        if first_only:
            return initial

        ours: list[Run] = []
        naive: list[tuple[Run, float]] = []
        for round_number in range(1, repeat + 1):
            changed = change_some(project, n, fraction, round_number)
            emulator.clear_requests()
            ours.append(measured("iasync", emulator, run_iasync_apply(project, env)))
            emulator.clear_requests()
            whole, work = run_naive(project, env)
            naive.append((measured("naive", emulator, whole), work))
            print(
                f"  run {round_number}: iasync {ours[-1].seconds:.2f}s, naive {whole:.2f}s "
                f"({work:.2f}s without import)",
                flush=True,
            )
        best_ours = min(ours, key=lambda run: run.seconds)
        best_naive = min(naive, key=lambda pair: pair[0].seconds)[0]
        best_work = min(work for _, work in naive)
        return initial + "\n" + report(n, changed, repeat, best_ours, best_naive, best_work)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of accounts (10,000)")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction edited (0.01)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is shown")
    parser.add_argument(
        "--first-sync-only", action="store_true", help="only the first apply (e.g. --n 100000)"
    )
    parser.add_argument("--naive-sync", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_sync is not None:
        naive_sync(args.naive_sync)
        return
    if args.n < 1 or args.repeat < 1 or not 0 < args.changed <= 1:
        parser.error("--n and --repeat must be positive and --changed in (0, 1]")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at the start", flush=True)
    print(benchmark(args.n, args.changed, args.repeat, args.first_sync_only))


if __name__ == "__main__":
    main()
