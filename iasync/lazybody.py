"""`LazyBody`: a dataclass whose `body` is fetched when first used, not when it is made.

A state in a database is read without its bodies (thousands of JSON documents, most of them never
looked at: a plan compares hashes); the records, the accounts reused from them and their plan
changes get the body only if something asks for it. Instead of `body`, an instance has a
`_fetch_body()`: a method of its class, or a no-argument callable in its `__dict__`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


class LazyBody:
    """Mixin, first among the bases of a dataclass with a `body` field."""

    _fetch_body: Callable[[], Any]

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: `body` until fetched (then set: fetched once).
        if name != "body":
            raise AttributeError(name)
        body = self._fetch_body()
        self.__dict__["body"] = body  # through __dict__: works for frozen dataclasses too
        return body

    def __eq__(self, other: object) -> bool:
        # Equal to the plain dataclass with the same fields (its own test wants one class).
        if not (isinstance(other, _plain_class(self)) and dataclasses.is_dataclass(other)):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(other)]
        return all(getattr(self, name) == getattr(other, name) for name in names)

    __hash__ = None  # type: ignore[assignment]


def is_fetched(obj: object) -> bool:
    """Whether `obj.body` is at hand (always, but for a `LazyBody` not used yet)."""
    return not isinstance(obj, LazyBody) or "body" in obj.__dict__


def _plain_class(obj: LazyBody) -> type:
    """The dataclass a `LazyBody` class makes lazy: its first base that is not lazy."""
    return next(c for c in type(obj).__mro__ if not issubclass(c, LazyBody))
