"""The command line group: every command is listed, and --help imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from iasync import __version__
from iasync.cli import COMMANDS, cli

HEAVY = (
    "pydantic",
    "httpx",
    "jsonschema",
    "deepdiff",
    "ruamel",
    "starlette",
    "uvicorn",
    "rich",
    "yaml",
)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_every_command_module_loads_a_click_command() -> None:
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None, name
        assert command.name == name or name in (command.name or "")


def test_unknown_command_is_a_plain_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "iasync", "nope"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1  # never 2: that is -detailed-exitcode's "changes"
    assert "No such command 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert __version__ in result.output


def test_help_imports_no_heavy_module() -> None:
    # Start-up speed is a feature: `iasync --help` must not pay for pydantic, httpx and friends.
    # -X importtime writes every module imported, with its cost, to stderr.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "iasync", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
    }
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
