"""The circuit breaker of one site.

A site that keeps failing (connection errors, timeouts, 5xx) is not asked
again for a while: its calls fail at once with `SiteUnavailable` instead of
each waiting for its own timeout, so one dead site cannot slow the cascade.

    closed ──(failure_threshold consecutive failures)──> open
    open ──(open_seconds pass)──> half-open: one trial call is let through
    half-open ──success──> closed      half-open ──failure──> open again

A trial call that never reports (cancelled) stops blocking after
`open_seconds`, when another trial is allowed.
"""
from __future__ import annotations

import time
from typing import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Breaker:
    def __init__(self, failure_threshold: int = 3, open_seconds: float = 10.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = max(1, failure_threshold)
        self.open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None       # None while closed
        self._trial_started_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self._clock() - self._opened_at >= self.open_seconds:
            return HALF_OPEN
        return OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        """Whether a call may go to the site now; in half-open, True for one trial at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN:
            return False
        now = self._clock()
        if self._trial_started_at is not None and now - self._trial_started_at < self.open_seconds:
            return False
        self._trial_started_at = now
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_started_at = None

    def record_failure(self) -> None:
        state = self.state
        if state == OPEN:
            return  # a call started before the breaker opened; the open period stands
        self._failures += 1
        if state == HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._trial_started_at = None
