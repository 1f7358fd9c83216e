"""A server's metadata and tags: routed to its site.

The metadata key holding the top-id stamp is the cascade's, not the
tenant's: it is hidden in every answer, kept when the tenant replaces the
whole set, and cannot be written or deleted through the API."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import quota_checks, schemas
from cascade.api.compute.common import body_of, context, reply, runtime_of
from cascade.api.compute.servers import not_found
from cascade.resources.kinds import SERVER, STAMP_KEY


async def _target(request: web.Request):
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    return rt, ctx, await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id))


def _hide(body):
    if isinstance(body, dict):
        for key in ("metadata", "meta"):
            if isinstance(body.get(key), dict):
                body[key].pop(STAMP_KEY, None)
    return body


async def metadata(request: web.Request) -> web.Response:
    """GET (list), POST (merge) and PUT (replace) of the whole set."""
    rt, ctx, target = await _target(request)
    body = None
    if request.method != "GET":
        body = await body_of(request)
        schemas.validate(body, schemas.METADATA_SCHEMA)
        await quota_checks.check_metadata(request, target, body["metadata"], replace=request.method == "PUT")
        body["metadata"].pop(STAMP_KEY, None)
        if request.method == "PUT":
            body["metadata"][STAMP_KEY] = target.route.top_id
    response = await patterns.forward_routed(rt, ctx, target, request.method, "/metadata", json=body)
    return reply(_hide(response.body), status=response.status)


async def metadata_item(request: web.Request) -> web.Response:
    rt, ctx, target = await _target(request)
    key = request.match_info["key"]
    if key == STAMP_KEY:
        raise errors.NotFound("Metadata item was not found")
    body = None
    if request.method == "PUT":
        body = await body_of(request)
        schemas.validate(body, schemas.METADATA_ITEM_SCHEMA)
        if key not in body["meta"]:
            raise errors.BadRequest("Request body and URI mismatch")
        await quota_checks.check_metadata(request, target, body["meta"], replace=False)
    response = await patterns.forward_routed(rt, ctx, target, request.method, f"/metadata/{key}", json=body)
    return reply(_hide(response.body), status=response.status)


async def tags(request: web.Request) -> web.Response:
    rt, ctx, target = await _target(request)
    body = await body_of(request) if request.method == "PUT" else None
    response = await patterns.forward_routed(rt, ctx, target, request.method, "/tags", json=body)
    return reply(response.body, status=response.status)


async def tag(request: web.Request) -> web.Response:
    rt, ctx, target = await _target(request)
    name = request.match_info["tag"]
    response = await patterns.forward_routed(rt, ctx, target, request.method, f"/tags/{name}")
    headers = {"Location": f"{ctx.base_url}/servers/{target.route.top_id}/tags/{name}"} \
        if response.status == 201 else None
    return reply(response.body, status=response.status, headers=headers)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/servers/{{server_id}}"
    for method in ("GET", "POST", "PUT"):
        router.add_route(method, f"{base}/metadata", metadata)
    for method in ("GET", "PUT", "DELETE"):
        router.add_route(method, f"{base}/metadata/{{key}}", metadata_item)
        router.add_route(method, f"{base}/tags", tags)
        router.add_route(method, f"{base}/tags/{{tag}}", tag)
