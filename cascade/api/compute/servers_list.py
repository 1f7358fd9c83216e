"""Server lists (`GET /servers`, `GET /servers/detail`): fanned out.

Only the sites that may hold matching servers are asked, concurrently: those
where the listed projects have servers (`project_sites`, written with every
projection row, read per list), or every site for an admin's `all_tenants`
list of all projects. Each is asked with the tenant's filters (ids
translated per site) and sort keys; each site's rows
become a lazy stream (`fanout.SitePager`), and the streams are merged on the
sort keys with site order as the tie-break, so pages are global and stable.

A global marker is a top id: its site is asked to start after the marker's
bottom id; the other sites skip rows that sort before the marker's values.
When the marker's site cannot answer (down, hung, failing), the marker's sort
values come from the cascade's own record (`ServerProjection.get`), so a
list stays within about 1.5 x `[sites] list_deadline` whatever one site does.
Sites that are down, time out or fail answer nothing; from microversion 2.69
their servers appear as partial records (status UNKNOWN) from the cascade's
own records, on the first page, within its limit and never twice.

A process builds at most `[compute] list_concurrency` lists at once, the
others waiting their turn: a 1,000-row page holds several MB of rows while
it is built, and under 1,000 clients pages in progress together took the
cascade's memory over 1 GB.
"""
from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from multidict import MultiDict

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import server_views
from cascade.api.compute.common import context, reply, require_admin, runtime_of
from cascade.context import RequestContext
from cascade.fanout.merge import SitePager, expected_page_size, first_page_size, merge_indexed, page_fetcher
from cascade.fanout.sortkeys import SortSpec, after_marker
from cascade.persistence.servers import parse_timestamp
from cascade.resources.kinds import SERVER
from cascade.routing import paths
from cascade.runtime import Runtime
from cascade.sites.breaker import OPEN
from cascade.sites.model import DOWN, Site
from cascade.sites.versions import at_least

LOG = logging.getLogger(__name__)

# Nova's sort keys -> the field of a detailed server body holding that value
SORT_FIELDS = {
    "created_at": "created", "updated_at": "updated", "display_name": "name", "uuid": "id",
    "hostname": "OS-EXT-SRV-ATTR:hostname", "vm_state": "OS-EXT-STS:vm_state",
    "task_state": "OS-EXT-STS:task_state", "power_state": "OS-EXT-STS:power_state",
    "availability_zone": "OS-EXT-AZ:availability_zone", "key_name": "key_name", "project_id": "tenant_id",
    "user_id": "user_id", "locked": "locked", "launched_at": "OS-SRV-USG:launched_at",
    "terminated_at": "OS-SRV-USG:terminated_at", "access_ip_v4": "accessIPv4", "access_ip_v6": "accessIPv6",
    "display_description": "description", "host": "OS-EXT-SRV-ATTR:host",
    "node": "OS-EXT-SRV-ATTR:hypervisor_hostname", "image_ref": "image.id", "instance_type_id": "flavor.id",
    "progress": "progress", "launch_index": "OS-EXT-SRV-ATTR:launch_index", "kernel_id": "OS-EXT-SRV-ATTR:kernel_id",
    "ramdisk_id": "OS-EXT-SRV-ATTR:ramdisk_id", "root_device_name": "OS-EXT-SRV-ATTR:root_device_name",
    "config_drive": "config_drive",
}
ADMIN_SORT_KEYS = {"host", "node"}
PAGING = {"limit", "marker", "sort_key", "sort_dir"}
# filters that only narrow by project: with no others, down sites' servers can be shown
PROJECT_FILTERS = {"all_tenants", "project_id", "tenant_id"}
_SORT = "__sort_{}"   # hidden fields carrying a row's sort values as its site had them


