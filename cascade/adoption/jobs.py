"""The adoption jobs.

`site.adopt` (key `site.adopt:<site id>`, one at a time per site) walks the
site's servers a page at a time (or, given `servers`, those bottom ids),
adopting each page as one batch (`adoption.servers`), then the key pairs
of the users it met (`adoption.keypairs`). Its payload is its progress: the
marker after the last committed batch is written in that batch's own
transaction, so a run taken over after a crash resumes after it, and a
batch run twice adopts nothing twice.

`site.stamp` stamps one batch's servers with their top ids.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from cascade import errors
from cascade.adoption import keypairs, servers, site_servers, stamping
from cascade.api.compute.dependencies import adopt_site_flavors
from cascade.jobs.registry import Permanent, Retry, handler
from cascade.persistence.jobs import Job
from cascade.sites.model import Site

if TYPE_CHECKING:
    from cascade.runtime import Runtime

ADOPT = "site.adopt"
MAX_REPORTED = 20          # failures and clashes named in the progress; the counts are complete
USERS_PER_NOTE = 50        # users whose key pairs are adopted between two notes of progress
USER_CONCURRENCY = 8
STAMP_RETRY_SECONDS = 15.0
STAMP_ATTEMPTS = 5


def key(site_id: str) -> str:
    return f"{ADOPT}:{site_id}"


@dataclasses.dataclass
class Progress:
    """A `site.adopt` payload, as the job's progress."""

    site_id: str
    stamp: bool = True
    servers: list[str] | None = None        # given bottom ids, else the whole site
    phase: str = "servers"                  # "servers", then "keypairs"
    marker: str | None = None               # whole site: the last server of the last committed batch
    position: int = 0                       # given ids: how many are done
    user_marker: str | None = None          # the last user whose key pairs are done
    users: list[str] = dataclasses.field(default_factory=list)   # given ids: the adopted servers' owners
    adopted: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    stamp_jobs: int = 0
    unstamped: int = 0
    keypairs: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"adopted": 0, "skipped": 0, "clashes": 0, "clashing": []})

    @classmethod
    def of(cls, job: Job) -> "Progress":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in job.payload.items() if k in known})

    def payload(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        if self.servers is None:
            del values["servers"]
        return values

    def result(self) -> dict[str, Any]:
        return {"adopted": self.adopted, "skipped": self.skipped, "failed": self.failed,
                "failures": self.failures, "keypairs": self.keypairs, "stamp_jobs": self.stamp_jobs,
                "unstamped": self.unstamped}

    def count(self, outcome: servers.Outcome) -> None:
        self.adopted += outcome.adopted
        self.skipped += outcome.skipped
        self.failed += len(outcome.failures)
        self.failures = (self.failures + list(outcome.failures))[:MAX_REPORTED]
        self.stamp_jobs += 1 if outcome.stamp_job else 0
        self.unstamped += outcome.unstamped
        if self.servers is not None:
            self.users = sorted(set(self.users) | outcome.users)

    def count_keypairs(self, outcome: keypairs.KeypairOutcome) -> None:
        self.keypairs["adopted"] += outcome.adopted
        self.keypairs["skipped"] += outcome.skipped
        self.keypairs["clashes"] += len(outcome.clashes)
        self.keypairs["clashing"] = (self.keypairs["clashing"] + outcome.clashes)[:MAX_REPORTED]


async def start(rt: "Runtime", site: Site, server_ids: list[str] | None = None, *, stamp: bool = True) -> Job:
    """Queue the adoption of a site (or of some of its servers). Conflict
    when another adoption of the site, of other servers, is under way."""
    fresh = Progress(site.id, stamp=stamp, servers=list(server_ids) if server_ids is not None else None)
    job = await rt.jobs.enqueue(ADOPT, fresh.payload(), key=key(site.id))
    if job.payload.get("servers") != server_ids:   # the live adoption of the site is another one
        raise errors.Conflict(f"An adoption of site {site.name} is already under way (job {job.id}).")
    if rt.worker is not None:
        rt.worker.wake()
    return job


class _Notes:
    """Writes a running job's progress, in the caller's transaction or its own."""

    def __init__(self, rt: "Runtime", job: Job) -> None:
        self.rt, self.job = rt, job

    async def __call__(self, progress: Progress, session: AsyncSession | None = None) -> None:
        assert self.job.lease_owner is not None
        if not await self.rt.jobs.set_payload(self.job.id, self.job.lease_owner, progress.payload(), session=session):
            # taken over (lease ended) or cancelled: whatever this run did
            # in the transaction is rolled back, and the holder carries on
            raise Retry("the job is no longer held by this worker")


async def _site(rt: "Runtime", site_id: str) -> Site:
    try:
        return rt.registry.get(site_id)
    except errors.NotFound:
        await rt.registry.load()   # added by another process since this one last looked
    try:
        return rt.registry.get(site_id)
    except errors.NotFound:
        raise Permanent(f"site {site_id} is gone") from None


async def _batch(rt: "Runtime", site: Site, page: list[dict], progress: Progress, note: _Notes,
                 **advance: Any) -> Progress:
    """Adopt one page; the progress after it (`advance` says where the next
    batch starts) is noted in the batch's transaction."""
    prepared = await servers.prepare(rt, site, page)
    after = dataclasses.replace(progress, **{"failures": list(progress.failures), "users": list(progress.users),
                                             **advance})

    async def noted(session: AsyncSession, outcome: servers.Outcome) -> None:
        after.count(outcome)
        await note(after, session)

    await servers.commit(rt, site, prepared, stamp=progress.stamp, note=noted)
    return after


async def _adopt_servers(rt: "Runtime", site: Site, progress: Progress, note: _Notes) -> Progress:
    client = rt.registry.client(site.id)
    page_size = rt.settings.sync.page_size
    if progress.servers is None:
        async for page, marker in site_servers.pages(client, page_size=page_size, marker=progress.marker):
            progress = await _batch(rt, site, page, progress, note, marker=marker)
        return progress
    while progress.position < len(progress.servers):
        wanted = progress.servers[progress.position:progress.position + page_size]
        found, missing = await site_servers.by_id(client, wanted)
        progress = await _batch(rt, site, found, progress, note, position=progress.position + len(wanted),
                                failed=progress.failed + len(missing),
                                failures=progress.failures + [f"server {m}: not in the site" for m in missing])
    return progress


async def _users(rt: "Runtime", site: Site, progress: Progress) -> list[str]:
    if progress.servers is not None:
        return progress.users
    found = set(await rt.servers.users_in_site(site.id)) | set(await keypairs.keystone_users(rt))
    return sorted(found)


async def _adopt_keypairs(rt: "Runtime", site: Site, progress: Progress, note: _Notes) -> None:
    users = [u for u in await _users(rt, site, progress) if progress.user_marker is None or u > progress.user_marker]
    gate = asyncio.Semaphore(USER_CONCURRENCY)

    async def one(user_id: str) -> keypairs.KeypairOutcome:
        async with gate:
            return await keypairs.adopt_user(rt, site, user_id)

    for start_at in range(0, len(users), USERS_PER_NOTE):
        chunk = users[start_at:start_at + USERS_PER_NOTE]
        for outcome in await asyncio.gather(*(one(user) for user in chunk)):
            progress.count_keypairs(outcome)
        progress.user_marker = chunk[-1]
        await note(progress)


@handler(ADOPT)
async def adopt_site(rt: "Runtime", job: Job) -> dict:
    progress = Progress.of(job)
    site = await _site(rt, progress.site_id)
    if site.auth:
        raise Permanent(f"site {site.name} has its own Keystone: its servers' project and user ids are not "
                        "the cascade's, so they cannot be adopted")
    note = _Notes(rt, job)
    if progress.phase == "servers":
        await adopt_site_flavors(rt, site)
        progress = await _adopt_servers(rt, site, progress, note)
        progress.phase = "keypairs"
        await note(progress)
    await _adopt_keypairs(rt, site, progress, note)
    return {"site": site.name, **progress.result()}


@handler(servers.STAMP_JOB)
async def stamp_batch(rt: "Runtime", job: Job) -> dict:
    """Stamp a batch; servers busy meanwhile are tried again later, up to
    STAMP_ATTEMPTS runs, then left unstamped (a later adoption run stamps
    routed servers it finds without their stamp)."""
    site = await _site(rt, job.payload["site_id"])
    done = job.payload.get("done", {"stamped": 0, "gone": 0, "refused": []})
    outcome = await stamping.stamp(rt.registry.client(site.id), job.payload["servers"])
    done = {"stamped": done["stamped"] + outcome.stamped, "gone": done["gone"] + outcome.gone,
            "refused": (done["refused"] + outcome.refused)[:MAX_REPORTED]}
    if outcome.later and job.attempts < STAMP_ATTEMPTS:
        assert job.lease_owner is not None
        await rt.jobs.set_payload(job.id, job.lease_owner, {**job.payload, "servers": outcome.later, "done": done})
        raise Retry(f"{len(outcome.later)} server(s) busy or unreachable; stamped later",
                    delay=STAMP_RETRY_SECONDS)
    return {**done, "unstamped": [bottom for _, bottom in outcome.later][:MAX_REPORTED],
            "unstamped_count": len(outcome.later)}
