"""What each kind of job does, declared once by the module that owns the
work, and which jobs recur.

    @handler("sync.changes")
    async def poll_changes(rt, job) -> dict | None: ...

    periodic("sync.changes", every=lambda settings: settings.sync.changes_period, per_site=True)
    lane("sync", {"sync.changes", "sync.sweep"}, concurrency=lambda settings: settings.sync.concurrency)

A lane gives its kinds slots of their own in every worker, beside the
`[jobs] concurrency` slots the other kinds share: a crowd of other jobs
(the stamps of an adoption) never delays them.

A handler gets the runtime and the `Job`; what it returns is kept as the
job's result (or a `Finish`, whose last step ends with the job). It raises
`Retry` to be run again later (counted as an attempt), `Permanent` to fail
at once, anything else to be retried with backoff. A handler must be
idempotent: after a crash it may run again.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from cascade.config import Settings
    from cascade.persistence.jobs import Job
    from cascade.runtime import Runtime

Handler = Callable[["Runtime", "Job"], Awaitable["dict | Finish | None"]]

# modules whose import registers handlers; listed here so that every worker,
# in any process, knows every kind
HANDLER_MODULES: list[str] = [
    "cascade.adoption.jobs",
    "cascade.consistency.servers",
    "cascade.consistency.copies",
    "cascade.consistency.site_quotas",
    "cascade.sync.jobs",
]


class Retry(Exception):
    """Run the job again after `delay` seconds (None: the backoff's delay)."""

    def __init__(self, reason: str, *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Permanent(Exception):
    """The job cannot succeed; it fails at once with this reason."""


@dataclasses.dataclass(frozen=True)
class Finish:
    """What a handler returns when its last write belongs with the job's
    end: `step(session)` is written in the transaction that ends the job
    (one transaction where there would be two, for a job that runs every
    few seconds per site)."""
    result: dict | None
    step: Callable[[Any], Awaitable[Any]]


@dataclasses.dataclass(frozen=True)
class Periodic:
    kind: str
    every: Callable[["Settings"], float]
    per_site: bool

    def key(self, site_id: str | None = None) -> str:
        return f"{self.kind}:{site_id}" if self.per_site else self.kind


@dataclasses.dataclass(frozen=True)
class Lane:
    name: str
    kinds: frozenset[str]
    concurrency: Callable[["Settings"], int]


_handlers: dict[str, Handler] = {}
_periodic: dict[str, Periodic] = {}
_lanes: dict[str, Lane] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn
    return register


def periodic(kind: str, *, every: Callable[["Settings"], float], per_site: bool = False) -> None:
    _periodic[kind] = Periodic(kind, every, per_site)


def lane(name: str, kinds: set[str], *, concurrency: Callable[["Settings"], int]) -> None:
    _lanes[name] = Lane(name, frozenset(kinds), concurrency)


def load() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


def handler_for(kind: str) -> Handler | None:
    load()
    return _handlers.get(kind)


def kinds() -> list[str]:
    load()
    return sorted(_handlers)


def periodic_jobs() -> list[Periodic]:
    load()
    return list(_periodic.values())


def lanes() -> list[Lane]:
    load()
    return list(_lanes.values())


def describe() -> dict[str, Any]:
    return {"kinds": kinds(), "periodic": [p.kind for p in periodic_jobs()]}
