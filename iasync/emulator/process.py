"""`EmulatorProcess`: the real `iasync emulator` as a subprocess, for tests, demos and benchmarks.

with EmulatorProcess("test-token", "--token-expiry", "2") as emu:
    env = emu.env()                 # FBN_LUSID_URL, FBN_ACCESS_TOKEN
    emu.add_fault(kind="status", status=429, count=1)
    ...
    emu.requests()                  # what the server was sent
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

STARTUP_TIMEOUT = 30.0


class EmulatorStartError(RuntimeError):
    """The emulator process exited or said nothing usable before it was ready."""


class EmulatorProcess:
    def __init__(
        self,
        token: str | None = "test-token",
        *extra_args: str,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        api: str | None = None,
    ) -> None:
        self.token = token
        # `api`: "unscoped" or "scoped", the generation served (None: the emulator's default).
        self.api = api
        self.extra_args = list(extra_args) + (["--api", api] if api else [])
        self._env = env
        self._cwd = cwd
        self.url = ""
        self.root = ""
        self.token_url = ""
        self.process: subprocess.Popen[str] | None = None
        self._stderr_file: Any = None
        self._stdout_lines: list[str] = []
        self._client: Any = None

    # --- lifecycle ----------------------------------------------------------------------------

    def argv(self) -> list[str]:
        args = [sys.executable, "-m", "iasync", "emulator", "--port", "0"]
        if self.token is not None:
            args += ["--token", self.token]
        return args + self.extra_args

    def start(self) -> EmulatorProcess:
        # Lives as long as the process (closed in __exit__), so no with-block.
        self._stderr_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
            env=self._env,
            cwd=self._cwd,
        )
        values = self._read_startup_lines()
        self.url = values["FBN_LUSID_URL"]
        self.token_url = values["FBN_TOKEN_URL"]
        self.root = self.url.removesuffix("/api")
        if self.token is None:
            self.token = values["FBN_ACCESS_TOKEN"]
        # Keep draining stdout so the child can never block on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _read_startup_lines(self) -> dict[str, str]:
        assert self.process is not None and self.process.stdout is not None
        wanted = {"FBN_LUSID_URL", "FBN_TOKEN_URL"} | (
            {"FBN_ACCESS_TOKEN"} if self.token is None else set()
        )
        values: dict[str, str] = {}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        result: dict[str, str] = {}

        def reader() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self._stdout_lines.append(line)
                name, sep, value = line.strip().partition("=")
                if sep:
                    values[name] = value
                if wanted <= values.keys():
                    result.update(values)
                    return

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        if not result:
            self.stop()
            raise EmulatorStartError(
                f"the emulator did not start (exit {self.process.returncode}): {self.stderr()}"
            )
        return result

    def _drain(self) -> None:
        process = self.process
        if process is not None and process.stdout is not None:
            for line in process.stdout:
                self._stdout_lines.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signal the process and wait for it; its exit status (killed if it would not stop)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stderr(self) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.seek(0)
        return str(self._stderr_file.read())

    def stdout(self) -> str:
        return "".join(self._stdout_lines)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._stderr_file is not None:
            self._stderr_file.close()

    # --- for clients --------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        assert self.token is not None
        return {"FBN_LUSID_URL": self.url, "FBN_ACCESS_TOKEN": self.token}

    # --- the admin API ------------------------------------------------------------------------

    def _admin(self, method: str, path: str, json: Any = None) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.Client(base_url=self.root, timeout=30.0)
        response = self._client.request(method, f"/_emulator/{path}", json=json)
        if response.status_code >= 400:
            raise ValueError(f"{method} /_emulator/{path}: {response.status_code} {response.text}")
        return response.json()

    def requests(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self._admin("GET", "requests")["requests"]
        return requests

    def clear_requests(self) -> None:
        self._admin("DELETE", "requests")

    def add_fault(self, **spec: Any) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._admin("POST", "faults", json=spec)["faults"]
        return faults

    def faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._admin("GET", "faults")["faults"]
        return faults

    def clear_faults(self) -> None:
        self._admin("DELETE", "faults")

    def reset(self) -> None:
        self._admin("POST", "reset")

    def accounts(self) -> list[dict[str, Any]]:
        accounts: list[dict[str, Any]] = self._admin("GET", "accounts")["accounts"]
        return accounts


def emulator_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment plus `extra`: for starting an EmulatorProcess with changes."""
    env = dict(os.environ)
    env.update(extra or {})
    return env
