"""A simcloud world: one shared Keystone and N simulated sites in one process,
each on its own listener, so that a site taken "down" is a real connection
refused while the others go on answering.

- Keystone (and the control API under ``/simcloud/v1``) listens on `port`
  (0: any free port); site *i* (``site1``..``siteN``) on ``port + i`` when a
  base port is given, else on a free port. A site keeps its port for life:
  ``up`` after ``down`` reopens the same one.
- The catalog gets one region per site (``site1``..) with its compute
  (``/compute/v2.1``) and image (``/image``) endpoints on every interface,
  and the identity endpoint (``/v3``) in every region and in ``RegionOne``.
- With a `state_dir`, ``clouds.yaml`` and ``simcloud.json`` are written
  there once everything listens (see `simcloud.cloudsyaml`).

Usage::

    world = World(3, preload_servers=10_000)   # each site starts with 10,000 servers
    await world.start()
    world.keystone_url            # http://127.0.0.1:PORT/v3
    await world.site("site2").set_faults({"down": True})
    await world.stop()
"""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Mapping

from aiohttp import web

from simcloud.cloudsyaml import write_state
from simcloud.control import ControlApi
from simcloud.faults import FaultInjector, Faults
from simcloud.keystone import Keystone
from simcloud.keystone.seed import add_tenant
from simcloud.nova.preload import Tenant
from simcloud.site import Site, SiteConfig

IDENTITY_REGION = "RegionOne"
PRELOAD_TENANTS = ("demo", "alt")     # projects of the seed, each with its user of that name
_SHUTDOWN_SECONDS = 2.0


def _bound_port(tcp: web.TCPSite) -> int:
    server = tcp._server        # aiohttp keeps the asyncio server private; the port is only there
    assert server is not None and server.sockets
    return int(server.sockets[0].getsockname()[1])


