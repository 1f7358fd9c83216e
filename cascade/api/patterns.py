"""The four request patterns, written once and used by every front.

- routed:     `locate()` a resource's route, `forward()` the call to its site,
              translate the answer back (`Translator.to_top`).
- placed:     `scheduling.placement` chooses the site; the front prepares the
              dependencies and calls `forward()`; the route is reserved before
              and bound after the site's answer.
- fanned out: `fan_out()` asks many sites concurrently with one deadline and
              reports per-site results; lists merge them with `fanout.merge`.
- top-owned:  served from the cascade's own tables (flavors, keypairs,
              images); copies in sites are made by `api.compute.dependencies`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cascade import errors
from cascade.context import RequestContext
from cascade.fanout.scatter import SiteResult, scatter
from cascade.resources.kinds import KINDS, Kind
from cascade.routing import request_ids
from cascade.routing.table import Route
from cascade.runtime import Runtime
from cascade.sites.client import SiteClient, SiteResponse
from cascade.sites.model import DOWN, Site

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a routed call goes: the route, its site and that site's client."""

    route: Route
    site: Site
    client: SiteClient

    @property
    def bottom_id(self) -> str:
        assert self.route.bottom_id is not None
        return self.route.bottom_id


def visible(ctx: RequestContext, project_id: str | None) -> bool:
    return ctx.is_admin or project_id is None or project_id == ctx.project_id


async def locate(rt: Runtime, ctx: RequestContext, kind: Kind, top_id: str, *, not_found: str,
                 site_id: str | None = None, deleted: bool = False) -> Target:
    """Resolve a routed resource for this tenant, or raise NotFound with the
    service's own message. Another project's resource is NotFound too, so a
    guessed id tells nothing. With `deleted`, a resource deleted through the
    cascade still resolves (its route is kept in state "deleting"): for the
    calls Nova answers on deleted resources too."""
    try:
        route = await rt.routes.resolve(kind.name, top_id, site_id=site_id)
    except errors.NotFound:
        raise errors.NotFound(not_found, kind=kind.name, resource_id=top_id) from None
    states = ("bound", "deleting") if deleted else ("bound",)
    if route.state not in states or route.bottom_id is None or not visible(ctx, route.project_id):
        raise errors.NotFound(not_found, kind=kind.name, resource_id=top_id)
    site = rt.registry.get(route.site_id)
    return Target(route=route, site=site, client=rt.registry.client(site.id))


def scrubber(rt: Runtime, replacements: Mapping[str, str]) -> Callable[[str], str]:
    return lambda text: rt.translator.scrub(text, replacements)


async def forward(rt: Runtime, ctx: RequestContext, site: Site, service: str, method: str, path: str, *,
                  json: Any = None, params: Any = None, replacements: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> SiteResponse:
    """One call to one site with the tenant's token and microversion; a site
    error becomes SiteError with bottom ids replaced by top ids."""
    client = rt.registry.client(site.id)
    response = await client.request(
        service, method, path, token=ctx.token, json=json, params=params,
        microversion=ctx.microversion if service == "compute" else None,
        request_id=ctx.request_id, timeout=timeout, project_id=ctx.project_id)
    client.raise_for_error(response, scrub=scrubber(rt, replacements or {}))
    return response


async def forward_routed(rt: Runtime, ctx: RequestContext, target: Target, method: str, subpath: str = "", *,
                         json: Any = None, params: Any = None,
                         replacements: Mapping[str, str] | None = None) -> SiteResponse:
    """Forward a call on a routed resource: `subpath` is appended to the
    resource's own path at the site (e.g. "/action", "/metadata/key");
    `replacements` are more bottom -> top texts for its error messages."""
    kind = KINDS[target.route.kind]
    path = f"/{kind.path}/{target.bottom_id}{subpath}"
    return await forward(rt, ctx, target.site, kind.service, method, path, json=json, params=params,
                         replacements={**(replacements or {}), target.bottom_id: target.route.top_id})


async def remember_request(rt: Runtime, ctx: RequestContext, site: Site, response: SiteResponse, *,
                           session: AsyncSession | None = None) -> None:
    """Pair the tenant's request id with the site's, for a call the site
    records as an instance action (see `routing.request_ids`); with
    `session`, in the caller's transaction."""
    await request_ids.remember(rt.routes, top_id=ctx.request_id, site_id=site.id,
                               project_id=ctx.project_id, headers=response.headers, session=session)


async def forward_any(rt: Runtime, ctx: RequestContext, service: str, method: str, path: str, *,
                      params: Any = None) -> SiteResponse:
    """A read whose answer is the same at every site (what the service
    itself defines, not what a site holds): asked of the first site, in
    registration order, that is not down and answers; a site's error is
    relayed."""
    unavailable: errors.SiteUnavailable | None = None
    for site in rt.registry.all():
        if site.health == DOWN:
            continue
        try:
            return await forward(rt, ctx, site, service, method, path, params=params)
        except errors.SiteUnavailable as exc:
            unavailable = exc
    raise unavailable or errors.SiteUnavailable("No site can answer now.", site="")


async def fan_out(rt: Runtime, sites: Sequence[Site], call: Callable[[Site], Awaitable[T]], *,
                  deadline: float | None = None) -> list[SiteResult[T]]:
    """Ask `sites` concurrently; never raises for a site's failure."""
    return await scatter(sites, call, deadline=deadline or rt.settings.sites.list_deadline)

