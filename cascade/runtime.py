"""The running cascade's shared mechanisms, built once from the settings and
passed to every front: database, route table, site registry and clients,
translator, identity, and the background loops.

This is the only place that wires the pieces together; fronts receive a
`Runtime` and never build their own.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging

import aiohttp

from cascade.config import Settings
from cascade.identity import ServiceAuth, TokenValidator
from cascade.persistence.db import Database
from cascade.persistence.flavors import FlavorStore
from cascade.jobs import owner
from cascade.jobs.journal import Journal
from cascade.jobs.worker import Worker
from cascade.persistence.images import ImageStore
from cascade.persistence.jobs import JobStore
from cascade.persistence.keypairs import KeypairStore
from cascade.persistence.quotas import QuotaStore
from cascade.persistence.server_groups import ServerGroupStore
from cascade.persistence.servers import ServerProjection
from cascade.persistence.sites import SiteStore
from cascade.quotas.engine import QuotaEngine
from cascade.routing.table import RouteTable
from cascade.routing.translate import Translator
from cascade.sites.breaker import OPEN, Breaker
from cascade.sites.client import SiteClient
from cascade.sites.health import HealthMonitor, LoopLag
from cascade.sites.model import DOWN, Site
from cascade.sites.registry import SiteRegistry

LOG = logging.getLogger(__name__)

RUNTIME_KEY = "cascade.runtime"


def runtime_of(request) -> "Runtime":
    """The runtime of the application serving `request` (fronts are sub-apps)."""
    return request.config_dict[RUNTIME_KEY]


def _breaker_changed(registry: SiteRegistry, site_id: str, state: str) -> None:
    """Real calls failing opened a site's breaker: the site is down for
    placement and lists at once, without waiting for the next probe (which
    also brings it back)."""
    if state != OPEN:
        return
    async def mark_down() -> None:
        try:
            await registry.update(site_id, health=DOWN, last_error="calls to the site keep failing (circuit open)")
        except Exception:  # noqa: BLE001 - the next probe records it instead
            LOG.warning("could not mark site %s down", site_id, exc_info=True)
    asyncio.get_running_loop().create_task(mark_down())


@dataclasses.dataclass
class Runtime:
    settings: Settings
    db: Database
    http: aiohttp.ClientSession
    service_auth: ServiceAuth
    validator: TokenValidator
    routes: RouteTable
    registry: SiteRegistry
    translator: Translator
    flavors: FlavorStore
    keypairs: KeypairStore
    images: ImageStore
    servers: ServerProjection
    quotas: QuotaEngine
    server_groups: ServerGroupStore
    jobs: JobStore
    journal: Journal
    health: HealthMonitor | None = None
    worker: Worker | None = None
    # server lists built at once ([compute] list_concurrency), set by `start`
    list_turns: asyncio.Semaphore = dataclasses.field(init=False)
    # tenant requests in progress at once ([DEFAULT] requests_in_progress, `api.admission`), set by `start`
    request_turns: asyncio.Semaphore = dataclasses.field(init=False)

    @classmethod
    async def start(cls, settings: Settings, *, background: bool = True, worker: bool | None = None) -> "Runtime":
        """With `background`, the health probes run; with `worker` (default:
        `[jobs] run_in_api` when `background`), a job worker runs too."""
        db = await Database.open(settings.database_url)
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.sites.request_timeout))
        service_auth = ServiceAuth(settings.keystone)
        validator = TokenValidator(service_auth, http, auth_url=settings.keystone.auth_url,
                                   cache_seconds=settings.keystone.token_cache_seconds)
        routes = RouteTable(db)
        lag = LoopLag()

        def client_factory(site: Site) -> SiteClient:
            breaker = Breaker(failure_threshold=settings.sites.failure_threshold,
                              open_seconds=settings.sites.open_seconds,
                              recovery_seconds=settings.sites.recovery_seconds,
                              on_change=lambda state: _breaker_changed(registry, site.id, state))
            return SiteClient(site, settings.sites, service_auth=service_auth, breaker=breaker, loop_late=lag.explains)

        registry = SiteRegistry(SiteStore(db), client_factory)
        await registry.load()
        runtime = cls(
            settings=settings, db=db, http=http, service_auth=service_auth, validator=validator,
            routes=routes, registry=registry, translator=Translator(routes),
            flavors=FlavorStore(db), keypairs=KeypairStore(db), images=ImageStore(db),
            servers=ServerProjection(db), quotas=QuotaEngine(QuotaStore(db), settings.quota),
            server_groups=ServerGroupStore(db),
            jobs=(jobs := JobStore(db, max_attempts=settings.jobs.max_attempts)),
            journal=Journal(jobs, owner=owner.this_process(), lease_seconds=settings.jobs.lease_seconds),
        )
        runtime.list_turns = asyncio.Semaphore(settings.compute.list_concurrency)
        runtime.request_turns = asyncio.Semaphore(settings.DEFAULT.requests_in_progress)
        runtime.quotas.register_counter("server_groups", runtime.server_groups.counter)
        # nested ids with no route yet (an image or flavor first seen in a
        # site) are resolved by the top-owned kinds' own adoption code
        from cascade.api.compute.dependencies import resolve_unrouted
        runtime.translator = Translator(routes, resolver=lambda kind, site, ids: resolve_unrouted(runtime, kind, site, ids))
        if background:
            runtime.health = HealthMonitor(registry, lambda: [registry.client(s.id) for s in registry.all()],
                                           settings.sites.probe_interval, deadline=settings.sites.probe_deadline,
                                           lag=lag)
            runtime.health.start()
        if worker if worker is not None else (background and settings.jobs.run_in_api):
            runtime.start_worker()
        return runtime

    def start_worker(self, *, concurrency: int | None = None) -> Worker:
        self.worker = Worker(self, concurrency=concurrency)
        self.journal.wake = self.worker.wake
        self.worker.start()
        return self.worker

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        await self.journal.close()
        if self.health is not None:
            await self.health.stop()
        await self.registry.close()
        await self.http.close()
        await self.db.close()
