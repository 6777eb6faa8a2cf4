"""The `iasync emulator` command as a real process: start-up lines, signals, --data, bad options."""

from __future__ import annotations

import json
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from iasync.emulator.process import EmulatorProcess, EmulatorStartError

UPSERT = "/api/investmentaccounts/$batchUpsert?successMode=Partial"
Account = Callable[..., dict[str, Any]]


def upsert(emu: EmulatorProcess, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{emu.url}{UPSERT}", json=body, headers={"Authorization": f"Bearer {emu.token}"}
    )
    assert response.status_code == 201, response.text
    return response.json()["values"]


def run_emulator(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command that is expected to exit on its own (a start-up error)."""
    return subprocess.run(
        [sys.executable, "-m", "iasync", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_prints_the_urls_with_the_real_port(emulator: EmulatorProcess) -> None:
    lines = emulator.stdout().splitlines()

    assert re.fullmatch(r"FBN_LUSID_URL=http://127\.0\.0\.1:\d+/api", lines[0])
    port = int(lines[0].rsplit(":", 1)[1].removesuffix("/api"))
    assert port > 0
    assert lines[1] == f"FBN_TOKEN_URL=http://127.0.0.1:{port}/oauth2/token"
    assert not any(line.startswith("FBN_ACCESS_TOKEN=") for line in lines)  # it was given one
    assert f"serving http://127.0.0.1:{port}/api (accounts in memory)" in emulator.stderr()


def test_generates_and_prints_a_token_when_none_is_given(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(None)

    printed = [ln for ln in emu.stdout().splitlines() if ln.startswith("FBN_ACCESS_TOKEN=")]
    assert printed == [f"FBN_ACCESS_TOKEN={emu.token}"]
    assert len(emu.token or "") >= 20
    headers = {"Authorization": f"Bearer {emu.token}"}
    assert httpx.get(f"{emu.url}/api/investmentaccounts", headers=headers).status_code == 200


def test_listens_on_the_port_asked_for(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    with socket.socket() as probe:  # find a free port, then free it for the emulator
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    emu = EmulatorProcess("tok", "--port", str(port))
    # --port given twice: click takes the last one, so the fixed port wins over the default 0.
    emu.start()
    try:
        assert emu.url == f"http://127.0.0.1:{port}/api"
    finally:
        emu.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_on_a_signal(
    emulator_factory: Callable[..., EmulatorProcess], sig: signal.Signals
) -> None:
    emu = emulator_factory("tok")
    assert httpx.get(f"{emu.root}/_emulator/requests").status_code == 200

    status = emu.stop(sig)

    assert status == 0
    assert "Traceback" not in emu.stderr()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.root}/_emulator/requests")


def test_data_survives_a_restart(tmp_path: Path, account: Account) -> None:
    data = tmp_path / "state" / "emulator.json"
    with EmulatorProcess("tok", "--data", str(data)) as emu:
        created = upsert(emu, {"a": account(1), "b": account(2)})
        upsert(emu, {"a": account(1, displayName="Changed")})

    with EmulatorProcess("tok", "--data", str(data)) as emu:
        accounts = {a["lusidInvestmentAccountId"]: a for a in emu.accounts()}
        again = upsert(emu, {"a": account(1, displayName="Changed"), "b": account(2)})

    assert set(accounts) == {v["lusidInvestmentAccountId"] for v in created.values()}
    assert again["a"]["version"]["asAtVersionNumber"] == 2  # unchanged: a no-op after restart
    assert again["b"]["version"]["asAtVersionNumber"] == 1
    assert again["a"]["lusidInvestmentAccountId"] == created["a"]["lusidInvestmentAccountId"]
    # Written atomically: one complete JSON file, no temporary files left beside it.
    assert [p.name for p in data.parent.iterdir()] == ["emulator.json"]
    assert len(json.loads(data.read_text())["accounts"]) == 2


def test_reset_and_delete_are_persisted(tmp_path: Path, scoped_account: Account) -> None:
    # Delete exists in the scoped API only.
    data = tmp_path / "emulator.json"
    with EmulatorProcess("tok", "--data", str(data), api="scoped") as emu:
        upsert(emu, {"a": scoped_account(1), "b": scoped_account(2)})
        headers = {"Authorization": "Bearer tok"}
        deleted = httpx.delete(
            f"{emu.url}/api/investmentaccounts/Id/IA_1",
            params={"scope": "Scope1", "identifierScope": "Ext"},
            headers=headers,
        )
        assert deleted.status_code == 200
    with EmulatorProcess("tok", "--data", str(data), api="scoped") as emu:
        assert [a["displayName"] for a in emu.accounts()] == ["Account 2"]
        emu.reset()
    with EmulatorProcess("tok", "--data", str(data), api="scoped") as emu:
        assert emu.accounts() == []


def test_a_data_file_of_the_other_api_is_refused_at_start(tmp_path: Path, account: Account) -> None:
    data = tmp_path / "emulator.json"
    with EmulatorProcess("tok", "--data", str(data)) as emu:
        upsert(emu, {"a": account(1)})
    before = data.read_bytes()

    with pytest.raises(EmulatorStartError) as refused:
        EmulatorProcess("tok", "--data", str(data), api="scoped").start()

    message = str(refused.value)
    assert f"{data}: the emulator's data file holds accounts of the unscoped API" in message
    assert "start it with --api unscoped" in message and "Traceback" not in message
    assert data.read_bytes() == before  # never lose data


def test_without_data_accounts_live_in_memory(account: Account) -> None:
    with EmulatorProcess("tok") as emu:
        upsert(emu, {"a": account(1)})
    with EmulatorProcess("tok") as emu:
        assert emu.accounts() == []


def test_a_corrupt_data_file_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "emulator.json"
    data.write_text("{not json")

    result = run_emulator("--data", str(data))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(data) in result.stderr and "cannot read the emulator's data file" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "{nope"], "--fault"),
        (["--fault", '{"kind": "status", "status": 200}'], "status"),
        (["--user", "no-colon-here"], "NAME:PASSWORD"),
        (["--definitions", "/no/such/file.yaml"], "does not exist"),
        (["--port", "70000"], "70000"),
        (["--api", "v2"], "'v2' is not one of 'unscoped', 'scoped'"),
    ],
)
def test_bad_options_exit_with_a_message(args: list[str], message: str) -> None:
    result = run_emulator(*args)

    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_emulator("--port", str(port))

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_user_password_is_not_echoed_on_a_bad_spec() -> None:
    result = run_emulator("--user", "secretpassword")

    assert result.returncode == 1
    assert "secretpassword" not in result.stderr + result.stdout


def test_an_unwritable_data_path_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("")

    result = run_emulator("--data", str(not_a_dir / "emulator.json"))

    assert result.returncode == 1
    assert "cannot write the emulator's data file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_new_data_file_is_written_at_start_up(tmp_path: Path) -> None:
    data = tmp_path / "new" / "emulator.json"

    with EmulatorProcess("tok", "--data", str(data)):
        assert json.loads(data.read_text()) == {"formatVersion": 1, "accounts": []}


def test_start_failure_is_reported_by_emulator_process(tmp_path: Path) -> None:
    data = tmp_path / "emulator.json"
    data.write_text("[]")

    with pytest.raises(EmulatorStartError, match="cannot read the emulator's data file"):
        EmulatorProcess("tok", "--data", str(data)).start()


def test_a_signal_right_after_start_up_still_stops_it() -> None:
    # The signal may land before uvicorn has installed its handlers: it must still stop, cleanly.
    emu = EmulatorProcess("tok").start()

    assert emu.stop(signal.SIGTERM, timeout=30) == 0
    assert "Traceback" not in emu.stderr()


def test_without_the_emulator_extra_it_says_what_to_install() -> None:
    # sys.modules[name] = None makes `import name` fail, as if the package were not installed.
    code = (
        "import sys; sys.modules['starlette'] = None; sys.argv = ['iasync', 'emulator']; "
        "from iasync.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert "pip install 'iasync[emulator]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_kill_9_keeps_every_acknowledged_batch_and_a_readable_file(
    tmp_path: Path, account: Account
) -> None:
    data = tmp_path / "emulator.json"
    acknowledged: set[str] = set()
    with EmulatorProcess("tok", "--data", str(data)) as emu:
        client = httpx.Client(headers={"Authorization": "Bearer tok"}, timeout=30)
        for start in (0, 300, 600):
            batch = {f"a{n}": account(n) for n in range(start, start + 300)}
            response = client.post(f"{emu.url}{UPSERT}", json=batch)
            assert response.status_code == 201
            acknowledged |= {
                v["lusidInvestmentAccountId"] for v in response.json()["values"].values()
            }
        in_flight = {f"a{n}": account(n) for n in range(900, 1900)}
        outcome: list[object] = []

        def send_in_flight() -> None:
            try:
                outcome.append(client.post(f"{emu.url}{UPSERT}", json=in_flight).status_code)
            except httpx.TransportError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=send_in_flight)
        sender.start()
        time.sleep(random.uniform(0.0, 0.3))  # kill -9 at an arbitrary moment of that batch
        emu.process.kill()  # type: ignore[union-attr]
        emu.process.wait()  # type: ignore[union-attr]
        sender.join()
        client.close()

    with EmulatorProcess("tok", "--data", str(data)) as emu:
        restored = {a["lusidInvestmentAccountId"] for a in emu.accounts()}

    assert acknowledged <= restored
    assert len(restored) in (900, 1900)  # the in-flight batch is all there or not at all
    if outcome[0] == 201:
        assert len(restored) == 1900  # acknowledged, so it was on disk first


def test_listens_on_the_host_asked_for(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory("tok", "--host", "127.0.0.2")

    assert emu.url.startswith("http://127.0.0.2:")
    headers = {"Authorization": "Bearer tok"}
    assert httpx.get(f"{emu.url}/api/investmentaccounts", headers=headers).status_code == 200
    with pytest.raises(httpx.ConnectError):  # not on 127.0.0.1
        httpx.get(emu.url.replace("127.0.0.2", "127.0.0.1") + "/api/investmentaccounts")


def test_the_emulator_fixture_survives_a_test_that_stopped_it(
    _shared_emulator: Any, emulator: EmulatorProcess
) -> None:
    emulator.stop()

    revived = _shared_emulator.get()  # what the next test's `emulator` fixture gets

    assert revived is not emulator and revived.process.poll() is None
    assert httpx.get(f"{revived.root}/_emulator/requests").status_code == 200
