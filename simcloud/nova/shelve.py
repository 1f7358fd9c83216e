"""`shelve`, `shelveOffload` (admin) and `unshelve`, as Nova runs them with
its default `shelved_offload_time = 0`: a shelve snapshots the server into
the site's Glance (`<name>-shelved`), powers it off and offloads it at once,
so it shows SHELVED only in passing and then SHELVED_OFFLOADED, on no host,
its room on the host free (its quota still counted). Unshelve schedules it
again (2.77 into a zone by name, 2.91 also to a host, or unpinned with a null
zone), spawns it from the snapshot and deletes the snapshot; with no room
left it stays offloaded, as Nova's conductor leaves it.
"""
from __future__ import annotations

import functools

from aiohttp import web

from simcloud.glance.store import ImageStore
from simcloud.nova import lifecycle
from simcloud.nova import states as S
from simcloud.nova import validation as V
from simcloud.nova.action_checks import Handler, accepted, require
from simcloud.nova.errors import bad_request, conflict, policy_forbidden
from simcloud.nova.servers import check_lock, drop_shelved_snapshot
from simcloud.nova.snapshots import make_image
from simcloud.nova.store import ComputeStore

_ANY = {"shelve": V.BodySchema({"type": "object", "properties": {"shelve": {}},
                                "required": ["shelve"], "additionalProperties": False}),
        "shelveOffload": V.BodySchema({"type": "object", "properties": {"shelveOffload": {}},
                                       "required": ["shelveOffload"],
                                       "additionalProperties": False})}
_POLICY = "os_compute_api:os-shelve:%s"


@functools.lru_cache(maxsize=None)
def unshelve_schema(version: tuple[int, int]) -> V.BodySchema:
    if version < (2, 77):
        spec: dict = {}
    elif version < (2, 91):
        spec = {"type": ["object", "null"], "properties": {"availability_zone": V.NAME},
                "required": ["availability_zone"], "additionalProperties": False}
    else:
        spec = {"type": ["object", "null"], "properties": {
            "availability_zone": {"type": ["string", "null"]}, "host": {"type": "string"}},
            "additionalProperties": False}
    return V.BodySchema({"type": "object", "properties": {"unshelve": spec},
                         "required": ["unshelve"], "additionalProperties": False})


class ShelveActions:
    def __init__(self, store: ComputeStore, images: ImageStore,
                 timing: lifecycle.Timing) -> None:
        self.store = store
        self.images = images
        self.timing = timing

    def handlers(self) -> dict[str, Handler]:
        return {"shelve": self.shelve, "shelveOffload": self.shelve_offload,
                "unshelve": self.unshelve}

    async def shelve(self, request, context, server, body, args) -> web.Response:
        _ANY["shelve"].validate(body)
        check_lock(context, server)
        require(server, "shelve", (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED))
        now = self.store.clock()
        if server.image_id:         # a server booted from a volume keeps its volume
            image = make_image(self.images, context, server, f"{server.name}-shelved",
                               "snapshot", {}, self.timing.action * 0.6)
            server.shelved_image_id = image.id
        self.store.vacate(server)
        lifecycle.shelve(server, now, self.timing)
        return accepted(context, server, "shelve", now)

    async def shelve_offload(self, request, context, server, body, args) -> web.Response:
        _ANY["shelveOffload"].validate(body)
        if not context.is_admin:
            raise policy_forbidden(_POLICY % "shelve_offload")
        check_lock(context, server)
        require(server, "shelveOffload", (S.SHELVED,))
        now = self.store.clock()
        lifecycle.shelve_offload(server, now, self.timing)
        return accepted(context, server, "shelveOffload", now)

    async def unshelve(self, request, context, server, body, args) -> web.Response:
        version = context.version
        unshelve_schema(version).validate(body)
        az_given = version >= (2, 77) and isinstance(args, dict) and "availability_zone" in args
        new_az = args.get("availability_zone") if az_given else None
        host = args.get("host") if version >= (2, 91) and isinstance(args, dict) else None
        check_lock(context, server)
        require(server, "unshelve", (S.SHELVED, S.SHELVED_OFFLOADED))
        if (az_given or host) and server.vm_state != S.SHELVED_OFFLOADED:
            raise conflict(
                f'Specifying an availability zone or a host when unshelving server '
                f'"{server.id}" with status "{server.vm_state}" is not supported. The server '
                f'status must be SHELVED_OFFLOADED.')
        if az_given and new_az and new_az != self.store.availability_zone:
            raise bad_request("The requested availability zone is not available")
        zone = new_az if az_given else server.pinned_az
        if host:
            if not context.is_admin:
                raise policy_forbidden(_POLICY % "unshelve_to_host")
            if host != self.store.host:
                raise bad_request(f"Compute host {host} could not be found.")
            if zone is not None and zone != self.store.availability_zone:
                raise conflict(f'Host "{host}" is not in the availability zone "{zone}".')
        server.pinned_az = zone
        now = self.store.clock()
        placed = self.store.fits(server.flavor)
        if placed:
            self.store.occupy(server)
            drop_shelved_snapshot(self.images, server)
        lifecycle.unshelve(server, now, self.timing, placed=placed)
        return accepted(context, server, "unshelve", now)
