"""Shared fixtures. `emulator` is the real `iasync emulator` server, run as a subprocess;
`scoped_emulator` the same serving today's scoped API (`--api scoped`).

One emulator process of each API generation serves a whole test session (per xdist worker, started
when first needed); each test gets it freshly reset (no accounts, no log, no faults). Tests that
need their own command-line options start an `EmulatorProcess` themselves, or use
`emulator_factory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from iasync.emulator.process import EmulatorProcess
from tests.pg import postgres_dsn, postgres_server  # noqa: F401  (fixtures for every test)


class _SharedEmulator:
    """The session's emulator, started again should a test have stopped or killed it."""

    def __init__(self, api: str | None = None) -> None:
        self.api = api
        self.current: EmulatorProcess | None = None

    def get(self) -> EmulatorProcess:
        emu = self.current
        if emu is None or emu.process is None or emu.process.poll() is not None:
            if emu is not None:
                emu.__exit__(None, None, None)
            emu = self.current = EmulatorProcess("test-token", api=self.api).start()
        return emu


@pytest.fixture(scope="session")
def _shared_emulator() -> Iterator[_SharedEmulator]:
    shared = _SharedEmulator()
    yield shared
    if shared.current is not None:
        shared.current.__exit__(None, None, None)


@pytest.fixture
def emulator(_shared_emulator: _SharedEmulator) -> EmulatorProcess:
    emu = _shared_emulator.get()
    emu.reset()
    return emu


@pytest.fixture(scope="session")
def _shared_scoped_emulator() -> Iterator[_SharedEmulator]:
    shared = _SharedEmulator(api="scoped")
    yield shared
    if shared.current is not None:
        shared.current.__exit__(None, None, None)


@pytest.fixture
def scoped_emulator(_shared_scoped_emulator: _SharedEmulator) -> EmulatorProcess:
    """A real emulator serving the scoped API (`iasync emulator --api scoped`), freshly reset."""
    emu = _shared_scoped_emulator.get()
    emu.reset()
    return emu


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
