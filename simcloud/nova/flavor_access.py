"""Private flavors and who may use them: `GET /flavors/{id}/os-flavor-access`
and the flavor actions `addTenantAccess` / `removeTenantAccess` (admin only),
with Nova's checks in Nova's order (body, policy, the project asked of
Keystone, the flavor, then the access list), and `usable_flavor`, the one
rule every flavor lookup follows: admins see every flavor, others the public
ones and the private ones granted to their project."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import (bad_request, conflict, flavor_not_found, not_found,
                                  policy_forbidden)
from simcloud.nova.identity import ProjectCheck, verify_project
from simcloud.nova.model import Flavor
from simcloud.nova.store import ComputeStore

_TENANT = {"type": "object", "properties": {
    "tenant": {"type": "string", "minLength": 1, "maxLength": 255}},
    "required": ["tenant"], "additionalProperties": False}
_BODIES = {name: V.BodySchema({"type": "object", "properties": {name: _TENANT},
                               "required": [name], "additionalProperties": False})
           for name in ("addTenantAccess", "removeTenantAccess")}
_POLICY = "os_compute_api:os-flavor-access"


def may_use(context: ComputeContext, flavor: Flavor) -> bool:
    return (context.is_admin or flavor.is_public
            or context.project_id in (flavor.projects or ()))


def usable_flavor(store: ComputeStore, context: ComputeContext, flavor_id: str) -> Flavor | None:
    flavor = store.flavors.get(flavor_id)
    return flavor if flavor is not None and may_use(context, flavor) else None


def access_list(flavor: Flavor) -> dict:
    return {"flavor_access": [{"flavor_id": flavor.id, "tenant_id": project}
                              for project in flavor.projects or ()]}


class FlavorAccessResource:
    def __init__(self, store: ComputeStore, project_exists: ProjectCheck | None) -> None:
        self.store = store
        self.project_exists = project_exists

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/flavors/{flavor_id}/os-flavor-access", self.index),
                web.post("/v2.1/flavors/{flavor_id}/action", self.action)]

    def _flavor(self, flavor_id: str) -> Flavor:
        flavor = self.store.flavors.get(flavor_id)
        if flavor is None:
            raise flavor_not_found(flavor_id)
        return flavor

    async def index(self, request: web.Request) -> web.Response:
        context = ctx(request)
        V.no_query(context.version, request.query)
        if not context.is_admin:
            raise policy_forbidden(_POLICY)
        flavor = self._flavor(request.match_info["flavor_id"])
        if flavor.is_public:
            raise not_found("Access list not available for public flavors.")
        return respond(access_list(flavor))

    async def action(self, request: web.Request) -> web.Response:
        context = ctx(request)
        body = V.parse_json(await request.read())
        if not isinstance(body, dict) or len(body) != 1:
            raise bad_request("Malformed request body")
        (name, _), = body.items()
        if name not in _BODIES:
            raise bad_request(f"There is no such action: {name}")
        _BODIES[name].validate(body)
        rule = "add_tenant_access" if name == "addTenantAccess" else "remove_tenant_access"
        if not context.is_admin:
            raise policy_forbidden(f"{_POLICY}:{rule}")
        project = body[name]["tenant"]
        flavor_id = request.match_info["flavor_id"]
        if name == "addTenantAccess":
            verify_project(self.project_exists, context, project)
            flavor = self._flavor(flavor_id)
            if context.version >= (2, 7) and flavor.is_public:
                raise conflict("Can not add access to a public flavor.")
            if project in (flavor.projects or ()):
                raise conflict(f"Flavor access already exists for flavor {flavor.internal_id} "
                               f"and project {project} combination.")
            flavor.projects = [*(flavor.projects or ()), project]
        else:   # a project Keystone does not know may still be removed
            flavor = self._flavor(flavor_id)
            if project not in (flavor.projects or ()):
                raise not_found(f"Flavor access not found for {flavor.internal_id} / "
                                f"{project} combination.")
            flavor.projects = [p for p in flavor.projects or () if p != project] or None
        return respond(access_list(flavor))
