"""One simulated OpenStack site: a Nova (compute v2.1) and a read-only Glance
(image v2) sharing the site's state, served by one aiohttp application:
`/compute/...` and `/image/...` on whatever host and port it is mounted
(links are built from each request's Host).

Every answer carries `x-openstack-request-id` (compute answers also
`x-compute-request-id`), as the services' request-id middleware does.
"""
from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Callable, Iterable, Mapping, Sequence

from aiohttp import web

from simcloud.glance.api import WITHOUT_REQUEST_ID, GlanceAPI
from simcloud.glance.store import DEFAULT_IMAGES, ImageSpec, ImageStore
from simcloud.nova.context import REQUEST_ID_KEY
from simcloud.nova.identity import ProjectCheck
from simcloud.nova.lifecycle import Timing
from simcloud.nova.preload import Tenant, preload_servers
from simcloud.nova.service import NovaService
from simcloud.nova.store import Capacity, ComputeStore, Quotas
from simcloud.tokens import Validator


@dataclasses.dataclass
class SiteConfig:
    name: str                               # "site1"
    region: str                             # "site1"
    availability_zone: str = "nova"         # the site's own AZ name, as a real Nova has it
    min_microversion: str = "2.1"
    max_microversion: str = "2.104"
    vcpus: int = 1000
    ram_mb: int = 1024000
    disk_gb: int = 100000
    build_seconds: float = 1.0              # BUILD -> ACTIVE; actions take a fraction of it
    images: list[ImageSpec] | None = None   # None: DEFAULT_IMAGES
    quotas: Quotas = dataclasses.field(default_factory=Quotas)
    tombstone_seconds: float = 3600.0       # how long deleted servers stay listable
    preload_servers: int = 0                # ACTIVE servers the site starts with (nova.preload)
    auth_uri: str | None = None             # Keystone URL for the 401 WWW-Authenticate header

    def __post_init__(self) -> None:
        # a --site-config file gives images and quotas as mappings
        if isinstance(self.quotas, Mapping):
            self.quotas = Quotas(**self.quotas)
        if self.images is not None:
            self.images = [ImageSpec.from_mapping(i) if isinstance(i, Mapping) else i
                           for i in self.images]


RequestMiddleware = Callable[..., object]


class Site:
    def __init__(self, config: SiteConfig, validate: Validator, *,
                 clock: Callable[[], float] = time.time, image_owner: str | None = None,
                 project_exists: ProjectCheck | None = None,
                 tenants: Sequence[Tenant] = ()) -> None:
        """`image_owner`: the project that owns the preloaded images that
        name no owner (Glance always records one); `project_exists`: what
        Keystone says of a project a request names (None: not asked);
        `tenants`: who owns the `config.preload_servers`, round-robin."""
        self.config = config
        self.validate = validate
        self.clock = clock
        self.images = ImageStore(config.name, config.images or list(DEFAULT_IMAGES), clock,
                                 default_owner=image_owner)
        self.store = ComputeStore(
            site_name=config.name, availability_zone=config.availability_zone,
            capacity=Capacity(config.vcpus, config.ram_mb, config.disk_gb),
            quotas=config.quotas, clock=clock, tombstone_seconds=config.tombstone_seconds)
        self.nova = NovaService(
            self.store, self.images, Timing(build=config.build_seconds),
            min_version=config.min_microversion, max_version=config.max_microversion,
            validate=validate, auth_uri=config.auth_uri, project_exists=project_exists)
        self.glance = GlanceAPI(self.images, validate, auth_uri=config.auth_uri)
        preload_servers(self.store, self.images, config.preload_servers, tenants)

    @property
    def name(self) -> str:
        return self.config.name

    def usage(self) -> dict[str, int]:
        """What the site holds now (for describing a world and for scale runs)."""
        used = self.store.used
        return {"servers": sum(p.instances for p in self.store.projects.values()),
                "running_vms": self.store.running_vms, "vcpus_used": used.vcpus,
                "ram_mb_used": used.ram_mb, "disk_gb_used": used.disk_gb,
                "images": len(self.images.images)}

    def app(self, *, middlewares: Iterable[RequestMiddleware] = ()) -> web.Application:
        """The site's application; `middlewares` run outside the services
        (e.g. fault injection), after the request id is assigned."""
        app = web.Application(middlewares=[_request_ids, *middlewares])
        # the bare prefixes answer as their trailing-slash forms do
        app.router.add_get("/compute", self.nova.versions.index)
        app.router.add_get("/image", self.glance.root)
        app.add_subapp("/compute", self.nova.app())
        app.add_subapp("/image", self.glance.app())
        return app


# The version lists are served in front of the request-id middleware in Nova
# and Glance, so they carry no request id.
_WITHOUT_REQUEST_ID = frozenset({"/compute", "/compute/", "/image", "/image/", "/image/versions"})


@web.middleware
async def _request_ids(request: web.Request, handler) -> web.StreamResponse:
    request_id = f"req-{uuid.uuid4()}"
    request[REQUEST_ID_KEY] = request_id
    if request.path in _WITHOUT_REQUEST_ID:
        return await handler(request)
    headers = {"x-openstack-request-id": request_id}
    if request.path.startswith("/compute"):
        headers["x-compute-request-id"] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    if not response.get(WITHOUT_REQUEST_ID):
        response.headers.update(headers)
    return response
