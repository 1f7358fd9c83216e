"""The simulated Keystone's state: identity (domains, projects, users, roles,
grants, implied roles), the catalog (regions, services, endpoints) and tokens,
held in memory.

Plain records and the queries the API modules share; nothing here knows HTTP.
Uniqueness rules (one name per domain, one grant per actor/target/role) are
enforced here so every front door gets them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, Iterable

from simcloud.keystone.errors import BadRequest, NotFound, duplicate, not_found


def new_id() -> str:
    return uuid.uuid4().hex


@dataclasses.dataclass
class Domain:
    id: str
    name: str
    description: str = ""
    enabled: bool = True
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Project:
    id: str
    name: str
    domain_id: str
    description: str = ""
    enabled: bool = True
    parent_id: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class User:
    id: str
    name: str
    domain_id: str
    password: str | None = None
    enabled: bool = True
    default_project_id: str | None = None
    description: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)   # email and any other attribute


@dataclasses.dataclass
class Role:
    id: str
    name: str
    domain_id: str | None = None
    description: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Grant:
    """A role given to a user on exactly one target: a project or a domain."""

    user_id: str
    role_id: str
    project_id: str | None = None
    domain_id: str | None = None


@dataclasses.dataclass
class Region:
    id: str
    description: str = ""
    parent_region_id: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Service:
    id: str
    type: str
    name: str = ""
    description: str = ""
    enabled: bool = True
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Endpoint:
    id: str
    service_id: str
    interface: str
    url: str
    region_id: str | None = None
    enabled: bool = True
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Token:
    """An issued token. Roles are not frozen into it: like Fernet tokens they
    are recomputed at every validation, so a revoked grant takes effect."""

    id: str
    user_id: str
    methods: tuple[str, ...]
    project_id: str | None
    domain_id: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_ids: tuple[str, ...]


class Store:
    """Everything Keystone knows, keyed by id (dicts keep insertion order, so
    lists come back in creation order)."""

    def __init__(self) -> None:
        self.domains: dict[str, Domain] = {}
        self.projects: dict[str, Project] = {}
        self.users: dict[str, User] = {}
        self.roles: dict[str, Role] = {}
        self.grants: dict[Grant, None] = {}          # an ordered set
        self.implied: dict[str, list[str]] = {}      # prior role id -> implied role ids
        self.regions: dict[str, Region] = {}
        self.services: dict[str, Service] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.tokens: dict[str, Token] = {}
        self.catalog_version = 0                     # bumped on every catalog change

    # ---- lookups -------------------------------------------------------
    def domain(self, domain_id: str) -> Domain:
        try:
            return self.domains[domain_id]
        except KeyError:
            raise not_found("domain", domain_id) from None

    def project(self, project_id: str) -> Project:
        try:
            return self.projects[project_id]
        except KeyError:
            raise not_found("project", project_id) from None

    def user(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise not_found("user", user_id) from None

    def role(self, role_id: str) -> Role:
        try:
            return self.roles[role_id]
        except KeyError:
            raise not_found("role", role_id) from None

    def region(self, region_id: str) -> Region:
        try:
            return self.regions[region_id]
        except KeyError:
            raise not_found("region", region_id) from None

    def service(self, service_id: str) -> Service:
        try:
            return self.services[service_id]
        except KeyError:
            raise not_found("service", service_id) from None

    def endpoint(self, endpoint_id: str) -> Endpoint:
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise not_found("endpoint", endpoint_id) from None

    def domain_by_name(self, name: str) -> Domain | None:
        return next((d for d in self.domains.values() if d.name == name), None)

    def project_by_name(self, name: str, domain_id: str) -> Project | None:
        return next((p for p in self.projects.values()
                     if p.name == name and p.domain_id == domain_id), None)

    def user_by_name(self, name: str, domain_id: str) -> User | None:
        return next((u for u in self.users.values()
                     if u.name == name and u.domain_id == domain_id), None)

    def role_by_name(self, name: str) -> Role | None:
        return next((r for r in self.roles.values() if r.name == name and r.domain_id is None), None)

    def service_by_type(self, service_type: str) -> Service | None:
        return next((s for s in self.services.values() if s.type == service_type), None)

    # ---- identity writes -----------------------------------------------
    def add_domain(self, domain: Domain) -> Domain:
        if self.domain_by_name(domain.name) is not None:
            raise duplicate("domain", f"Duplicate entry found with name {domain.name}")
        self.domains[domain.id] = domain
        return domain

    def add_project(self, project: Project) -> Project:
        self.domain(project.domain_id)
        if self.project_by_name(project.name, project.domain_id) is not None:
            raise duplicate("project", f"Duplicate entry found with name {project.name} "
                                       f"at domain ID {project.domain_id}")
        self.projects[project.id] = project
        return project

    def add_user(self, user: User) -> User:
        self.domain(user.domain_id)
        if self.user_by_name(user.name, user.domain_id) is not None:
            raise duplicate("user", f"Duplicate entry found with name {user.name} "
                                    f"at domain ID {user.domain_id}")
        self.users[user.id] = user
        return user

    def add_role(self, role: Role) -> Role:
        if any(r.name == role.name and r.domain_id == role.domain_id for r in self.roles.values()):
            raise duplicate("role", f"Duplicate entry found with name {role.name}")
        self.roles[role.id] = role
        return role

    def imply(self, prior_id: str, implied_id: str) -> None:
        self.implied.setdefault(prior_id, [])
        if implied_id not in self.implied[prior_id]:
            self.implied[prior_id].append(implied_id)

    def grant(self, grant: Grant) -> None:
        self.grants[grant] = None

    def revoke(self, grant: Grant) -> None:
        if grant not in self.grants:
            target = grant.project_id or grant.domain_id
            raise NotFound(f"Could not find role assignment with role: {grant.role_id}, user or "
                           f"group: {grant.user_id}, project, domain, or system: {target}.")
        del self.grants[grant]

    def delete_domain(self, domain_id: str) -> None:
        self.domain(domain_id)
        for project in [p for p in self.projects.values() if p.domain_id == domain_id]:
            self.delete_project(project.id)
        for user in [u for u in self.users.values() if u.domain_id == domain_id]:
            self.delete_user(user.id)
        self._drop_grants(lambda g: g.domain_id == domain_id)
        del self.domains[domain_id]

    def delete_project(self, project_id: str) -> None:
        self.project(project_id)
        self._drop_grants(lambda g: g.project_id == project_id)
        del self.projects[project_id]

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        self._drop_grants(lambda g: g.user_id == user_id)
        del self.users[user_id]

    def delete_role(self, role_id: str) -> None:
        self.role(role_id)
        self._drop_grants(lambda g: g.role_id == role_id)
        self.implied.pop(role_id, None)
        for implied in self.implied.values():
            if role_id in implied:
                implied.remove(role_id)
        del self.roles[role_id]

    def _drop_grants(self, doomed: Any) -> None:
        for grant in [g for g in self.grants if doomed(g)]:
            del self.grants[grant]

    # ---- assignment queries --------------------------------------------
    def direct_grants(self, *, user_id: str | None = None, project_id: str | None = None,
                      domain_id: str | None = None, role_id: str | None = None) -> list[Grant]:
        return [g for g in self.grants
                if (user_id is None or g.user_id == user_id)
                and (project_id is None or g.project_id == project_id)
                and (domain_id is None or g.domain_id == domain_id)
                and (role_id is None or g.role_id == role_id)]

    def with_implied(self, role_ids: Iterable[str]) -> list[str]:
        """The given roles followed by every role they imply, each once."""
        result: list[str] = []
        pending = list(role_ids)
        while pending:
            role_id = pending.pop(0)
            if role_id in result or role_id not in self.roles:
                continue
            result.append(role_id)
            pending.extend(self.implied.get(role_id, []))
        return result

    def effective_roles(self, user_id: str, *, project_id: str | None = None,
                        domain_id: str | None = None) -> list[Role]:
        direct = [g.role_id for g in self.direct_grants(
            user_id=user_id, project_id=project_id, domain_id=domain_id)
            if (project_id is not None) == (g.project_id is not None)]
        return [self.roles[r] for r in self.with_implied(direct)]

    # ---- catalog writes ------------------------------------------------
    def add_region(self, region: Region) -> Region:
        if region.id in self.regions:
            raise duplicate("region", f"Duplicate ID, {region.id}")
        if region.parent_region_id is not None and region.parent_region_id not in self.regions:
            raise BadRequest(f"The parent region {region.parent_region_id} does not exist.")
        self.regions[region.id] = region
        self.catalog_version += 1
        return region

    def add_service(self, service: Service) -> Service:
        self.services[service.id] = service
        self.catalog_version += 1
        return service

    def add_endpoint(self, endpoint: Endpoint) -> Endpoint:
        if endpoint.service_id not in self.services:
            raise BadRequest(f"Invalid service_id {endpoint.service_id}: no such service.")
        if endpoint.region_id is not None and endpoint.region_id not in self.regions:
            raise BadRequest(f"Invalid region_id {endpoint.region_id}: no such region.")
        if endpoint.interface not in ("public", "internal", "admin"):
            raise BadRequest(f"Invalid input for field 'interface': {endpoint.interface!r} is "
                             "not one of public, internal, admin.")
        self.endpoints[endpoint.id] = endpoint
        self.catalog_version += 1
        return endpoint

    def delete_region(self, region_id: str) -> None:
        self.region(region_id)
        if any(e.region_id == region_id for e in self.endpoints.values()):
            raise duplicate("region", f"region {region_id} still has endpoints")
        del self.regions[region_id]
        self.catalog_version += 1

    def delete_service(self, service_id: str) -> None:
        self.service(service_id)
        for endpoint in [e for e in self.endpoints.values() if e.service_id == service_id]:
            del self.endpoints[endpoint.id]
        del self.services[service_id]
        self.catalog_version += 1

    def delete_endpoint(self, endpoint_id: str) -> None:
        self.endpoint(endpoint_id)
        del self.endpoints[endpoint_id]
        self.catalog_version += 1

    def catalog_changed(self) -> None:
        self.catalog_version += 1

