"""Roles and who holds them: role CRUD, user grants on projects and domains
(``PUT/HEAD/GET/DELETE .../users/{u}/roles[/{r}]``) and
``GET /v3/role_assignments`` with its ``user.id``, ``scope.*.id``,
``role.id``, ``effective`` and ``include_names`` filters. With ``effective``
the implied roles are listed too, each linked to its prior role, as Keystone
does."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from simcloud.keystone import views
from simcloud.keystone.common import base_url, entity, filtered, flag, no_content, self_url
from simcloud.keystone.errors import missing, not_found
from simcloud.keystone.policy import Policy
from simcloud.keystone.store import Grant, Role, Store, new_id

_ROLE_FIELDS = ("id", "name", "domain_id", "description", "options")


class AssignmentsApi:
    def __init__(self, store: Store, policy: Policy) -> None:
        self._store = store
        self._policy = policy

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/v3/roles", self.list_roles),
            web.post("/v3/roles", self.create_role),
            web.get("/v3/roles/{id}", self.show_role),
            web.patch("/v3/roles/{id}", self.update_role),
            web.delete("/v3/roles/{id}", self.delete_role),
            web.get("/v3/role_assignments", self.list_assignments),
        ]
        for target in ("projects", "domains"):
            one = f"/v3/{target}/{{target}}/users/{{user}}/roles/{{role}}"
            routes += [
                web.get(f"/v3/{target}/{{target}}/users/{{user}}/roles", self.list_grants),
                web.put(one, self.grant),
                web.head(one, self.check_grant),
                web.delete(one, self.revoke_grant),
            ]
        return routes

    # ---- roles ----------------------------------------------------------
    async def list_roles(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_roles")
        roles = filtered(self._store.roles.values(), request,
                         {"name": lambda r: r.name, "domain_id": lambda r: r.domain_id})
        base = base_url(request)
        return web.json_response(views.collection(
            "roles", (views.role(r, base) for r in roles), self_url(request)))

    async def create_role(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "create_role")
        ref = await entity(request, "role")
        if not ref.get("name"):
            raise missing("name", "role")
        role = self._store.add_role(Role(
            id=new_id(), name=ref["name"], domain_id=ref.get("domain_id"),
            description=ref.get("description"),
            extra={k: v for k, v in ref.items() if k not in _ROLE_FIELDS}))
        return web.json_response({"role": views.role(role, base_url(request))}, status=201)

    async def show_role(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "get_role")
        role = self._store.role(request.match_info["id"])
        return web.json_response({"role": views.role(role, base_url(request))})

    async def update_role(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_role")
        role = self._store.role(request.match_info["id"])
        ref = await entity(request, "role")
        for key, value in ref.items():
            if key in ("name", "description"):
                setattr(role, key, value)
            elif key not in _ROLE_FIELDS and key != "links":
                role.extra[key] = value
        return web.json_response({"role": views.role(role, base_url(request))})

    async def delete_role(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_role")
        self._store.delete_role(request.match_info["id"])
        return no_content()

    # ---- grants ---------------------------------------------------------
    def _grant_of(self, request: web.Request) -> Grant:
        info = request.match_info
        user = self._store.user(info["user"])
        role = self._store.role(info["role"])
        if request.path.startswith("/v3/projects/"):
            return Grant(user_id=user.id, role_id=role.id,
                         project_id=self._store.project(info["target"]).id)
        return Grant(user_id=user.id, role_id=role.id,
                     domain_id=self._store.domain(info["target"]).id)

    async def grant(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "create_grant")
        self._store.grant(self._grant_of(request))
        return no_content()

    async def check_grant(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "check_grant")
        grant = self._grant_of(request)
        if grant not in self._store.grants:
            raise not_found("role assignment", f"{grant.role_id} for user {grant.user_id}")
        return no_content()

    async def revoke_grant(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "revoke_grant")
        self._store.revoke(self._grant_of(request))
        return no_content()

    async def list_grants(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_grants")
        info = request.match_info
        user_id = self._store.user(info["user"]).id
        if request.path.startswith("/v3/projects/"):
            grants = self._store.direct_grants(
                user_id=user_id, project_id=self._store.project(info["target"]).id)
        else:
            grants = [g for g in self._store.direct_grants(
                user_id=user_id, domain_id=self._store.domain(info["target"]).id)
                if g.project_id is None]
        base = base_url(request)
        return web.json_response(views.collection(
            "roles", (views.role(self._store.roles[g.role_id], base) for g in grants),
            self_url(request)))

    # ---- role assignments -----------------------------------------------
    async def list_assignments(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_role_assignments")
        query = request.query
        if "group.id" in query:
            grants: list[Grant] = []            # simcloud's Keystone has no groups
        else:
            grants = self._store.direct_grants(
                user_id=query.get("user.id"), project_id=query.get("scope.project.id"),
                domain_id=query.get("scope.domain.id"))
            if "scope.project.id" in query:
                grants = [g for g in grants if g.project_id is not None]
            if "scope.domain.id" in query:
                grants = [g for g in grants if g.project_id is None]
        rows = [(g, None) for g in grants]
        if flag(request, "effective"):
            rows = self._expand_implied(grants)
        if "role.id" in query:
            rows = [(g, prior) for g, prior in rows if g.role_id == query["role.id"]]
        names = flag(request, "include_names")
        base = base_url(request)
        return web.json_response(views.collection(
            "role_assignments", (self._assignment(g, prior, base, names) for g, prior in rows),
            self_url(request)))

    def _expand_implied(self, grants: list[Grant]) -> list[tuple[Grant, str | None]]:
        rows: dict[Grant, str | None] = {}
        for grant in grants:
            rows.setdefault(grant, None)
            for implied_id in self._store.with_implied([grant.role_id])[1:]:
                implied = Grant(user_id=grant.user_id, role_id=implied_id,
                                project_id=grant.project_id, domain_id=grant.domain_id)
                rows.setdefault(implied, grant.role_id)
        return list(rows.items())

    def _assignment(self, grant: Grant, prior_role_id: str | None, base: str,
                    names: bool) -> dict[str, Any]:
        store = self._store
        target = (f"projects/{grant.project_id}" if grant.project_id
                  else f"domains/{grant.domain_id}")
        links = {"assignment": f"{base}/{target}/users/{grant.user_id}/roles/"
                               f"{prior_role_id or grant.role_id}"}
        if prior_role_id:
            links["prior_role"] = f"{base}/roles/{prior_role_id}"
        role: dict[str, Any] = {"id": grant.role_id}
        user: dict[str, Any] = {"id": grant.user_id}
        scope_ref: dict[str, Any] = {"id": grant.project_id or grant.domain_id}
        if names:
            role_rec = store.roles[grant.role_id]
            role["name"] = role_rec.name
            if role_rec.domain_id:
                role["domain"] = views.domain_ref(store, role_rec.domain_id)
            user_rec = store.users[grant.user_id]
            user.update(name=user_rec.name, domain=views.domain_ref(store, user_rec.domain_id))
            if grant.project_id:
                project = store.projects[grant.project_id]
                scope_ref.update(name=project.name,
                                 domain=views.domain_ref(store, project.domain_id))
            else:
                scope_ref["name"] = store.domains[grant.domain_id or ""].name
        scope = {"project": scope_ref} if grant.project_id else {"domain": scope_ref}
        return {"role": role, "user": user, "scope": scope, "links": links}
