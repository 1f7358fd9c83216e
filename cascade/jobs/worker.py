"""A worker: leases due jobs, runs their handlers (up to `concurrency` at
once), keeps their leases alive, and ends them as the handler says.

Between claims it keeps the engine tidy: it reloads the site registry (sites
added by another process), ends the leases of dead processes of this host,
queues the periodic jobs that are missing (one per key, so any number of
workers queue each once) and purges old finished jobs.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING

from cascade.config import JobsSection
from cascade.jobs import owner as owners
from cascade.jobs import registry
from cascade.persistence.jobs import Job, JobStore

if TYPE_CHECKING:
    from cascade.runtime import Runtime

LOG = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 5.0


def backoff(settings: JobsSection, attempts: int) -> float:
    """Exponential, capped, with jitter so that retries of many jobs spread out."""
    delay = min(settings.backoff_max, settings.backoff_base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


class Worker:
    def __init__(self, rt: "Runtime", *, store: JobStore | None = None, settings: JobsSection | None = None,
                 owner: str | None = None, concurrency: int | None = None) -> None:
        self.rt = rt
        self.store = store or rt.jobs
        self.settings = settings or rt.settings.jobs
        self.owner = owner or owners.this_process()
        self.concurrency = concurrency or self.settings.concurrency
        self._running: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._last_maintenance = 0.0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._claim_loop(), name="jobs-claim"),
                       asyncio.create_task(self._heartbeat_loop(), name="jobs-heartbeat")]

    def wake(self) -> None:
        """Look for due jobs now (something was just queued)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; running jobs are cancelled and given back to the queue."""
        for task in self._tasks:
            task.cancel()
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*self._tasks, *running, return_exceptions=True)
        self._tasks = []

    async def run_once(self) -> int:
        """One pass for tests and tools: maintenance, then every due job, until none is due."""
        await self.maintain()
        ran = 0
        while jobs := await self.store.claim(self.owner, lease_seconds=self.settings.lease_seconds,
                                             limit=self.concurrency):
            await asyncio.gather(*(self._run(job) for job in jobs))
            ran += len(jobs)
        return ran

    async def maintain(self) -> None:
        self._last_maintenance = time.monotonic()
        await self.rt.registry.load()
        dead = owners.gone(await self.store.lease_owners(owners.host() + ":"))
        if dead and (count := await self.store.expire_leases(dead)):
            LOG.info("took over %d job(s) of gone processes %s", count, sorted(dead))
        await self.ensure_periodic()
        await self.store.purge(older_than=self.settings.retention)

    async def ensure_periodic(self) -> None:
        wanted: dict[str, tuple[str, dict]] = {}
        for spec in registry.periodic_jobs():
            if spec.per_site:
                for site in self.rt.registry.all():
                    wanted[spec.key(site.id)] = (spec.kind, {"site_id": site.id})
            else:
                wanted[spec.key()] = (spec.kind, {})
        missing = set(wanted) - await self.store.live_keys(wanted)
        for key in sorted(missing):
            kind, payload = wanted[key]
            await self.store.enqueue(kind, payload, key=key)

    async def _claim_loop(self) -> None:
        while True:
            try:
                if time.monotonic() - self._last_maintenance >= MAINTENANCE_SECONDS:
                    await self.maintain()
                free = self.concurrency - len(self._running)
                jobs = await self.store.claim(self.owner, lease_seconds=self.settings.lease_seconds,
                                              limit=free) if free > 0 else []
                for job in jobs:
                    self._running[job.id] = asyncio.create_task(self._run(job), name=f"job-{job.kind}")
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("job worker: claiming failed; trying again")
                jobs = []
            if not jobs or len(self._running) >= self.concurrency:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def _heartbeat_loop(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            asked = set(self._running)
            try:
                held = await asyncio.wait_for(
                    self.store.heartbeat(asked, self.owner, lease_seconds=self.settings.lease_seconds),
                    self.settings.lease_seconds / 3)
                renewed = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("job worker: heartbeat failed")
                if time.monotonic() - renewed > self.settings.lease_seconds * 0.8:
                    # our leases may have ended: stop before another worker takes the jobs over
                    held = set()
                else:
                    continue
            for job_id in asked - held:
                if (task := self._running.get(job_id)) is not None:
                    LOG.warning("job %s: lease lost (cancelled, taken over or not renewed); stopping it", job_id)
                    task.cancel()

    async def _run(self, job: Job) -> None:
        try:
            await self._run_handler(job)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def _run_handler(self, job: Job) -> None:
        handler = registry.handler_for(job.kind)
        if handler is None:
            await self.store.fail(job.id, self.owner, f"no handler for job kind {job.kind!r}", retry_in=None)
            return
        if job.attempts > job.max_attempts:
            await self.store.fail(job.id, self.owner, f"gave up after {job.max_attempts} attempts "
                                  f"(last error: {job.last_error})", retry_in=None)
            return
        began = time.monotonic()
        try:
            result = await handler(self.rt, job)
        except asyncio.CancelledError:
            # stopping, or the lease was lost: whoever holds it (if anyone) carries on
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release(job.id, self.owner))
            raise
        except registry.Retry as retry:
            delay = retry.delay if retry.delay is not None else backoff(self.settings, job.attempts)
            LOG.info("job %s %s: retry in %.1fs: %s", job.kind, job.id, delay, retry)
            await self.store.fail(job.id, self.owner, str(retry), retry_in=delay)
        except registry.Permanent as failure:
            LOG.warning("job %s %s failed: %s", job.kind, job.id, failure)
            await self.store.fail(job.id, self.owner, str(failure), retry_in=None)
        except Exception as exc:
            LOG.warning("job %s %s: attempt %d failed: %r", job.kind, job.id, job.attempts, exc, exc_info=True)
            await self.store.fail(job.id, self.owner, f"{type(exc).__name__}: {exc}",
                                  retry_in=backoff(self.settings, job.attempts))
        else:
            spec = next((p for p in registry.periodic_jobs() if p.kind == job.kind), None)
            again_in = None
            if spec is not None and job.key:
                # fixed rate: runs begin `every` seconds apart, however long each takes
                again_in = max(0.0, spec.every(self.rt.settings) - (time.monotonic() - began))
            await self.store.succeed(job.id, self.owner, result, again_in=again_in)
