"""The emulator's state on its own: the bounded request log, reset."""

from __future__ import annotations

import pytest

from iasync.emulator import state


def test_request_log_forgets_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "MAX_LOG", 3)
    monkeypatch.setattr(state, "MAX_LOG_BYTES", 10)
    emulator = state.Emulator()
    for n in range(5):
        emulator.record({"n": n, "_raw": b"abc"})
    assert [e["n"] for e in emulator.log] == [2, 3, 4]  # by count

    emulator.record({"n": 5, "_raw": b"0123456789"})
    assert [e["n"] for e in emulator.log] == [5]  # by bytes, never the newest
    assert emulator.log_bytes == 10


def test_reset_empties_everything_and_moves_to_a_new_generation() -> None:
    emulator = state.Emulator()
    emulator.record({"_raw": b"abc"})

    emulator.reset()

    assert (emulator.log, emulator.log_bytes, emulator.generation) == ([], 0, 1)
