"""Server-wide limits on heavy work that runs outside the worker pool (live cameras, annotated videos).

Public API:
    ConcurrencyLimit(limit)    .try_enter() -> bool   .leave()   .taken   .limit   .wanted_within(seconds) -> bool
"""

from __future__ import annotations

import math
import threading
import time


class ConcurrencyLimit:
    """At most `limit` holders at once, shared by every session of a server. Thread-safe.

    `try_enter` never waits: a live camera drops its frames while no slot is free, and a page
    that can wait polls it, so that it can say it is waiting and stop when its user leaves.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}.")
        self.limit = limit
        self._taken = 0
        self._refused_at = -math.inf
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        """Takes a slot if one is free; returns whether it did."""
        with self._lock:
            if self._taken >= self.limit:
                self._refused_at = time.monotonic()
                return False
            self._taken += 1
            return True

    def wanted_within(self, seconds: float) -> bool:
        """Whether someone was refused a slot in the last `seconds` (a holder that can, then gives its turn up)."""
        with self._lock:
            return time.monotonic() - self._refused_at <= seconds

    def leave(self) -> None:
        with self._lock:
            if self._taken == 0:
                raise RuntimeError("leave without a slot taken")
            self._taken -= 1

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken
