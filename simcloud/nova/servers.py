"""The `/servers` collection and members: list, detail, create, show,
update and delete, plus the lookup every per-server route shares (a server
of another project is "not found", as Nova's project-scoped queries make it).
"""
from __future__ import annotations

import functools
from typing import Callable

from aiohttp import web

from simcloud.glance.store import ImageStore
from simcloud.nova import lifecycle, server_views, states
from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import conflict, instance_not_found, locked
from simcloud.nova.action_checks import record
from simcloud.nova.model import Server
from simcloud.nova.server_create import ServerCreator
from simcloud.nova.server_list import ServerQuery
from simcloud.nova.store import ComputeStore


def find_server(store: ComputeStore, context: ComputeContext, server_id: str) -> Server:
    server = store.get(server_id)
    if server is None or (server.project_id != context.project_id and not context.is_admin):
        raise instance_not_found(server_id)
    return server


def check_lock(context: ComputeContext, server: Server) -> None:
    if server.locked and not context.is_admin:
        raise locked(server.id)


@functools.lru_cache(maxsize=None)
def update_schema(version: tuple[int, int]) -> V.BodySchema:
    props: dict = {"name": V.NAME, "OS-DCF:diskConfig": V.DISK_CONFIG,
                   "accessIPv4": {"type": "string", "format": "ipv4"},
                   "accessIPv6": {"type": "string", "format": "ipv6"}}
    if version >= (2, 19):
        props["description"] = V.DESCRIPTION
    if version >= (2, 90):
        props["hostname"] = V.FQDN if version >= (2, 94) else V.HOSTNAME
    if version >= (2, 104):
        props["pinned_availability_zone"] = {"oneOf": [V.NAME, {"type": "null"}]}
    return V.BodySchema({"type": "object",
                         "properties": {"server": {"type": "object", "properties": props,
                                                   "additionalProperties": False}},
                         "required": ["server"], "additionalProperties": False})


class ServersResource:
    def __init__(self, store: ComputeStore, images: ImageStore, timing: lifecycle.Timing,
                 host_status: Callable[[], str]) -> None:
        self.store = store
        self.images = images
        self.timing = timing
        self.creator = ServerCreator(store, images, timing)
        self.host_status = host_status

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v2.1/servers", self.index),
            web.get("/v2.1/servers/detail", self.detail),
            web.post("/v2.1/servers", self.create),
            web.get("/v2.1/servers/{server_id}", self.show),
            web.put("/v2.1/servers/{server_id}", self.update),
            web.delete("/v2.1/servers/{server_id}", self.delete),
        ]

    def _list(self, request: web.Request, *, detail: bool) -> web.Response:
        context = ctx(request)
        query = ServerQuery(self.store, context, request.query, detail=detail)
        page = query.page()
        if detail:
            status = self.host_status()
            rows = [server_views.full(context, s, mode="detail", host_status=status)
                    for s in page]
        else:
            rows = [server_views.basic(context, s) for s in page]
        body: dict = {"servers": rows}
        if page and len(page) == query.limit:
            collection = "servers/detail" if detail else "servers"
            body["servers_links"] = context.next_link(request, collection, page[-1].id)
        return respond(body)

    async def index(self, request: web.Request) -> web.Response:
        return self._list(request, detail=False)

    async def detail(self, request: web.Request) -> web.Response:
        return self._list(request, detail=True)

    async def show(self, request: web.Request) -> web.Response:
        context = ctx(request)
        V.no_query(context.version, request.query)
        server = find_server(self.store, context, request.match_info["server_id"])
        return respond({"server": server_views.full(context, server,
                                                    host_status=self.host_status())})

    async def create(self, request: web.Request) -> web.Response:
        context = ctx(request)
        body = V.parse_json(await request.read())
        servers, reservation_id, password = self.creator.create(context, body)
        if V.to_bool(body["server"].get("return_reservation_id", False)):
            return respond({"reservation_id": reservation_id}, 202)
        first = servers[0]
        view = {"id": first.id, "links": context.links("servers", first.id),
                "OS-DCF:diskConfig": "AUTO" if first.auto_disk_config else "MANUAL",
                "security_groups": body["server"].get("security_groups",
                                                      [{"name": "default"}]),
                "adminPass": password}
        return respond({"server": view}, 202,
                       headers={"Location": view["links"][0]["href"]})

    async def update(self, request: web.Request) -> web.Response:
        context = ctx(request)
        server = find_server(self.store, context, request.match_info["server_id"])
        body = V.parse_json(await request.read())
        update_schema(context.version).validate(body)
        changes = body["server"]
        if "pinned_availability_zone" in changes:
            self._pin(server, changes["pinned_availability_zone"])
        if "name" in changes:
            server_views.rename(server, changes["name"].strip())
        if "description" in changes:
            server.description = changes["description"]
        if "hostname" in changes:
            server.hostname = changes["hostname"]
        if "accessIPv4" in changes:
            server.access_ipv4 = V.normal_ip(changes["accessIPv4"])
        if "accessIPv6" in changes:
            server.access_ipv6 = V.normal_ip(changes["accessIPv6"])
        if "OS-DCF:diskConfig" in changes:
            server.auto_disk_config = changes["OS-DCF:diskConfig"] == "AUTO"
        server.touch(self.store.clock())
        return respond({"server": server_views.full(context, server, mode="update",
                                                    host_status=self.host_status())})

    @staticmethod
    def _pin(server: Server, requested: str | None) -> None:
        """2.104: unpin, or pin to the zone the server is in (and only from unpinned)."""
        if requested is None:
            server.pinned_az = None
        elif server.pinned_az is not None:
            if requested != server.pinned_az:
                raise conflict("Cannot change pinned availability zone directly. Unpin first "
                               "by setting pinned_availability_zone to null.")
        elif requested != server.availability_zone:
            raise conflict(f"Server can only be pinned to its current availability zone "
                           f"'{server.availability_zone}', but '{requested}' was requested.")
        else:
            server.pinned_az = requested

    async def delete(self, request: web.Request) -> web.Response:
        context = ctx(request)
        server = find_server(self.store, context, request.match_info["server_id"])
        check_lock(context, server)
        if server.task_state != "deleting":
            delete_server(self.store, self.images, self.timing, context, server)
        return web.Response(status=204)


def delete_server(store: ComputeStore, images: ImageStore, timing: lifecycle.Timing,
                  context: ComputeContext, server: Server) -> None:
    """At once, as Nova deletes with its default reclaim_instance_interval = 0
    (no soft delete); a shelved server's snapshot goes with it."""
    now = store.clock()
    if server.vm_state in (states.SHELVED, states.SHELVED_OFFLOADED):
        drop_shelved_snapshot(images, server)
    done_at = lifecycle.delete(server, now, timing)
    record(context, server, "delete", now)
    store.start_delete(server, done_at)


def drop_shelved_snapshot(images: ImageStore, server: Server) -> None:
    """Unshelved or deleted: the snapshot a shelve made is not needed."""
    if server.shelved_image_id is not None:
        images.delete(server.shelved_image_id)
        server.shelved_image_id = None
