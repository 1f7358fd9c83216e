"""One simulated Nova: its store and the aiohttp application that serves it
under `/compute` (versions, servers and their sub-resources and actions,
flavors and their access lists, keypairs, server groups, quota sets and
classes, availability zones, limits, hypervisors, extensions)."""
from __future__ import annotations

from aiohttp import web

from simcloud.glance.store import ImageStore
from simcloud.nova import microversion
from simcloud.nova.app import ComputeMiddleware, unknown_route
from simcloud.nova.availability_zones import AvailabilityZonesResource
from simcloud.nova.extensions import ExtensionsResource
from simcloud.nova.flavor_access import FlavorAccessResource
from simcloud.nova.flavors import FlavorsResource
from simcloud.nova.hypervisors import HypervisorsResource
from simcloud.nova.identity import ProjectCheck
from simcloud.nova.instance_actions import InstanceActionsResource
from simcloud.nova.ips import IpsResource
from simcloud.nova.keypairs import KeypairsResource
from simcloud.nova.lifecycle import Timing
from simcloud.nova.limits import LimitsResource
from simcloud.nova.metadata_tags import MetadataResource, TagsResource
from simcloud.nova.quota_sets import QuotaSetsResource
from simcloud.nova.server_actions import ServerActions
from simcloud.nova.server_groups import ServerGroupsResource
from simcloud.nova.servers import ServersResource
from simcloud.nova.shares import SharesResource
from simcloud.nova.store import ComputeStore
from simcloud.nova.versions import VersionsResource
from simcloud.tokens import Validator


class NovaService:
    def __init__(self, store: ComputeStore, images: ImageStore, timing: Timing, *,
                 min_version: str, max_version: str, validate: Validator,
                 auth_uri: str | None = None, project_exists: ProjectCheck | None = None) -> None:
        self.store = store
        self.images = images
        self.timing = timing
        self.minimum = microversion.parse(min_version)
        self.maximum = microversion.parse(max_version)
        self.validate = validate
        self.auth_uri = auth_uri
        self.project_exists = project_exists
        self.host_status = "UP"
        self.versions = VersionsResource(self.minimum, self.maximum)

    def _host_status(self) -> str:
        return self.host_status

    def app(self) -> web.Application:
        middleware = ComputeMiddleware(self.validate, self.minimum, self.maximum,
                                       self.auth_uri)
        app = web.Application(middlewares=[middleware.middleware()])
        resources = [
            self.versions,
            ServersResource(self.store, self.images, self.timing, self._host_status),
            ServerActions(self.store, self.images, self.timing, self._host_status),
            MetadataResource(self.store), TagsResource(self.store),
            InstanceActionsResource(self.store), FlavorsResource(self.store),
            KeypairsResource(self.store), AvailabilityZonesResource(self.store),
            LimitsResource(self.store), HypervisorsResource(self.store),
            SharesResource(self.store), IpsResource(self.store),
            FlavorAccessResource(self.store, self.project_exists),
            ServerGroupsResource(self.store), QuotaSetsResource(self.store, self.project_exists),
            ExtensionsResource(),
        ]
        for resource in resources:
            app.router.add_routes(resource.routes())
        app.router.add_route("*", "/{tail:.*}", unknown_route)
        return app