def _limit(rt: Runtime, query) -> int:
    raw = query.get("limit")
    max_limit = rt.settings.compute.max_limit
    if raw is None:
        return max_limit
    try:
        limit = int(raw)
    except ValueError:
        raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {raw}. "
                                f"'{raw}' does not match '^[0-9]*$'") from None
    if limit < 0:
        raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {raw}. "
                                f"'{raw}' does not match '^[0-9]*$'")
    return min(limit, max_limit)


def _sort(ctx: RequestContext, query) -> tuple[SortSpec, list[str], list[str]]:
    keys, dirs = query.getall("sort_key", []), query.getall("sort_dir", [])
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid input for query parameters sort_dir. Value: {direction}. "
                                    f"'{direction}' is not one of ['asc', 'desc']")
    for key in keys:
        if key not in SORT_FIELDS or (key in ADMIN_SORT_KEYS and not ctx.is_admin):
            raise errors.BadRequest(f"Invalid input for query parameters sort_key. Value: {key}.")
    if not keys:
        keys, dirs = ["created_at"], dirs[:1] or ["desc"]
    if len(dirs) > len(keys):
        raise errors.BadRequest("The number of sort_keys and sort_dirs must be same")
    spec = SortSpec.of([_SORT.format(i) for i in range(len(keys))], dirs, default=dirs[0] if dirs else "desc")
    return spec, keys, dirs


def _with_sort_values(rows: list[dict], keys: list[str]) -> list[dict]:
    fields = [(_SORT.format(i), paths.finder(paths.parse(SORT_FIELDS[key]))) for i, key in enumerate(keys)]
    for row in rows:
        for hidden, find in fields:
            found = find(row)
            row[hidden] = found[0][0][found[0][1]] if found else None
    return rows


def _strip(row: dict, sort_fields: int) -> dict:
    """The row without its hidden sort values (in place: the row is the list's own)."""
    for i in range(sort_fields):
        row.pop(_SORT.format(i), None)
    return row


async def _marker_position(rt: Runtime, ctx: RequestContext, marker: str, keys: list[str]):
    """(marker's site, bottom id, sort values of the marker) or Nova's 400.
    The marker's site is asked for its sort values within half the list's
    deadline, so that the list still answers in bounded time; a site that is
    down, hung or failing, or has deleted the server, leaves them to the
    cascade's own record."""
    try:
        # as in Nova, a server deleted since it was listed is still a marker
        target = await patterns.locate(rt, ctx, SERVER, marker, not_found="", deleted=True)
    except errors.NotFound:
        raise errors.BadRequest(f"marker [{marker}] not found") from None
    bottom_marker = target.bottom_id if target.route.state == "bound" else None
    server = await _site_view(rt, ctx, target) if _answers(target) else None
    if server is None:
        # that site too is then read from its start, skipping up to the marker's values
        bottom_marker = None
        try:
            server = _projected(await rt.servers.get(marker), target.site)
        except errors.NotFound:
            raise errors.BadRequest(f"marker [{marker}] not found") from None
    row = _with_sort_values([server], keys)[0]
    return target.site, bottom_marker, row


def _answers(target: patterns.Target) -> bool:
    """Whether the site may answer now (not known down, breaker not open)."""
    return target.site.health != DOWN and target.client.breaker.state != OPEN


async def _site_view(rt: Runtime, ctx: RequestContext, target: patterns.Target) -> dict | None:
    """The marker server as its site shows it; None when the site cannot say."""
    try:
        response = await patterns.forward(
            rt, ctx, target.site, "compute", "GET", f"/servers/{target.bottom_id}",
            replacements={target.bottom_id: target.route.top_id}, timeout=rt.settings.sites.list_deadline / 2)
    except errors.SiteUnavailable:
        return None
    except errors.SiteError as exc:
        if exc.status == 404 or exc.status >= 500:
            return None
        raise
    return response.body["server"]


def _projected(row, site: Site) -> dict:
    """What the projection knows of a server, under the names of Nova's
    detail view that sort keys read."""
    return {"id": row.top_id, "name": row.name, "created": row.created, "updated": row.updated,
            "tenant_id": row.project_id, "user_id": row.user_id, "OS-EXT-STS:task_state": row.task_state,
            "OS-EXT-AZ:availability_zone": site.availability_zone, "flavor": {"id": row.flavor_id},
            "image": {"id": row.image_id} if row.image_id else ""}


