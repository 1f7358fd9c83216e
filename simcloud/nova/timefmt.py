"""Timestamps as Nova prints and parses them. Times are kept as epoch floats
(compact); the API shows whole seconds with a `Z` (`2026-11-21T10:00:00Z`),
except the few fields Nova prints with microseconds and no zone."""
from __future__ import annotations

import datetime
import time

_UTC = datetime.timezone.utc


# time.strftime over gmtime: a third of datetime's cost, which shows in
# pages of 1000 servers
def isotime(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def microtime(ts: float | None) -> str | None:
    """`OS-SRV-USG:launched_at`, instance actions: naive, with microseconds,
    which are always 0 as Nova's MySQL columns keep whole seconds."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000", time.gmtime(int(ts)))


def parse_iso(text: str) -> float | None:
    """An ISO 8601 time (naive means UTC) as epoch seconds; None if malformed."""
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.timestamp()
