"""The scatter half of a fanned-out request: the same call on many sites at
once, each result reported for its site, none allowed to hold the answer past
the deadline.

    results = await scatter(sites, lambda site: list_servers(site), deadline=5.0)
    for result in results:
        result.ok / result.value / result.error / result.timed_out

A site that raises yields a result carrying the error; a site still running
at the deadline is cancelled and yields a `timed_out` result. Nothing is
raised for a site's failure: deciding what a missing site means (an error,
a partial list, rows from the cached projection) is the caller's business.
The one exception is the caller's own cancellation, which propagates after
cancelling every site's call.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

from cascade.sites.model import Site

T = TypeVar("T")

LOG = logging.getLogger(__name__)

# How long cancelled calls get to unwind (close connections) before the
# answer goes out without them.
CANCEL_GRACE = 0.1


@dataclasses.dataclass
class SiteResult(Generic[T]):
    site: Site
    value: T | None = None
    error: BaseException | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


async def scatter(
    sites: Sequence[Site],
    call: Callable[[Site], Awaitable[T]],
    *,
    deadline: float,
    cancel_grace: float = CANCEL_GRACE,
) -> list[SiteResult[T]]:
    """Run `call(site)` for every site concurrently; results in the order of `sites`."""
    if not sites:
        return []
    tasks = [asyncio.create_task(_call(call, site), name=f"scatter:{site.name}") for site in sites]
    try:
        _, late = await asyncio.wait(tasks, timeout=max(deadline, 0.0))
    except asyncio.CancelledError:
        await _cancel(tasks, cancel_grace)
        raise
    if late:
        LOG.debug("scatter: %d of %d sites missed the %.3fs deadline", len(late), len(tasks), deadline)
        await _cancel(late, cancel_grace)
    return [_result(site, task, task in late) for site, task in zip(sites, tasks)]


async def _call(call: Callable[[Site], Awaitable[T]], site: Site) -> T:
    # Inside the task, so that a call raising before its first await is
    # reported like any other failure.
    return await call(site)


def _result(site: Site, task: asyncio.Task[T], late: bool) -> SiteResult[T]:
    if late:
        return SiteResult(site, timed_out=True)
    if task.cancelled():
        # Cancelled by something other than us (the caller was not: it would
        # not be reading results); report it as the site's failure.
        return SiteResult(site, error=asyncio.CancelledError(f"call on site {site.name} was cancelled"))
    error = task.exception()
    if error is not None:
        return SiteResult(site, error=error)
    return SiteResult(site, value=task.result())


async def _cancel(tasks: Iterable[asyncio.Task[T]], grace: float) -> None:
    running = [task for task in tasks if not task.done()]
    for task in running:
        task.cancel()
        task.add_done_callback(_collect)
    if running and grace > 0:
        await asyncio.wait(running, timeout=grace)


def _collect(task: asyncio.Task[T]) -> None:
    """Retrieve a late task's outcome so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()
