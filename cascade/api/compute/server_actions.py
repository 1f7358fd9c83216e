"""Server actions (`POST /servers/{id}/action`): routed to the server's site.

Every action goes through this one dispatch; only those that carry
references or zones need translating: resize names a flavor, rebuild an
image (and metadata, which keeps the top-id stamp), unshelve (2.77) a zone,
which can only be the server's own; createImage and createBackup answer
with a new image of the site, which becomes a top image; console output may
print the server's bottom id. restore and forceDelete also reach a server
deleted through the cascade (the site may only have soft-deleted it).
Add/removeSecurityGroup name the site's own security groups until the
network front exists. Remote consoles are refused: their answer is a URL
of the site's console proxy. The site's request id of each action is kept for
`os-instance-actions`."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import dependencies, quota_checks, schemas, servers
from cascade.api.compute.common import body_of, context, reply, runtime_of
from cascade.api.compute.servers import not_found, reference_id
from cascade.resources.kinds import SERVER, STAMP_KEY
from cascade.sites.versions import at_least

REBUILD_IMAGE_NOT_FOUND = "Cannot find image for rebuild"
ZONE_NOT_AVAILABLE = "The requested availability zone is not available"

# actions Nova takes on a (soft-)deleted server too
_ON_DELETED = frozenset({"restore", "forceDelete"})
# actions whose answer names a new image of the site
_IMAGE_ACTIONS = frozenset({"createImage", "createBackup"})
# remote consoles answer with the site's console proxy URL, which a tenant
# must never see: refused as Nova refuses a console type it does not offer
# until the cascade proxies consoles itself
_CONSOLE_ACTIONS = {"os-getVNCConsole": "vnc", "os-getSPICEConsole": "spice",
                    "os-getRDPConsole": "rdp", "os-getSerialConsole": "serial"}


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
        payload = schemas.canonical_access_ips(payload)
    if action == "unshelve" and "availability_zone" in payload and at_least(ctx.microversion, "2.77"):
        payload = await _unshelve_zone(rt, ctx, target, payload)
    return payload


async def _unshelve_zone(rt, ctx, target: patterns.Target, payload: dict):
    """A zone to unshelve into is a site: the server's own is named as its
    site names its zone (so the site still checks, as Nova does, that the
    server is offloaded); another site's would move the server across sites,
    which the cascade does not do. None (2.91, unpin) is the site's too."""
    zone = payload["availability_zone"]
    if not isinstance(zone, str):   # None unpins; anything else is for the site's schema to refuse
        return payload
    if rt.registry.by_az(zone) is None:
        raise errors.BadRequest(ZONE_NOT_AVAILABLE)
    if zone != target.site.availability_zone:
        raise errors.BadRequest(f"Server {target.route.top_id} is in availability zone "
                                f"{target.site.availability_zone}; unshelving it into another zone is not supported.")
    response = await patterns.forward_routed(rt, ctx, target, "GET")
    site_zone = (response.body.get("server") or {}).get("OS-EXT-AZ:availability_zone")
    rest = {k: v for k, v in payload.items() if k != "availability_zone"}
    if site_zone:
        return {**rest, "availability_zone": site_zone}
    return rest or None


async def act(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.BadRequest("Malformed request body")
    (action, payload), = body.items()
    if action in _CONSOLE_ACTIONS:
        raise errors.BadRequest(f"Unavailable console type {_CONSOLE_ACTIONS[action]}.")
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id),
                                   deleted=action in _ON_DELETED)
    await quota_checks.before_action(request, target, action, payload)
    payload = await _to_bottom(rt, ctx, target, action, payload)
    response = await patterns.forward_routed(rt, ctx, target, "POST", "/action", json={action: payload})
    await patterns.remember_request(rt, ctx, target.site, response)
    await quota_checks.after_action(request, target, action)
    if action == "forceDelete":
        await servers.deleted(rt, target)
    elif action == "restore":
        await servers.restored(rt, target)
    answer = response.body
    if isinstance(answer, dict) and "server" in answer:
        answer = {"server": await rt.translator.to_top(SERVER, target.site, answer["server"], base_url=ctx.base_url)}
    if action == "os-getConsoleOutput" and isinstance(answer, dict) and isinstance(answer.get("output"), str):
        answer = {**answer, "output": rt.translator.scrub(answer["output"], {target.bottom_id: target.route.top_id})}
    if action in _IMAGE_ACTIONS:
        return await _image_answer(rt, ctx, target, action, response)
    return reply(answer, status=response.status)


async def _image_answer(rt, ctx, target: patterns.Target, action: str, response) -> web.Response:
    """The new image as a top image: its id in the body from 2.45, else in
    a Location at the cascade, where Nova puts it: the image service's URL
    for createImage, the compute API's for createBackup (none when the site
    gave none: a backup with rotation 0)."""
    bottom_image = (response.body or {}).get("image_id") or response.headers.get("Location", "").rsplit("/", 1)[-1]
    top = None
    if bottom_image:
        top = (await dependencies.resolve_unrouted(rt, "image", target.site, [bottom_image])).get(bottom_image)
    if at_least(ctx.microversion, "2.45"):
        return reply({"image_id": top}, status=202)
    headers = None
    if top and "Location" in response.headers:
        root = ctx.base_url if action == "createBackup" else f"{ctx.base_url.rsplit('/compute/', 1)[0]}/image"
        headers = {"Location": f"{root}/images/{top}"}
    return reply(status=202, headers=headers)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_post(f"{prefix}/servers/{{server_id}}/action", act)
