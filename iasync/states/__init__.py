"""The last-applied state: what LUSID accepted, per account, and the lock held while applying.

The public surface: the model (`State`, `AccountRecord`, the errors), the document's
`FORMAT_VERSION`, `LockInfo`, the `StateBackend` protocol with `open_backend` / `backend_for`, and
`LocalStateBackend`. Modules: `model`, `statefile` (the JSON document), `locking`, `backend` (the
protocol), `database` (the SQL schema and what the databases share), `sqlite` (the default),
`postgres` (shared) and `local` (the first format: a JSON file on disk); `transfer` (pull, push).
"""

from iasync.states.backend import StateBackend, backend_for, open_backend
from iasync.states.local import LocalStateBackend
from iasync.states.locking import LockInfo
from iasync.states.model import (
    AccountRecord,
    State,
    StateCorruptError,
    StateError,
    StateLockedError,
)
from iasync.states.statefile import FORMAT_VERSION

__all__ = [
    "FORMAT_VERSION",
    "AccountRecord",
    "LocalStateBackend",
    "LockInfo",
    "State",
    "StateBackend",
    "StateCorruptError",
    "StateError",
    "StateLockedError",
    "backend_for",
    "open_backend",
]
