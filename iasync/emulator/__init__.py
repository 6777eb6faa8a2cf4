"""A local LUSID Investment Accounts emulator: a real HTTP server (starlette + uvicorn).

    iasync emulator [--port 0] [--data FILE] [--token T ...] [--definitions FILE] ...

Modules: `app` (the LUSID endpoints and the token endpoint; `build_app`), `middleware` (the
outer ASGI layer: request ids, log, auth, faults), `admin` (the /_emulator API), `state` (what one
server knows), `store` (accounts, matching, versions, persistence), `validation` (request bodies ->
problem details), `problems`, `auth` (tokens, the OAuth2 endpoint), `faults`, `definitions`
(--definitions strictness), `server` (binding and running), `process` (`EmulatorProcess`).
Nothing here is imported by the rest of iasync, so its dependencies (the `emulator` extra) stay
optional for users who only plan and apply.
"""
