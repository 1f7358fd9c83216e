"""Flavors: top-owned. Served from the cascade's own table; an admin's
create is copied to every reachable site at once (a site missed then gets its
copy when a server is first placed there)."""
from __future__ import annotations

import logging

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import dependencies, server_views
from cascade.api.compute.common import body_of, context, reply, require_admin, runtime_of
from cascade.api.compute.schemas import validate
from cascade.persistence.flavors import Flavor
from cascade.sites.versions import at_least

LOG = logging.getLogger(__name__)

_int = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0}
CREATE_SCHEMA = {
    "type": "object",
    "properties": {"flavor": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s).*(?<!\s)$"},
            "id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
            "ram": {**_int, "minimum": 1}, "vcpus": {**_int, "minimum": 1}, "disk": _int,
            "OS-FLV-EXT-DATA:ephemeral": _int, "swap": _int,
            "rxtx_factor": {"type": ["number", "string"], "minimum": 0},
            "os-flavor-access:is_public": {"type": ["boolean", "string"]},
            "description": {"type": ["string", "null"], "maxLength": 65535},
        },
        "required": ["name", "ram", "vcpus", "disk"],
        "additionalProperties": False,
    }},
    "required": ["flavor"],
    "additionalProperties": False,
}


def view(ctx, flavor: Flavor, *, detail: bool = True) -> dict:
    body = {"id": flavor.id, "name": flavor.name, "links": server_views.links(ctx, "flavors", flavor.id)}
    if at_least(ctx.microversion, "2.55"):
        body["description"] = flavor.description
    if not detail:
        return body
    swap = flavor.swap if flavor.swap or at_least(ctx.microversion, "2.75") else ""
    body.update({"ram": flavor.ram, "disk": flavor.disk, "vcpus": flavor.vcpus, "swap": swap,
                 "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral, "OS-FLV-DISABLED:disabled": False,
                 "rxtx_factor": flavor.rxtx_factor, "os-flavor-access:is_public": flavor.is_public})
    if at_least(ctx.microversion, "2.61"):
        body["extra_specs"] = dict(flavor.extra_specs)
    return body


def _bool(value, field: str) -> bool | None:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise errors.BadRequest(f"Invalid {field} value {value!r}.")


async def _list(request: web.Request, detail: bool) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    q = request.query
    is_public: bool | None = True
    if ctx.is_admin and "is_public" in q:
        is_public = None if q["is_public"].lower() == "none" else _bool(q["is_public"], "is_public")
    try:
        min_ram = int(q["minRam"]) if "minRam" in q else None
        min_disk = int(q["minDisk"]) if "minDisk" in q else None
        limit = min(int(q["limit"]), rt.settings.compute.max_limit) if "limit" in q else None
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid query parameter: {exc}") from None
    flavors = await rt.flavors.list(
        is_public=is_public, project_id=None if ctx.is_admin else ctx.project_id, min_ram=min_ram,
        min_disk=min_disk, sort_key=q.get("sort_key", "flavorid"), sort_dir=q.get("sort_dir", "asc"),
        limit=limit, marker=q.get("marker"))
    body: dict = {"flavors": [view(ctx, f, detail=detail) for f in flavors]}
    if limit and len(flavors) == limit:
        body["flavors_links"] = [server_views.next_link(ctx, "flavors/detail" if detail else "flavors", q, flavors[-1].id)]
    return reply(body)


async def index(request: web.Request) -> web.Response:
    return await _list(request, False)


async def detail(request: web.Request) -> web.Response:
    return await _list(request, True)


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    return reply({"flavor": view(ctx, flavor)})


