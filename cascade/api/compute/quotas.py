"""os-quota-sets and os-quota-class-sets: the cascade's global quotas,
top-owned, in Nova's shapes and microversions.

A project's quota set is the cascade's, whatever each site holds for the
project: shown, updated and deleted here, enforced by the cascade
(`quota_checks`), never forwarded. Keys follow Nova: the network quotas go
from 2.36 (quota sets) or 2.50 (quota classes), the injected-file ones from
2.57, and quota classes show the server group quotas only from 2.50.
Policy as Nova's defaults: a project reads its own quota set, only admins
read others' or change any, anyone reads the defaults. Keys come sorted, as
Nova lists them."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable

import aiohttp
import jsonschema
from aiohttp import web

from cascade import errors
from cascade.api.compute.common import body_of, context, reply, require_admin, runtime_of
from cascade.context import RequestContext
from cascade.quotas.resources import INJECTED_FILES, NETWORK, RESOURCES, SERVER_GROUPS
from cascade.runtime import Runtime
from cascade.sites.versions import at_least

QUOTA_SETS = "os_compute_api:os-quota-sets:%s"
QUOTA_CLASSES = "os_compute_api:os-quota-class-sets:%s"
MAX_INT = 0x7FFFFFFF

_LIMIT = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$", "minimum": -1, "maximum": MAX_INT}
_BOOLEAN = {"type": ["boolean", "string"],
            "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                     False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]}
_TRUE = {"true", "1", "on", "yes", "y", "t"}


def quota_set_keys(version: str | None) -> list[str]:
    hidden: tuple[str, ...] = ()
    if at_least(version, "2.57"):
        hidden = NETWORK + INJECTED_FILES
    elif at_least(version, "2.36"):
        hidden = NETWORK
    return sorted(name for name in RESOURCES if name not in hidden)


def quota_class_keys(version: str | None, *, shown: bool) -> list[str]:
    """What a quota class shows (`shown`) or accepts: before 2.50 it accepts
    the server group quotas without showing them."""
    hidden: tuple[str, ...] = ()
    if at_least(version, "2.57"):
        hidden = NETWORK + INJECTED_FILES
    elif at_least(version, "2.50"):
        hidden = NETWORK
    elif shown:
        hidden = SERVER_GROUPS
    return sorted(name for name in RESOURCES if name not in hidden)


# -- validation as Nova's: numeric bounds apply to numbers written as strings

def _numbers_in_strings(check):
    def validate(validator, bound, instance, schema):
        if isinstance(instance, str):
            try:
                instance = int(instance)
            except ValueError:
                try:
                    instance = float(instance)
                except ValueError:
                    return
        yield from check(validator, bound, instance, schema)
    return validate


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {
    "minimum": _numbers_in_strings(jsonschema.Draft4Validator.VALIDATORS["minimum"]),
    "maximum": _numbers_in_strings(jsonschema.Draft4Validator.VALIDATORS["maximum"]),
})


def _validate(instance: Any, schema: dict, *, query: bool = False) -> None:
    """Nova's 400 for the first error, worded as Nova words it."""
    error = next(_Validator(schema).iter_errors(instance), None)
    if error is None:
        return
    if error.path:
        where = f"query parameters {error.path[0]}" if query else f"field/attribute {error.path[-1]}"
        raise errors.BadRequest(f"Invalid input for {where}. Value: {error.instance}. {error.message}")
    raise errors.BadRequest(error.message)


def validate_query(request: web.Request, names: Iterable[str], *, strict_from: str | None = "2.75") -> None:
    """Query parameters as Nova's query schemas take them: lists of strings;
    unknown ones refused from `strict_from` on."""
    ctx = context(request)
    strict = strict_from is not None and at_least(ctx.microversion, strict_from)
    query = {name: request.query.getall(name) for name in request.query}
    _validate(query, {"type": "object", "properties": {n: {"type": "array", "items": {"type": "string"}}
                                                        for n in names},
                      "additionalProperties": not strict}, query=True)


def _body_schema(key: str, names: Iterable[str], *, force: bool = False) -> dict:
    properties = {name: _LIMIT for name in names}
    if force:
        properties["force"] = _BOOLEAN
    return {"type": "object", "required": [key], "additionalProperties": False,
            "properties": {key: {"type": "object", "properties": properties, "additionalProperties": False}}}


# -- os-quota-sets

