"""Flavors, their extra specs and their access lists: top-owned.

Served from the cascade's own tables, with Nova's schemas, policies (admins
manage, everyone reads what they may see), wording and microversions (2.55
description, 2.61 extra specs in flavor bodies, 2.86 extra spec validation).
An admin's create is copied to every site that takes placements at once;
later changes (extra specs, access, description) and the delete are carried
to every site copy (`consistency.copies`): at once, and by a job retried
with backoff for a site that cannot take them now."""
from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from cascade import errors
from cascade.api.compute import dependencies, extra_spec_rules, server_views
from cascade.api.compute.common import body_of, context, reply, require_admin, runtime_of
from cascade.api.compute.schemas import validate, validate_query
from cascade.consistency import copies
from cascade.context import RequestContext
from cascade.identity import v3_url
from cascade.persistence.flavors import Flavor
from cascade.sites.versions import at_least

LOG = logging.getLogger(__name__)

MAX_INT = 0x7FFFFFFF
_size = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "maximum": MAX_INT}
_description = {"type": ["string", "null"], "minLength": 0, "maxLength": 65535,
                "pattern": "^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"}
BOOLEAN = {"type": ["boolean", "string"], "enum": [
    True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]}
_CREATE_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 255, "format": "name"},
    "id": {"type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
           "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
    "ram": {**_size, "minimum": 1}, "vcpus": {**_size, "minimum": 1}, "disk": {**_size, "minimum": 0},
    "OS-FLV-EXT-DATA:ephemeral": {**_size, "minimum": 0}, "swap": {**_size, "minimum": 0},
    "rxtx_factor": {"type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?$",
                    "minimum": 0, "exclusiveMinimum": True, "maximum": 3.40282e+38},
    "os-flavor-access:is_public": BOOLEAN,
}


def _object(key: str, properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": {key: {
        "type": "object", "properties": properties, "required": required, "additionalProperties": False}},
        "required": [key], "additionalProperties": False}


CREATE_SCHEMA = _object("flavor", _CREATE_FIELDS, ["name", "ram", "vcpus", "disk"])
CREATE_SCHEMA_V255 = _object("flavor", {**_CREATE_FIELDS, "description": _description},
                             ["name", "ram", "vcpus", "disk"])
