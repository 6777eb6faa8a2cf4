"""Benchmark: `iasync plan` of a fresh clone against reading every file and parsing every file.

    .venv/bin/python bench/plan.py [SIZE ...] [--changed 0.001] [--repeat 1] [--keep DIR]

For each SIZE (default 10000; e.g. `bench/plan.py 10000 100000`), not timed: SIZE account files
are generated in a git repository and applied with the real `iasync apply` to the emulator (the
SQLite state), then a fraction (`--changed`, 0.1%) of them is edited and committed, as a pull
request would; the repository is cloned afresh (`git clone`) and the state put beside it, as a CI
job starts. Then, timed, each a whole process, start-up included, with its peak RSS:

* `iasync plan` in the clone (git knows which files changed: the others are not opened);
* the floor of any plan that reads the files: read + sha256 of every file, in Python;
* parsing every file with PyYAML's C loader (what a plan reading everything does at least);

and again outside git (the same files and state, `git archive`d, no .git): `iasync plan`
against the floor there. Targets: in git, plan <= 0.5x the floor and >= 10x faster than parsing;
outside git, within 1.5x the floor. Not a test: the figures depend on the machine and its load
(printed first). `--keep DIR` keeps the generated fixtures there and reuses them next time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from validate import account_yaml  # noqa: E402  (bench/validate.py: varied, valid accounts)

FILES_PER_DIRECTORY = 1000
#: Every process runs this checkout's iasync, with no state named from outside.
ENV = {key: value for key, value in os.environ.items() if key != "IASYNC_STATE"}
ENV["PYTHONPATH"] = str(ROOT)

#: A baseline program: find every account file, as a plan does, and do `{work}` with its bytes.
_EVERY_FILE = """\
import {modules}, os, sys
count = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for name in files:
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(folder, name), "rb") as handle:
                {work}
            count += 1
print(count)
"""

#: The floor: read and hash every file's bytes, nothing else.
FLOOR = _EVERY_FILE.format(modules="hashlib", work="hashlib.sha256(handle.read()).hexdigest()")
#: Parsing every file with PyYAML's C loader: no validation, no model, no state.
PARSE = _EVERY_FILE.format(modules="yaml", work="yaml.load(handle.read(), Loader=yaml.CSafeLoader)")


#: Runs a command and writes its wall-clock seconds, CPU seconds and peak RSS to a file. Started
#: as a fresh, small process: a child forked from this (large) one would count this one's pages
#: in its peak RSS until it execs.
LAUNCHER = """\
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump([seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss], out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float  # user + system, the process and the children it waited for
    peak_rss_mb: float


# --- the fixture ------------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def account_path(number: int) -> str:
    return f"accounts/group{number // FILES_PER_DIRECTORY:03d}/account-{number:06d}.yaml"


def write_accounts(project: Path, numbers: range, edit: int = 0) -> None:
    made: set[Path] = set()
    for number in numbers:
        path = project / account_path(number)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        text = account_yaml(number)
        if edit:
            text = text.replace(f"displayName: Account {number}\n", f"displayName: Edit {edit}\n")
        path.write_text(text, encoding="utf-8")


def make_origin(origin: Path, size: int, fraction: float) -> int:
    """The repository as main has it, applied; then a change of `fraction` of it, committed."""
    from iasync.emulator.process import EmulatorProcess

    origin.mkdir(parents=True)
    (origin / "iasync.toml").write_text(
        'accounts_dir = "accounts"\nstate = ".iasync/state.db"\n', encoding="utf-8"
    )
    (origin / ".gitignore").write_text(".iasync/\n", encoding="utf-8")
    write_accounts(origin, range(size))
    git("init", "-q", "-b", "main", cwd=origin)
    git("add", "-A", cwd=origin)
    git("commit", "-q", "-m", "accounts", cwd=origin)
    print(f"  applying {size:,} accounts to the emulator ...", flush=True)
    with EmulatorProcess(secrets.token_urlsafe(24)) as emulator:
        env = {**ENV, **emulator.env()}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "iasync", "apply", "--auto-approve"],
            cwd=origin,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        sys.exit(f"iasync apply failed:\n{(done.stdout + done.stderr)[-3000:]}")
    print(f"  applied in {time.perf_counter() - started:.1f} s", flush=True)
    step = max(1, round(1 / fraction))
    edited = range(0, size, step)
    for number in edited:
        write_accounts(origin, range(number, number + 1), edit=1)
    git("commit", "-q", "-a", "-m", "a pull request", cwd=origin)
    return len(edited)


