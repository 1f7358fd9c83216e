"""The admin API's adoption of what a site already holds:

- `GET /cascade/v1/sites/{site}/orphans`: servers (no route, no top-id
  stamp), flavors and key pairs in the site that the cascade does not know;
- `POST /cascade/v1/sites/{site}/adopt`: queue their adoption (the job
  `site.adopt`), the whole site's with no body, or of some servers with
  `{"servers": [bottom ids]}`; answers 202 with the job.

Every call needs the admin role. Bottom ids appear here, to the admin only:
they are how an operator names what the cascade does not know yet."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.adoption import jobs as adoption_jobs
from cascade.adoption import orphans as site_orphans
from cascade.api.admin.common import site_of
from cascade.api.admin.jobs import view as job_view
from cascade.api.compute.common import body_of, context, reply, require_admin, runtime_of

MAX_SERVERS = 10_000


async def orphans(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:orphans")
    site = site_of(rt, request.match_info["site"])
    return reply({"orphans": (await site_orphans.find(rt, site)).view()})


def _adoption_request(body) -> tuple[list[str] | None, bool]:
    """(server ids or None for the whole site, stamp) from an adopt body."""
    if body is None:
        return None, True
    if not isinstance(body, dict) or set(body) - {"servers", "stamp"}:
        raise errors.BadRequest("An adoption takes an optional list of server ids ('servers') and 'stamp'.")
    stamp = body.get("stamp", True)
    if not isinstance(stamp, bool):
        raise errors.BadRequest("'stamp' must be true or false.")
    if "servers" not in body:
        return None, stamp
    servers = body["servers"]
    if (not isinstance(servers, list) or not 0 < len(servers) <= MAX_SERVERS
            or not all(isinstance(s, str) and s.strip() for s in servers)):
        raise errors.BadRequest(f"'servers' must be a list of 1 to {MAX_SERVERS} server ids of the site.")
    return list(dict.fromkeys(servers)), stamp


async def adopt(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:adopt")
    site = site_of(rt, request.match_info["site"])
    servers, stamp = _adoption_request(await body_of(request) if request.can_read_body else None)
    if site.auth:
        raise errors.BadRequest(f"Site {site.name} has its own Keystone: its servers cannot be adopted.")
    job = await adoption_jobs.start(rt, site, servers, stamp=stamp)
    return reply({"job": job_view(job)}, status=202)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/sites/{site}/orphans", orphans)
    router.add_post("/v1/sites/{site}/adopt", adopt)
