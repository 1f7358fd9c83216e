"""`/os-quota-sets/{project}` (show, detail, defaults, update, delete; a
user's with `user_id`) and `/os-quota-class-sets/{class}` (show, update), in
the shapes of each microversion: the network quotas go at 2.36 (quota sets)
or 2.50 (classes), the injected-file ones at 2.57, and classes show the server
group quotas only from 2.50. Policy as Nova's defaults: a project reads its
own quota set, anyone the defaults, only admins the rest."""
from __future__ import annotations

import functools

from aiohttp import web

from simcloud.nova import quotas as Q
from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import bad_request, policy_forbidden
from simcloud.nova.identity import ProjectCheck, verify_project
from simcloud.nova.store import ComputeStore

_LIMIT = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$", "minimum": -1,
          "maximum": 0x7FFFFFFF}
_USER_QUERY = {False: V.QuerySchema({"user_id": {"type": "string"}}, strict=False),
               True: V.QuerySchema({"user_id": {"type": "string"}}, strict=True)}
_SETS = "os_compute_api:os-quota-sets:%s"
_CLASSES = "os_compute_api:os-quota-class-sets:%s"


def set_keys(version: tuple[int, int]) -> list[str]:
    hidden: tuple[str, ...] = ()
    if version >= (2, 57):
        hidden = Q.NETWORK + Q.INJECTED
    elif version >= (2, 36):
        hidden = Q.NETWORK
    return [r for r in Q.RESOURCES if r not in hidden]


def class_keys(version: tuple[int, int], *, shown: bool) -> list[str]:
    """Before 2.50 a class takes the server group quotas without showing them."""
    hidden: tuple[str, ...] = ()
    if version >= (2, 57):
        hidden = Q.NETWORK + Q.INJECTED
    elif version >= (2, 50):
        hidden = Q.NETWORK
    elif shown:
        hidden = Q.SERVER_GROUPS
    return [r for r in Q.RESOURCES if r not in hidden]


@functools.lru_cache(maxsize=None)
def _body(key: str, names: tuple[str, ...], force: bool) -> V.BodySchema:
    props = {name: _LIMIT for name in names}
    if force:
        props["force"] = V.BOOLEAN
    return V.BodySchema({"type": "object", "properties": {key: {
        "type": "object", "properties": props, "additionalProperties": False}},
        "required": [key], "additionalProperties": False})


def _user_id(request: web.Request) -> str | None:
    values = request.query.getall("user_id", [])
    return values[0] if values else None


class QuotaSetsResource:
    def __init__(self, store: ComputeStore, project_exists: ProjectCheck | None) -> None:
        self.store = store
        self.book = store.quota_book
        self.project_exists = project_exists

    def routes(self) -> list[web.RouteDef]:
        base = "/v2.1/os-quota-sets/{project_id}"
        classes = "/v2.1/os-quota-class-sets/{class_name}"
        return [web.get(base, self.show), web.put(base, self.update),
                web.delete(base, self.delete), web.get(base + "/detail", self.detail),
                web.get(base + "/defaults", self.defaults),
                web.get(classes, self.show_class), web.put(classes, self.update_class)]

    def _read(self, request: web.Request, action: str) -> tuple[ComputeContext, str]:
        context = ctx(request)
        _USER_QUERY[context.version >= (2, 75)].validate(request.query)
        project_id = request.match_info["project_id"]
        if not (context.is_admin or context.project_id == project_id):
            raise policy_forbidden(_SETS % action)
        verify_project(self.project_exists, context, project_id)
        return context, project_id

    async def show(self, request: web.Request) -> web.Response:
        context, project_id = self._read(request, "show")
        limits = self.book.user_limits(project_id, _user_id(request))
        return respond({"quota_set": {"id": project_id, **{
            k: limits[k] for k in set_keys(context.version)}}})

    async def detail(self, request: web.Request) -> web.Response:
        context, project_id = self._read(request, "detail")
        user_id = _user_id(request)
        limits = self.book.user_limits(project_id, user_id)
        used = Q.usage(self.store, project_id, user_id, shown=True)
        return respond({"quota_set": {"id": project_id, **{
            k: {"limit": limits[k], "in_use": used.get(k, 0), "reserved": 0}
            for k in set_keys(context.version)}}})

    async def defaults(self, request: web.Request) -> web.Response:
        context = ctx(request)
        project_id = request.match_info["project_id"]
        verify_project(self.project_exists, context, project_id)
        limits = self.book.defaults()
        return respond({"quota_set": {"id": project_id, **{
            k: limits[k] for k in set_keys(context.version)}}})

    async def update(self, request: web.Request) -> web.Response:
        context = ctx(request)
        keys = set_keys(context.version)
        body = V.parse_json(await request.read())
        _body("quota_set", tuple(keys), True).validate(body)
        _USER_QUERY[context.version >= (2, 75)].validate(request.query)
        if not context.is_admin:
            raise policy_forbidden(_SETS % "update")
        project_id = request.match_info["project_id"]
        verify_project(self.project_exists, context, project_id)
        user_id = _user_id(request)
        requested = dict(body["quota_set"])
        force = V.to_bool(requested.pop("force", False))
        values = {k: int(v) for k, v in requested.items() if v or v == 0}
        if not force:
            bounds = self.book.settable(project_id, user_id,
                                        Q.usage(self.store, project_id, user_id, shown=True))
            for resource, value in values.items():
                Q.check_bounds(resource, value, *bounds[resource])
        self.book.set_limits(project_id, values, user_id)
        limits = self.book.user_limits(project_id, user_id)
        return respond({"quota_set": {k: limits[k] for k in keys}})

    async def delete(self, request: web.Request) -> web.Response:
        context = ctx(request)
        _USER_QUERY[context.version >= (2, 75)].validate(request.query)
        if not context.is_admin:
            raise policy_forbidden(_SETS % "delete")
        self.book.delete(request.match_info["project_id"], _user_id(request))
        return web.Response(status=202)

    async def show_class(self, request: web.Request) -> web.Response:
        context = ctx(request)
        V.no_query(context.version, request.query)
        if not context.is_admin:
            raise policy_forbidden(_CLASSES % "show")
        name = request.match_info["class_name"]
        limits = self.book.class_limits(name)
        return respond({"quota_class_set": {"id": name, **{
            k: limits[k] for k in class_keys(context.version, shown=True)}}})

    async def update_class(self, request: web.Request) -> web.Response:
        context = ctx(request)
        body = V.parse_json(await request.read())
        _body("quota_class_set", tuple(class_keys(context.version, shown=False)),
              False).validate(body)
        if not context.is_admin:
            raise policy_forbidden(_CLASSES % "update")
        name = request.match_info["class_name"]
        if len(name) > 255:
            raise bad_request(f"quota_class_name has {len(name)} characters, more than 255.")
        self.book.set_class(name, {k: int(v) for k, v in body["quota_class_set"].items()})
        limits = self.book.class_limits(name)
        return respond({"quota_class_set": {
            k: limits[k] for k in class_keys(context.version, shown=True)}})
