"""Who holds a state's lock, and how a locked state is explained to whoever finds it locked."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock: shown to anyone who finds the state locked."""

    id: str
    operation: str
    who: str
    host: str
    pid: int
    created: str  # ISO 8601, UTC

    @classmethod
    def mine(cls, operation: str) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            who=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    @classmethod
    def unknown(cls) -> LockInfo:
        """A lock file iasync did not write: still a lock, but of no one we can name."""
        return cls(
            id="unknown",
            operation="unknown",
            who="unknown",
            host="unknown",
            pid=-1,
            created="unknown",
        )

    def describe(self) -> str:
        return (
            f"{self.who}@{self.host} (operation {self.operation}, since {self.created}, "
            f"process {self.pid}, lock id {self.id})"
        )

    def process_is_gone(self) -> bool:
        """True only when the holder ran on this host and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def locked_message(where: str, holder: LockInfo) -> str:
    gone = (
        " That process is no longer running, so the lock is stale."
        if holder.process_is_gone()
        else " Wait for it to finish (-lock-timeout SECONDS waits for it to)."
    )
    return (
        f"the state {where} is locked by {holder.describe()}.{gone} "
        f"If no iasync is running on it, release the lock with: iasync force-unlock {holder.id}"
    )
