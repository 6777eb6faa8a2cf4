"""Benchmark: the state in a database, beside the first format's JSON file, at 10,000 and 100,000.

    .venv/bin/python bench/state.py [SIZE ...] [--repeat 3] [--postgres DSN|start] [--apply N]

For each SIZE (default 10000 and 100000), a state of SIZE accounts (canonical bodies of
bench/validate.py's account files) is stored, then timed, best of `--repeat`:

* recording one batch of 500 accounts (what apply does after each batch): one transaction in
  SQLite (and PostgreSQL), beside the old way, rewriting the whole JSON document at that size;
* a plan's state read (a fresh backend, as a new process reads it), SQLite and PostgreSQL.

Then `--apply N` (default 10000; 0 to skip): `iasync apply` of N accounts with 1% changed, as
whole processes against the emulator, with the state in PostgreSQL and in SQLite.

PostgreSQL: `--postgres DSN`, or `--postgres start` for a throwaway server (`scripts/postgres`,
Debian's server; durability off, as for the tests); without it, SQLite only. Not a test: the
figures depend on the machine and its load (printed first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from iasync.states import AccountRecord, LocalStateBackend, State, backend_for  # noqa: E402

BATCH = 500


def bodies(count: int) -> list[dict[str, Any]]:
    """`count` canonical request bodies, made as apply makes them: YAML file -> model -> body."""
    from validate import account_yaml

    from iasync.accounts.model import AccountFile, canonical_body
    from iasync.accounts.schema import json_compatible

    return [
        canonical_body(AccountFile.model_validate(json_compatible(yaml.safe_load(account_yaml(n)))))
        for n in range(count)
    ]


def make_record(number: int, body: dict[str, Any], edit: int = 0) -> AccountRecord:
    return AccountRecord(
        lusid_id=f"LUID_{number:08X}",
        version=1 + number % 4 + edit,
        identifiers={
            "InvestmentAccount/ExternalIdentifier/ExternalIAId": f"IA_{number:08d}",
            "InvestmentAccount/InternalIdentifier/InternalIAId": f"Internal_{number:08d}",
        },
        body=body,
        body_hash=f"sha256:{number + edit:064x}",
        source=f"accounts/group{number // 1000:03d}/account-{number:06d}.yaml",
        source_hash=f"sha256:{number * 7 + edit:064x}",
        applied_at="2026-11-29T08:00:00+00:00",
        commit="0123456789abcdef0123456789abcdef01234567",
    ).with_blob(f"{number * 11 + edit:040x}")


def build_state(count: int) -> State:
    state = State.new()
    shapes = bodies(60)
    for number in range(count):
        state.record(make_record(number, shapes[number % len(shapes)]))
    return state


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


# --- the figures of one size ------------------------------------------------------------------


def record_one_batch(location: str, edit: int) -> float:
    """Read the state, record 500 accounts as apply records a batch, time the write alone."""
    backend = backend_for(location, ROOT)
    state = backend.read()
    first = (edit * BATCH) % max(1, len(state.accounts) - BATCH)
    for number in range(first, first + BATCH):
        lusid_id = f"LUID_{number:08X}"
        old = state.accounts[lusid_id]
        state.record(dataclasses.replace(old, version=(old.version or 0) + 1).with_blob("e" * 40))
    with backend.lock("apply"):
        started = time.perf_counter()
        backend.write(state)
        seconds = time.perf_counter() - started
    getattr(backend, "close", lambda: None)()
    return seconds


def read_for_plan(location: str) -> float:
    started = time.perf_counter()
    backend = backend_for(location, ROOT)
    backend.read()
    seconds = time.perf_counter() - started
    getattr(backend, "close", lambda: None)()
    return seconds


def one_size(size: int, repeat: int, postgres: str | None, work: Path) -> list[str]:
    print(f"{size:,} accounts: building the state ...", flush=True)
    state = build_state(size)
    locations = {"SQLite": str(work / f"state-{size}.db")}
    if postgres:
        locations["PostgreSQL"] = postgres_workspace_url(postgres)
    for location in locations.values():
        backend_for(location, ROOT).replace(state, "bench")
    json_backend = LocalStateBackend(work / f"state-{size}.json")
    json_backend.write(state)
    size_mb = json_backend.path.stat().st_size / 1e6

    rewrite = best_of(repeat, lambda: json_backend.write(state))
    lines = [f"{size:,} accounts (the JSON document: {size_mb:.0f} MB); best of {repeat}"]
    for name, location in locations.items():
        edits = iter(range(1, repeat + 1))
        batch = min(record_one_batch(location, next(edits)) for _ in range(repeat))
        lines.append(
            f"  record one batch of {BATCH}, {name:10} {batch * 1000:8.0f} ms   "
            f"{rewrite / batch:5.1f}x faster than rewriting the JSON document"
        )
    lines.append(f"  rewrite the whole JSON document (old way) {rewrite * 1000:8.0f} ms")
    for name, location in locations.items():
        read = best_of(repeat, lambda location=location: read_for_plan(location))
        target = "  (target <= 300 ms at 100,000)" if name == "SQLite" else ""
        lines.append(f"  a plan's state read, {name:10}       {read * 1000:8.0f} ms{target}")
    json_read = best_of(repeat, lambda: LocalStateBackend(json_backend.path).read())
    lines.append(f"  read of the JSON document (old way)       {json_read * 1000:8.0f} ms")
    return lines


def postgres_workspace_url(dsn: str) -> str:
    """A database of its own for this run, on the server of `dsn`."""
    import psycopg

    name = f"iasync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def postgres_server(option: str | None) -> Iterator[str | None]:
    if option != "start":
        yield option
        return
    started = subprocess.run(
        [str(ROOT / "scripts" / "postgres"), "start"], capture_output=True, text=True, check=True
    )
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in started.stdout.splitlines()
        if line.startswith("export ")
    )
    values = {key: value.strip("'\"") for key, value in exports.items()}
    try:
        yield values["IASYNC_TEST_POSTGRES_DSN"]
    finally:
        subprocess.run(
            [str(ROOT / "scripts" / "postgres"), "stop", values["IASYNC_TEST_POSTGRES_DIR"]],
            capture_output=True,
            check=False,
        )


# --- apply with each backend ------------------------------------------------------------------


def apply_with_each(n: int, postgres: str, work: Path) -> list[str]:
    """`iasync apply` of n accounts, 1% changed, with the state in PostgreSQL and in SQLite."""
    import secrets

    from sync import change_some, make_project

    from iasync.emulator.process import EmulatorProcess

    project = work / f"apply-{n}"
    project.mkdir()
    make_project(project, n)
    states = {"SQLite": str(project / ".iasync" / "state.db"), "PostgreSQL": postgres}
    seconds: dict[str, float] = {}
    with EmulatorProcess(secrets.token_urlsafe(24)) as emulator:
        env = {**os.environ, **emulator.env(), "PYTHONPATH": str(ROOT)}
        env.pop("IASYNC_STATE", None)
        for name, location in states.items():
            print(f"  first apply of {n:,} accounts, state in {name} (not timed) ...", flush=True)
            run_apply(project, env, location)
        changed = change_some(project, n, 0.01)
        for name, location in states.items():
            seconds[name] = run_apply(project, env, location)
    ratio = seconds["PostgreSQL"] / seconds["SQLite"]
    return [
        f"apply of {n:,} accounts, {changed:,} changed (1%), whole processes, emulator on loopback",
        f"  state in SQLite      {seconds['SQLite']:6.2f} s",
        f"  state in PostgreSQL  {seconds['PostgreSQL']:6.2f} s   {ratio:.2f}x SQLite "
        "(target <= 1.5x)",
    ]


def run_apply(project: Path, env: dict[str, str], state: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "iasync", "apply", "--auto-approve", "--state", state],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"iasync apply failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    parser.add_argument("--postgres", help="a server's DSN, or `start` for a throwaway one")
    parser.add_argument("--apply", type=int, default=10_000, help="accounts applied (0: skip)")
    args = parser.parse_args()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at the start", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="iasync-bench-state-") as tmp,
        postgres_server(args.postgres) as postgres,
    ):
        for size in args.sizes:  # each size's figures as soon as they are known
            print("\n".join(one_size(size, args.repeat, postgres, Path(tmp))), flush=True)
        if args.apply and postgres:
            url = postgres_workspace_url(postgres)
            print("\n".join(apply_with_each(args.apply, url, Path(tmp))), flush=True)
        elif args.apply:
            print("apply with PostgreSQL against SQLite: skipped (no --postgres)")
    print(json.dumps({"load_average_at_the_end": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