def fixture(work: Path, size: int, fraction: float) -> tuple[Path, Path, int]:
    """(a fresh clone with the state beside it, the same outside git, files changed)."""
    base = work / f"plan-{size}-{fraction}"
    origin, marker = base / "origin", base / "changed"
    if not marker.exists():
        shutil.rmtree(base, ignore_errors=True)
        marker.parent.mkdir(parents=True)
        marker.write_text(str(make_origin(origin, size, fraction)))
    changed = int(marker.read_text())
    clone, outside = base / "clone", base / "outside"
    for folder in (clone, outside):
        shutil.rmtree(folder, ignore_errors=True)
    git("clone", "-q", str(origin), str(clone), cwd=base)
    outside.mkdir()
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=origin, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(outside)], input=archive, check=True)
    for folder in (clone, outside):
        (folder / ".iasync").mkdir()
        shutil.copy2(origin / ".iasync" / "state.db", folder / ".iasync" / "state.db")
    return clone, outside, changed


# --- measuring --------------------------------------------------------------------------------


def run(command: list[str], cwd: Path, expect: tuple[int, ...] = (0,)) -> Measured:
    """Wall-clock and CPU seconds and peak RSS of one process (and the children it waited for)."""
    with tempfile.TemporaryFile() as output, tempfile.NamedTemporaryFile() as figures:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, figures.name, *command],
            cwd=cwd,
            env=ENV,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if done.returncode not in expect:
            output.seek(0)
            text = output.read().decode(errors="replace")[-3000:]
            sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{text}")
        seconds, cpu, peak_kib = json.loads(Path(figures.name).read_text())
    return Measured(seconds, cpu, peak_kib / 1024)  # ru_maxrss: KiB on Linux


def best(repeat: int, command: list[str], cwd: Path, expect: tuple[int, ...] = (0,)) -> Measured:
    runs = [run(command, cwd, expect) for _ in range(repeat)]
    return min(runs, key=lambda measured: measured.seconds)


def plan_command() -> list[str]:
    # -detailed-exitcode: 2 says there are changes (the edited files), as expected.
    return [sys.executable, "-m", "iasync", "plan", "-detailed-exitcode", "-no-color"]


def benchmark(size: int, fraction: float, repeat: int, work: Path) -> list[str]:
    print(f"{size:,} accounts: making the fixture (not timed) ...", flush=True)
    clone, outside, changed = fixture(work, size, fraction)
    python = sys.executable
    floor = best(repeat, [python, "-c", FLOOR, "accounts"], clone)
    parse = best(repeat, [python, "-c", PARSE, "accounts"], clone)
    plan = best(repeat, plan_command(), clone, expect=(2,))
    floor_outside = best(repeat, [python, "-c", FLOOR, "accounts"], outside)
    plan_outside = best(repeat, plan_command(), outside, expect=(2,))

    def row(name: str, measured: Measured, note: str = "") -> str:
        return (
            f"  {name:36}{measured.seconds:8.2f} s{measured.cpu_seconds:8.2f} s"
            f"{measured.peak_rss_mb:8.0f} MB  {note}"
        ).rstrip()

    def ratios(plan: Measured, base: Measured) -> str:
        wall, cpu = plan.seconds / base.seconds, plan.cpu_seconds / base.cpu_seconds
        return f"{wall:.2f}x by the clock, {cpu:.2f}x by CPU time"

    return [
        f"{size:,} accounts, {changed:,} changed ({changed / size:.1%}), a fresh clone with the "
        f"state beside it; best of {repeat}",
        f"  {'':36}{'wall':>10}{'CPU':>10}{'peak RSS':>10}",
        row("iasync plan, in git", plan),
        row("floor: read + sha256 of every file", floor),
        row("PyYAML C loader, every file", parse),
        row("iasync plan, outside git", plan_outside),
        row("floor, outside git", floor_outside),
        f"  in git: plan / floor {ratios(plan, floor)} (target <= 0.5x)",
        f"  in git: parsing / plan {parse.seconds / plan.seconds:.1f}x by the clock, "
        f"{parse.cpu_seconds / plan.cpu_seconds:.1f}x by CPU time (target >= 10x)",
        f"  outside git: plan / floor {ratios(plan_outside, floor_outside)} (target <= 1.5x)",
    ]


def machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at the start"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000], help="accounts (10000)")
    parser.add_argument("--changed", type=float, default=0.001, help="fraction edited (0.001)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is shown")
    parser.add_argument("--keep", type=Path, help="keep the fixtures here, and reuse them")
    args = parser.parse_args()
    if any(size < 1 for size in args.sizes) or args.repeat < 1 or not 0 < args.changed <= 1:
        parser.error("sizes and --repeat must be positive and --changed in (0, 1]")
    print(machine(), flush=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="iasync-bench-plan-"))
    work.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    try:
        for size in args.sizes:
            lines += benchmark(size, args.changed, args.repeat, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
