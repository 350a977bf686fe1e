"""Counting failures in the shared cache: sign-in and API key exchange throttles.

The cache is shared by every server process (database or Redis, see settings.CACHES), so the
limits hold however many processes serve requests. Keys are hashes: no username or address is
stored in clear. Concurrent failures can undercount by a few on the database cache, whose
increment is not atomic; Redis counts exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

from console import audit


@dataclass(frozen=True)
class Limit:
    """At most `attempts` failures per `window` seconds for one key."""

    key: str
    attempts: int
    window: int

    @classmethod
    def of(cls, scope: str, *parts: str, attempts: int, window: int) -> Limit:
        digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
        return cls(key=f"throttle:{scope}:{digest}", attempts=attempts, window=window)


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR, unless settings name the header a trusted proxy sets (a forwarded-for header
    # is otherwise the client's own claim): the same address the audit log records.
    return audit.client_address(request) or ""


def exceeded(*limits: Limit) -> Limit | None:
    """The first limit already used up, if any."""
    counts = cache.get_many([limit.key for limit in limits])
    for limit in limits:
        if int(counts.get(limit.key) or 0) >= limit.attempts:
            return limit
    return None


def record_failure(*limits: Limit) -> None:
    for limit in limits:
        # add() starts the window only if none is running; incr() then counts in it.
        cache.add(limit.key, 0, limit.window)
        try:
            cache.incr(limit.key)
        except ValueError:  # the entry expired between add and incr
            cache.set(limit.key, 1, limit.window)


def reset(*limits: Limit) -> None:
    cache.delete_many([limit.key for limit in limits])
