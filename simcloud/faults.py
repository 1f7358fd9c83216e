"""Fault injection for one simulated site, switched at run time.

`FaultInjector` holds a site's faults and counters and provides the aiohttp
middleware `simcloud.world` puts in front of the site's application:

- ``hang``: the request is read and never answered (until hang is cleared);
- ``latency``: seconds added before every answer;
- ``error_rate`` (0..1): that share of calls fails — compute calls with
  Nova's ``500 computeFault``, every other service with a plain ``503``;
- ``down`` is only recorded here: the world closes the site's listener, so
  clients get a real "connection refused".

The random draws come from a generator seeded per site, so a run with the
same calls injects the same errors.
"""
from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass
class Faults:
    down: bool = False
    hang: bool = False
    latency: float = 0.0
    error_rate: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class FaultCounts:
    requests: int = 0           # every call that reached the site's listener
    injected_errors: int = 0    # calls answered with an injected 500/503
    hanging: int = 0            # calls held by "hang" right now

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def parse_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check a partial update of faults; raises ValueError naming the field."""
    if not isinstance(changes, Mapping):
        raise ValueError("faults must be a JSON object")
    parsed: dict[str, Any] = {}
    for key, value in changes.items():
        if key in ("down", "hang"):
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            parsed[key] = value
        elif key in ("latency", "error_rate"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{key} must be a number")
            if value < 0 or (key == "error_rate" and value > 1):
                raise ValueError(f"{key} must be between 0 and {'1' if key == 'error_rate' else 'inf'}")
            parsed[key] = float(value)
        else:
            raise ValueError(f"unknown fault {key!r}; known: down, hang, latency, error_rate")
    return parsed


class FaultInjector:
    def __init__(self, *, seed: str | int | None = None) -> None:
        self.faults = Faults()
        self.counts = FaultCounts()
        self._random = random.Random(seed)
        self._released = asyncio.Event()
        self._released.set()

    def update(self, changes: Mapping[str, Any]) -> Faults:
        """Apply a partial update (already checked by `parse_changes`, or
        checked here); keys left out keep their value."""
        for key, value in parse_changes(changes).items():
            setattr(self.faults, key, value)
        if self.faults.hang:
            self._released.clear()
        else:
            self._released.set()
        return self.faults

    def clear(self) -> Faults:
        return self.update(Faults().as_dict())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.counts.requests += 1
        faults = self.faults
        if faults.hang:
            self.counts.hanging += 1
            try:
                await self._released.wait()
            finally:
                self.counts.hanging -= 1
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        if faults.error_rate > 0 and self._random.random() < faults.error_rate:
            self.counts.injected_errors += 1
            return injected_error(request.path)
        return await handler(request)


def injected_error(path: str) -> web.Response:
    if path.startswith("/compute"):
        return web.json_response({"computeFault": {
            "code": 500, "message": "Unexpected API Error (injected by simcloud)."}}, status=500)
    return web.Response(status=503, content_type="text/plain",
                        text="503 Service Unavailable\n\nThe service is unavailable "
                             "(injected by simcloud); try again later.\n")
