"""Servers: create (placed), show, update and delete (routed).

A create resolves the tenant's references (flavor, image, key pair, zone),
asks `scheduling.placement` for the site, makes sure the site has its own copy
of each dependency, then, under a journal entry (`cascade.consistency.servers`
recovers an interrupted one), reserves a top id, forwards the create with the
bottom ids and the top id stamped in the server's metadata, and binds the
route. A delete is journaled too."""
from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from typing import Any

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute import dependencies, quota_checks, schemas, server_groups, server_views
from cascade.api.compute.common import body_of, context, reply, runtime_of
from cascade.consistency import servers as recovery
from cascade.consistency import site_quotas
from cascade.context import RequestContext
from cascade.jobs.journal import Entry
from cascade.persistence.servers import ProjectedServer
from cascade.quotas.engine import Reservation
from cascade.resources.kinds import SERVER, STAMP_KEY
from cascade.runtime import Runtime
from cascade.scheduling import placement
from cascade.sites.client import SiteResponse
from cascade.sites.model import Site
from cascade.sites.versions import at_least


def not_found(server_id: str) -> str:
    return f"Instance {server_id} could not be found."


def reference_id(value: Any) -> str:
    """Nova accepts an id or a URL whose last segment is the id."""
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def _zone(value: str | None) -> str | None:
    """`az`, `az:host` and `az::node` all name the zone first."""
    if not value:
        return None
    return value.split(":", 1)[0] or None


def _counts(spec: dict) -> tuple[int, int]:
    """Nova's defaults: min_count 1, max_count as min_count."""
    min_count = int(spec.get("min_count", 1))
    return min_count, int(spec.get("max_count", min_count))


async def create(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request)
    schemas.validate(body, schemas.server_create_schema(ctx.microversion))
    spec: dict = body["server"]
    min_count, max_count = _counts(spec)
    if min_count > max_count:
        raise errors.BadRequest("min_count must be <= max_count")
    flavor = await dependencies.find_flavor(rt, ctx, reference_id(spec["flavorRef"]), for_create=True)
    image_id = reference_id(spec["imageRef"]) if spec.get("imageRef") else None
    if image_id is None and not spec.get("block_device_mapping_v2"):
        raise errors.BadRequest("Block Device Mapping is Invalid: You specified more local devices than the limit allows")
    image_copies = await dependencies.image_copies(rt, ctx, image_id) if image_id else None
    keypair = await dependencies.find_keypair(rt, ctx, spec["key_name"]) if spec.get("key_name") else None
    if isinstance(spec.get("networks"), list) and any("uuid" in n or n.get("port") for n in spec["networks"]):
        bad = next(n.get("uuid") or n.get("port") for n in spec["networks"] if n.get("uuid") or n.get("port"))
        raise errors.BadRequest(f"Network {bad} could not be found.")
    zone = _zone(spec.get("availability_zone"))
    if zone is not None and rt.registry.by_az(zone) is None:
        raise errors.BadRequest("The requested availability zone is not available")
    group = await server_groups.requested(rt, ctx, body)
    reservation = await quota_checks.reserve_servers(request, flavor, spec, min_count, max_count)
    max_count = reservation.count
    wanted = placement.PlacementRequest(
        vcpus=flavor.vcpus * max_count, memory_mb=flavor.ram * max_count, availability_zone=zone,
        image_sites=frozenset(image_copies) if image_copies is not None else None,
        microversion=ctx.microversion)
    return await placement.place(wanted, lambda wanted: _create_placed(
        rt, ctx, body, wanted, group, flavor, image_id, image_copies, keypair, zone, reservation))


async def _create_placed(rt: Runtime, ctx: RequestContext, body: dict, wanted: placement.PlacementRequest,
                         group, flavor, image_id: str | None, image_copies, keypair, zone: str | None,
                         reservation: Reservation) -> web.Response:
    """The create in the site chosen for `wanted`; `placement.place` calls it
    again without a site that could not be reached at all."""
    spec: dict = body["server"]
    max_count = reservation.count
    site = await server_groups.choose_site(rt, group, wanted)
    rt.registry.claim(site.id, vcpus=flavor.vcpus * max_count, memory_mb=flavor.ram * max_count)
    await site_quotas.ensure_open(rt, site, ctx.project_id)
    bottom_spec = schemas.canonical_access_ips(spec)
    bottom_spec.pop("availability_zone", None)  # the site schedules inside itself...
    if zone is not None and (site_zone := await dependencies.site_zone(rt, ctx, site)):
        bottom_spec["availability_zone"] = site_zone  # ...but a zone asked for pins the server (2.96)
    bottom_spec["flavorRef"] = await dependencies.flavor_in_site(rt, flavor, site, project_id=ctx.project_id)
    if image_id:
        bottom_spec["imageRef"] = image_copies[site.id]
    if keypair is not None:
        await dependencies.keypair_in_site(rt, ctx, keypair, site)
    if spec.get("block_device_mapping_v2"):
        bottom_spec["block_device_mapping_v2"] = await _bdm_to_bottom(rt, ctx, spec["block_device_mapping_v2"], site)
    hints = {k: v for k, v in body.items() if k != "server"}
    hints = await server_groups.hints_to_bottom(rt, ctx, group, site, hints)
    if max_count > 1:
        return await _create_many(rt, ctx, site, spec, bottom_spec, hints, flavor.id, image_id, reservation,
                                  group=group)
    return await _create_one(rt, ctx, site, spec, bottom_spec, hints, flavor.id, image_id, reservation, group=group)


