"""The admin API's jobs (`/cascade/v1/jobs`): list, show, retry, cancel.
Every call needs the admin role."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.api.compute.common import context, reply, require_admin, runtime_of
from cascade.persistence.jobs import Job

MAX_LIMIT = 1000


def view(job: Job) -> dict:
    def when(value):
        return value.isoformat() if value is not None else None
    return {"id": job.id, "kind": job.kind, "key": job.key, "state": job.state, "payload": job.payload,
            "attempts": job.attempts, "max_attempts": job.max_attempts, "run_after": when(job.run_after),
            "lease_owner": job.lease_owner, "lease_expires_at": when(job.lease_expires_at),
            "last_error": job.last_error, "result": job.result, "created_at": when(job.created_at),
            "updated_at": when(job.updated_at), "finished_at": when(job.finished_at)}


def _limit(text: str | None) -> int:
    if text is None:
        return 100
    if not text.isdigit() or not 0 < int(text) <= MAX_LIMIT:
        raise errors.BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return int(text)


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:jobs:list")
    q = request.query
    jobs = await rt.jobs.list(state=q.get("state"), kind=q.get("kind"), key=q.get("key"),
                              limit=_limit(q.get("limit")), marker=q.get("marker"))
    return reply({"jobs": [view(job) for job in jobs]})


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:jobs:show")
    return reply({"job": view(await rt.jobs.get(request.match_info["job_id"]))})


async def retry(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:jobs:retry")
    job = await rt.jobs.retry(request.match_info["job_id"])
    if rt.worker is not None:
        rt.worker.wake()
    return reply({"job": view(job)})


async def cancel(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:jobs:cancel")
    return reply({"job": view(await rt.jobs.cancel(request.match_info["job_id"]))})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/jobs", index)
    router.add_get("/v1/jobs/{job_id}", show)
    router.add_post("/v1/jobs/{job_id}/retry", retry)
    router.add_post("/v1/jobs/{job_id}/cancel", cancel)
