"""Admission: a process works on at most `[DEFAULT] requests_in_progress`
tenant requests at once; the others wait their turn in order of arrival.

Why: every request in progress shares the one event loop, so when more
arrive than the loop can serve, each takes time in proportion to its own
work. A 1,000-row page over 100 sites is about a hundred shows' work: under
1,000 clients pages took 65 to 97 s while shows took 3 s, and pages went
past their clients' timeouts. With a bounded number in progress, a request
beyond it waits in a FIFO queue, as it would for a site's own API workers,
so every request waits about as long as any other, and the memory held by
requests in progress is bounded too.

Only the tenant APIs take turns: the admin API (`/cascade`) and the public
version documents answer at once, so an operator can still look at an
overloaded cascade.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from aiohttp import web

ADMITTED_PREFIXES = ("/compute/", "/image/")


def admission_middleware(turns: Callable[[web.Request], asyncio.Semaphore],
                         *, exempt: Callable[[web.Request], bool] = lambda request: False):
    """A middleware making each tenant API request (under `ADMITTED_PREFIXES`,
    not `exempt`) hold one of `turns(request)` while it is handled."""

    @web.middleware
    async def admission(request: web.Request, handler):
        if not request.path.startswith(ADMITTED_PREFIXES) or exempt(request):
            return await handler(request)
        async with turns(request):
            return await handler(request)

    return admission
