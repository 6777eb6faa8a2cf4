"""The fuzz target runs (a short, bounded run: the long hunt is `scripts/test`'s, see
fuzz_yaml.py) and finds nothing in the seeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

HERE = Path(__file__).parent


def test_the_fuzz_target_runs_without_a_finding(tmp_path: Path) -> None:
    target, seeds = str(HERE / "fuzz_yaml.py"), str(HERE / "corpus")
    done = subprocess.run(
        [sys.executable, target, "-runs=3000", "-seed=13", str(tmp_path), seeds],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 3000 runs" in done.stderr
    assert not list(tmp_path.glob("crash-*"))
