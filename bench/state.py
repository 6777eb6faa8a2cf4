"""Benchmark: reading and writing a state of N accounts, beside plain JSON of the same data.

    .venv/bin/python bench/state.py [--n 10000] [--repeat 5] [--profile]

Builds a state of N accounts (canonical bodies of bench/validate.py's account files), then
times `LocalStateBackend.write` and `.read` on a real file, and next to them, in the same run,
the floor they cannot beat: `json.dumps`/`json.loads` of the same document (and orjson's) with
no file, no validation, no atomic rename. Prints the best of `--repeat` runs and the ratios.
`--profile` prints the top of a cProfile of one write and one read. Not a test: the figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from iasync.states import AccountRecord, LocalStateBackend, State
from iasync.states.statefile import state_document


def bodies(count: int) -> list[dict[str, Any]]:
    """`count` canonical request bodies, made as apply makes them: YAML file -> model -> body.

    The files are bench/validate.py's (short and long forms, holders, portfolios, dated
    properties); a state of N accounts cycles through these bodies, as parsing 10,000 files
    would only slow the benchmark down, not change what a state holds.
    """
    from validate import account_yaml

    from iasync.accounts.model import AccountFile, canonical_body
    from iasync.accounts.schema import json_compatible

    return [
        canonical_body(AccountFile.model_validate(json_compatible(yaml.safe_load(account_yaml(n)))))
        for n in range(count)
    ]


def build_state(count: int) -> State:
    state = State.new()
    shapes = bodies(60)
    for number in range(count):
        lusid_id = f"LUID_{number:08X}"
        state.record(
            AccountRecord(
                lusid_id=lusid_id,
                version=1 + number % 4,
                identifiers={
                    "InvestmentAccount/ExternalIdentifier/ExternalIAId": f"IA_{number:08d}",
                    "InvestmentAccount/InternalIdentifier/InternalIAId": f"Internal_{number:08d}",
                },
                body=shapes[number % len(shapes)],
                body_hash=f"sha256:{number:064x}",
                source=f"accounts/group{number // 1000:03d}/account-{number:06d}.yaml",
                source_hash=f"sha256:{number * 7:064x}",
                applied_at="2026-11-29T08:00:00+00:00",
                commit="0123456789abcdef0123456789abcdef01234567",
            )
        )
    return state


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def paused(parse: Callable[[str], object], text: str) -> object:
    """`parse(text)` without cyclic GC, as the state reads: the fair floor for a read."""
    gc.disable()
    try:
        return parse(text)
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="accounts in the state")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the best is shown")
    parser.add_argument("--profile", action="store_true", help="cProfile one write and one read")
    args = parser.parse_args()

    state = build_state(args.n)
    with tempfile.TemporaryDirectory(prefix="iasync-bench-state-") as tmp:
        backend = LocalStateBackend(Path(tmp) / "state.json")
        backend.write(state)  # the first write makes the file; the timed ones replace it

        if args.profile:
            profile(backend, state)
            return 0

        write = best_of(args.repeat, lambda: backend.write(state))
        # A fresh backend each time: a read from a new process knows nothing of the file.
        read = best_of(args.repeat, lambda: LocalStateBackend(backend.path).read())
        size = backend.path.stat().st_size
        doc = state_document(state)
        text = json.dumps(doc, sort_keys=True, indent=2)
        baselines = {
            "json.dumps (sort_keys, indent=2)": best_of(
                args.repeat, lambda: json.dumps(doc, sort_keys=True, indent=2)
            ),
            "json.loads": best_of(args.repeat, lambda: json.loads(text)),
            "json.loads, GC paused": best_of(args.repeat, lambda: paused(json.loads, text)),
        }
        try:
            import orjson
        except ImportError:
            pass
        else:
            option = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
            baselines["orjson.dumps (sorted, indent 2)"] = best_of(
                args.repeat, lambda: orjson.dumps(doc, option=option)
            )
            baselines["orjson.loads"] = best_of(args.repeat, lambda: orjson.loads(text))

    print(f"state of {args.n:,} accounts, {size / 1e6:.1f} MB; best of {args.repeat} runs")
    print(f"  {'LocalStateBackend.write':36} {write * 1000:8.1f} ms")
    print(f"  {'LocalStateBackend.read':36} {read * 1000:8.1f} ms")
    for name, seconds in baselines.items():
        kind = write if "dumps" in name else read
        what = "write" if "dumps" in name else "read"
        print(f"  {name:36} {seconds * 1000:8.1f} ms   {what} is {kind / seconds:5.2f}x this")
    return 0


def profile(backend: LocalStateBackend, state: State) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    backend.write(state)
    LocalStateBackend(backend.path).read()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    sys.exit(main())
