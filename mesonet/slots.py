"""Server-wide limits on heavy work that runs outside the worker pool (live cameras, annotated videos).

Public API:
    Slots(limit)    .try_take() -> bool   .give_back()   .taken   .limit
"""

from __future__ import annotations

import threading


class Slots:
    """At most `limit` holders at once, shared by every session of a server. Thread-safe.

    `try_take` never waits: a live camera drops its frames while no slot is free, and a page
    that can wait polls it, so that it can say it is waiting and stop when its user leaves.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}.")
        self.limit = limit
        self._taken = 0
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        """Takes a slot if one is free; returns whether it did."""
        with self._lock:
            if self._taken >= self.limit:
                return False
            self._taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            if self._taken == 0:
                raise RuntimeError("give_back without a slot taken")
            self._taken -= 1

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken
