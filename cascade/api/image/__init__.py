"""The Image front: Glance v2 at `/image`, read-only for now.

Images are top-owned: each site's images are adopted as top images, one per
(owner, name, checksum), so the same image present in several sites is one
image to the tenant. A list asks every reachable site with the tenant's token
(so Glance's own visibility rules hold), adopts what it sees, and pages the
de-duplicated result by Glance's default order (created_at desc, id desc).
Images made from servers (snapshots, backups, shelved servers) name their
server and its image in properties: those are translated as declared in
`resources.kinds.IMAGE`, in answers and in filters."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import dependencies
from cascade.api.compute.common import context, reply, runtime_of
from cascade.api.image import schemas
from cascade.resources.kinds import IMAGE
from cascade.sites.model import DOWN

VERSION = {"id": "v2.9", "status": "CURRENT"}


def _versions(request: web.Request) -> dict:
    root = runtime_of(request).settings.DEFAULT.public_url.rstrip("/") or f"{request.scheme}://{request.host}"
    ids = ["v2.9", "v2.8", "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0"]
    return {"versions": [{"id": v, "status": "CURRENT" if v == "v2.9" else "SUPPORTED",
                          "links": [{"rel": "self", "href": f"{root}/image/v2/"}]} for v in ids]}


async def versions(request: web.Request) -> web.Response:
    return reply(_versions(request), status=300 if request.path.rstrip("/") == "/image" else 200)


def _top_view(top_id: str, body: dict) -> dict:
    view = dict(body)
    view["id"] = top_id
    view["self"] = f"/v2/images/{top_id}"
    view["file"] = f"/v2/images/{top_id}/file"
    view.pop("direct_url", None)
    view.pop("locations", None)
    view.pop("stores", None)
    return view


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    q = request.query
    try:
        limit = int(q.get("limit", 25))
    except ValueError:
        raise errors.BadRequest("limit param must be an integer")
    if limit < 0:
        raise errors.BadRequest("limit param must be positive")
    sites = [s for s in rt.registry.all() if s.health != DOWN]
    # Glance reads every other parameter as a filter (properties included)
    params = {k: v for k, v in q.items() if k not in ("limit", "marker", "sort", "sort_key", "sort_dir")}

    async def adopt_all(site):
        site_params = await rt.translator.filters_to_bottom(IMAGE, site, params)
        if site_params is None:
            return []
        found = await dependencies.sync_site_images(rt, site, token=ctx.token, params=dict(site_params))
        return await rt.translator.many_to_top(IMAGE, site, [body for _, body in found], base_url=ctx.base_url)

    images: dict[str, dict] = {}
    for result in await patterns.fan_out(rt, sites, adopt_all):
        if result.ok:
            for body in result.value:
                images.setdefault(body["id"], _top_view(body["id"], body))
    ordered = sorted(images.values(), key=lambda i: (i.get("created_at") or "", i["id"]), reverse=True)
    marker = q.get("marker")
    if marker:
        ids = [i["id"] for i in ordered]
        if marker not in ids:
            raise errors.BadRequest(f"Invalid marker. Image {marker} could not be found.")
        ordered = ordered[ids.index(marker) + 1:]
    page = ordered[:limit]
    body = {"images": page, "first": "/v2/images", "schema": "/v2/schemas/images"}
    if len(ordered) > limit and page:
        body["next"] = f"/v2/images?marker={page[-1]['id']}&limit={limit}"
    return reply(body)


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    image_id = request.match_info["image_id"]
    try:
        copies = await dependencies.image_copies(rt, ctx, image_id)
    except errors.BadRequest:
        raise errors.NotFound(f"No image found with ID {image_id}") from None
    for site_id, bottom_id in copies.items():
        site = rt.registry.get(site_id)
        if site.health == DOWN:
            continue
        try:
            response = await patterns.forward(rt, ctx, site, "image", "GET", f"/v2/images/{bottom_id}",
                                              replacements={bottom_id: image_id})
        except errors.SiteUnavailable:
            continue
        body = await rt.translator.to_top(IMAGE, site, response.body, base_url=ctx.base_url)
        return reply(_top_view(image_id, body if body is not None else _unreferenced(response.body)))
    image = await rt.images.get(image_id)
    return reply(_top_view(image_id, _unreferenced(dict(image.data))))


def _unreferenced(body: dict) -> dict:
    """A site's image body without the site's ids of other resources (when
    they cannot be translated: no site answers now)."""
    return {k: v for k, v in body.items() if k == "id" or k not in IMAGE.id_fields}


def build_app() -> web.Application:
    app = web.Application()
    app.router.add_get("", versions)
    app.router.add_get("/", versions)
    app.router.add_get("/versions", versions)
    app.router.add_get("/v2/images", index)
    app.router.add_get("/v2/images/{image_id}", show)
    schemas.add_routes(app.router, "/v2")
    return app
