"""`/os-server-groups` (create, list, show, delete) with the shapes of each
microversion (`policies` and `metadata` before 2.64, `policy` and `rules`
from it; `project_id` and `user_id` from 2.13; soft policies from 2.15), and
what a group means to a server create: the `group` scheduler hint, the
group's members and its policy on the site's one compute host.

On one host affinity always holds; anti-affinity lets at most
`max_server_per_host` (default 1) members live on it, so a member beyond that
cannot be placed and goes to ERROR with "No valid host was found", as Nova's
ServerGroupAntiAffinityFilter leaves it when every host is taken. Members that
were never placed (ERROR) or are deleted hold no place.
"""
from __future__ import annotations

import functools
import uuid
from typing import Any

from aiohttp import web

from simcloud.nova import quotas
from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import bad_request, not_found
from simcloud.nova.model import ServerGroup
from simcloud.nova.server_list import MAX_LIMIT
from simcloud.nova.store import ComputeStore

_POLICIES = ["anti-affinity", "affinity"]
_SOFT = ["soft-anti-affinity", "soft-affinity"]
_INDEX_PARAMS = {"all_projects": {"type": "string"}, "limit": V.NON_NEGATIVE_INTEGER,
                 "offset": V.NON_NEGATIVE_INTEGER}
_INDEX_QUERY = {False: V.QuerySchema(_INDEX_PARAMS, strict=False),
                True: V.QuerySchema(_INDEX_PARAMS, strict=True)}


@functools.lru_cache(maxsize=None)
def create_schema(version: tuple[int, int]) -> V.BodySchema:
    props: dict[str, Any] = {"name": V.NAME}
    required = ["name"]
    if version >= (2, 64):
        props["policy"] = {"type": "string", "enum": _POLICIES + _SOFT}
        props["rules"] = {"type": "object", "properties": {
            "max_server_per_host": V.POSITIVE_INTEGER}, "additionalProperties": False}
        required.append("policy")
    else:
        enum = _POLICIES + (_SOFT if version >= (2, 15) else [])
        props["policies"] = {"type": "array", "prefixItems": [{"type": "string", "enum": enum}],
                             "uniqueItems": True, "minItems": 1, "maxItems": 1}
        required.append("policies")
    return V.BodySchema({"type": "object", "properties": {"server_group": {
        "type": "object", "properties": props, "required": required,
        "additionalProperties": False}}, "required": ["server_group"],
        "additionalProperties": False})


def group_not_found(group_id: str) -> Exception:
    return not_found(f"Instance group {group_id} could not be found.")


def find_group(store: ComputeStore, context: ComputeContext, group_id: str) -> ServerGroup | None:
    group = store.groups.get(group_id)
    if group is None or (group.project_id != context.project_id and not context.is_admin):
        return None
    return group


def live_members(store: ComputeStore, group: ServerGroup) -> list[str]:
    """Members not deleted, newest first."""
    return [m for m in reversed(group.members) if store.get(m) is not None]


def group_of_hint(store: ComputeStore, context: ComputeContext, body: dict) -> ServerGroup | None:
    """The group a create's `group` scheduler hint names (400 when unknown)."""
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    wanted = hints.get("group")
    if isinstance(wanted, list):
        wanted = wanted[0] if wanted else None
    if not wanted:
        return None
    group = find_group(store, context, wanted)
    if group is None:
        raise bad_request(f"Instance group {wanted} could not be found.")
    return group


def fits_policy(store: ComputeStore, group: ServerGroup, count: int) -> bool:
    """Whether `count` new members can all go on the site's host."""
    if group.policy != "anti-affinity":
        return True
    room = group.rules.get("max_server_per_host", 1)
    on_host = sum(1 for m in group.members
                  if (s := store.get(m)) is not None and s.host == store.host)
    return on_host + count <= room


def group_view(context: ComputeContext, store: ComputeStore, group: ServerGroup) -> dict:
    view: dict[str, Any] = {"id": group.id, "name": group.name}
    if context.version >= (2, 64):
        view["policy"] = group.policy
        view["rules"] = dict(group.rules)
    else:
        view["policies"] = [group.policy]
        view["metadata"] = {}
    view["members"] = live_members(store, group)
    if context.version >= (2, 13):
        view["project_id"] = group.project_id
        view["user_id"] = group.user_id
    return view


class ServerGroupsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/os-server-groups", self.index),
                web.post("/v2.1/os-server-groups", self.create),
                web.get("/v2.1/os-server-groups/{group_id}", self.show),
                web.delete("/v2.1/os-server-groups/{group_id}", self.delete)]

    def _group(self, context: ComputeContext, group_id: str) -> ServerGroup:
        group = find_group(self.store, context, group_id)
        if group is None:
            raise group_not_found(group_id)
        return group

    async def index(self, request: web.Request) -> web.Response:
        context = ctx(request)
        query = request.query
        _INDEX_QUERY[context.version >= (2, 75)].validate(query)
        groups = [g for g in self.store.groups.values()
                  if ("all_projects" in query and context.is_admin)
                  or g.project_id == context.project_id]
        offset = int(query.get("offset", 0))
        limit = min(MAX_LIMIT, int(query.get("limit", 0)) or MAX_LIMIT)
        page = groups[offset:offset + limit]
        return respond({"server_groups": [group_view(context, self.store, g) for g in page]})

    async def show(self, request: web.Request) -> web.Response:
        context = ctx(request)
        V.no_query(context.version, request.query)
        group = self._group(context, request.match_info["group_id"])
        return respond({"server_group": group_view(context, self.store, group)})

    async def delete(self, request: web.Request) -> web.Response:
        context = ctx(request)
        group = self._group(context, request.match_info["group_id"])
        del self.store.groups[group.id]
        for member in group.members:       # their membership goes with the group
            server = self.store.get_any(member)
            if server is not None:
                server.group_id = None
                if server.scheduler_hints and "group" in server.scheduler_hints:
                    server.scheduler_hints = {k: v for k, v in server.scheduler_hints.items()
                                              if k != "group"} or None
        return web.Response(status=204)

    async def create(self, request: web.Request) -> web.Response:
        context = ctx(request)
        body = V.parse_json(await request.read())
        create_schema(context.version).validate(body)
        quotas.check_server_groups(self.store.quota_book, self.store, context.project_id,
                                   context.user_id)
        spec = body["server_group"]
        if context.version >= (2, 64):
            policy, rules = spec["policy"], spec.get("rules") or {}
            if policy != "anti-affinity" and rules:
                raise bad_request("Only anti-affinity policy supports rules.")
        else:
            policy, rules = spec["policies"][0], {}
        group = ServerGroup(
            id=str(uuid.uuid4()), name=spec["name"], policy=policy,
            rules={k: int(v) for k, v in rules.items()},
            project_id=context.project_id, user_id=context.user_id)
        self.store.groups[group.id] = group
        return respond({"server_group": group_view(context, self.store, group)})