async def create(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-manage:create")
    body = await body_of(request)
    validate(body, CREATE_SCHEMA)
    spec = body["flavor"]
    if "description" in spec and not at_least(ctx.microversion, "2.55"):
        raise errors.BadRequest("Additional properties are not allowed ('description' was unexpected)")
    flavor = await rt.flavors.add(
        name=spec["name"], vcpus=int(spec["vcpus"]), ram=int(spec["ram"]), disk=int(spec["disk"]),
        flavor_id=spec.get("id") or None, ephemeral=int(spec.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0),
        swap=int(spec.get("swap", 0) or 0), rxtx_factor=float(spec.get("rxtx_factor", 1.0)),
        is_public=_bool(spec.get("os-flavor-access:is_public", True), "is_public"),
        description=spec.get("description"))
    await _copy_everywhere(rt, flavor)
    return reply({"flavor": view(ctx, flavor)})


async def _copy_everywhere(rt, flavor: Flavor) -> None:
    sites = [s for s in rt.registry.all() if s.accepts_placements]
    for result in await patterns.fan_out(rt, sites, lambda site: dependencies.flavor_in_site(rt, flavor, site)):
        if not result.ok:
            LOG.info("flavor %s not copied to site %s now (%s); copied on first use", flavor.id,
                     result.site.name, result.error or "timed out")


async def _push_to_copies(rt, flavor_id: str, subpath: str, body: dict) -> None:
    """POST a change to every site's copy of a flavor, best effort."""
    for route in await rt.routes.routes_of("flavor", flavor_id):
        client = rt.registry.client(route.site_id)
        try:
            await client.service_request("compute", "POST", f"/flavors/{route.bottom_id}{subpath}", json=body)
        except errors.CascadeError as exc:
            LOG.info("flavor %s change %s not pushed to site %s: %s", flavor_id, subpath, route.site_id, exc)


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-manage:delete")
    flavor_id = request.match_info["flavor_id"]
    await rt.flavors.get(flavor_id)
    await rt.flavors.delete(flavor_id)

    async def drop_copy(route):
        client = rt.registry.client(route.site_id)
        response = await client.service_request("compute", "DELETE", f"/flavors/{route.bottom_id}")
        if response.status in (202, 204, 404):
            await rt.routes.forget("flavor", flavor_id, site_id=route.site_id)

    for route in await rt.routes.routes_of("flavor", flavor_id):
        try:
            await drop_copy(route)
        except errors.CascadeError as exc:
            LOG.info("flavor %s copy in site %s kept for now: %s", flavor_id, route.site_id, exc)
    return reply(status=202)


async def update(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    if not at_least(ctx.microversion, "2.55"):
        raise web.HTTPNotFound()
    require_admin(ctx, "os_compute_api:os-flavor-manage:update")
    body = await body_of(request, "flavor")
    spec = body["flavor"]
    if set(spec) != {"description"}:
        raise errors.BadRequest("Invalid input for field/attribute flavor. Only 'description' may be updated.")
    flavor = await rt.flavors.set_description(request.match_info["flavor_id"], spec["description"])
    return reply({"flavor": view(ctx, flavor)})


async def extra_specs(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    key = request.match_info.get("key")
    if request.method == "GET":
        if key is None:
            return reply({"extra_specs": dict(flavor.extra_specs)})
        if key not in flavor.extra_specs:
            raise errors.NotFound(f"Flavor {flavor.id} has no extra specs with key {key}.")
        return reply({key: flavor.extra_specs[key]})
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:update")
    if request.method == "DELETE":
        if key not in flavor.extra_specs:
            raise errors.NotFound(f"Flavor {flavor.id} has no extra specs with key {key}.")
        await rt.flavors.delete_extra_spec(flavor.id, key)
        return reply(status=202)
    body = await body_of(request)
    specs = body.get("extra_specs") if key is None and isinstance(body, dict) else body
    if not isinstance(specs, dict) or not specs or not all(isinstance(v, (str, int, float, bool)) for v in specs.values()):
        raise errors.BadRequest("Malformed extra specs body")
    if key is not None and (len(specs) != 1 or key not in specs):
        raise errors.BadRequest("Request body and URI mismatch")
    specs = {k: str(v) for k, v in specs.items()}
    await rt.flavors.set_extra_specs(flavor.id, specs)
    await _push_to_copies(rt, flavor.id, "/os-extra_specs", {"extra_specs": specs})
    return reply(specs if key is not None else {"extra_specs": specs})


async def access(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-access")
    flavor = await rt.flavors.get(request.match_info["flavor_id"])
    if flavor.is_public:
        raise errors.NotFound("Access list not available for public flavors.")
    projects = await rt.flavors.access_list(flavor.id)
    return reply({"flavor_access": [{"flavor_id": flavor.id, "tenant_id": p} for p in projects]})


async def action(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-access")
    flavor = await rt.flavors.get(request.match_info["flavor_id"])
    body = await body_of(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.BadRequest("Malformed request body")
    (name, payload), = body.items()
    if name not in ("addTenantAccess", "removeTenantAccess") or not isinstance(payload, dict) \
            or "tenant" not in payload:
        raise errors.BadRequest("Invalid flavor action or body")
    if flavor.is_public:
        raise errors.Conflict("Can not add access to a public flavor.")
    if name == "addTenantAccess":
        await rt.flavors.add_access(flavor.id, payload["tenant"])
    else:
        await rt.flavors.remove_access(flavor.id, payload["tenant"])
    await _push_to_copies(rt, flavor.id, "/action", body)
    projects = await rt.flavors.access_list(flavor.id)
    return reply({"flavor_access": [{"flavor_id": flavor.id, "tenant_id": p} for p in projects]})


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/flavors", index)
    router.add_get(f"{prefix}/flavors/detail", detail)
    router.add_post(f"{prefix}/flavors", create)
    router.add_get(f"{prefix}/flavors/{{flavor_id}}", show)
    router.add_put(f"{prefix}/flavors/{{flavor_id}}", update)
    router.add_delete(f"{prefix}/flavors/{{flavor_id}}", delete)
    router.add_route("*", f"{prefix}/flavors/{{flavor_id}}/os-extra_specs", extra_specs)
    router.add_route("*", f"{prefix}/flavors/{{flavor_id}}/os-extra_specs/{{key}}", extra_specs)
    router.add_get(f"{prefix}/flavors/{{flavor_id}}/os-flavor-access", access)
    router.add_post(f"{prefix}/flavors/{{flavor_id}}/action", action)
