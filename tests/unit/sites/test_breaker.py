"""The site circuit breaker: closed -> open -> half-open -> closed or open again."""
from __future__ import annotations

from cascade.sites.breaker import CLOSED, HALF_OPEN, OPEN, Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> Breaker:
    breaker = Breaker(failure_threshold=3, open_seconds=10, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    return breaker


def test_opens_after_the_threshold_of_consecutive_failures():
    breaker = Breaker(failure_threshold=3, open_seconds=10, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count():
    breaker = Breaker(failure_threshold=3, open_seconds=10, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.consecutive_failures == 2


def test_after_open_seconds_one_trial_call_goes_through():
    clock = Clock()
    breaker = opened(clock)
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()          # only one trial at a time


def test_a_successful_trial_closes():
    clock = Clock()
    breaker = opened(clock)
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED
    assert all(breaker.allow() for _ in range(5))


def test_a_failed_trial_opens_again_for_a_full_period():
    clock = Clock()
    breaker = opened(clock)
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_a_trial_that_never_reports_stops_blocking_after_open_seconds():
    clock = Clock()
    breaker = opened(clock)
    clock.now += 10
    assert breaker.allow()              # the trial is lost (cancelled)
    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()


def test_late_failures_do_not_extend_the_open_period():
    clock = Clock()
    breaker = opened(clock)
    clock.now += 8
    breaker.record_failure()            # from a call started before the breaker opened
    clock.now += 2
    assert breaker.state == HALF_OPEN


def test_a_failed_probe_trips_the_breaker_and_recovery_ramps_its_share():
    clock = Clock()
    changes = []
    breaker = Breaker(failure_threshold=3, open_seconds=10, recovery_seconds=20, clock=clock,
                      on_change=changes.append)
    assert breaker.share() == 1.0
    breaker.trip()
    assert breaker.state == "open" and not breaker.allow() and breaker.share() == 0.0
    breaker.trip()
    assert changes == ["open"], "opening is heard once"
    clock.now += 10
    assert breaker.allow()   # the trial call
    breaker.record_success()
    assert changes == ["open", "closed"] and breaker.state == "closed"
    assert breaker.share() == 0.05
    clock.now += 10
    assert breaker.share() == 0.5
    clock.now += 15
    assert breaker.share() == 1.0


def test_failures_of_real_calls_open_it_once():
    changes = []
    breaker = Breaker(failure_threshold=2, open_seconds=10, clock=Clock(), on_change=changes.append)
    breaker.record_failure()
    assert changes == []
    breaker.record_failure()
    breaker.record_failure()
    assert changes == ["open"]
