"""Identity administration: domains, projects and users — the calls Tempest's
dynamic credentials and openstackclient make (create, list with filters,
show, update, delete, a user's projects)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from simcloud.keystone import views
from simcloud.keystone.auth import ValidToken
from simcloud.keystone.common import as_bool, base_url, entity, filtered, no_content, self_url
from simcloud.keystone.errors import BadRequest, Forbidden, duplicate, missing
from simcloud.keystone.policy import Policy
from simcloud.keystone.store import Domain, Project, Store, User, new_id
from simcloud.keystone.seed import DEFAULT_DOMAIN_ID

_DOMAIN_FIELDS = ("id", "name", "description", "enabled")
_PROJECT_FIELDS = ("id", "name", "domain_id", "description", "enabled", "parent_id", "tags",
                   "is_domain", "options")
_USER_FIELDS = ("id", "name", "domain_id", "password", "enabled", "default_project_id",
                "description", "options")


def _extra(ref: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in ref.items() if k not in known and k != "links"}


def _name(ref: dict[str, Any], target: str) -> str:
    name = ref.get("name")
    if not isinstance(name, str) or not name.strip():
        raise missing("name", target)
    return name


def _caller_domain(caller: ValidToken) -> str:
    if caller.domain is not None:
        return caller.domain.id
    if caller.project is not None:
        return caller.project.domain_id
    return DEFAULT_DOMAIN_ID


class IdentityAdminApi:
    def __init__(self, store: Store, policy: Policy) -> None:
        self._store = store
        self._policy = policy

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v3/domains", self.list_domains),
            web.post("/v3/domains", self.create_domain),
            web.get("/v3/domains/{id}", self.show_domain),
            web.patch("/v3/domains/{id}", self.update_domain),
            web.delete("/v3/domains/{id}", self.delete_domain),
            web.get("/v3/projects", self.list_projects),
            web.post("/v3/projects", self.create_project),
            web.get("/v3/projects/{id}", self.show_project),
            web.patch("/v3/projects/{id}", self.update_project),
            web.delete("/v3/projects/{id}", self.delete_project),
            web.get("/v3/users", self.list_users),
            web.post("/v3/users", self.create_user),
            web.get("/v3/users/{id}", self.show_user),
            web.patch("/v3/users/{id}", self.update_user),
            web.delete("/v3/users/{id}", self.delete_user),
            web.get("/v3/users/{id}/projects", self.list_user_projects),
        ]

    # ---- domains --------------------------------------------------------
    async def list_domains(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_domains")
        domains = filtered(self._store.domains.values(), request,
                           {"name": lambda d: d.name, "enabled": lambda d: d.enabled})
        base = base_url(request)
        return web.json_response(views.collection(
            "domains", (views.domain(d, base) for d in domains), self_url(request)))

    async def create_domain(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "create_domain")
        ref = await entity(request, "domain")
        domain = self._store.add_domain(Domain(
            id=new_id(), name=_name(ref, "domain"), description=ref.get("description") or "",
            enabled=as_bool(ref.get("enabled", True), "enabled"),
            extra=_extra(ref, _DOMAIN_FIELDS)))
        return web.json_response({"domain": views.domain(domain, base_url(request))}, status=201)

    async def show_domain(self, request: web.Request) -> web.Response:
        domain_id = request.match_info["id"]
        self._policy.admin_or_in_domain(request, "get_domain", domain_id)
        return web.json_response(
            {"domain": views.domain(self._store.domain(domain_id), base_url(request))})

    async def update_domain(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_domain")
        domain = self._store.domain(request.match_info["id"])
        ref = await entity(request, "domain")
        if "name" in ref and ref["name"] != domain.name:
            other = self._store.domain_by_name(_name(ref, "domain"))
            if other is not None:
                raise duplicate("domain", f"Duplicate entry found with name {ref['name']}")
        self._apply(domain, ref, ("name", "description"), _DOMAIN_FIELDS)
        return web.json_response({"domain": views.domain(domain, base_url(request))})

    async def delete_domain(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_domain")
        domain = self._store.domain(request.match_info["id"])
        if domain.enabled:
            raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
        self._store.delete_domain(domain.id)
        return no_content()

    # ---- projects -------------------------------------------------------
    async def list_projects(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_projects")
        projects = filtered(self._store.projects.values(), request, {
            "name": lambda p: p.name, "domain_id": lambda p: p.domain_id,
            "enabled": lambda p: p.enabled, "parent_id": lambda p: p.parent_id})
        base = base_url(request)
        return web.json_response(views.collection(
            "projects", (views.project(p, base) for p in projects), self_url(request)))

    async def create_project(self, request: web.Request) -> web.Response:
        caller = self._policy.admin(request, "create_project")
        ref = await entity(request, "project")
        if ref.get("is_domain"):
            raise BadRequest("simcloud's Keystone does not create projects acting as domains.")
        domain_id = ref.get("domain_id") or _caller_domain(caller)
        parent_id = ref.get("parent_id") or domain_id
        if parent_id != domain_id:
            self._store.project(parent_id)
        project = self._store.add_project(Project(
            id=new_id(), name=_name(ref, "project"), domain_id=domain_id, parent_id=parent_id,
            description=ref.get("description") or "",
            enabled=as_bool(ref.get("enabled", True), "enabled"),
            tags=list(ref.get("tags") or []), extra=_extra(ref, _PROJECT_FIELDS)))
        return web.json_response({"project": views.project(project, base_url(request))},
                                 status=201)

    async def show_project(self, request: web.Request) -> web.Response:
        project_id = request.match_info["id"]
        self._policy.admin_or_project_member(request, "get_project", project_id)
        return web.json_response(
            {"project": views.project(self._store.project(project_id), base_url(request))})

    async def update_project(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_project")
        project = self._store.project(request.match_info["id"])
        ref = await entity(request, "project")
        if "name" in ref and ref["name"] != project.name:
            if self._store.project_by_name(_name(ref, "project"), project.domain_id):
                raise duplicate("project", f"Duplicate entry found with name {ref['name']} "
                                           f"at domain ID {project.domain_id}")
        if "domain_id" in ref and ref["domain_id"] != project.domain_id:
            raise BadRequest("Update of `domain_id` is not allowed.")
        self._apply(project, ref, ("name", "description", "tags"), _PROJECT_FIELDS)
        return web.json_response({"project": views.project(project, base_url(request))})

    async def delete_project(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_project")
        self._store.delete_project(request.match_info["id"])
        return no_content()

    # ---- users ----------------------------------------------------------
    async def list_users(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_users")
        users = filtered(self._store.users.values(), request, {
            "name": lambda u: u.name, "domain_id": lambda u: u.domain_id,
            "enabled": lambda u: u.enabled})
        base = base_url(request)
        return web.json_response(views.collection(
            "users", (views.user(u, base) for u in users), self_url(request)))

    async def create_user(self, request: web.Request) -> web.Response:
        caller = self._policy.admin(request, "create_user")
        ref = await entity(request, "user")
        default_project_id = ref.get("default_project_id") or ref.get("project_id")
        if default_project_id:
            self._store.project(default_project_id)
        user = self._store.add_user(User(
            id=new_id(), name=_name(ref, "user"),
            domain_id=ref.get("domain_id") or _caller_domain(caller),
            password=ref.get("password"), enabled=as_bool(ref.get("enabled", True), "enabled"),
            default_project_id=default_project_id, description=ref.get("description"),
            extra=_extra(ref, _USER_FIELDS + ("project_id",))))
        return web.json_response({"user": views.user(user, base_url(request))}, status=201)

    async def show_user(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        self._policy.admin_or_self(request, "get_user", user_id)
        return web.json_response({"user": views.user(self._store.user(user_id), base_url(request))})

    async def update_user(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_user")
        user = self._store.user(request.match_info["id"])
        ref = await entity(request, "user")
        if "name" in ref and ref["name"] != user.name:
            if self._store.user_by_name(_name(ref, "user"), user.domain_id):
                raise duplicate("user", f"Duplicate entry found with name {ref['name']} "
                                        f"at domain ID {user.domain_id}")
        if ref.get("default_project_id"):
            self._store.project(ref["default_project_id"])
        self._apply(user, ref, ("name", "password", "default_project_id", "description"),
                    _USER_FIELDS)
        return web.json_response({"user": views.user(user, base_url(request))})

    async def delete_user(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_user")
        self._store.delete_user(request.match_info["id"])
        return no_content()

    async def list_user_projects(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        self._policy.admin_or_self(request, "list_user_projects", user_id)
        self._store.user(user_id)
        project_ids = dict.fromkeys(g.project_id for g in self._store.direct_grants(user_id=user_id)
                                    if g.project_id is not None)
        projects = filtered((self._store.projects[p] for p in project_ids), request, {
            "name": lambda p: p.name, "domain_id": lambda p: p.domain_id,
            "enabled": lambda p: p.enabled})
        base = base_url(request)
        return web.json_response(views.collection(
            "projects", (views.project(p, base) for p in projects), self_url(request)))

    @staticmethod
    def _apply(record: Any, ref: dict[str, Any], settable: tuple[str, ...],
               known: tuple[str, ...]) -> None:
        """PATCH semantics: set the given attributes, keep the others; keys
        Keystone does not model become extra attributes, as Keystone does."""
        for key, value in ref.items():
            if key == "enabled":
                record.enabled = as_bool(value, "enabled")
            elif key in settable:
                setattr(record, key, value)
            elif key not in known and key != "links":
                record.extra[key] = value
