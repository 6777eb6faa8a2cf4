"""The `iasync` command line: a click group whose commands load only when they are run.

Each command lives in `iasync/commands/<name>.py` as a `command` object and imports its heavy
dependencies (pydantic, httpx, starlette, ...) inside the function body, so that `iasync --help`
and a one-file `iasync validate` start fast.
"""

from __future__ import annotations

import importlib
import sys

import click

from iasync import __version__

# name -> (module, one-line help). The help is here so that `iasync --help` imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("iasync.commands.init", "Scaffold a repository of account files, with CI pipelines."),
    "validate": ("iasync.commands.validate", "Check account files; report every problem located."),
    "fmt": ("iasync.commands.fmt", "Rewrite account files in the canonical style."),
    "schema": ("iasync.commands.schema", "Write the JSON Schema of the account file format."),
    "plan": ("iasync.commands.plan", "Show what apply would change in LUSID."),
    "apply": ("iasync.commands.apply", "Send the changed accounts to LUSID and record them."),
    "import": (
        "iasync.commands.import_",
        "Write files for accounts in LUSID no file manages, or from a $batchUpsert request body.",
    ),
    "state": ("iasync.commands.state", "Inspect the last-applied state."),
    "force-unlock": ("iasync.commands.force_unlock", "Release a stuck state lock by its id."),
    "emulator": ("iasync.commands.emulator", "Run a local LUSID Investment Accounts emulator."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short) for name, (_, short) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="iasync")
def cli() -> None:
    """GitOps for LUSID Investment Accounts: validate, plan and apply account files kept in git."""


def main() -> None:
    from iasync.errors import IasyncError

    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        # A usage error exits 1, not click's 2: under -detailed-exitcode, 2 means "changes".
        sys.exit(1)
    except IasyncError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    # Commands return their exit code (Terraform's: 0 fine, 1 error, 2 changes where asked).
    sys.exit(code if isinstance(code, int) else 0)
