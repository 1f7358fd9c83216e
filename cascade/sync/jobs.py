"""The status sync's periodic jobs, one of each per site.

`sync.changes` (every `[sync] changes_period`): the servers the site
changed since its watermark (`changes-since`, deleted ones included),
applied to the projection. The watermark is the latest `updated` the site
showed, in the site's own clock, asked again with a small overlap so that
a change written a little late is not missed. A site never polled has no
watermark: its first poll is a sweep. An error answer of the site's
changes-since (some Novas answer 500 to it with `all_tenants`) falls back to
a sweep rather than failing again and again.

`sync.sweep` (every `[sync] sweep_period`): every server of the site,
which catches what changes-since cannot show: servers the site lost
without a trace (deleted and archived), so rows projected before the sweep
began that it did not list are asked for one by one and, if the site says
they are gone, marked deleted; deleted servers past `[sync] deleted_retention`
that the site no longer lists are purged.

A site that is down is not asked: the job waits a period (`Retry`), and the
projection keeps the last state the site showed.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from cascade import errors
from cascade.adoption import site_servers
from cascade.jobs.registry import Finish, Permanent, Retry, handler, lane, periodic
from cascade.persistence.jobs import Job
from cascade.persistence.models import utcnow
from cascade.persistence.servers import parse_timestamp
from cascade.persistence.site_sync import SiteSyncStore
from cascade.resources.kinds import SERVER
from cascade.sites.model import DOWN, Site
from cascade.sync import gone
from cascade.sync.apply import Applier, Tally

if TYPE_CHECKING:
    from cascade.runtime import Runtime

LOG = logging.getLogger(__name__)

CHANGES = "sync.changes"
SWEEP = "sync.sweep"
# how far before its watermark a site is asked again: changes whose time was
# written before that of a change already seen, but committed after it
OVERLAP = dt.timedelta(seconds=5)


def changes_every(settings) -> float:
    """Polls are queued a worker's idle wait ([jobs] poll_interval) and a
    tenth of the period early, so that a change a site makes is in the view
    within `[sync] changes_period`: the next poll begins in time, and has
    that tenth to run."""
    period = settings.sync.changes_period
    return max(period * 0.9 - settings.jobs.poll_interval, period / 2)


periodic(CHANGES, every=changes_every, per_site=True)
periodic(SWEEP, every=lambda settings: settings.sync.sweep_period, per_site=True)
# a poll late behind an adoption's thousands of stamp jobs is a sync period missed
lane("sync", {CHANGES, SWEEP}, concurrency=lambda settings: settings.sync.concurrency)


def site_time(moment: dt.datetime) -> str:
    """A moment as a site's Nova writes it (and takes it in changes-since)."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def leftover_grace(rt: "Runtime") -> float:
    """How old a stamped server without a route must be before it counts as
    a leftover: a create that made it may still be binding its route."""
    return 2 * rt.settings.sites.request_timeout


async def _site(rt: "Runtime", job: Job, period: float) -> Site:
    site_id = job.payload["site_id"]
    try:
        site = rt.registry.get(site_id)
    except errors.NotFound:
        await rt.registry.load()   # added by another process since this one last looked
        try:
            site = rt.registry.get(site_id)
        except errors.NotFound:
            raise Permanent(f"site {site_id} is gone") from None
    if site.health == DOWN:
        raise Retry(f"site {site.name} is down: its servers keep the state last seen", delay=period)
    return site


