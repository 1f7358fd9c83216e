"""Crash consistency: what the cascade does after a multi-step operation
was interrupted (its process died, or the outcome of a call to a site is
unknown), so that the cascade's records and the sites converge.

Each multi-step operation writes a journal entry (`rt.journal.entry`) before
it touches a site; the entry's kind is handled here, and the handler is the
operation's recovery: it runs when the entry was not ended (a dead process,
an exception the code could not undo) and converges from any step.

- `servers`: server create (one, or many with min/max_count) and delete;
  the stamp that ties a bottom server to its top id.
- `copies`: flavors, key pairs and server groups carried to the sites as
  jobs, one per (resource, site), retried while a site is down.
- `site_quotas`: a project's own quota in a site opened up at its first
  placement there (the cascade's global quotas are the ones that count).

Every module here is listed in `cascade.jobs.registry.HANDLER_MODULES`; their
handlers end on a site's failures as `retry_unless_refused` says.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Awaitable, Callable

from cascade.errors import SiteError, SiteUnavailable
from cascade.jobs.registry import Permanent, Retry

if TYPE_CHECKING:
    from cascade.persistence.jobs import Job
    from cascade.runtime import Runtime

Handler = Callable[["Runtime", "Job"], Awaitable[dict]]


def retry_unless_refused(fn: Handler) -> Handler:
    """How a site's failures end a job: a site that cannot be reached now is
    a reason to try again later (backoff, no traceback); a site's refusal
    (4xx other than 409 and 429) will not change by waiting, and fails the
    job at once with the site's reason; anything else is retried."""
    @functools.wraps(fn)
    async def run(rt: "Runtime", job: "Job") -> dict:
        try:
            return await fn(rt, job)
        except SiteUnavailable as exc:
            raise Retry(str(exc)) from None
        except SiteError as exc:
            if 400 <= exc.status < 500 and exc.status not in (409, 429):
                raise Permanent(f"the site refused ({exc.status}): {exc}") from None
            raise
    return run
