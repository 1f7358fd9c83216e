"""The control API: look at a world's sites and switch their faults at run
time. Served on the Keystone port under ``/simcloud/v1``:

- ``GET /simcloud/v1/sites`` -> ``{"sites": [site, ...]}``
- ``GET /simcloud/v1/sites/{name}`` -> ``{"site": site}``
- ``PUT /simcloud/v1/sites/{name}/faults`` with any of
  ``{"down": bool, "hang": bool, "latency": float, "error_rate": float}``:
  a partial update (``{}`` changes nothing) -> ``{"site": site}``
- ``DELETE /simcloud/v1/sites/{name}/faults``: clear every fault -> ``{"site": site}``

where a site is ``{"name", "url", "region", "config": {...}, "faults": {...},
"counts": {...}}`` (``config``: the site's scalar settings, such as
``max_microversion`` and ``vcpus``).

Access: a request that carries ``X-Auth-Token`` must carry a valid token with
the ``admin`` role; a request without a token is accepted only from a
loopback address (127.0.0.0/8, ::1).
"""
from __future__ import annotations

import ipaddress
import json
from typing import Any, Iterable, Mapping, Protocol

from aiohttp import web

from simcloud.faults import parse_changes
from simcloud.keystone.errors import (
    BadRequest, Forbidden, Handler, KeystoneError, NotFound, Unauthorized, error_response)
from simcloud.tokens import Validator


class ControlledSite(Protocol):
    name: str

    def describe(self) -> dict[str, Any]: ...

    async def set_faults(self, changes: Mapping[str, Any]) -> Any: ...

    async def clear_faults(self) -> Any: ...


class Controlled(Protocol):
    """What the control API needs of a world."""

    @property
    def sites(self) -> Iterable[ControlledSite]: ...


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class ControlApi:
    def __init__(self, world: Controlled, validate: Validator) -> None:
        self._world = world
        self._validate = validate

    def app(self) -> web.Application:
        """The sub-application to mount at ``/simcloud/``."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v1/sites", self.list_sites)
        app.router.add_get("/v1/sites/{name}", self.show_site)
        app.router.add_put("/v1/sites/{name}/faults", self.set_faults)
        app.router.add_delete("/v1/sites/{name}/faults", self.clear_faults)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            token = request.headers.get("X-Auth-Token")
            if token:
                info = self._validate(token)
                if info is None:
                    raise Unauthorized()
                if "admin" not in info.roles:
                    raise Forbidden("The simcloud control API needs the admin role.")
            elif not _is_loopback(request.remote):
                raise Unauthorized("A token with the admin role is needed from a remote address.")
            return await handler(request)
        except KeystoneError as error:
            return error_response(error)

    def _site(self, request: web.Request) -> ControlledSite:
        name = request.match_info["name"]
        for site in self._world.sites:
            if site.name == name:
                return site
        raise NotFound(f"Could not find site: {name}.")

    async def list_sites(self, request: web.Request) -> web.Response:
        return web.json_response({"sites": [s.describe() for s in self._world.sites]})

    async def show_site(self, request: web.Request) -> web.Response:
        return web.json_response({"site": self._site(request).describe()})

    async def set_faults(self, request: web.Request) -> web.Response:
        site = self._site(request)
        try:
            body = await request.json()
            changes = parse_changes(body)
        except json.JSONDecodeError:
            raise BadRequest("The request body is not valid JSON.") from None
        except ValueError as error:
            raise BadRequest(str(error)) from None
        await site.set_faults(changes)
        return web.json_response({"site": site.describe()})

    async def clear_faults(self, request: web.Request) -> web.Response:
        site = self._site(request)
        await site.clear_faults()
        return web.json_response({"site": site.describe()})
