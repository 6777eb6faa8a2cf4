"""Errors that reach the user as a plain message and an exit code, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class IasyncError(Exception):
    """A failure the user can act on; `str(error)` is the whole message."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in an account file; lines and columns count from 1."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }
