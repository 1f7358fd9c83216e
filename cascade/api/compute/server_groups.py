"""Server groups (`/os-server-groups`): top-owned.

Groups, their policies and members live in the cascade's database and are
served from there, in Nova's shapes per microversion (`policies` and an empty
`metadata` before 2.64, `policy` and `rules` from 2.64, `project_id` and
`user_id` from 2.13). A server created with the `group` scheduler hint joins
the group:

- placement keeps (soft-)affinity at site level: every member goes to the
  site of the group's first member; anti-affinity members spread over sites;
- the site a member goes to gets its own bottom group of the same policy
  (and rules) on first use, named after the top group's id and bound as a
  `server_group` route, so that the site keeps the policy among the members
  it runs; the hint is given to the site as that bottom group's id;
- a deleted server leaves its groups; a deleted group's bottom groups are
  deleted (`consistency.copies`, retried while a site is down).
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
from typing import Any, Iterable

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute.common import body_of, context, reply, runtime_of
from cascade.api.compute.schemas import validate, validate_query
from cascade.consistency import copies
from cascade.context import RequestContext
from cascade.persistence.server_groups import ServerGroup
from cascade.runtime import Runtime
from cascade.scheduling import placement
from cascade.sites.model import Site
from cascade.sites.versions import APIVersion, at_least

KIND = "server_group"                # the route kind of bottom groups
HINT_KEYS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
AFFINITY = ("affinity", "soft-affinity")



async def check_group_quota(rt: Runtime, ctx: RequestContext) -> None:
    """Room for one more group in the caller's project and user quota."""
    try:
        await rt.quotas.check_deltas(ctx.project_id, ctx.user_id, {"server_groups": 1})
    except errors.OverLimit:
        raise errors.OverLimit("Quota exceeded, too many server groups.") from None


async def check_member_quota(rt: Runtime, ctx: RequestContext, group: ServerGroup, count: int) -> None:
    """Room for `count` more members in the group (`server_group_members`)."""
    limit = (await rt.quotas.limits(group.project_id, ctx.user_id))["server_group_members"]
    if 0 <= limit < len(group.members) + count:
        raise errors.OverLimit("Quota exceeded, too many servers in group")


_policies = {"type": "array", "items": [{"type": "string", "enum": ["anti-affinity", "affinity"]}],
             "uniqueItems": True, "minItems": 1, "maxItems": 1, "additionalItems": False}
_policies_v215 = {**_policies, "items": [{"type": "string", "enum": [
    "anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"]}]}
_name = {"type": "string", "minLength": 1, "maxLength": 255, "format": "name"}
_positive = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1, "minLength": 1}


def _create_schema(version: str | None) -> dict:
    if at_least(version, "2.64"):
        fields = {"name": _name,
                  "policy": {"type": "string", "enum": ["anti-affinity", "affinity", "soft-anti-affinity",
                                                        "soft-affinity"]},
                  "rules": {"type": "object", "properties": {"max_server_per_host": _positive},
                            "additionalProperties": False}}
        required = ["name", "policy"]
    else:
        fields = {"name": _name, "policies": _policies_v215 if at_least(version, "2.15") else _policies}
        required = ["name", "policies"]
    return {"type": "object", "properties": {"server_group": {
        "type": "object", "properties": fields, "required": required, "additionalProperties": False}},
        "required": ["server_group"], "additionalProperties": False}


_non_negative = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0, "minLength": 1}
LIST_QUERY = {"all_projects": {"type": "string"}, "limit": _non_negative, "offset": _non_negative}
_uuid = {"type": "string", "format": "uuid"}
HINT_SCHEMA = {"type": "object", "properties": {"group": {"oneOf": [{"type": "array", "items": _uuid}, _uuid]}}}


def view(ctx: RequestContext, group: ServerGroup) -> dict:
    body: dict[str, Any] = {"id": group.id, "name": group.name}
    if at_least(ctx.microversion, "2.64"):
        body.update(policy=group.policy, rules=dict(group.rules))
    else:
        body.update(policies=[group.policy], metadata={})
    body["members"] = list(group.members)
    if at_least(ctx.microversion, "2.13"):
        body.update(project_id=group.project_id, user_id=group.user_id)
    return body


