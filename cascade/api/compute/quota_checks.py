"""Where the compute front enforces the cascade's quotas, before a request
reaches a site: server creates (metadata, personality, instances, cores,
RAM, with min/max count), resizes and their reverts (the growth in cores and
RAM), rebuilds (metadata, personality), metadata writes, key pair creates.

A check that reserves (creates, resizes, reverts) holds its reservation for
the request that made it: `release_middleware` releases it when the request
ends, after the handler has recorded what it made, so usage never
undercounts in between; and what the handler records is taken off the
reservation in the same transaction, so it never overcounts either. After
a resize or revert is accepted, the servers projection carries the flavor
the server is now charged for."""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import dependencies
from cascade.api.compute.common import context, runtime_of
from cascade.persistence.flavors import Flavor
from cascade.quotas.engine import Reservation
from cascade.resources.kinds import STAMP_KEY

LOG = logging.getLogger(__name__)

_HELD = "cascade.quota_reservations"
_RESIZE = "cascade.quota_resize"
_RESIZE_HELD = "cascade.quota_resize_reservation"


@web.middleware
async def release_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    finally:
        for reservation in request.get(_HELD, ()):
            try:
                await runtime_of(request).quotas.release(reservation)
            except Exception:  # noqa: BLE001 - it lapses at its expiry anyway
                LOG.exception("quota reservation %s not released", reservation.id)


def _hold(request: web.Request, reservation: Reservation) -> None:
    if reservation.id is not None:
        request.setdefault(_HELD, []).append(reservation)


def _files(personality: Any) -> list[tuple[str, str]]:
    return [(str(f.get("path", "")), str(f.get("contents", ""))) for f in personality or [] if isinstance(f, dict)]


async def reserve_servers(request: web.Request, flavor: Flavor, spec: dict, min_count: int,
                          max_count: int) -> Reservation:
    """A create's checks, in Nova's order; the reservation says how many
    servers it may make: max_count, or as many as fit if that is at least
    min_count (then `spec["max_count"]` says so too). Each server recorded
    is taken off it (`QuotaEngine.settling`)."""
    rt, ctx = runtime_of(request), context(request)
    if spec.get("metadata"):
        await rt.quotas.check_metadata(ctx.project_id, ctx.user_id, len(spec["metadata"]))
    await rt.quotas.check_injected_files(ctx.project_id, ctx.user_id, _files(spec.get("personality")))
    reservation = await rt.quotas.reserve_servers(ctx.project_id, ctx.user_id, vcpus=flavor.vcpus, ram=flavor.ram,
                                                  min_count=min_count, max_count=max_count)
    _hold(request, reservation)
    if reservation.count < max_count:
        spec["max_count"] = reservation.count
    return reservation


async def check_metadata(request: web.Request, target: patterns.Target, metadata: dict, *, replace: bool) -> None:
    """A metadata write leaves at most metadata_items keys: the new set, or
    (merging) the server's keys and the new ones."""
    rt, ctx = runtime_of(request), context(request)
    keys = set(metadata) - {STAMP_KEY}
    if not replace:
        current = await patterns.forward_routed(rt, ctx, target, "GET", "/metadata")
        keys |= set((current.body or {}).get("metadata") or {}) - {STAMP_KEY}
    await rt.quotas.check_metadata(ctx.project_id, ctx.user_id, len(keys))


async def check_keypairs(request: web.Request, user_id: str) -> None:
    ctx = context(request)
    await runtime_of(request).quotas.check_keypairs(ctx.project_id, user_id)


async def before_action(request: web.Request, target: patterns.Target, action: str, payload: Any) -> None:
    """Quota checks of a server action, with the tenant's own payload."""
    rt, ctx = runtime_of(request), context(request)
    if action == "rebuild" and isinstance(payload, dict):
        if isinstance(payload.get("metadata"), dict) and payload["metadata"]:
            await rt.quotas.check_metadata(ctx.project_id, ctx.user_id, len(payload["metadata"]))
        await rt.quotas.check_injected_files(ctx.project_id, ctx.user_id, _files(payload.get("personality")))
    elif action == "resize" and isinstance(payload, dict) and payload.get("flavorRef"):
        from cascade.api.compute.servers import reference_id
        new = await dependencies.find_flavor(rt, ctx, reference_id(payload["flavorRef"]), for_create=True)
        await _charge(request, target, new.id)
    elif action == "revertResize":
        pending = await rt.quotas.resize_pending(target.route.top_id)
        if pending is not None:
            await _charge(request, target, pending.old_flavor_id)


async def _charge(request: web.Request, target: patterns.Target, flavor_id: str) -> None:
    """Reserve a server's growth to `flavor_id`, charged to the server's own
    project and user; remembered for `after_action`."""
    rt = runtime_of(request)
    try:
        server = await rt.servers.get(target.route.top_id)
        current = await rt.flavors.get(server.flavor_id, include_deleted=True)
        wanted = await rt.flavors.get(flavor_id, include_deleted=True)
    except errors.NotFound:
        return   # not in the projection (yet): nothing to charge against
    reservation = await rt.quotas.reserve_upsize(server.project_id, server.user_id, old=(current.vcpus, current.ram),
                                                 new=(wanted.vcpus, wanted.ram))
    _hold(request, reservation)
    request[_RESIZE] = (server, flavor_id)
    request[_RESIZE_HELD] = reservation


async def after_action(request: web.Request, target: patterns.Target, action: str) -> None:
    """A site accepted the action: charge the server's new flavor from now on."""
    rt = runtime_of(request)
    top_id = target.route.top_id
    if action in ("resize", "revertResize") and _RESIZE in request:
        server, flavor_id = request[_RESIZE]
        async with rt.quotas.settling(server.project_id, request[_RESIZE_HELD]) as session:
            await rt.servers.upsert_many([dataclasses.replace(server, flavor_id=flavor_id)], session=session)
        if action == "resize":
            await rt.quotas.resize_started(top_id, old_flavor_id=server.flavor_id, new_flavor_id=flavor_id)
    if action in ("confirmResize", "revertResize"):
        await rt.quotas.resize_ended(top_id)