async def _create_one(rt: Runtime, ctx: RequestContext, site: Site, spec: dict, bottom_spec: dict,
                      hints: dict, flavor_id: str, image_id: str | None, reservation: Reservation,
                      group=None) -> web.Response:
    """One server in `site`, journaled (`consistency.servers`): the entry
    ends before the answer, so an interrupted create is undone, never
    finished, and never posted twice. Three write transactions: the entry
    with the reserved route, the site's answer recorded with the entry's
    end (a recovery before that finds the server by its stamp), and the
    quota reservation before them."""
    top_id = str(uuid.uuid4())

    async def reserve_route(session) -> None:
        await rt.routes.reserve(SERVER.name, site_id=site.id, project_id=ctx.project_id, top_id=top_id,
                                session=session)

    async with rt.journal.entry(recovery.CREATE, {"top_id": top_id, "site_id": site.id, "project_id": ctx.project_id},
                                max_attempts=recovery.RECOVERY_ATTEMPTS, opening=reserve_route) as entry:
        bottom_spec["metadata"] = {**spec.get("metadata", {}), STAMP_KEY: top_id}
        response = await _post_create(rt, ctx, site, entry, [top_id], json={"server": bottom_spec, **hints},
                                      replacements=_top_names(bottom_spec, flavor_id, image_id))
        bottom = response.body["server"]
        entry.payload["bottom_id"] = bottom["id"]
        await server_groups.join(rt, group, [top_id])
        await _record(rt, ctx, site, top_id, bottom["id"], spec, flavor_id, image_id, reservation,
                      answer=response, entry=entry)
    answer = await rt.translator.to_top(SERVER, site, bottom, base_url=ctx.base_url)
    location = f"{ctx.base_url}/servers/{top_id}"
    return reply({"server": answer}, status=202, headers={"Location": location})


async def _post_create(rt: Runtime, ctx: RequestContext, site: Site, entry, top_ids: list[str], *, json: dict,
                       replacements: dict[str, str]):
    """The create's POST. No answer in time, or a 5xx, leaves the entry to
    its recovery, which finds what the site may have made by its stamp; a
    site's refusal (4xx), or a request never sent, made nothing: the
    reserved routes go and the entry is settled (so that an unreachable site's
    create can be placed again elsewhere)."""
    try:
        return await patterns.forward(rt, ctx, site, "compute", "POST", "/servers", json=json,
                                      replacements=replacements)
    except errors.CascadeError as exc:
        if isinstance(exc, errors.SiteUnavailable) and not isinstance(exc, errors.SiteUnreachable):
            raise
        if isinstance(exc, errors.SiteError) and exc.status >= 500:
            raise
        for top_id in top_ids:
            await rt.routes.forget(SERVER.name, top_id, site_id=site.id)
        entry.settle()
        raise


def _top_names(bottom_spec: dict, flavor_id: str, image_id: str | None) -> dict[str, str]:
    """The site's ids of a create's flavor and image, for its error texts."""
    names = {bottom_spec["flavorRef"]: flavor_id}
    if image_id and bottom_spec.get("imageRef"):
        names[bottom_spec["imageRef"]] = image_id
    return names


