"""`iasync emulator`: run a local LUSID Investment Accounts emulator until stopped."""

from __future__ import annotations

from pathlib import Path

import click

from iasync.errors import IasyncError


def _users(specs: tuple[str, ...]) -> dict[str, str]:
    users = {}
    for spec in specs:
        name, sep, password = spec.partition(":")
        if not sep or not name:
            # Never echo the spec: it holds a password.
            raise IasyncError("--user takes NAME:PASSWORD (a name, a colon, then the password).")
        users[name] = password
    return users


def _require_emulator_extra() -> None:
    try:
        import orjson  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise IasyncError(
            f"the emulator needs the 'emulator' extra ({exc.name} is missing): "
            "pip install 'iasync[emulator]'"
        ) from None


@click.command(
    "emulator",
    help="Run a local LUSID Investment Accounts emulator. Prints FBN_LUSID_URL and "
    "FBN_TOKEN_URL (and FBN_ACCESS_TOKEN when it made the token up), then serves until "
    "interrupted.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep accounts in this JSON file across restarts (default: in memory).",
)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    help="A personal access token to accept (repeatable). Default: one is generated.",
)
@click.option(
    "--definitions",
    "definitions_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON/YAML file of the property keys, identifier types, investor records "
    "and portfolios that exist; anything else then fails as in LUSID.",
)
@click.option(
    "--user",
    "user_specs",
    multiple=True,
    metavar="NAME:PASSWORD",
    help="A user for the OAuth2 password grant (repeatable).",
)
@click.option("--client-id", help="OAuth2 client id to require (default: any).")
@click.option("--client-secret", help="OAuth2 client secret to require (default: any).")
@click.option(
    "--token-expiry",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Lifetime of access tokens from the token endpoint.",
)
@click.option(
    "--api",
    type=click.Choice(["unscoped", "scoped"]),
    default="unscoped",
    show_default=True,
    help="The API generation to serve: 'unscoped' (the reference page's, lusid-sdk 2.1.859) "
    "or 'scoped' (today's LUSID, lusid-sdk 2.1.949 and later: accounts, holders and "
    "portfolios have a scope; get and delete by identifier type and value).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="JSON",
    help="A fault to inject from the start (repeatable), e.g. "
    '\'{"kind": "status", "status": 429, "count": 2}\'.',
)
def command(
    host: str,
    port: int,
    data_file: Path | None,
    tokens: tuple[str, ...],
    definitions_file: Path | None,
    user_specs: tuple[str, ...],
    client_id: str | None,
    client_secret: str | None,
    token_expiry: float,
    fault_specs: tuple[str, ...],
    api: str,
) -> int:
    import json

    _require_emulator_extra()
    from iasync.emulator.faults import parse_fault
    from iasync.emulator.generations import parse_api
    from iasync.emulator.server import ServerOptions, serve

    faults = []
    for spec in fault_specs:
        try:
            faults.append(parse_fault(json.loads(spec)))
        except ValueError as exc:
            raise IasyncError(f"--fault {spec!r} is not JSON: {exc}") from None
    serve(
        ServerOptions(
            host=host,
            port=port,
            data_file=data_file,
            tokens=list(tokens),
            definitions_file=definitions_file,
            users=_users(user_specs),
            client_id=client_id,
            client_secret=client_secret,
            token_expiry=token_expiry,
            faults=faults,
            api=parse_api(api),
        )
    )
    return 0
