"""Server actions (`POST /servers/{id}/action`): routed to the server's site.

Only the actions that carry references need translating: resize names a
flavor, rebuild an image (and metadata, which keeps the top-id stamp), and
createImage answers with a new image that becomes a top image."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import dependencies, quota_checks
from cascade.api.compute.common import body_of, context, reply, runtime_of
from cascade.api.compute.servers import not_found, reference_id
from cascade.resources.kinds import SERVER, STAMP_KEY
from cascade.sites.versions import at_least

REBUILD_IMAGE_NOT_FOUND = "Cannot find image for rebuild"


async def _to_bottom(rt, ctx, target: patterns.Target, action: str, payload):
    if not isinstance(payload, dict):
        return payload
    payload = dict(payload)
    if action == "resize" and "flavorRef" in payload:
        flavor = await dependencies.find_flavor(rt, ctx, reference_id(payload["flavorRef"]),
                                                for_create=True)
        payload["flavorRef"] = await dependencies.flavor_in_site(rt, flavor, target.site,
                                                                project_id=target.route.project_id)
    if action == "rebuild":
        if "imageRef" in payload:
            image_id = reference_id(payload["imageRef"])
            copies = await dependencies.image_copies(rt, ctx, image_id, missing=REBUILD_IMAGE_NOT_FOUND)
            if target.site.id not in copies:
                raise errors.BadRequest(REBUILD_IMAGE_NOT_FOUND)
            payload["imageRef"] = copies[target.site.id]
        if isinstance(payload.get("metadata"), dict):
            payload["metadata"] = {**payload["metadata"], STAMP_KEY: target.route.top_id}
    return payload


async def act(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.BadRequest("Malformed request body")
    (action, payload), = body.items()
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id))
    await quota_checks.before_action(request, target, action, payload)
    payload = await _to_bottom(rt, ctx, target, action, payload)
    response = await patterns.forward_routed(rt, ctx, target, "POST", "/action", json={action: payload})
    await quota_checks.after_action(request, target, action)
    answer = response.body
    if isinstance(answer, dict) and "server" in answer:
        answer = {"server": await rt.translator.to_top(SERVER, target.site, answer["server"], base_url=ctx.base_url)}
    if action == "createImage":
        bottom_image = (answer or {}).get("image_id") or response.headers.get("Location", "").rsplit("/", 1)[-1]
        top = (await dependencies.resolve_unrouted(rt, "image", target.site, [bottom_image])).get(bottom_image)
        headers = {"Location": f"{ctx.base_url.rsplit('/', 1)[0]}/images/{top}"} if top else None
        return reply({"image_id": top} if at_least(ctx.microversion, "2.45") else None, status=202, headers=headers)
    return reply(answer, status=response.status)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_post(f"{prefix}/servers/{{server_id}}/action", act)
