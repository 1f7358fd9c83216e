"""`/v2/schemas/...`: Glance's JSON schemas of its documents.

Like Nova's `/extensions`, a schema is what Glance itself defines (its
property names, patterns and link templates such as `{self}`), not a fact
of a site: so it is asked of any one site (`patterns.forward_any`) and
relayed as is, and an unknown name is the site's own 404. Glance's schemas
hold no ids and no URLs of the site (only `{...}` templates and external
documentation links), so nothing in them needs translating."""
from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cascade.api import patterns
from cascade.api.compute.common import context, reply, runtime_of


async def schema(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    group = request.match_info.get("group")
    name = quote(request.match_info["name"], safe="")
    path = f"/v2/schemas/{name}" if group is None else f"/v2/schemas/{group}/{name}"
    response = await patterns.forward_any(rt, ctx, "image", "GET", path)
    return reply(response.body, status=response.status)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/schemas/{{name}}", schema)
    # Glance's only group of schemas; any other path is the front's own 404
    router.add_get(f"{prefix}/schemas/{{group:metadefs}}/{{name}}", schema)
