"""Another real process holding a state's lock until told to let go (or killed), for the lock
tests of every backend: the file backend's (a .json path), SQLite's and PostgreSQL's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

_HOLD_LOCK = """
import dataclasses, json, sys
from pathlib import Path
from iasync.states import backend_for
backend = backend_for(sys.argv[1], Path.cwd(), sys.argv[2])
with backend.lock("apply") as info:
    print(json.dumps(dataclasses.asdict(info)), flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class LockHolder:
    """A process that took the lock of the state at `location` and holds it."""

    def __init__(self, location: str | Path, workspace: str = "default") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(location), workspace],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the lock holder died before taking the lock"
        self.info: dict[str, Any] = json.loads(line)

    def release(self, *, released: bool = True) -> None:
        """Tell it to let go; `released`: whether it can (not once its lock was taken away)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        said = self.process.stdout.read()
        self.process.wait(timeout=60)
        assert ("released" in said) == released, said

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
