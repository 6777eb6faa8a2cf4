"""Benchmark: `iasync validate DIR` against `check-jsonschema` over the same N account files.

    .venv/bin/python bench/validate.py [--n 10000] [--keep DIR]

Generates N valid account files (varied: short and long forms, holders, portfolios, dated
properties) into a temporary project, then times each tool end to end, start-up included, as a
user would run it, and prints both times, the time per file and the ratio. Not a test: the
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "investment-account.schema.json"
BIN = Path(sys.executable).parent


def account_yaml(number: int) -> str:
    """A valid account file; the shape varies with `number` as real files would."""
    lines = [
        "# yaml-language-server: $schema=../schema/investment-account.schema.json",
        "identifiers:",
        f"  InvestmentAccount/ExternalIdentifier/ExternalIAId: IA_{number:08d}",
        f"  InvestmentAccount/InternalIdentifier/InternalIAId: Internal_{number:08d}",
        f"displayName: Account {number}",
        f"description: Benchmark account number {number}",
        f"accountType: {('Personal', 'Corporate', 'JointMixed')[number % 3]}",
        "properties:",
        f"  InvestmentAccount/Details/Name: Holder {number}",
        "  InvestmentAccount/Details/Country:",
        "    value: United Kingdom",
        "    effectiveFrom: 2016-01-01T00:00:00+00:00",
        f"  InvestmentAccount/Details/Balance: {number * 1.5}",
        "  InvestmentAccount/Details/Tags: [retail, uk]",
    ]
    if number % 2:
        lines += [
            "  InvestmentAccount/Details/Limit:",
            "    key: InvestmentAccount/Details/Limit",
            "    value: {metricValue: {value: 1000, unit: GBP}}",
        ]
    lines += [
        "accountHolders:",
        "  - key: AccountHolder1",
        "    identifiers:",
        f"      InvestorRecord/ExternalIdentifier/ExternalIRId: IR_{number:08d}",
        f"      InvestorRecord/InternalIdentifier/InternalIRId: Internal_IR_{number:08d}",
    ]
    if number % 5 == 0:
        lines += [
            "  - key: AccountHolder2",
            "    identifiers:",
            f"      InvestorRecord/ExternalIdentifier/ExternalIRId: IR2_{number:08d}",
        ]
    lines += ["investmentPortfolios:"]
    lines += [
        "  - key: Portfolio1",
        "    portfolioScope: Benchmark",
        f"    portfolioCode: P{number:08d}",
    ]
    return "\n".join(lines) + "\n"


def generate(project: Path, count: int) -> Path:
    accounts = project / "accounts"
    for number in range(count):
        directory = accounts / f"group{number // 1000:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"account-{number:06d}.yaml").write_text(account_yaml(number))
    (project / "iasync.toml").write_text('accounts_dir = "accounts"\n')
    return accounts


def timed(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall-clock seconds, CPU seconds (user + system, all processes) and the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="how many files (default 10,000)")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()
    project = args.keep or Path(tempfile.mkdtemp(prefix="iasync-bench-"))
    project.mkdir(parents=True, exist_ok=True)
    try:
        accounts = generate(project, args.n)
        files = sorted(str(path) for path in accounts.rglob("*.yaml"))
        iasync_time, iasync_cpu, iasync = timed(
            [str(BIN / "iasync"), "validate", "accounts"], project
        )
        check_time, check_cpu, check = timed(
            [str(BIN / "check-jsonschema"), "--schemafile", str(SCHEMA), *files], project
        )
    finally:
        if args.keep is None:
            shutil.rmtree(project, ignore_errors=True)
    for name, done in (("iasync validate", iasync), ("check-jsonschema", check)):
        if done.returncode != 0:
            print(f"{name} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            return 1
    n = args.n
    print(f"{n:,} account files; wall clock (and CPU time, all cores, user + system)")
    for name, wall, cpu in (
        ("iasync validate", iasync_time, iasync_cpu),
        ("check-jsonschema", check_time, check_cpu),
    ):
        print(
            f"  {name:17} {wall:7.2f} s {wall / n * 1000:7.3f} ms/file"
            f"   (CPU {cpu:7.2f} s {cpu / n * 1000:7.3f} ms/file)"
        )
    print(
        f"  iasync is {check_time / iasync_time:.1f}x faster by the clock, "
        f"{check_cpu / iasync_cpu:.1f}x by CPU time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
