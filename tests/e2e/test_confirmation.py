"""On a terminal, apply shows the plan and asks; only 'yes' applies (the command runs on a pty)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import hear_ctrl_c

if TYPE_CHECKING:
    from tests.e2e.conftest import Project


def run_on_terminal(project: Project, answer: str, *args: str) -> tuple[int, str]:
    """Run `iasync apply` with a pseudo-terminal as stdin and stdout; answer the prompt."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        project.command("apply", *args),
        cwd=project.root,
        env=project.env | {"TERM": "xterm", "COLUMNS": "120"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
        preexec_fn=hear_ctrl_c,
    )
    os.close(terminal)
    output = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the command has finished
                break
            if not chunk:
                break
            output += chunk
        if not answered and b"Enter a value" in output:
            os.write(controller, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    os.close(controller)
    code = process.wait(timeout=30)
    text = output.decode("utf-8", errors="replace")
    project.outputs.append(text)
    return code, text


def test_yes_applies_after_showing_the_plan(project: Project, emulator: Any) -> None:
    code, output = run_on_terminal(project, "yes")
    assert code == 0, output
    assert output.index("Plan: 3 to create") < output.index("Enter a value")
    assert "3 created, 0 updated, 0 failed" in output
    assert len(project.recorded_sources()) == 3


@pytest.mark.parametrize("answer", ["y", "\x04"], ids=["y", "ctrl-d"])
def test_anything_but_yes_cancels_and_sends_nothing(
    project: Project, emulator: Any, answer: str
) -> None:
    code, output = run_on_terminal(project, answer)
    assert code == 1
    assert "Apply cancelled" in output and "Aborted" not in output
    assert project.upserts() == []
    assert not project.state_path.exists()


def test_the_plan_is_coloured_on_a_terminal_unless_no_color(
    project: Project, emulator: Any
) -> None:
    project.write(5)
    _, coloured = run_on_terminal(project, "no")
    _, plain = run_on_terminal(project, "no", "--no-color")
    green = "\x1b[32m"  # creates are green
    assert green in coloured
    assert green not in plain
    assert "Plan: 4 to create" in plain


def test_on_a_terminal_a_retry_is_told_on_its_own_line_above_the_progress_bar(
    project: Project, emulator: Any
) -> None:
    emulator.add_fault(kind="status", status=503, count=1, retryAfter=0, method="POST")
    code, output = run_on_terminal(project, "yes")
    assert code == 0, output
    retry = "Warning: the batch upsert of 3 accounts at "
    assert output.count(retry) == 1, output
    # The bar's line is cleared before the warning (ESC[2K), never written onto.
    assert "\r\x1b[2K" + retry in output
    assert "503 Service Unavailable; retrying in 0.0s (attempt 2 of 6)" in output
    assert emulator.token not in output