def _scope(ctx: RequestContext) -> str | None:
    """The project a caller's lookups are limited to (admins see every one)."""
    return None if ctx.is_admin else ctx.project_id


async def create(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request)
    validate(body, _create_schema(ctx.microversion))
    await check_group_quota(rt, ctx)
    spec = body["server_group"]
    if at_least(ctx.microversion, "2.64"):
        policy = spec["policy"]
        rules = {key: int(value) for key, value in (spec.get("rules") or {}).items()}
        if policy != "anti-affinity" and rules:
            raise errors.BadRequest("Only anti-affinity policy supports rules.")
    else:
        policy, rules = spec["policies"][0], {}
    group = await rt.server_groups.add(name=spec["name"], project_id=ctx.project_id, user_id=ctx.user_id,
                                       policy=policy, rules=rules)
    return reply({"server_group": view(ctx, group)})


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    q = request.query
    validate_query(q, LIST_QUERY, strict=at_least(ctx.microversion, "2.75"))
    max_limit = rt.settings.compute.max_limit
    limit = min(max_limit, int(q.get("limit") or 0) or max_limit)
    # a non-admin asking for every project gets their own, as in Nova
    project = None if "all_projects" in q and ctx.is_admin else ctx.project_id
    groups = await rt.server_groups.list(project_id=project, offset=int(q.get("offset") or 0), limit=limit)
    return reply({"server_groups": [view(ctx, g) for g in groups]})


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    group = await rt.server_groups.get(request.match_info["group_id"], project_id=_scope(ctx))
    return reply({"server_group": view(ctx, group)})


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    group = await rt.server_groups.get(request.match_info["group_id"], project_id=_scope(ctx))
    await rt.server_groups.delete(group.id)
    # the bottom groups go too (`consistency.copies`), now or by a job while a site is down
    await copies.carry(rt, copies.SERVER_GROUP, group.id, [r.site_id for r in await rt.routes.routes_of(KIND, group.id)])
    return reply(status=204)


# ---- servers joining groups ------------------------------------------------

async def requested(rt: Runtime, ctx: RequestContext, body: dict) -> ServerGroup | None:
    """The group a server create's scheduler hints name, or None; Nova's 400
    for a malformed id or a group the caller cannot see."""
    hints = next((body[key] for key in HINT_KEYS if isinstance(body.get(key), dict)), None)
    if not hints or not hints.get("group"):
        return None
    validate(hints, HINT_SCHEMA)
    group_id = hints["group"][0] if isinstance(hints["group"], list) else hints["group"]
    try:
        group = await rt.server_groups.get(group_id, project_id=_scope(ctx))
    except errors.NotFound as exc:
        raise errors.BadRequest(exc.message) from None
    spec = body.get("server") or {}
    await check_member_quota(rt, ctx, group, int(spec.get("max_count") or spec.get("min_count") or 1))
    return group


async def constraint(rt: Runtime, group: ServerGroup | None) -> placement.GroupConstraint | None:
    if group is None:
        return None
    known = {site.id: site for site in rt.registry.all()}
    if group.policy in AFFINITY:
        site = known.get(group.site_id) if group.site_id else None
        return placement.GroupConstraint(group.policy, site_id=site.id if site else None,
                                         zone=site.availability_zone if site else None)
    per_site: collections.Counter[str] = collections.Counter()
    for member in group.members:
        for route in await rt.routes.routes_of("server", member):
            if route.state == "bound":
                per_site[route.site_id] += 1
    return placement.GroupConstraint(group.policy, members_per_site=dict(per_site))


async def choose_site(rt: Runtime, group: ServerGroup | None, request: placement.PlacementRequest) -> Site:
    """The best site for `request` under the group's policy. The first member
    of an affinity group pins the group to its site (a concurrent first
    member that loses the race follows the winner)."""
    sites = rt.registry.all()
    request = dataclasses.replace(request, shares=rt.registry.shares())
    site = placement.rank(sites, dataclasses.replace(request, group=await constraint(rt, group)))[0]
    if group is None or group.policy not in AFFINITY:
        return site
    stale = group.site_id if group.site_id and group.site_id not in {s.id for s in sites} else None
    if group.site_id is None or stale:
        pinned = await rt.server_groups.pin(group.id, site.id, replacing=stale)
        if pinned != site.id:
            group = await rt.server_groups.get(group.id)
            site = placement.rank(sites, dataclasses.replace(request, group=await constraint(rt, group)))[0]
    return site


