"""Everything one emulator server knows: accounts, tokens, faults, definitions, the request log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iasync.emulator.auth import Authenticator
from iasync.emulator.definitions import Definitions
from iasync.emulator.faults import Faults
from iasync.emulator.generations import DEFAULT_API, Api
from iasync.emulator.store import AccountStore, error_detail

MAX_LOG = 10_000  # requests kept in the admin log, the newest
MAX_LOG_BYTES = 256 * 1024 * 1024  # of request bodies kept: ~130 batches of 2,000 accounts


@dataclass
class Emulator:
    """Everything the server knows; one per server process."""

    api: Api = DEFAULT_API  # the API generation served: "unscoped" or "scoped"
    store: AccountStore = field(default_factory=AccountStore)
    auth: Authenticator = field(default_factory=Authenticator)
    faults: Faults = field(default_factory=Faults)
    definitions: Definitions | None = None
    log: list[dict[str, Any]] = field(default_factory=list)

    log_bytes: int = 0  # request bodies held by the log
    # Bumped by reset: a request hanging across a reset must not commit into the new world.
    generation: int = 0

    def reset(self) -> None:
        self.generation += 1
        self.store.reset()
        self.faults.clear()
        self.clear_log()

    def clear_log(self) -> None:
        self.log.clear()
        self.log_bytes = 0

    def record(self, entry: dict[str, Any]) -> None:
        """Log a request, forgetting the oldest once the log is too long or holds too much."""
        self.log.append(entry)
        self.log_bytes += len(entry["_raw"] or b"")
        while len(self.log) > MAX_LOG or (self.log_bytes > MAX_LOG_BYTES and len(self.log) > 1):
            self.log_bytes -= len(self.log.pop(0)["_raw"] or b"")

    def check_item(self, corr_id: str, body: Any) -> dict[str, Any] | None:
        values = [prop["value"]["labelValue"] for prop in body["identifiers"].values()]
        fault = self.faults.take_account_failure(values)
        if fault is not None:
            return error_detail(corr_id, fault.error_type, fault.detail)
        return self.definitions.check(corr_id, body) if self.definitions else None