async def _create_many(rt: Runtime, ctx: RequestContext, site: Site, spec: dict, bottom_spec: dict,
                       hints: dict, flavor_id: str, image_id: str | None, reservation: Reservation,
                       group=None) -> web.Response:
    """min/max_count: one create in the site, then every server it made is
    given a top id. The servers are made stamped with the first one's top
    id (one request, one metadata for all); status sync gives each its own
    once the site lets its metadata change. The site answers only
    the reservation, so the admin password Nova gives in the answer is
    chosen here (Nova gives all servers of one create the same)."""
    bottom_spec["return_reservation_id"] = True
    bottom_spec.setdefault("adminPass", _password())
    stamp = str(uuid.uuid4())
    async with rt.journal.entry(recovery.CREATE_MANY, {"stamp": stamp, "site_id": site.id,
                                                       "project_id": ctx.project_id},
                                max_attempts=recovery.RECOVERY_ATTEMPTS) as entry:
        await rt.routes.reserve(SERVER.name, site_id=site.id, project_id=ctx.project_id, top_id=stamp)
        bottom_spec["metadata"] = {**spec.get("metadata", {}), STAMP_KEY: stamp}
        response = await _post_create(rt, ctx, site, entry, [stamp], json={"server": bottom_spec, **hints},
                                      replacements=_top_names(bottom_spec, flavor_id, image_id))
        reservation_id = response.body["reservation_id"]
        await entry.note(reservation_id=reservation_id)
        await patterns.remember_request(rt, ctx, site, response)
        made = await patterns.forward(rt, ctx, site, "compute", "GET", "/servers/detail",
                                      params={"reservation_id": reservation_id})
        servers = sorted(made.body["servers"], key=lambda s: s.get("OS-EXT-SRV-ATTR:launch_index", 0))
        if not servers:
            raise errors.SiteError("The site made no server.", status=500, site=site.name)
        top_ids = [stamp] + [str(uuid.uuid4()) for _ in servers[1:]]
        await entry.note(top_ids=top_ids)
        for top_id, bottom in zip(top_ids, servers):
            if top_id != stamp:
                await rt.routes.reserve(SERVER.name, site_id=site.id, project_id=ctx.project_id, top_id=top_id)
            await _record(rt, ctx, site, top_id, bottom["id"], {**spec, "name": bottom.get("name", spec["name"])},
                          flavor_id, image_id, reservation)
            await server_groups.join(rt, group, [top_id])
    if spec.get("return_reservation_id") in (True, "True", "true", "1"):
        return reply({"reservation_id": reservation_id}, status=202)
    answer = await rt.translator.to_top(SERVER, site, servers[0], base_url=ctx.base_url)
    # the create view of Nova: the requested security groups (else the default one) and the password
    answer = {k: answer[k] for k in ("id", "links", "OS-DCF:diskConfig") if k in answer}
    answer["security_groups"] = spec.get("security_groups", [{"name": "default"}])
    answer["adminPass"] = bottom_spec["adminPass"]
    return reply({"server": answer}, status=202, headers={"Location": f"{ctx.base_url}/servers/{stamp}"})


