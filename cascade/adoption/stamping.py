"""Stamping adopted servers with their top id, as every server the cascade
routes carries it (`metadata[cascade_top_id]`): one metadata PUT per
server, a bounded number at once, in a job of its own per adopted batch so
that the adoption itself never waits for them.

A server the site says is gone needs no stamp; one that is busy (Nova
refuses metadata changes during a build, resize, ...) or a failed call is
tried again later; one the site refuses for good (its metadata quota is
full) is given up on and named in the job's result."""
from __future__ import annotations

import asyncio
import dataclasses

from cascade import errors
from cascade.resources.kinds import STAMP_KEY
from cascade.sites.client import SiteClient

CONCURRENCY = 16
LATER = {409, 429}


@dataclasses.dataclass
class StampOutcome:
    stamped: int = 0
    gone: int = 0
    refused: list[str] = dataclasses.field(default_factory=list)   # "bottom id: reason"
    later: list[list[str]] = dataclasses.field(default_factory=list)   # [top, bottom] to try again


async def stamp(client: SiteClient, servers: list[list[str]], *, concurrency: int = CONCURRENCY) -> StampOutcome:
    """PUT each server's stamp; `servers` is [[top id, bottom id], ...]."""
    outcome = StampOutcome()
    gate = asyncio.Semaphore(concurrency)

    async def one(top_id: str, bottom_id: str) -> None:
        async with gate:
            try:
                response = await client.service_request(
                    "compute", "PUT", f"/servers/{bottom_id}/metadata/{STAMP_KEY}",
                    json={"meta": {STAMP_KEY: top_id}})
            except errors.CascadeError:
                outcome.later.append([top_id, bottom_id])
                return
        if response.ok:
            outcome.stamped += 1
        elif response.status == 404:
            outcome.gone += 1
        elif response.status in LATER or response.status >= 500:
            outcome.later.append([top_id, bottom_id])
        else:
            outcome.refused.append(f"{bottom_id}: {response.status} {(response.text or '')[:200]}")

    await asyncio.gather(*(one(top, bottom) for top, bottom in servers))
    return outcome