@handler(CHANGES)
async def poll_changes(rt: "Runtime", job: Job) -> dict[str, Any] | Finish:
    period = rt.settings.sync.changes_period
    site = await _site(rt, job, period)
    store = SiteSyncStore(rt.db)
    state = await store.get(site.id)
    if state.changes_since is None:
        return {"first_poll": "sweep", **await sweep(rt, site, store, retry_in=period)}
    watermark = parse_timestamp(state.changes_since)
    tally = Tally()
    applier = Applier(rt, site, tally)
    since = site_time(watermark - OVERLAP)
    asked_at: dt.datetime | None = None
    try:
        async for page in site_servers.walk(rt.registry.client(site.id), page_size=rt.settings.sync.page_size,
                                            params={"changes-since": since}):
            asked_at = asked_at or page.site_time
            await applier.apply(page.servers)
    except errors.SiteUnavailable as exc:
        await store.polled(site.id, changes_since=None, error=str(exc))
        raise Retry(str(exc), delay=period) from None
    except errors.SiteError as exc:
        if exc.status < 500:
            raise
        LOG.info("site %s answered changes-since with %d (%s): sweeping instead", site.name, exc.status, exc)
        return {"fallback": "sweep", "reason": f"changes-since answered {exc.status}",
                **await sweep(rt, site, store, retry_in=period)}
    await applier.remove_leftovers(grace=leftover_grace(rt))
    # the site's own clock when it began answering: every later change is
    # newer, so a quiet site is not asked again for its last burst of changes
    for seen in (applier.latest, asked_at):
        if seen is not None and seen > watermark:
            watermark = seen
    # the watermark moves with the poll's end: one transaction for both
    return Finish({"site": site.name, "since": since, **tally.result()},
                  lambda session: store.polled(site.id, changes_since=site_time(watermark), session=session))


@handler(SWEEP)
async def sweep_site(rt: "Runtime", job: Job) -> dict[str, Any]:
    period = rt.settings.sync.sweep_period
    site = await _site(rt, job, period)
    store = SiteSyncStore(rt.db)
    state = await store.get(site.id)
    if state.changes_since is None:
        return {"site": site.name, "skipped": "never polled: its first changes poll sweeps"}
    if state.swept_at is not None and utcnow() - state.swept_at < dt.timedelta(seconds=period / 2):
        return {"site": site.name, "skipped": "swept lately"}
    return await sweep(rt, site, store, retry_in=period)


async def sweep(rt: "Runtime", site: Site, store: SiteSyncStore, *, retry_in: float) -> dict[str, Any]:
    """Every server of the site applied; what it no longer has marked
    deleted; deleted servers past their retention purged."""
    started = utcnow()
    tally = Tally()
    applier = Applier(rt, site, tally)
    first_answer: dt.datetime | None = None
    try:
        async for page in site_servers.walk(rt.registry.client(site.id), page_size=rt.settings.sync.page_size):
            first_answer = first_answer or page.site_time
            await applier.apply(page.servers)
        await applier.remove_leftovers(grace=leftover_grace(rt))
        await _deleted_without_trace(rt, site, applier, started)
        await _purge(rt, site, applier)
    except errors.SiteUnavailable as exc:
        await store.failed(site.id, str(exc))
        raise Retry(str(exc), delay=retry_in) from None
    # a site's first watermark: its clock when the sweep began
    await store.swept(site.id, changes_since=site_time(first_answer or applier.latest or started))
    return {"site": site.name, "sweep": True, **tally.result()}


async def _deleted_without_trace(rt: "Runtime", site: Site, applier: Applier, started: dt.datetime) -> None:
    """Rows the sweep did not list, projected before it began: each asked
    of the site, and marked deleted if the site says it is gone."""
    unseen = set(await rt.servers.in_site(site.id, deleted=False, written_before=started)) - applier.live_tops
    if not unseen:
        return
    bottoms = await rt.routes.bottom_ids(SERVER.name, site.id, unseen)
    absent = await gone.absent(rt, site, bottoms.values())
    marked = [top_id for top_id, bottom_id in bottoms.items() if bottom_id in absent]
    for top_id in marked:
        await gone.mark_deleted(rt, site, top_id, bottoms[top_id])
    now = utcnow()
    rows = await rt.servers.get_many(marked)
    await rt.servers.upsert_many(dataclasses.replace(row, status="DELETED", task_state=None, deleted=True,
                                                     synced_at=now) for row in rows.values())
    applier.tally.deleted += len(marked)


async def _purge(rt: "Runtime", site: Site, applier: Applier) -> None:
    retention = dt.timedelta(seconds=rt.settings.sync.deleted_retention)
    expired = set(await rt.servers.in_site(site.id, deleted=True, written_before=utcnow() - retention))
    expired -= applier.live_tops
    if not expired:
        return
    bottoms = await rt.routes.bottom_ids(SERVER.name, site.id, expired)
    applier.tally.purged += await gone.purge(rt, site, {top: bottoms.get(top) for top in expired})