async def _list(request: web.Request, *, detail: bool) -> web.Response:
    async with runtime_of(request).list_turns:
        return await _build(request, detail=detail)


async def _build(request: web.Request, *, detail: bool) -> web.Response:
    """The list's page, rendered: the rows it holds are let go with it."""
    rt, ctx = runtime_of(request), context(request)
    query = request.query
    if "all_tenants" in query:
        require_admin(ctx, "os_compute_api:servers:index:get_all_tenants")
    limit = _limit(rt, query)
    spec, keys, dirs = _sort(ctx, query)
    filters = MultiDict((k, v) for k, v in query.items() if k not in PAGING)
    zone = filters.pop("availability_zone", None)
    projects = _listed_projects(ctx, query)
    sites = await _sites_to_ask(rt, projects)
    if zone is not None:
        sites = [s for s in sites if s.availability_zone == zone]
    marker = query.get("marker")
    marker_site = marker_bottom = marker_row = None
    if marker:
        marker_site, marker_bottom, marker_row = await _marker_position(rt, ctx, marker, keys)
    reachable = [s for s in sites if s.health != DOWN]
    unavailable = [s for s in sites if s.health == DOWN]
    keep_after = after_marker(spec, marker_row, marker_site.position) if marker_row is not None else None
    page = first_page_size(limit, len(reachable)) if limit else 1
    shares = await _expected_shares(rt, projects, filters, keys, dirs, limit, marker_row) if limit else None

    def stream_for(site: Site, site_filters: MultiDict) -> SitePager:
        async def list_page(site_marker: str | None, size: int) -> list[dict]:
            params = MultiDict(site_filters)
            params["limit"] = str(size)
            for key in keys:
                params.add("sort_key", key)
            for direction in dirs:
                params.add("sort_dir", direction)
            if site_marker:
                params["marker"] = site_marker
            response = await patterns.forward(rt, ctx, site, "compute", "GET", "/servers/detail", params=params,
                                              timeout=rt.settings.sites.list_deadline)
            return _with_sort_values(response.body["servers"], keys)

        async def translate(rows: list[dict]) -> list[dict]:
            # the rows were parsed for this list alone: translated in place, not copied
            return await rt.translator.many_to_top(SERVER, site, rows, base_url=ctx.base_url, owned=True)

        start = marker_bottom if site is marker_site else None
        keep = (lambda row, i=site.position: keep_after(row, i)) if keep_after else None
        size = page if shares is None else expected_page_size(shares.get(site.id, 0))
        return SitePager(page_fetcher(list_page, translate=translate), page_size=size, marker=start, keep=keep)

    async def first_rows(site: Site):
        site_filters = await rt.translator.filters_to_bottom(SERVER, site, filters)
        if site_filters is None:
            return None
        pager = stream_for(site, site_filters)
        first = await anext(pager, None)
        return pager, first

    results = await patterns.fan_out(rt, reachable, first_rows) if limit else []
    refused = next((r.error for r in results if isinstance(r.error, errors.SiteError) and r.error.status == 400), None)
    if refused is not None:
        raise refused   # the filters themselves are wrong (Nova's 400): no site can answer them
    streams, positions = [], []
    for result in results:
        if not result.ok:
            unavailable.append(result.site)
            continue
        if result.value is None or result.value[1] is None:
            continue
        pager, first = result.value
        streams.append(_resumed(first, pager, result.site, unavailable))
        positions.append(result.site)
    merged = await merge_indexed(streams, spec, limit) if streams else []
    rows = [_strip(row, len(keys)) for _, row in merged]
    if not detail:
        rows = [server_views.summary(row) for row in rows]
    if (unavailable and not marker and at_least(ctx.microversion, "2.69")
            and set(filters) <= PROJECT_FILTERS):
        # within the page's limit, and never a server a site already listed
        # before it failed mid-list (its later pages are what is missing)
        listed = {row["id"] for row in rows}
        partial = [row for row in await _partial_rows(rt, ctx, unavailable, detail, query) if row["id"] not in listed]
        rows.extend(partial[:max(0, limit - len(rows))])
    body: dict[str, Any] = {"servers": rows}
    if rows and len(merged) == limit:
        collection = "servers/detail" if detail else "servers"
        body["servers_links"] = [server_views.next_link(ctx, collection, query, rows[len(merged) - 1]["id"])]
    return reply(body)


