"""Options that several commands share, spelled once so that they read and behave alike.

Terraform's single-dash spellings are accepted beside the GNU ones (`-no-color`, `-lock-timeout`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from iasync.errors import IasyncError

_Command = TypeVar("_Command", bound=Callable[..., object])

state_option = click.option(
    "--state",
    "state_file",
    metavar="PATH|URL",
    help=(
        "The state: a SQLite file, or postgresql://USER@HOST/DB for a shared one (default: the "
        "`state` setting, .iasync/state.db; IASYNC_STATE)."
    ),
)
workspace_option = click.option(
    "-workspace",
    "--workspace",
    metavar="NAME",
    help="The state's workspace in PostgreSQL (default: the `workspace` setting, `default`).",
)
no_color_option = click.option(
    "-no-color", "--no-color", is_flag=True, help="No colour (NO_COLOR is honoured too)."
)
lock_timeout_option = click.option(
    "-lock-timeout",
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the state lock held by another run.",
)

target_option = click.option(
    "--target",
    "-target",
    "targets",
    multiple=True,
    metavar="PATH|GLOB|IDENTIFIER",
    help="Only this account (a file, a directory, a glob, an identifier value, KEY=VALUE or a "
    "LUSID id); repeatable. The rest stays pending.",
)
exclude_option = click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATH|GLOB|IDENTIFIER",
    help="Leave this account out (named as for --target); repeatable. It stays pending.",
)
refresh_option = click.option(
    "--refresh",
    "-refresh",
    "refresh",
    is_flag=True,
    help="Read the managed accounts from LUSID and report those changed or deleted outside "
    "iasync; apply then restores the files' version.",
)
prune_option = click.option(
    "--prune",
    is_flag=True,
    help="Delete orphaned accounts from LUSID (at most --max-deletes, never every managed "
    "account, never a `protected` one).",
)
max_deletes_option = click.option(
    "--max-deletes",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="With --prune: refuse to delete more accounts than this.",
)
offline_option = click.option(
    "--offline",
    is_flag=True,
    help="Read nothing from LUSID (no credentials needed): accounts to create are not checked "
    "against it, and the plan says so.",
)


def plan_options(*, offline: bool = False) -> Callable[[_Command], _Command]:
    """The options that say what a plan holds (`operations.PlanOptions`), for plan and for apply
    (which plans too): --target, --exclude, --refresh, --prune, --max-deletes, and with `offline`
    (plan's own) --offline after --exclude. They show in --help in that order."""
    options = [target_option, exclude_option]  # the parameters of `_PLAN_PARAMETERS`, in order
    options += [offline_option] if offline else []
    options += [refresh_option, prune_option, max_deletes_option]

    def decorate(command: _Command) -> _Command:
        # click lists options in the reverse of the order applied: the last applied comes first.
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


#: The parameters `plan_options` gives a command (plan's --offline aside).
_PLAN_PARAMETERS = ("targets", "excludes", "refresh", "prune", "max_deletes")


def refuse_plan_options_beside(planfile: Path | None) -> None:
    """A saved plan (`planfile`) is applied as it was made (its subset, refresh and prune are in
    it): plan options given on the command line beside one are refused, not silently ignored."""
    named = given(*_PLAN_PARAMETERS)
    if planfile is not None and named:
        shown = ", ".join("--" + name.rstrip("s").replace("_", "-") for name in sorted(named))
        raise IasyncError(
            f"{shown}: a saved plan is applied as it was made (its subset, refresh and prune "
            "are in it); give them to `iasync plan -out FILE` instead"
        )


def given(*names: str) -> set[str]:
    """Which of the parameters `names` the command line itself sets (not a default)."""
    ctx = click.get_current_context()
    source = click.core.ParameterSource.COMMANDLINE
    return {name for name in names if ctx.get_parameter_source(name) == source}