class SiteHandle:
    """One running site: its config, its `Site`, its listener and its faults."""

    def __init__(self, config: SiteConfig, site: Site, host: str, port: int) -> None:
        self.name: str = config.name
        self.config = config
        self.site = site
        self.host = host
        self.port = port
        self.injector = FaultInjector(seed=config.name)
        # Outside the services, so hang/latency/errors apply to every route, 404s included.
        app = site.app(middlewares=[self.injector.middleware])
        self._runner = web.AppRunner(app, shutdown_timeout=_SHUTDOWN_SECONDS, access_log=None)
        self._listener: web.TCPSite | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def compute_url(self) -> str:
        return f"{self.url}/compute/v2.1"

    @property
    def image_url(self) -> str:
        return f"{self.url}/image"

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    async def start(self) -> None:
        await self._runner.setup()
        await self._open()

    async def stop(self) -> None:
        self.injector.update({"hang": False})      # let held requests go before shutdown
        await self._runner.cleanup()
        self._listener = None

    async def set_faults(self, changes: Mapping[str, Any]) -> Faults:
        was_down = self.faults.down
        faults = self.injector.update(changes)
        if faults.down and not was_down:
            await self._close()
        elif was_down and not faults.down:
            await self._open()
        return faults

    async def clear_faults(self) -> Faults:
        return await self.set_faults(Faults().as_dict())

    def describe(self) -> dict[str, Any]:
        settings = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        return {"name": self.name, "url": self.url, "region": self.config.region,
                "config": {k: v for k, v in settings.items()
                           if v is None or isinstance(v, (str, int, float, bool))},
                "faults": self.faults.as_dict(), "counts": self.injector.counts.as_dict()}

    async def _open(self) -> None:
        self._listener = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._listener.start()
        self.port = _bound_port(self._listener)

    async def _close(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        server = self._runner.server
        for connection in server.connections if server else []:
            connection.force_close()       # kept-alive connections die with the site


class World:
    def __init__(self, sites: int, *, host: str = "127.0.0.1", port: int = 0,
                 state_dir: str | pathlib.Path | None = None,
                 site_overrides: Mapping[str, Mapping[str, Any]] | None = None,
                 build_seconds: float = 1.0, token_ttl: float = 3600.0,
                 preload_servers: int = 0, preload_tenants: int = 0) -> None:
        """`build_seconds` and `preload_servers` are every site's unless
        `site_overrides` say otherwise for a site. Preloaded servers belong
        to demo, alt and `preload_tenants` more tenants (tenant1..tenantN,
        each a project and a member user of that name), round-robin."""
        if sites < 0:
            raise ValueError("the number of sites cannot be negative")
        if preload_servers < 0:
            raise ValueError("the number of preloaded servers cannot be negative")
        self.host = host
        self.port = port
        self.state_dir = pathlib.Path(state_dir) if state_dir is not None else None
        self.keystone = Keystone(token_ttl=token_ttl)
        self._extra_tenants = [f"tenant{i}" for i in range(1, preload_tenants + 1)]
        for name in self._extra_tenants:
            add_tenant(self.keystone.store, name)
        self._configs = self._site_configs(sites, site_overrides or {}, {
            "build_seconds": build_seconds, "preload_servers": preload_servers})
        self._sites: dict[str, SiteHandle] = {}
        self._runner: web.AppRunner | None = None

    @staticmethod
    def _site_configs(count: int, overrides: Mapping[str, Mapping[str, Any]],
                      defaults: Mapping[str, Any]) -> list[SiteConfig]:
        names = [f"site{i}" for i in range(1, count + 1)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(f"overrides for sites that do not exist: {', '.join(unknown)}")
        fields = {f.name for f in dataclasses.fields(SiteConfig)}
        configs = []
        for name in names:
            values: dict[str, Any] = {"name": name, "region": name, **defaults}
            values.update(overrides.get(name, {}))
            bad = sorted(set(values) - fields)
            if bad:
                raise ValueError(f"{name}: unknown site settings: {', '.join(bad)}")
            configs.append(SiteConfig(**values))
        return configs

    # ---- addresses ------------------------------------------------------
    @property
    def keystone_root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def keystone_url(self) -> str:
        """The identity endpoint, as clients take it for ``auth_url``."""
        return f"{self.keystone_root}/v3"

    @property
    def control_url(self) -> str:
        return f"{self.keystone_root}/simcloud/v1"

    @property
    def sites(self) -> list[SiteHandle]:
        return list(self._sites.values())

    def site(self, name: str) -> SiteHandle:
        try:
            return self._sites[name]
        except KeyError:
            raise KeyError(f"no site named {name!r}") from None

    # ---- life -----------------------------------------------------------
    async def start(self) -> None:
        app = self.keystone.app()
        app.add_subapp("/simcloud/", ControlApi(self, self.keystone.validate).app())
        self._runner = web.AppRunner(app, shutdown_timeout=_SHUTDOWN_SECONDS, access_log=None)
        await self._runner.setup()
        listener = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await listener.start()
        base_port = self.port
        self.port = _bound_port(listener)
        try:
            for index, config in enumerate(self._configs, start=1):
                if config.auth_uri is None:
                    config = dataclasses.replace(config, auth_uri=self.keystone_url)
                site = Site(config, self.keystone.validate, image_owner=self._admin_project_id(),
                            project_exists=self.keystone.project_exists,
                            tenants=self._tenants())
                handle = SiteHandle(config, site, self.host,
                                    base_port + index if base_port else 0)
                await handle.start()
                self._sites[config.name] = handle
            self._register_catalog()
            if self.state_dir is not None:
                write_state(self, self.state_dir)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for handle in reversed(list(self._sites.values())):
            await handle.stop()
        self._sites.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "World":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _admin_project_id(self) -> str | None:
        """Who owns a site's preloaded images: the cloud admin uploaded them."""
        project = self.keystone.store.project_by_name("admin", "default")
        return project.id if project is not None else None

    def _tenants(self) -> list[Tenant]:
        """Who owns a site's preloaded servers: the seeded tenants, each
        with its user."""
        store = self.keystone.store
        tenants = []
        for name in (*PRELOAD_TENANTS, *self._extra_tenants):
            project = store.project_by_name(name, "default")
            user = store.user_by_name(name, "default")
            if project is not None and user is not None:
                tenants.append(Tenant(project.id, user.id, project.name, user.name))
        return tenants

    def _register_catalog(self) -> None:
        keystone = self.keystone
        regions = dict.fromkeys([IDENTITY_REGION] + [h.config.region for h in self._sites.values()])
        for region in regions:
            keystone.register_endpoints(region_id=region, service_type="identity",
                                        service_name="keystone", url=self.keystone_url)
        for handle in self._sites.values():
            region = handle.config.region
            keystone.register_endpoints(region_id=region, service_type="compute",
                                        service_name="nova", url=handle.compute_url)
            keystone.register_endpoints(region_id=region, service_type="image",
                                        service_name="glance", url=handle.image_url)
