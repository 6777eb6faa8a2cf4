"""Timestamps in account files (effectiveFrom, effectiveUntil): how they are read, and how LUSID
spells them. `iasync validate` and the model read them with the same `parse_instant`, so what one
accepts the other accepts, as the same instant.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FRACTION = re.compile(r"\d:\d\d[.,](\d+)")

# For editors: a date, or a date and time with a UTC offset (a naive time is refused).
INSTANT_PATTERN = (
    r"^\s*\d{4}-\d{2}-\d{2}"
    r"([Tt ]\d{2}(:\d{2}(:\d{2}([.,]\d+)?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?))?\s*$"
)


def parse_instant(text: str) -> datetime | str:
    """The instant `text` names, or why it names none (`iasync validate` and the model alike)."""
    text = text.strip()
    if _BARE_DATE.fullmatch(text):
        try:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        except ValueError:
            return "not a real date; write it like 2016-01-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return "not an ISO 8601 timestamp; write it like 2016-01-01T00:00:00+00:00"
    fraction = _FRACTION.search(text)
    if fraction and fraction.group(1)[6:].strip("0"):
        # Python keeps microseconds: the rest would be dropped without a word.
        return (
            f"{len(fraction.group(1))} decimal places of a second; "
            "iasync keeps at most 6 (microseconds): round it"
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return f"the time has no UTC offset; add one, e.g. {text}+00:00"
    try:
        parsed.astimezone(UTC)  # what the request holds: 9999-12-31T23:00:00-01:00 has no UTC
    except OverflowError:
        return "in UTC this falls outside 0001-01-01 to 9999-12-31, the dates a timestamp can hold"
    return parsed


def instant_of(value: Any) -> datetime:
    """A timestamp with an explicit offset, from YAML (datetime/date) or a string; ValueError
    saying why when `value` is none."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        # A bare date is that day's start in UTC: the way LUSID reads an effective date.
        parsed = datetime.combine(value, time(), tzinfo=UTC)
    elif isinstance(value, str):
        read = parse_instant(value)
        if isinstance(read, str):
            raise ValueError(read)
        parsed = read
    else:
        raise ValueError("expected a timestamp like 2016-01-01T00:00:00+00:00")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("the timestamp has no UTC offset; add one, e.g. +00:00")
    return parsed


def format_instant(value: datetime) -> str:
    """LUSID's own spelling: UTC, seven fractional digits, explicit offset."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"