async def verify_project(rt: Runtime, ctx: RequestContext, project_id: str) -> None:
    """Nova asks Keystone, with the caller's token, whether the project
    exists: only a clear "no such project" refuses."""
    url = f"{rt.service_auth.auth_url}/projects/{project_id}"
    try:
        async with rt.http.get(url, headers={"X-Auth-Token": ctx.token},
                               timeout=aiohttp.ClientTimeout(total=10)) as response:
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return
    if status == 404:
        raise errors.BadRequest(f"Project ID {project_id} is not a valid project.")


def _may_read(ctx: RequestContext, project_id: str, action: str) -> None:
    if not (ctx.is_admin or ctx.project_id == project_id):
        raise errors.Forbidden(f"Policy doesn't allow {QUOTA_SETS % action} to be performed.")


def _user_id(request: web.Request) -> str | None:
    values = request.query.getall("user_id", [])
    return values[0] if values else None


def _quota_set(values: dict, keys: list[str], project_id: str | None = None) -> dict:
    body = {"id": project_id} if project_id is not None else {}
    body.update({k: values[k] for k in keys})
    return {"quota_set": body}


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    validate_query(request, ["user_id"])
    project_id = request.match_info["project_id"]
    _may_read(ctx, project_id, "show")
    await verify_project(rt, ctx, project_id)
    limits = await rt.quotas.limits(project_id, _user_id(request))
    return reply(_quota_set(limits, quota_set_keys(ctx.microversion), project_id))


async def detail(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    validate_query(request, ["user_id"])
    project_id = request.match_info["project_id"]
    _may_read(ctx, project_id, "detail")
    await verify_project(rt, ctx, project_id)
    values = await rt.quotas.detail(project_id, _user_id(request))
    return reply(_quota_set(values, quota_set_keys(ctx.microversion), project_id))


async def defaults(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    project_id = request.match_info["project_id"]
    await verify_project(rt, ctx, project_id)
    return reply(_quota_set(await rt.quotas.defaults(), quota_set_keys(ctx.microversion), project_id))


async def update(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    keys = quota_set_keys(ctx.microversion)
    body = await body_of(request)
    _validate(body, _body_schema("quota_set", keys, force=True))
    validate_query(request, ["user_id"])
    require_admin(ctx, QUOTA_SETS % "update")
    project_id = request.match_info["project_id"]
    await verify_project(rt, ctx, project_id)
    requested = dict(body["quota_set"])
    force = str(requested.pop("force", False)).lower() in _TRUE
    # Nova skips empty values (and only those)
    values = {k: v for k, v in requested.items() if v or v == 0}
    limits = await rt.quotas.update(project_id, values, user_id=_user_id(request), force=force)
    return reply(_quota_set(limits, keys))


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    validate_query(request, ["user_id"])
    require_admin(ctx, QUOTA_SETS % "delete")
    await rt.quotas.delete(request.match_info["project_id"], _user_id(request))
    return reply(status=202)


# -- os-quota-class-sets

async def show_class(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    validate_query(request, [], strict_from="2.102")
    require_admin(ctx, QUOTA_CLASSES % "show")
    name = request.match_info["class_name"]
    limits = await rt.quotas.class_limits(name)
    shown = quota_class_keys(ctx.microversion, shown=True)
    return reply({"quota_class_set": {"id": name, **{k: limits[k] for k in shown}}})


async def update_class(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request)
    _validate(body, _body_schema("quota_class_set", quota_class_keys(ctx.microversion, shown=False)))
    require_admin(ctx, QUOTA_CLASSES % "update")
    name = request.match_info["class_name"]
    if len(name) > 255:
        raise errors.BadRequest(f"quota_class_name has {len(name)} characters, more than 255.")
    limits = await rt.quotas.set_class_limits(name, body["quota_class_set"])
    shown = quota_class_keys(ctx.microversion, shown=True)
    return reply({"quota_class_set": {k: limits[k] for k in shown}})


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/os-quota-sets/{{project_id}}"
    router.add_get(base, show)
    router.add_put(base, update)
    router.add_delete(base, delete)
    router.add_get(f"{base}/detail", detail)
    router.add_get(f"{base}/defaults", defaults)
    classes = f"{prefix}/os-quota-class-sets/{{class_name}}"
    router.add_get(classes, show_class)
    router.add_put(classes, update_class)
