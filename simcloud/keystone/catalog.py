"""The service catalog: regions, services and endpoints (admin CRUD with the
API reference's filters), the catalog rendered into tokens, and
`register_endpoints` that `simcloud.world` (and the cascade, through the API)
uses to publish a service in a region.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from simcloud.keystone import views
from simcloud.keystone.common import as_bool, base_url, entity, filtered, no_content, self_url
from simcloud.keystone.errors import missing
from simcloud.keystone.policy import Policy
from simcloud.keystone.store import Endpoint, Region, Service, Store, new_id

INTERFACES = ("public", "internal", "admin")


def register_endpoints(store: Store, *, region_id: str, service_type: str, service_name: str,
                       url: str, interfaces: tuple[str, ...] = INTERFACES) -> list[Endpoint]:
    """Publish `url` for a service in a region (creating either when absent),
    once per interface."""
    if region_id not in store.regions:
        store.add_region(Region(id=region_id))
    service = store.service_by_type(service_type) or store.add_service(
        Service(id=new_id(), type=service_type, name=service_name))
    return [store.add_endpoint(Endpoint(id=new_id(), service_id=service.id, interface=interface,
                                        url=url, region_id=region_id))
            for interface in interfaces]


class CatalogRenderer:
    """The token catalog, rendered once per catalog change; endpoints whose
    URL holds ``$(project_id)s``/``$(tenant_id)s`` are filled in per token."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._version = -1
        self._cached: list[dict[str, Any]] = []
        self._templated = False

    def catalog(self, project_id: str | None) -> list[dict[str, Any]]:
        if self._version != self._store.catalog_version:
            self._cached = self._render()
            self._version = self._store.catalog_version
            self._templated = any("$(" in e["url"] for s in self._cached for e in s["endpoints"])
        if not self._templated:
            return self._cached
        return [{**service, "endpoints": [
            {**e, "url": _substitute(e["url"], project_id)} for e in service["endpoints"]
            if project_id is not None or "$(" not in e["url"]]} for service in self._cached]

    def _render(self) -> list[dict[str, Any]]:
        by_service: dict[str, list[dict[str, Any]]] = {}
        for e in self._store.endpoints.values():
            if e.enabled:
                by_service.setdefault(e.service_id, []).append(
                    {"id": e.id, "interface": e.interface, "region_id": e.region_id,
                     "region": e.region_id, "url": e.url})
        return [{"id": s.id, "type": s.type, "name": s.name, "endpoints": by_service[s.id]}
                for s in self._store.services.values() if s.enabled and s.id in by_service]


def _substitute(url: str, project_id: str | None) -> str:
    return url.replace("$(project_id)s", project_id or "").replace("$(tenant_id)s", project_id or "")


