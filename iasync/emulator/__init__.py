"""A local LUSID Investment Accounts emulator: a real HTTP server (starlette + uvicorn).

    iasync emulator [--port 0] [--data FILE] [--token T ...] [--definitions FILE] ...

Modules: `app` (the endpoints and the outer ASGI layer: request ids, log, auth, faults), `store`
(accounts, matching, versions, persistence), `validation` (request bodies -> problem details),
`auth` (tokens, the OAuth2 endpoint), `faults`, `definitions` (--definitions strictness),
`server` (binding and running), `process` (`EmulatorProcess`, for tests and demos).
Nothing here is imported by the rest of iasync, so its dependencies (the `emulator` extra) stay
optional for users who only plan and apply.
"""