UPDATE_SCHEMA = _object("flavor", {"description": _description}, ["description"])
_spec_map = {"type": "object", "patternProperties": {
    "^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "number"], "maxLength": 255}},
    "additionalProperties": False}
SPECS_CREATE_SCHEMA = {"type": "object", "properties": {"extra_specs": _spec_map},
                       "required": ["extra_specs"], "additionalProperties": False}
SPEC_UPDATE_SCHEMA = {**_spec_map, "minProperties": 1, "maxProperties": 1}
_tenant = {"type": "object", "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255}},
           "required": ["tenant"], "additionalProperties": False}
ACCESS_SCHEMAS = {action: {"type": "object", "properties": {action: _tenant}, "required": [action],
                           "additionalProperties": False}
                  for action in ("addTenantAccess", "removeTenantAccess")}
SORT_KEYS = ["created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public",
             "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight", "vcpus"]
LIST_QUERY = {
    "limit": {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0, "minLength": 1},
    "marker": {"type": "string"}, "is_public": {"type": "string"}, "minRam": {"type": "string"},
    "minDisk": {"type": "string"}, "sort_key": {"type": "string", "enum": SORT_KEYS},
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
}


def view(ctx: RequestContext, flavor: Flavor, *, detail: bool = True) -> dict:
    body = {"id": flavor.id, "name": flavor.name, "links": server_views.links(ctx, "flavors", flavor.id)}
    if at_least(ctx.microversion, "2.55"):
        body["description"] = flavor.description
    if not detail:
        return body
    swap = flavor.swap if flavor.swap or at_least(ctx.microversion, "2.75") else ""
    body.update({"ram": flavor.ram, "disk": flavor.disk, "vcpus": flavor.vcpus, "swap": swap,
                 "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral, "os-flavor-access:is_public": flavor.is_public})
    if not at_least(ctx.microversion, "2.102"):   # both gone from 2.102
        body.update({"OS-FLV-DISABLED:disabled": False, "rxtx_factor": flavor.rxtx_factor})
    if at_least(ctx.microversion, "2.61"):
        body["extra_specs"] = dict(flavor.extra_specs)
    return body


_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


def parse_bool(value: Any) -> bool | None:
    """oslo's strict reading of a boolean-like value; None when it is not one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _int_filter(query, name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} filter [{query[name]}]") from None


async def _list(request: web.Request, detail: bool) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    q = request.query
    validate_query(q, LIST_QUERY, strict=at_least(ctx.microversion, "2.75"))
    is_public: bool | None = True
    if ctx.is_admin and "is_public" in q:
        # only admins may choose; "none" means every flavor
        if q["is_public"].lower() == "none":
            is_public = None
        elif (is_public := parse_bool(q["is_public"])) is None:
            raise errors.BadRequest(f"Invalid is_public filter [{q['is_public']}]")
    min_ram, min_disk = _int_filter(q, "minRam"), _int_filter(q, "minDisk")
    limit = min(int(q["limit"]), rt.settings.compute.max_limit) if "limit" in q else rt.settings.compute.max_limit
    flavors = await rt.flavors.list(
        is_public=is_public, project_id=ctx.project_id, visible_to=None if ctx.is_admin else ctx.project_id,
        min_ram=min_ram, min_disk=min_disk, sort_key=q.get("sort_key") or "flavorid",
        sort_dir=q.get("sort_dir") or "asc", limit=limit, marker=q.get("marker"))
    body: dict = {"flavors": [view(ctx, f, detail=detail) for f in flavors]}
    if flavors and len(flavors) == limit:
        body["flavors_links"] = [server_views.next_link(ctx, "flavors/detail" if detail else "flavors", q,
                                                        flavors[-1].id)]
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
    body = await body_of(request)
    with_description = at_least(ctx.microversion, "2.55")
    validate(body, CREATE_SCHEMA_V255 if with_description else CREATE_SCHEMA)
    require_admin(ctx, "os_compute_api:os-flavor-manage:create")
    spec = body["flavor"]
    # Nova keeps ids as text, whatever JSON type they came in; no id (or a
    # false one) means a new uuid
    flavor_id = str(spec["id"]) if spec.get("id") else None
    flavor = await rt.flavors.add(
        name=spec["name"].strip(), ram=int(spec["ram"]), vcpus=int(spec["vcpus"]), disk=int(spec["disk"]),
        flavor_id=flavor_id, ephemeral=int(spec.get("OS-FLV-EXT-DATA:ephemeral", 0)),
        swap=int(spec.get("swap", 0)), rxtx_factor=float(spec.get("rxtx_factor", 1.0)),
        is_public=parse_bool(spec.get("os-flavor-access:is_public", True)),
        description=spec.get("description") if with_description else None)
    await _copy_everywhere(rt, flavor)
    return reply({"flavor": view(ctx, flavor)})


async def _copy_everywhere(rt, flavor: Flavor) -> None:
    await copies.carry(rt, copies.FLAVOR, flavor.id, [s.id for s in rt.registry.all() if s.accepts_placements])


async def _push_to_copies(rt, flavor_id: str) -> None:
    """Carry the flavor's state to every site's copy (`consistency.copies`)."""
    await copies.carry(rt, copies.FLAVOR, flavor_id, [r.site_id for r in await rt.routes.routes_of("flavor", flavor_id)])


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-manage:delete")
    flavor_id = request.match_info["flavor_id"]
    await rt.flavors.get(flavor_id)
    await rt.flavors.delete(flavor_id)
    await _push_to_copies(rt, flavor_id)   # a deleted flavor's copies go
    return reply(status=202)


async def update(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    if not at_least(ctx.microversion, "2.55"):
        raise web.HTTPNotFound()
    body = await body_of(request)
    validate(body, UPDATE_SCHEMA)
    require_admin(ctx, "os_compute_api:os-flavor-manage:update")
    description = body["flavor"]["description"]
    flavor = await rt.flavors.set_description(request.match_info["flavor_id"], description)
    await _push_to_copies(rt, flavor.id)
    return reply({"flavor": view(ctx, flavor)})


# ---- extra specs -----------------------------------------------------------

def _no_spec(flavor_id: str, key: str) -> errors.NotFound:
    return errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")


def _check_spec_values(ctx: RequestContext, specs: dict) -> dict[str, str]:
    """The specs as text, each checked as Nova checks it (lengths of numbers;
    known names and values from 2.86)."""
    checked = {}
    for name, value in specs.items():
        text = str(value)
        if isinstance(value, (int, float)) and len(text) > 255:
            raise errors.BadRequest("Invalid input received: extra_specs value has more than 255 characters.")
        if at_least(ctx.microversion, "2.86"):
            extra_spec_rules.validate(name, text)
        checked[name] = text
    return checked


async def specs_index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    return reply({"extra_specs": dict(flavor.extra_specs)})


async def specs_show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    key = request.match_info["key"]
    if key not in flavor.extra_specs:
        raise _no_spec(flavor.id, key)
    return reply({key: flavor.extra_specs[key]})


async def specs_create(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request)
    validate(body, SPECS_CREATE_SCHEMA)
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:create")
    specs = _check_spec_values(ctx, body["extra_specs"])
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    await rt.flavors.set_extra_specs(flavor.id, specs)
    await _push_to_copies(rt, flavor.id)
    return reply(body)  # Nova echoes the request, numbers and all


async def specs_update(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request)
    validate(body, SPEC_UPDATE_SCHEMA)
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:update")
    specs = _check_spec_values(ctx, body)
    key = request.match_info["key"]
    if key not in body:
        raise errors.BadRequest("Request body and URI mismatch")
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    await rt.flavors.set_extra_specs(flavor.id, specs)
    await _push_to_copies(rt, flavor.id)
    return reply(body)


async def specs_delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:delete")
    flavor = await dependencies.find_flavor(rt, ctx, request.match_info["flavor_id"])
    key = request.match_info["key"]
    if key not in flavor.extra_specs:
        raise _no_spec(flavor.id, key)
    await rt.flavors.delete_extra_spec(flavor.id, key)
    await _push_to_copies(rt, flavor.id)
    return reply(status=200)


# ---- access ----------------------------------------------------------------

def _access_body(flavor_id: str, projects: list[str]) -> dict:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


async def access(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "os_compute_api:os-flavor-access")
    flavor = await rt.flavors.get(request.match_info["flavor_id"])
    projects = await rt.flavors.access_list(flavor.id)  # 404 for a public flavor, as Nova
    return reply(_access_body(flavor.id, projects))


async def _verify_project(rt, ctx: RequestContext, project_id: str) -> bool:
    """Nova's check with Keystone that a project exists: False only when
    Keystone says it does not; anything else lets the request go on."""
    url = f"{v3_url(rt.settings.keystone.auth_url)}/projects/{project_id}"
    try:
        async with rt.http.get(url, headers={"X-Auth-Token": ctx.token}) as response:
            return response.status != 404
    except Exception as exc:  # noqa: BLE001 - Nova too goes on when Keystone cannot be asked
        LOG.info("could not verify project %s with Keystone: %s", project_id, exc)
        return True


async def action(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request)
    name = next(iter(body), None) if isinstance(body, dict) else None
    if name not in ACCESS_SCHEMAS:
        raise errors.BadRequest(f"There is no such action: {name}" if name else "Malformed request body")
    validate(body, ACCESS_SCHEMAS[name])
    rule = "add_tenant_access" if name == "addTenantAccess" else "remove_tenant_access"
    require_admin(ctx, f"os_compute_api:os-flavor-access:{rule}")
    tenant = body[name]["tenant"]
    if not await _verify_project(rt, ctx, tenant) and name == "addTenantAccess":
        raise errors.BadRequest(f"Project ID {tenant} is not a valid project.")
    flavor = await rt.flavors.get(request.match_info["flavor_id"])
    if name == "addTenantAccess":
        await rt.flavors.add_access(flavor.id, tenant, allow_public=not at_least(ctx.microversion, "2.7"))
    else:
        await rt.flavors.remove_access(flavor.id, tenant)
    await _push_to_copies(rt, flavor.id)
    return reply(_access_body(flavor.id, await rt.flavors.projects_of(flavor.id)))


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    specs = f"{prefix}/flavors/{{flavor_id}}/os-extra_specs"
    router.add_get(f"{prefix}/flavors", index)
    router.add_get(f"{prefix}/flavors/detail", detail)
    router.add_post(f"{prefix}/flavors", create)
    router.add_get(f"{prefix}/flavors/{{flavor_id}}", show)
    router.add_put(f"{prefix}/flavors/{{flavor_id}}", update)
    router.add_delete(f"{prefix}/flavors/{{flavor_id}}", delete)
    router.add_get(specs, specs_index)
    router.add_post(specs, specs_create)
    router.add_get(f"{specs}/{{key}}", specs_show)
    router.add_put(f"{specs}/{{key}}", specs_update)
    router.add_delete(f"{specs}/{{key}}", specs_delete)
    router.add_get(f"{prefix}/flavors/{{flavor_id}}/os-flavor-access", access)
    router.add_post(f"{prefix}/flavors/{{flavor_id}}/action", action)
