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
