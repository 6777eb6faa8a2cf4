"""Run the emulator: bind the socket ourselves (so --port 0 gives a real port we can print before
serving), hand it to uvicorn, and stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import gc
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from iasync.emulator.faults import Fault
from iasync.emulator.generations import DEFAULT_API, Api
from iasync.errors import IasyncError


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 0
    data_file: Path | None = None
    tokens: list[str] = field(default_factory=list)
    definitions_file: Path | None = None
    users: dict[str, str] = field(default_factory=dict)
    client_id: str | None = None
    client_secret: str | None = None
    token_expiry: float = 3600.0
    faults: list[Fault] = field(default_factory=list)
    api: Api = DEFAULT_API


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise IasyncError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_host(sock: socket.socket) -> str:
    host = sock.getsockname()[0]
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"  # listening everywhere: loopback reaches it
    return f"[{host}]" if ":" in host else host


def serve(options: ServerOptions, out: TextIO = sys.stdout) -> None:
    import uvicorn

    from iasync.emulator.app import build_app
    from iasync.emulator.definitions import load_definitions

    definitions = load_definitions(options.definitions_file) if options.definitions_file else None
    generated = None
    tokens = list(options.tokens)
    if not tokens:
        import secrets

        generated = secrets.token_urlsafe(24)
        tokens.append(generated)
    app = build_app(
        tokens=tokens,
        users=options.users,
        client_id=options.client_id,
        client_secret=options.client_secret,
        token_expiry=options.token_expiry,
        data_file=options.data_file,
        definitions=definitions,
        faults=options.faults,
        api=options.api,
    )
    sock = bind(options.host, options.port)
    root = f"http://{url_host(sock)}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # A 2,000-account batch allocates ~100,000 small containers; with the default thresholds the
    # collector runs full passes over every stored account many times per batch. Accounts are
    # acyclic trees, so collecting far less often loses nothing.
    gc.set_threshold(100_000, 50, 100)

    # Until uvicorn installs its own handlers, a signal asks the server to stop as soon as it
    # starts. uvicorn re-raises the signal it caught once it has shut down, after restoring these
    # handlers: so the process ends with status 0 rather than being killed by the signal.
    def stop_soon(signum: int, frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, stop_soon)
    signal.signal(signal.SIGTERM, stop_soon)
    # The socket already listens: a client connecting now waits in the backlog until we serve.
    print(f"FBN_LUSID_URL={root}/api", file=out)
    print(f"FBN_TOKEN_URL={root}/oauth2/token", file=out)
    if generated is not None:
        print(f"FBN_ACCESS_TOKEN={generated}", file=out)
    out.flush()
    # For a person at a terminal; stdout stays the machine-readable lines above.
    kept = f"accounts kept in {options.data_file}" if options.data_file else "accounts in memory"
    print(
        f"iasync emulator: serving {root}/api ({kept}), the {options.api} API; stop with Ctrl-C.",
        file=sys.stderr,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