def _password(length: int = 12) -> str:
    """A password as Nova makes them: one of each of its symbol groups
    (no look-alike characters), the rest from all of them, shuffled."""
    groups = ("23456789", "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz")
    chars = [secrets.choice(group) for group in groups]
    chars += [secrets.choice("".join(groups)) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


async def _record(rt: Runtime, ctx: RequestContext, site: Site, top_id: str, bottom_id: str, spec: dict,
                  flavor_id: str, image_id: str | None, reservation: Reservation, *,
                  answer: SiteResponse | None = None, entry: Entry | None = None) -> None:
    """A made server, in one transaction: its route bound, its projection
    row, its share of the quota reservation taken, and (given) the site's
    request id of `answer` and the journal entry's end."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with rt.quotas.settling(ctx.project_id, reservation, reservation.each) as held:
        async with rt.db.joined(held) as session:
            await rt.routes.bind(SERVER.name, top_id, site.id, bottom_id, session=session)
            await rt.servers.upsert_many([ProjectedServer(
                top_id=top_id, site_id=site.id, project_id=ctx.project_id, user_id=ctx.user_id, name=spec["name"],
                status="BUILD", task_state="scheduling", flavor_id=flavor_id, image_id=image_id, created=now)],
                session=session)
            if answer is not None:
                await patterns.remember_request(rt, ctx, site, answer, session=session)
            if entry is not None:
                await entry.end(session)


async def _bdm_to_bottom(rt: Runtime, ctx: RequestContext, mappings: list[dict], site: Site) -> list[dict]:
    out = []
    for bdm in mappings:
        bdm = dict(bdm)
        if bdm.get("source_type") == "image" and bdm.get("uuid"):
            copies = await dependencies.image_copies(rt, ctx, bdm["uuid"])
            if site.id not in copies:
                raise errors.BadRequest(dependencies.IMAGE_NOT_FOUND)
            bdm["uuid"] = copies[site.id]
        elif bdm.get("source_type") in ("volume", "snapshot"):
            raise errors.BadRequest(f"Volume {bdm.get('uuid')} could not be found.")
        out.append(bdm)
    return out


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    # as in Nova, a server being deleted shows until its site has deleted it
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id), deleted=True)
    try:
        response = await patterns.forward_routed(rt, ctx, target, "GET")
    except errors.SiteUnavailable:
        if target.route.state == "deleting":
            raise errors.NotFound(not_found(server_id)) from None
        if not at_least(ctx.microversion, "2.69"):
            raise
        row = await rt.servers.get(server_id)
        return reply({"server": server_views.partial(ctx, row, target.site, form="show")})
    server = await rt.translator.to_top(SERVER, target.site, response.body["server"], base_url=ctx.base_url)
    if server is None:
        raise errors.NotFound(not_found(server_id))
    return reply({"server": server})


async def update(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    body = await body_of(request)
    schemas.validate(body, schemas.server_update_schema(ctx.microversion))
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id))
    body = {"server": schemas.canonical_access_ips(body["server"])}
    if isinstance(body["server"].get("pinned_availability_zone"), str):
        body["server"]["pinned_availability_zone"] = await _pin_to_bottom(
            rt, ctx, target, body["server"]["pinned_availability_zone"])
    response = await patterns.forward_routed(rt, ctx, target, "PUT", json=body)
    if "name" in body["server"]:
        row = await rt.servers.get(server_id)
        await rt.servers.upsert(dataclasses.replace(row, name=body["server"]["name"]))
    server = await rt.translator.to_top(SERVER, target.site, response.body["server"], base_url=ctx.base_url)
    return reply({"server": server})


async def _pin_to_bottom(rt: Runtime, ctx: RequestContext, target: patterns.Target, zone: str) -> str:
    """2.104: a server can be pinned only to the zone it is in, which in the
    cascade is its site: that zone is given to the site as the site names its
    own zone; any other is refused as Nova refuses it (409), in the cascade's
    zone names (a cascade does not move servers between sites)."""
    response = await patterns.forward_routed(rt, ctx, target, "GET")
    bottom = response.body.get("server") or {}
    own = target.site.availability_zone
    if bottom.get("pinned_availability_zone") is not None and zone != own:
        raise errors.Conflict("Cannot change pinned availability zone directly. "
                              "Unpin first by setting pinned_availability_zone to null.")
    if zone != own:
        raise errors.Conflict(f"Server can only be pinned to its current availability zone '{own}', "
                              f"but '{zone}' was requested.")
    return bottom.get("OS-EXT-AZ:availability_zone") or zone


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id))
    async with rt.journal.entry(recovery.DELETE, {"top_id": server_id, "site_id": target.site.id,
                                                  "bottom_id": target.bottom_id, "project_id": target.route.project_id},
                                max_attempts=recovery.RECOVERY_ATTEMPTS) as entry:
        try:
            response = await patterns.forward_routed(rt, ctx, target, "DELETE")
            async with rt.db.session(writing=True) as session:
                await patterns.remember_request(rt, ctx, target.site, response, session=session)
                await recovery.mark_deleted(rt, server_id, target.site.id, session=session)
                await entry.end(session)
        except errors.SiteError:
            entry.settle()      # the site refused: nothing changed
            raise
        except Exception:
            # the tenant hears it failed: recovery records only what the site did
            await entry.note(answered="error")
            raise
    return reply(status=204)


async def deleted(rt: Runtime, target: patterns.Target) -> None:
    """Its site took a server's delete (or forceDelete); see
    `consistency.servers.mark_deleted`."""
    await recovery.mark_deleted(rt, target.route.top_id, target.site.id)


async def restored(rt: Runtime, target: patterns.Target) -> None:
    """Its site took the restore of a soft-deleted server: routed again."""
    server_id = target.route.top_id
    await rt.routes.set_state(SERVER.name, server_id, "bound", site_id=target.site.id)
    try:
        row = await rt.servers.get(server_id)
    except errors.NotFound:
        return
    await rt.servers.upsert(dataclasses.replace(row, deleted=False))


async def shares(request: web.Request) -> web.Response:
    """2.97 share attachments: the site's answer relayed (Manila's share ids
    are not the cascade's; without Manila a site has none to list)."""
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id))
    share_id = request.match_info.get("share_id")
    response = await patterns.forward_routed(rt, ctx, target, "GET", f"/shares/{share_id}" if share_id else "/shares")
    return reply(response.body, status=response.status)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/servers/{{server_id}}/shares", shares)
    router.add_get(f"{prefix}/servers/{{server_id}}/shares/{{share_id}}", shares)
    router.add_post(f"{prefix}/servers", create)
    router.add_get(f"{prefix}/servers/{{server_id}}", show)
    router.add_put(f"{prefix}/servers/{{server_id}}", update)
    router.add_delete(f"{prefix}/servers/{{server_id}}", delete)

