"""JSON renderings of Keystone's records, in the shapes of the Identity v3 API
reference (every entity carries ``links.self``; collections carry
``links`` with ``self``, ``previous`` and ``next``).

`base` is always the ``/v3`` URL the caller used.
"""
from __future__ import annotations

from typing import Any, Iterable

from simcloud.keystone.store import Domain, Endpoint, Project, Region, Role, Service, Store, User


def collection(key: str, items: Iterable[dict[str, Any]], self_url: str) -> dict[str, Any]:
    return {key: list(items), "links": {"self": self_url, "previous": None, "next": None}}


def domain(d: Domain, base: str) -> dict[str, Any]:
    return {**d.extra, "id": d.id, "name": d.name, "description": d.description,
            "enabled": d.enabled, "tags": [], "options": {},
            "links": {"self": f"{base}/domains/{d.id}"}}


def project(p: Project, base: str) -> dict[str, Any]:
    return {**p.extra, "id": p.id, "name": p.name, "domain_id": p.domain_id,
            "description": p.description, "enabled": p.enabled, "is_domain": False,
            "parent_id": p.parent_id, "tags": list(p.tags), "options": {},
            "links": {"self": f"{base}/projects/{p.id}"}}


def user(u: User, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {**u.extra, "id": u.id, "name": u.name, "domain_id": u.domain_id,
                            "enabled": u.enabled, "password_expires_at": None, "options": {},
                            "links": {"self": f"{base}/users/{u.id}"}}
    if u.default_project_id is not None:
        body["default_project_id"] = u.default_project_id
    if u.description is not None:
        body["description"] = u.description
    return body


def role(r: Role, base: str) -> dict[str, Any]:
    return {**r.extra, "id": r.id, "name": r.name, "domain_id": r.domain_id,
            "description": r.description, "options": {},
            "links": {"self": f"{base}/roles/{r.id}"}}


def region(r: Region, base: str) -> dict[str, Any]:
    return {**r.extra, "id": r.id, "description": r.description,
            "parent_region_id": r.parent_region_id,
            "links": {"self": f"{base}/regions/{r.id}"}}


def service(s: Service, base: str) -> dict[str, Any]:
    return {**s.extra, "id": s.id, "type": s.type, "name": s.name,
            "description": s.description, "enabled": s.enabled,
            "links": {"self": f"{base}/services/{s.id}"}}


def endpoint(e: Endpoint, base: str) -> dict[str, Any]:
    return {**e.extra, "id": e.id, "service_id": e.service_id, "interface": e.interface,
            "url": e.url, "region_id": e.region_id, "region": e.region_id,
            "enabled": e.enabled, "links": {"self": f"{base}/endpoints/{e.id}"}}


def domain_ref(store: Store, domain_id: str) -> dict[str, Any]:
    """The short ``{"id", "name"}`` form nested in tokens and assignments."""
    d = store.domains.get(domain_id)
    return {"id": domain_id, "name": d.name if d else None}
