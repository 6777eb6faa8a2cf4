"""Shared fixtures. `emulator` is the real `iasync emulator` server, run as a subprocess.

One emulator process serves a whole test session (per xdist worker); each test gets it freshly
reset (no accounts, no log, no faults). Tests that need their own command-line options start an
`EmulatorProcess` themselves, or use `emulator_factory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from iasync.emulator.process import EmulatorProcess


@pytest.fixture(scope="session")
def _shared_emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess("test-token") as emu:
        yield emu


@pytest.fixture
def emulator(_shared_emulator: EmulatorProcess) -> EmulatorProcess:
    _shared_emulator.reset()
    return _shared_emulator


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., EmulatorProcess]]:
    """Start an emulator with its own options: `emulator_factory("tok", "--token-expiry", "2")`."""
    started: list[EmulatorProcess] = []

    def start(
        token: str | None = "test-token", *extra_args: str, **kwargs: object
    ) -> EmulatorProcess:
        emu = EmulatorProcess(token, *extra_args, **kwargs)  # type: ignore[arg-type]
        started.append(emu)
        return emu.start()

    yield start
    for emu in started:
        emu.__exit__(None, None, None)