async def _expected_shares(rt: Runtime, projects: set[str] | None, filters: MultiDict, keys: list[str],
                           dirs: list[str], limit: int, marker_row: dict | None) -> dict[str, int] | None:
    """How many rows of the page each site will most likely give, by site id,
    from the cascade's own records of the listed projects' servers; None when
    those cannot tell (filters beyond the projects, sort keys other than the
    creation time, every project at once). Only the first ask of each site
    is sized by it: a site that holds more than expected is asked again, so
    a stale record costs a call, never a row."""
    if projects is None or keys != ["created_at"] or not set(filters) <= PROJECT_FILTERS:
        return None
    after = None
    if marker_row is not None:
        created = marker_row.get(_SORT.format(0))
        if not isinstance(created, str):
            return None
        try:
            after = parse_timestamp(created)
        except ValueError:
            return None
    descending = (dirs[0] if dirs else "desc") == "desc"
    return await rt.servers.page_shares(projects, limit=limit, descending=descending, after=after)


async def _resumed(first: dict, rest: SitePager, site: Site, unavailable: list[Site]):
    """A site's stream; a site failing on a later page ends its stream (its
    rows so far stay) instead of failing the whole list."""
    yield first
    try:
        async for row in rest:
            yield row
    except errors.CascadeError as exc:
        LOG.warning("site %s failed during a list: %s", site.name, exc)
        unavailable.append(site)


def _listed_projects(ctx: RequestContext, query) -> set[str] | None:
    """Every project whose servers the sites may answer with; None for all.
    A superset whatever a site's Nova makes of the filters: the caller's own
    project, and any project_id/tenant_id asked for (which Nova honours with
    `all_tenants` only)."""
    asked = set(query.getall("project_id", [])) | set(query.getall("tenant_id", []))
    if "all_tenants" in query and not asked:
        return None
    if ctx.project_id is None:
        return None   # a token with no project: Nova lists by user, whichever project
    return asked | {ctx.project_id}


async def _sites_to_ask(rt: Runtime, projects: set[str] | None) -> list[Site]:
    """The sites, in position order, that may hold servers of `projects`
    (`_listed_projects`; None: every project)."""
    if projects is None:
        return rt.registry.all()
    holding = await rt.servers.sites_of(projects)
    if not holding:
        # one site still judges the filters, so that a bad one is Nova's 400 as it would be with servers
        return [site for site in rt.registry.all() if site.health != DOWN][:1]
    return [site for site in rt.registry.all() if site.id in holding]


async def _partial_rows(rt: Runtime, ctx: RequestContext, sites: list[Site], detail: bool, query) -> list[dict]:
    everyone = ctx.is_admin and query.get("all_tenants") is not None
    project = None if everyone else (query.get("project_id") or query.get("tenant_id") or ctx.project_id)
    by_id = {site.id: site for site in sites}
    records = await rt.servers.list_for_project(project, site_ids=list(by_id))
    form = "detail" if detail else "list"
    return [server_views.partial(ctx, row, by_id[row.site_id], form=form) for row in records]


async def index(request: web.Request) -> web.Response:
    return await _list(request, detail=False)


async def detail(request: web.Request) -> web.Response:
    return await _list(request, detail=True)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/servers", index)
    router.add_get(f"{prefix}/servers/detail", detail)
