"""`iasync force-unlock LOCK_ID`: release a state lock left behind by a crashed iasync."""

from __future__ import annotations

import click

from iasync.commands.options import state_option, workspace_option


@click.command("force-unlock")
@click.argument("lock_id")
@state_option
@workspace_option
@click.option("-force", "--force", is_flag=True, help="Do not ask for confirmation.")
def command(lock_id: str, state_file: str | None, workspace: str | None, force: bool) -> int:
    """Release the state lock LOCK_ID (shown in the message of a locked state).

    Only do this when the process holding it is gone: two applies at once can lose records.
    """
    from iasync.operations import state_backend

    backend = state_backend(state_file, workspace=workspace)
    if not force:
        click.confirm(
            f"Release the lock {lock_id} on the state {backend.describe()}? "
            "Only do this if no iasync is running on it",
            abort=True,
        )
    released = backend.force_unlock(lock_id)
    click.echo(f"Released the lock on {backend.describe()} held by {released.describe()}.")
    return 0