_copy_locks: dict[tuple[str, str], asyncio.Lock] = collections.defaultdict(asyncio.Lock)


async def group_in_site(rt: Runtime, ctx: RequestContext, group: ServerGroup, site: Site) -> str:
    """The id of the site's own copy of the group, made (in the caller's
    project, with the caller's token) the first time a member goes there.
    The route is reserved first, so that the group's deletion knows to look
    in this site; a copy an interrupted first member made is found by its
    name and adopted."""
    known = await rt.routes.bottom_ids(KIND, site.id, [group.id])
    if group.id in known:
        return known[group.id]
    async with _copy_locks[(group.id, site.id)]:
        known = await rt.routes.bottom_ids(KIND, site.id, [group.id])
        if group.id in known:
            return known[group.id]
        try:
            await rt.routes.reserve(KIND, site_id=site.id, project_id=group.project_id, top_id=group.id)
        except errors.Conflict:
            pass  # reserved before: by an interrupted first member, or by another process now
        bottom_id = await _named_copy(rt, ctx, group, site) or await _make_copy(rt, ctx, group, site)
        await rt.routes.bind(KIND, group.id, site.id, bottom_id)
        return bottom_id


async def _named_copy(rt: Runtime, ctx: RequestContext, group: ServerGroup, site: Site) -> str | None:
    try:
        response = await patterns.forward(rt, dataclasses.replace(ctx, microversion=None), site, "compute", "GET",
                                          "/os-server-groups")
    except errors.SiteError as exc:
        if exc.status == 404:
            return None  # no server groups there: the create says so in the tenant's words
        raise
    name = copies.bottom_group_name(group.id)
    return next((g["id"] for g in response.body.get("server_groups") or [] if g.get("name") == name), None)


async def _make_copy(rt: Runtime, ctx: RequestContext, group: ServerGroup, site: Site) -> str:
    highest = APIVersion(site.compute_max_version)
    name = copies.bottom_group_name(group.id)
    if highest >= APIVersion("2.64"):
        spec: dict[str, Any] = {"name": name, "policy": group.policy}
        if group.rules:
            spec["rules"] = dict(group.rules)
        version = "2.64"
    elif group.rules:
        raise errors.NotAcceptable(f"Availability zone {site.availability_zone} cannot keep the rules "
                                   "of this server group.")
    else:
        spec = {"name": name, "policies": [group.policy]}
        version = "2.15" if highest >= APIVersion("2.15") else None
    try:
        response = await patterns.forward(rt, dataclasses.replace(ctx, microversion=version), site,
                                          "compute", "POST", "/os-server-groups", json={"server_group": spec})
    except errors.SiteError as exc:
        if exc.status != 404:
            raise
        raise errors.BadRequest(f"Availability zone {site.availability_zone} cannot keep server groups: "
                                "it does not serve them.") from None
    return response.body["server_group"]["id"]


async def hints_to_bottom(rt: Runtime, ctx: RequestContext, group: ServerGroup | None, site: Site,
                          extras: dict) -> dict:
    """The create body's top-level extras (scheduler hints) as the site must
    get them: the group hint names the site's own copy of the group."""
    if group is None:
        return extras
    bottom_id = await group_in_site(rt, ctx, group, site)
    out = dict(extras)
    for key in HINT_KEYS:
        if isinstance(out.get(key), dict) and out[key].get("group"):
            out[key] = {**out[key], "group": bottom_id}
    return out


async def join(rt: Runtime, group: ServerGroup | None, server_ids: Iterable[str]) -> None:
    if group is not None:
        await rt.server_groups.add_members(group.id, server_ids)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/os-server-groups", index)
    router.add_post(f"{prefix}/os-server-groups", create)
    router.add_get(f"{prefix}/os-server-groups/{{group_id}}", show)
    router.add_delete(f"{prefix}/os-server-groups/{{group_id}}", delete)
