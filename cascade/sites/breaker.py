"""The circuit breaker of one site.

A site that keeps failing (connection errors, timeouts, 5xx) is not asked
again for a while: its calls fail at once with `SiteUnavailable` instead of
each waiting for its own timeout, so one dead site cannot slow the cascade.

    closed ──(failure_threshold consecutive failures)──> open
    open ──(open_seconds pass)──> half-open: one trial call is let through
    half-open ──success──> closed      half-open ──failure──> open again

A trial call that never reports (cancelled) stops blocking after
`open_seconds`, when another trial is allowed. A failed health probe opens
the breaker at once (`trip`), so calls stop waiting on a dead or hung site
without each of them finding out.

After it closes again, `share()` rises from near 0 to 1 over
`recovery_seconds`: placement gives a recovered site new work gradually.
`on_change(state)` hears every open and close.
"""
from __future__ import annotations

import time
from typing import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Breaker:
    def __init__(self, failure_threshold: int = 3, open_seconds: float = 10.0, *,
                 recovery_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.failure_threshold = max(1, failure_threshold)
        self.open_seconds = open_seconds
        self.recovery_seconds = recovery_seconds
        self.on_change = on_change
        self._clock = clock
        self._closed_at: float | None = None        # when it last closed after being open
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

    def share(self) -> float:
        """The part of its full share of new work the site should get now."""
        if self._opened_at is not None:
            return 0.0
        if self._closed_at is None or self.recovery_seconds <= 0:
            return 1.0
        return min(1.0, max(0.05, (self._clock() - self._closed_at) / self.recovery_seconds))

    def record_success(self) -> None:
        was_open = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._trial_started_at = None
        if was_open:
            self._closed_at = self._clock()
            self._notify(CLOSED)

    def record_failure(self) -> None:
        state = self.state
        if state == OPEN:
            return  # a call started before the breaker opened; the open period stands
        self._failures += 1
        if state == HALF_OPEN or self._failures >= self.failure_threshold:
            self._open(notify=state == CLOSED)

    def trip(self) -> None:
        """Open now (a failed probe): the site is known to be unreachable."""
        if self.state != OPEN:
            self._open(notify=self._opened_at is None)

    def _open(self, *, notify: bool) -> None:
        self._opened_at = self._clock()
        self._trial_started_at = None
        if notify:
            self._notify(OPEN)

    def _notify(self, state: str) -> None:
        if self.on_change is not None:
            self.on_change(state)
