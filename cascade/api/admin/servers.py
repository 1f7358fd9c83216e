"""The admin API's view of the cached projection of servers
(`/cascade/v1/servers`): what the cascade last knew of each server, and
when status sync last wrote it. Every call needs the admin role.

    GET /v1/servers?site=&project_id=&status=&deleted=&limit=&marker=
        newest created first; with `site`, where that site's sync stands
    GET /v1/servers/{top_id}
"""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from cascade import errors
from cascade.api.admin.common import site_of
from cascade.api.compute.common import context, reply, require_admin, runtime_of
from cascade.persistence.servers import ProjectedServer
from cascade.persistence.site_sync import SiteSyncStore, SyncState

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def _when(value) -> str | None:
    return value.isoformat() if value is not None else None


def view(rt, row: ProjectedServer) -> dict:
    try:
        site = rt.registry.get(row.site_id).name
    except errors.NotFound:
        site = row.site_id
    return {"id": row.top_id, "name": row.name, "status": row.status, "task_state": row.task_state,
            "site": site, "project_id": row.project_id, "user_id": row.user_id, "flavor_id": row.flavor_id,
            "image_id": row.image_id, "created": row.created, "updated": row.updated, "deleted": row.deleted,
            "synced_at": _when(row.synced_at)}


def sync_view(state: SyncState) -> dict:
    return {"changes_since": state.changes_since, "polled_at": _when(state.polled_at),
            "swept_at": _when(state.swept_at), "last_error": state.last_error}


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 0 < int(text) <= MAX_LIMIT:
        raise errors.BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return int(text)


def _flag(text: str | None) -> bool:
    if text is None:
        return False
    if text.lower() not in ("1", "true", "yes", "0", "false", "no"):
        raise errors.BadRequest(f"deleted must be true or false, not {text!r}.")
    return text.lower() in ("1", "true", "yes")


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:servers:list")
    q = request.query
    site = site_of(rt, q["site"]) if q.get("site") else None
    limit = _limit(q.get("limit"))
    rows = await rt.servers.page(site_id=site.id if site else None, project_id=q.get("project_id") or None,
                                 status=q.get("status") or None, include_deleted=_flag(q.get("deleted")),
                                 limit=limit, marker=q.get("marker") or None)
    body: dict = {"servers": [view(rt, row) for row in rows]}
    if len(rows) == limit:
        params = [(k, v) for k, v in q.items() if k != "marker"] + [("marker", rows[-1].top_id)]
        body["servers_links"] = [{"rel": "next", "href": f"{request.url.with_query(None)}?{urlencode(params)}"}]
    if site is not None:
        body["sync"] = sync_view(await SiteSyncStore(rt.db).get(site.id))
    return reply(body)


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:servers:show")
    return reply({"server": view(rt, await rt.servers.get(request.match_info["server_id"]))})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/servers", index)
    router.add_get("/v1/servers/{server_id}", show)
