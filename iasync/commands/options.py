"""Options that several commands share, spelled once so that they read and behave alike.

Terraform's single-dash spellings are accepted beside the GNU ones (`-no-color`, `-lock-timeout`).
"""

from __future__ import annotations

import click

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
