import asyncio
import time

import pytest

from cascade.errors import SiteUnavailable
from cascade.fanout.scatter import SiteResult, scatter
from cascade.sites.model import Site


def site(n):
    return Site(id=f"id-{n}", name=f"site-{n}", availability_zone=f"az-{n}", region_name="RegionOne",
                auth_url="http://keystone.test/v3", endpoints={}, position=n)


SITES = [site(n) for n in range(4)]


async def test_results_come_in_site_order_with_values():
    async def call(s):
        await asyncio.sleep(0.01 * (4 - s.position))     # finish in reverse order
        return s.name

    results = await scatter(SITES, call, deadline=1.0)

    assert [r.site for r in results] == SITES
    assert [r.value for r in results] == ["site-0", "site-1", "site-2", "site-3"]
    assert all(r.ok for r in results)


async def test_errors_are_reported_not_raised():
    boom = SiteUnavailable("connection refused", site="site-1")

    async def call(s):
        if s.position == 1:
            raise boom
        return s.position

    results = await scatter(SITES, call, deadline=1.0)

    assert [r.ok for r in results] == [True, False, True, True]
    assert results[1].error is boom and results[1].value is None and not results[1].timed_out


async def test_a_call_failing_before_its_first_await_is_reported_too():
    def call(s):
        if s.position == 2:
            raise ValueError("bad site record")
        return asyncio.sleep(0, result=s.position)

    results = await scatter(SITES, call, deadline=1.0)
    assert isinstance(results[2].error, ValueError)
    assert [r.value for r in results] == [0, 1, None, 3]


async def test_slow_sites_are_cancelled_at_the_deadline():
    cancelled = []

    async def call(s):
        try:
            await asyncio.sleep(10 if s.position in (0, 3) else 0)
        except asyncio.CancelledError:
            cancelled.append(s.name)
            raise
        return s.name

    started = time.monotonic()
    results = await scatter(SITES, call, deadline=0.05)
    elapsed = time.monotonic() - started

    assert elapsed < 0.5
    assert [r.timed_out for r in results] == [True, False, False, True]
    assert [r.ok for r in results] == [False, True, True, False]
    assert results[0].value is None and results[0].error is None
    assert sorted(cancelled) == ["site-0", "site-3"]


async def test_a_site_ignoring_cancellation_does_not_hold_the_answer():
    release = asyncio.Event()

    async def stubborn(s):
        while not release.is_set():
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                pass                          # misbehaves: swallows the cancellation
        return "late"

    started = time.monotonic()
    results = await scatter(SITES[:1], stubborn, deadline=0.02, cancel_grace=0.02)
    assert time.monotonic() - started < 0.5
    assert results[0].timed_out
    release.set()
    await asyncio.sleep(0)


async def test_caller_cancellation_propagates_and_cancels_every_call():
    running, cancelled = asyncio.Event(), []

    async def call(s):
        running.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(s.name)
            raise

    outer = asyncio.create_task(scatter(SITES, call, deadline=10))
    await running.wait()
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert sorted(cancelled) == [s.name for s in SITES]


async def test_no_sites_no_results():
    async def call(s):
        raise AssertionError("never called")

    assert await scatter([], call, deadline=1.0) == []


def test_site_result_ok():
    assert SiteResult(SITES[0], value=[]).ok
    assert not SiteResult(SITES[0], error=RuntimeError()).ok
    assert not SiteResult(SITES[0], timed_out=True).ok


async def test_a_call_cancelled_from_inside_is_that_sites_failure():
    async def call(s):
        if s.position == 0:
            raise asyncio.CancelledError()
        return s.position

    results = await scatter(SITES, call, deadline=1.0)
    assert isinstance(results[0].error, asyncio.CancelledError) and not results[0].timed_out
    assert [r.ok for r in results] == [False, True, True, True]
