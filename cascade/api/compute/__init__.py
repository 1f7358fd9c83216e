"""The Compute front: Nova's v2.1 API at `/compute`, served over every site.

This module only mounts the handlers and negotiates the microversion; each
resource's logic lives in its own module."""
from __future__ import annotations

from aiohttp import web

from cascade.api import faults, versions
from cascade.api.compute import (availability_zones, extensions, flavors, instance_actions, keypairs, limits,
                                 quota_checks, quotas, server_actions, server_addresses, server_extras,
                                 server_groups, servers, servers_list)
from cascade.api.compute.common import context, reply, runtime_of


def front_base(request: web.Request) -> str:
    """The compute front's public root (no version): links are built from it."""
    rt = runtime_of(request)
    root = rt.settings.DEFAULT.public_url.rstrip("/") or f"{request.scheme}://{request.host}"
    return f"{root}/compute"


def version_range(request: web.Request):
    rt = runtime_of(request)
    configured = rt.settings.compute.max_microversion
    return rt.registry.derived(("compute_range", configured),
                               lambda sites: versions.compute_range(configured, sites))


@web.middleware
async def microversion_middleware(request: web.Request, handler):
    """Negotiates the microversion of every /compute/v2.1 call and stamps the
    answer (errors included) with Nova's version headers."""
    if not request.path.startswith("/compute/v2.1/"):
        return await handler(request)
    low, high = version_range(request)
    try:
        version = versions.negotiate(request, low, high)
    except Exception as exc:  # the 406/400 of negotiation, in Nova's body
        return faults.render(request, exc)
    ctx = request.get("context")
    if ctx is not None:
        ctx.microversion = str(version)
        ctx.base_url = f"{front_base(request)}/v2.1"
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = faults.RENDERERS["compute"](exc.status, exc.reason)
    except Exception as exc:  # noqa: BLE001 - rendered here so the version headers are on errors too
        response = faults.render(request, exc)
    response.headers.update(versions.version_headers(version))
    return response


# what Nova reads a body as; text/plain (some servers' default) counts as none
BODY_TYPES = {"", "text/plain", "application/json", "application/vnd.openstack.compute+json"}


@web.middleware
async def content_type_middleware(request: web.Request, handler):
    """Nova's 415 for a request (of any method) naming a body type it does
    not read, before anything else is done with it."""
    if "Content-Type" in request.headers and request.content_type not in BODY_TYPES:
        return faults.RENDERERS["compute"](415, "Unsupported Content-Type")
    return await handler(request)


async def list_versions(request: web.Request) -> web.Response:
    low, high = version_range(request)
    base = front_base(request)
    return reply({"versions": [versions.compute_version_doc(base, "v2.0", low, high),
                               versions.compute_version_doc(base, "v2.1", low, high)]})


async def show_version(request: web.Request) -> web.Response:
    """The document of v2.1 or, at `/v2`, of the legacy v2.0 API the
    versions list names (only its document is served, as at a site)."""
    low, high = version_range(request)
    legacy = request.path.rstrip("/").endswith("/v2")
    doc = versions.compute_version_doc(front_base(request), "v2.0" if legacy else "v2.1", low, high)
    doc["links"].append({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"})
    doc["media-types"] = versions.media_types("2" if legacy else "2.1")
    return reply({"version": doc})


def build_app() -> web.Application:
    app = web.Application(middlewares=[microversion_middleware, content_type_middleware,
                                       quota_checks.release_middleware])
    r = app.router
    r.add_get("", list_versions)
    r.add_get("/", list_versions)
    r.add_get("/v2.1", show_version)
    r.add_get("/v2.1/", show_version)
    r.add_get("/v2", show_version)
    r.add_get("/v2/", show_version)
    servers_list.add_routes(r, "/v2.1")  # before servers: /servers/detail is not a server id
    servers.add_routes(r, "/v2.1")
    server_actions.add_routes(r, "/v2.1")
    server_extras.add_routes(r, "/v2.1")
    server_addresses.add_routes(r, "/v2.1")
    instance_actions.add_routes(r, "/v2.1")
    extensions.add_routes(r, "/v2.1")
    flavors.add_routes(r, "/v2.1")
    keypairs.add_routes(r, "/v2.1")
    server_groups.add_routes(r, "/v2.1")
    availability_zones.add_routes(r, "/v2.1")
    limits.add_routes(r, "/v2.1")
    quotas.add_routes(r, "/v2.1")
    return app
