"""`Keystone`: the simulated shared Keystone as one object — its state, its
aiohttp application (version documents plus the API modules' routes) and the
`validate` callable that `simcloud.world` hands to every simulated site.
"""
from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from simcloud.keystone import catalog as catalog_module
from simcloud.keystone.assignments import AssignmentsApi
from simcloud.keystone.auth import Clock, TokenService, utcnow
from simcloud.keystone.auth_api import AuthApi
from simcloud.keystone.catalog import CatalogApi, CatalogRenderer
from simcloud.keystone.errors import Handler, error_middleware
from simcloud.keystone.identity_admin import IdentityAdminApi
from simcloud.keystone.policy import Policy
from simcloud.keystone.seed import seed
from simcloud.keystone.store import Endpoint, Store
from simcloud.tokens import TokenInfo

API_VERSION = "v3.14"
_UPDATED = "2020-04-07T00:00:00Z"
_MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def version_document(origin: str) -> dict[str, Any]:
    return {"id": API_VERSION, "status": "stable", "updated": _UPDATED,
            "links": [{"rel": "self", "href": f"{origin}/v3/"}], "media-types": _MEDIA_TYPES}


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["x-openstack-request-id"] = f"req-{uuid.uuid4()}"
    response.headers["Vary"] = "X-Auth-Token"
    return response


class Keystone:
    """The shared Keystone of a simcloud world (seeded as `seed` describes)."""

    def __init__(self, *, token_ttl: float = 3600.0, clock: Clock = utcnow) -> None:
        self.store = Store()
        seed(self.store)
        self.tokens = TokenService(self.store, ttl_seconds=token_ttl, clock=clock)
        self._policy = Policy(self.tokens)
        self._catalog = CatalogRenderer(self.store)
        self._auth_api = AuthApi(self.store, self.tokens, self._policy, self._catalog)

    @property
    def policy(self) -> Policy:
        return self._policy

    def validate(self, token: str) -> TokenInfo | None:
        """What a site learns from a token: None when it is unknown, revoked,
        expired, or its user, project or roles are gone. `domain_id` is the
        domain of the scope: the project's domain, or the scoped domain."""
        valid = self.tokens.validate(token)
        if valid is None:
            return None
        domain_id = (valid.project.domain_id if valid.project
                     else valid.domain.id if valid.domain else None)
        return TokenInfo(
            user_id=valid.user.id, user_name=valid.user.name,
            project_id=valid.project.id if valid.project else None,
            project_name=valid.project.name if valid.project else None,
            domain_id=domain_id, roles=valid.role_names, expires_at=valid.token.expires_at)

    def project_exists(self, project_id: str) -> bool:
        """What a service learns asking Keystone about a project it was given."""
        return project_id in self.store.projects

    def register_endpoints(self, *, region_id: str, service_type: str, service_name: str,
                           url: str) -> list[Endpoint]:
        """Publish `url` for a service in a region, on every interface."""
        return catalog_module.register_endpoints(
            self.store, region_id=region_id, service_type=service_type,
            service_name=service_name, url=url)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[request_id_middleware, error_middleware])
        app.router.add_get("/", self._versions)
        app.router.add_get("/v3", self._version)
        app.router.add_get("/v3/", self._version)
        app.router.add_routes(self._auth_api.routes())
        app.router.add_routes(IdentityAdminApi(self.store, self._policy).routes())
        app.router.add_routes(AssignmentsApi(self.store, self._policy).routes())
        app.router.add_routes(CatalogApi(self.store, self._policy).routes())
        return app

    async def _versions(self, request: web.Request) -> web.Response:
        origin = str(request.url.origin())
        return web.json_response({"versions": {"values": [version_document(origin)]}},
                                 status=300)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": version_document(str(request.url.origin()))})