class CatalogApi:
    def __init__(self, store: Store, policy: Policy) -> None:
        self._store = store
        self._policy = policy

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v3/regions", self.list_regions),
            web.post("/v3/regions", self.create_region),
            web.get("/v3/regions/{id}", self.show_region),
            web.patch("/v3/regions/{id}", self.update_region),
            web.delete("/v3/regions/{id}", self.delete_region),
            web.get("/v3/services", self.list_services),
            web.post("/v3/services", self.create_service),
            web.get("/v3/services/{id}", self.show_service),
            web.patch("/v3/services/{id}", self.update_service),
            web.delete("/v3/services/{id}", self.delete_service),
            web.get("/v3/endpoints", self.list_endpoints),
            web.post("/v3/endpoints", self.create_endpoint),
            web.get("/v3/endpoints/{id}", self.show_endpoint),
            web.patch("/v3/endpoints/{id}", self.update_endpoint),
            web.delete("/v3/endpoints/{id}", self.delete_endpoint),
        ]

    # ---- regions --------------------------------------------------------
    async def list_regions(self, request: web.Request) -> web.Response:
        self._policy.caller(request)
        regions = filtered(self._store.regions.values(), request,
                           {"parent_region_id": lambda r: r.parent_region_id})
        base = base_url(request)
        return web.json_response(views.collection(
            "regions", (views.region(r, base) for r in regions), self_url(request)))

    async def create_region(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "create_region")
        ref = await entity(request, "region")
        known = ("id", "description", "parent_region_id")
        region = self._store.add_region(Region(
            id=ref.get("id") or new_id(), description=ref.get("description") or "",
            parent_region_id=ref.get("parent_region_id"),
            extra={k: v for k, v in ref.items() if k not in known}))
        return web.json_response({"region": views.region(region, base_url(request))}, status=201)

    async def show_region(self, request: web.Request) -> web.Response:
        self._policy.caller(request)
        region = self._store.region(request.match_info["id"])
        return web.json_response({"region": views.region(region, base_url(request))})

    async def update_region(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_region")
        region = self._store.region(request.match_info["id"])
        ref = await entity(request, "region")
        for key, value in ref.items():
            if key in ("description", "parent_region_id"):
                setattr(region, key, value)
            elif key != "id":
                region.extra[key] = value
        self._store.catalog_changed()
        return web.json_response({"region": views.region(region, base_url(request))})

    async def delete_region(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_region")
        self._store.delete_region(request.match_info["id"])
        return no_content()

    # ---- services -------------------------------------------------------
    async def list_services(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_services")
        services = filtered(self._store.services.values(), request,
                            {"type": lambda s: s.type, "name": lambda s: s.name})
        base = base_url(request)
        return web.json_response(views.collection(
            "services", (views.service(s, base) for s in services), self_url(request)))

    async def create_service(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "create_service")
        ref = await entity(request, "service")
        if not ref.get("type"):
            raise missing("type", "service")
        known = ("id", "type", "name", "description", "enabled")
        service = self._store.add_service(Service(
            id=new_id(), type=ref["type"], name=ref.get("name") or "",
            description=ref.get("description") or "",
            enabled=as_bool(ref.get("enabled", True), "enabled"),
            extra={k: v for k, v in ref.items() if k not in known}))
        return web.json_response({"service": views.service(service, base_url(request))}, status=201)

    async def show_service(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "get_service")
        service = self._store.service(request.match_info["id"])
        return web.json_response({"service": views.service(service, base_url(request))})

    async def update_service(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_service")
        service = self._store.service(request.match_info["id"])
        ref = await entity(request, "service")
        for key, value in ref.items():
            if key == "enabled":
                service.enabled = as_bool(value, "enabled")
            elif key in ("type", "name", "description"):
                setattr(service, key, value)
            elif key != "id":
                service.extra[key] = value
        self._store.catalog_changed()
        return web.json_response({"service": views.service(service, base_url(request))})

    async def delete_service(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_service")
        self._store.delete_service(request.match_info["id"])
        return no_content()

    # ---- endpoints ------------------------------------------------------
    async def list_endpoints(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "list_endpoints")
        endpoints = filtered(self._store.endpoints.values(), request, {
            "interface": lambda e: e.interface, "service_id": lambda e: e.service_id,
            "region_id": lambda e: e.region_id, "region": lambda e: e.region_id})
        base = base_url(request)
        return web.json_response(views.collection(
            "endpoints", (views.endpoint(e, base) for e in endpoints), self_url(request)))

    async def create_endpoint(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "create_endpoint")
        ref = await entity(request, "endpoint")
        for required in ("service_id", "interface", "url"):
            if not ref.get(required):
                raise missing(required, "endpoint")
        known = ("id", "service_id", "interface", "url", "region_id", "region", "enabled")
        endpoint = self._store.add_endpoint(Endpoint(
            id=new_id(), service_id=ref["service_id"], interface=ref["interface"], url=ref["url"],
            region_id=ref.get("region_id") or ref.get("region"),
            enabled=as_bool(ref.get("enabled", True), "enabled"),
            extra={k: v for k, v in ref.items() if k not in known}))
        return web.json_response({"endpoint": views.endpoint(endpoint, base_url(request))},
                                 status=201)

    async def show_endpoint(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "get_endpoint")
        endpoint = self._store.endpoint(request.match_info["id"])
        return web.json_response({"endpoint": views.endpoint(endpoint, base_url(request))})

    async def update_endpoint(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "update_endpoint")
        endpoint = self._store.endpoint(request.match_info["id"])
        ref = await entity(request, "endpoint")
        for key, value in ref.items():
            if key == "enabled":
                endpoint.enabled = as_bool(value, "enabled")
            elif key in ("region", "region_id"):
                endpoint.region_id = self._store.region(value).id if value else None
            elif key == "service_id":
                endpoint.service_id = self._store.service(value).id
            elif key in ("interface", "url"):
                setattr(endpoint, key, value)
            elif key != "id":
                endpoint.extra[key] = value
        self._store.catalog_changed()
        return web.json_response({"endpoint": views.endpoint(endpoint, base_url(request))})

    async def delete_endpoint(self, request: web.Request) -> web.Response:
        self._policy.admin(request, "delete_endpoint")
        self._store.delete_endpoint(request.match_info["id"])
        return no_content()
