"""`iasync schema`: write the JSON Schema of the account file format."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="schema")
@click.option(
    "--output",
    "-o",
    "outputs",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="Write the schema to FILE (atomically) instead of stdout; may be given more than once.",
    metavar="FILE",
)
@click.option(
    "--api",
    type=click.Choice(["unscoped", "scoped"]),
    default="unscoped",
    show_default=True,
    help="The API generation whose account files the schema describes (the `api` setting).",
)
def command(outputs: tuple[Path, ...], api: str) -> int:
    """Write the JSON Schema of the account file format, generated from the models.

    The committed copies are regenerated with:

        iasync schema --output schema/investment-account.schema.json
        --output iasync/data/investment-account.schema.json

        iasync schema --api scoped --output schema/investment-account-scoped.schema.json
        --output iasync/data/investment-account-scoped.schema.json
    """
    from iasync.accounts.fmt import write_atomically
    from iasync.accounts.schema import generate_schema, schema_text

    text = schema_text(generate_schema(api))
    if not outputs:
        click.echo(text, nl=False)
        return 0
    for path in outputs:
        write_atomically(path, text.encode())
        click.echo(f"Wrote {path}", err=True)
    return 0
