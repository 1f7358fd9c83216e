"""Request ids as ids: the cascade's own (top) and the site's (bottom).

A tenant is given the cascade's request id for every call; the site that
carried a call out records it under the site's own request id (Nova keeps
instance actions by request id). For the calls Nova records as instance
actions (creates, deletes, server actions) the pair is kept as a route of
kind "request" (top id = the tenant's request id, bottom id = the site's),
so that `os-instance-actions` can show and find actions by the ids the
tenant was given. Requests made straight at a site keep their site ids:
those are not resource ids and show as the site wrote them.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.routing.table import RouteTable

KIND = "request"

# the headers a site's answer carries its own request id in (Nova sends both)
_HEADERS = ("x-openstack-request-id", "x-compute-request-id")


def of_answer(headers: Mapping[str, str]) -> str | None:
    for name in _HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


async def remember(routes: RouteTable, *, top_id: str, site_id: str, project_id: str | None,
                   headers: Mapping[str, str], session: AsyncSession | None = None) -> None:
    """Keep the site's request id of a call made for `top_id` (a no-op when
    the site sent none, or when either id is paired already: a site that
    reuses an id it gave before keeps its first pairing). With `session`,
    in the caller's transaction."""
    bottom_id = of_answer(headers)
    if not bottom_id or bottom_id == top_id:
        return
    await routes.pair(KIND, top_id, site_id, bottom_id, project_id=project_id, session=session)


async def to_site(routes: RouteTable, site_id: str, request_id: str) -> str:
    """The site's id of a request the tenant names; an id the cascade did not
    give is taken as the site's own."""
    return (await routes.bottom_ids(KIND, site_id, [request_id])).get(request_id, request_id)


async def to_top(routes: RouteTable, site_id: str, request_ids: Iterable[str]) -> dict[str, str]:
    """site request id -> the tenant's, for every id given (unknown ones unchanged)."""
    wanted = [r for r in dict.fromkeys(request_ids) if isinstance(r, str) and r]
    found = await routes.top_ids(KIND, site_id, wanted)
    return {r: found.get(r, r) for r in wanted}
