"""`POST /servers/{id}/action`: the dispatch of every server action, and
reboot, stop/start, pause/unpause, suspend/resume, lock/unlock, resize and
its confirm/revert, rebuild and the admin's os-resetState and
injectNetworkInfo. The other actions live with their subject: snapshots
(createImage, createBackup), shelve, console output, deferred delete.

Each action checks what Nova checks, in Nova's order -- the lock (unless
admin), then vm_state, task_state and launched_at -- and starts the timed
sequence of `lifecycle`.
"""
from __future__ import annotations

import functools
from typing import Callable

from aiohttp import web

from simcloud.glance.store import ImageStore
from simcloud.nova import lifecycle, quotas, server_views
from simcloud.nova import states as S
from simcloud.nova import validation as V
from simcloud.nova.action_checks import Handler, record, require
from simcloud.nova.app import respond
from simcloud.nova.console_output import ConsoleOutputActions
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.deferred_delete import DeferredDeleteActions
from simcloud.nova.errors import bad_request, conflict, policy_forbidden
from simcloud.nova.flavor_access import usable_flavor
from simcloud.nova.model import Server
from simcloud.nova.server_create import (check_image_fits, generate_password, id_from_href,
                                         image_props_of)
from simcloud.nova.security_groups import SecurityGroupActions
from simcloud.nova.servers import check_lock, find_server
from simcloud.nova.shelve import ShelveActions
from simcloud.nova.snapshots import SnapshotActions
from simcloud.nova.store import ComputeStore

_ALLOW_HARD_REBOOT_TASKS = (None, "rebooting", "reboot_pending", "reboot_started", "resuming",
                            "rebooting_hard", "unpausing", "pausing", "suspending")
_REBOOT_SCHEMA = V.BodySchema({"type": "object", "properties": {"reboot": {
    "type": "object", "properties": {"type": {"type": "string", "enum": [
        "HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}},
    "required": ["type"], "additionalProperties": False}},
    "required": ["reboot"], "additionalProperties": False})
_RESIZE_SCHEMA = V.BodySchema({"type": "object", "properties": {"resize": {
    "type": "object", "properties": {
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "OS-DCF:diskConfig": V.DISK_CONFIG},
    "required": ["flavorRef"], "additionalProperties": False}},
    "required": ["resize"], "additionalProperties": False})
_LOCK_SCHEMA_V273 = V.BodySchema({"type": "object", "properties": {"lock": {
    "type": ["object", "null"],
    "properties": {"locked_reason": {"type": "string", "minLength": 1, "maxLength": 255}},
    "additionalProperties": False}}, "required": ["lock"], "additionalProperties": False})
_INJECT_SCHEMA = V.BodySchema({"type": "object", "properties": {"injectNetworkInfo": {}},
                              "required": ["injectNetworkInfo"], "additionalProperties": False})
_RESET_STATE_SCHEMA = V.BodySchema({"type": "object", "properties": {"os-resetState": {
    "type": "object", "properties": {"state": {"type": "string", "enum": ["active", "error"]}},
    "required": ["state"], "additionalProperties": False}},
    "required": ["os-resetState"], "additionalProperties": False})


@functools.lru_cache(maxsize=None)
def rebuild_schema(version: tuple[int, int]) -> V.BodySchema:
    props: dict = {"name": V.NAME, "imageRef": V.UUID, "adminPass": {"type": "string"},
                   "metadata": V.METADATA, "preserve_ephemeral": V.BOOLEAN,
                   "OS-DCF:diskConfig": V.DISK_CONFIG,
                   "accessIPv4": {"type": "string", "format": "ipv4"},
                   "accessIPv6": {"type": "string", "format": "ipv6"}}
    if version < (2, 57):
        props["personality"] = {"type": "array"}
    if version >= (2, 19):
        props["description"] = V.DESCRIPTION
    if version >= (2, 54):
        props["key_name"] = {"anyOf": [V.NAME, {"type": "null"}]}
    if version >= (2, 57):
        props["user_data"] = {"type": ["string", "null"], "format": "base64",
                              "maxLength": 65535}
    if version >= (2, 63):
        props["trusted_image_certificates"] = {"type": ["array", "null"]}
    if version >= (2, 90):
        props["hostname"] = V.FQDN if version >= (2, 94) else V.HOSTNAME
    return V.BodySchema({"type": "object", "properties": {"rebuild": {
        "type": "object", "properties": props, "required": ["imageRef"],
        "additionalProperties": False}}, "required": ["rebuild"], "additionalProperties": False})


# Every server action Nova has: one it has and simcloud does not simulate
# still looks the server up first (404 when missing), as Nova's handler does.
NOVA_ACTIONS = frozenset({
    "addFixedIp", "addFloatingIp", "addSecurityGroup", "changePassword", "confirmResize",
    "createBackup", "createImage", "evacuate", "forceDelete", "injectNetworkInfo", "lock",
    "migrate", "os-getConsoleOutput", "os-getRDPConsole", "os-getSPICEConsole",
    "os-getSerialConsole", "os-getVNCConsole", "os-migrateLive", "os-resetState", "os-start",
    "os-stop", "pause", "reboot", "rebuild", "removeFixedIp", "removeFloatingIp",
    "removeSecurityGroup", "rescue", "resetNetwork", "resize", "restore", "resume",
    "revertResize", "shelve", "shelveOffload", "suspend", "trigger_crash_dump", "unlock",
    "unpause", "unrescue", "unshelve"})


class ServerActions:
    def __init__(self, store: ComputeStore, images: ImageStore, timing: lifecycle.Timing,
                 host_status: Callable[[], str]) -> None:
        self.store = store
        self.images = images
        self.timing = timing
        self.host_status = host_status
        self.handlers: dict[str, Handler] = {
            "reboot": self.reboot, "os-stop": self.stop, "os-start": self.start,
            "pause": self.pause, "unpause": self.unpause, "suspend": self.suspend,
            "resume": self.resume, "lock": self.lock, "unlock": self.unlock,
            "resize": self.resize, "confirmResize": self.confirm_resize,
            "revertResize": self.revert_resize, "rebuild": self.rebuild,
            "os-resetState": self.reset_state, "injectNetworkInfo": self.inject_network_info,
        }
        for more in (SnapshotActions(store, images, timing), ShelveActions(store, images, timing),
                     ConsoleOutputActions(store), DeferredDeleteActions(store, images, timing),
                     SecurityGroupActions()):
            self.handlers.update(more.handlers())

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v2.1/servers/{server_id}/action", self.dispatch)]

    async def dispatch(self, request: web.Request) -> web.Response:
        context = ctx(request)
        body = V.parse_json(await request.read())
        if not isinstance(body, dict) or len(body) != 1:
            raise bad_request("Malformed request body")
        (name, args), = body.items()
        handler = self.handlers.get(name)
        if handler is None and name not in NOVA_ACTIONS:
            raise bad_request(f"There is no such action: {name}")
        server = find_server(self.store, context, request.match_info["server_id"])
        if handler is None:       # Nova's, not simulated: found the server, cannot do it
            raise bad_request(f"There is no such action: {name}")
        return await handler(request, context, server, body, args)

    def _accepted(self, context: ComputeContext, server: Server, action: str,
                  status: int = 202) -> web.Response:
        record(context, server, action, self.store.clock())
        return web.Response(status=status)

    async def reboot(self, request, context, server, body, args) -> web.Response:
        _REBOOT_SCHEMA.validate(body)
        check_lock(context, server)
        hard = args["type"].upper() == "HARD"
        if hard:
            require(server, "reboot", (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED, S.ERROR),
                    _ALLOW_HARD_REBOOT_TASKS)
        else:
            require(server, "reboot", (S.ACTIVE,))
        lifecycle.reboot(server, self.store.clock(), self.timing, hard=hard)
        return self._accepted(context, server, "reboot")

    async def _power(self, context: ComputeContext, server: Server, action: str,
                     record_as: str, allowed: tuple[str, ...], task: str, vm_state: str,
                     power_state: int) -> web.Response:
        check_lock(context, server)
        if action in ("stop", "start") and server.host is None:
            raise conflict(f"Instance {server.id} is not ready")
        require(server, action, allowed)
        lifecycle.power(server, self.store.clock(), self.timing, task, vm_state, power_state)
        return self._accepted(context, server, record_as)

    async def stop(self, request, context, server, body, args) -> web.Response:
        return await self._power(context, server, "stop", "stop", (S.ACTIVE, S.ERROR),
                                 "powering-off", S.STOPPED, S.SHUTDOWN)

    async def start(self, request, context, server, body, args) -> web.Response:
        return await self._power(context, server, "start", "start", (S.STOPPED,),
                                 "powering-on", S.ACTIVE, S.RUNNING)

    async def pause(self, request, context, server, body, args) -> web.Response:
        return await self._power(context, server, "pause", "pause", (S.ACTIVE,),
                                 "pausing", S.PAUSED, S.POWER_PAUSED)

    async def unpause(self, request, context, server, body, args) -> web.Response:
        return await self._power(context, server, "unpause", "unpause", (S.PAUSED,),
                                 "unpausing", S.ACTIVE, S.RUNNING)

    async def suspend(self, request, context, server, body, args) -> web.Response:
        return await self._power(context, server, "suspend", "suspend", (S.ACTIVE,),
                                 "suspending", S.SUSPENDED, S.POWER_SUSPENDED)

    async def resume(self, request, context, server, body, args) -> web.Response:
        return await self._power(context, server, "resume", "resume", (S.SUSPENDED,),
                                 "resuming", S.ACTIVE, S.RUNNING)

    async def lock(self, request, context, server, body, args) -> web.Response:
        reason = None
        if context.version >= (2, 73):
            _LOCK_SCHEMA_V273.validate(body)
            reason = (args or {}).get("locked_reason")
        is_owner = server.project_id == context.project_id
        if server.locked and is_owner:
            return web.Response(status=202)
        server.locked_by = "owner" if is_owner else "admin"
        server.locked_reason = reason
        server.touch(self.store.clock())
        return self._accepted(context, server, "lock")

    async def unlock(self, request, context, server, body, args) -> web.Response:
        expected = "owner" if server.project_id == context.project_id else "admin"
        if server.locked_by and server.locked_by != expected and not context.is_admin:
            raise policy_forbidden("os_compute_api:os-lock-server:unlock:unlock_override")
        server.locked_by = None
        server.locked_reason = None
        server.touch(self.store.clock())
        return self._accepted(context, server, "unlock")

    async def resize(self, request, context, server, body, args) -> web.Response:
        _RESIZE_SCHEMA.validate(body)
        check_lock(context, server)
        require(server, "resize", (S.ACTIVE, S.STOPPED))
        flavor_id = id_from_href(args["flavorRef"])
        new = usable_flavor(self.store, context, flavor_id)
        if new is None or new.disabled:
            raise bad_request(f"Flavor {flavor_id} could not be found.")
        old = server.flavor
        if new.id == old.id:
            raise bad_request("When resizing, instances must change flavor!")
        quotas.check_upsize(self.store.quota_book, self.store, server.project_id,
                            server.user_id, old, new)
        now = self.store.clock()
        placed = self.store.fits(new)
        if placed:
            self.store.claim(new)
            self.store.change_flavor_usage(server, old, new)
            server.old_flavor, server.flavor = old, new
        lifecycle.resize(server, now, self.timing, placed=placed)
        return self._accepted(context, server, "resize")

    async def confirm_resize(self, request, context, server, body, args) -> web.Response:
        check_lock(context, server)
        require(server, "confirmResize", (S.RESIZED,))
        if server.old_flavor is not None:
            self.store.release(server.old_flavor)
            server.old_flavor = None
        lifecycle.confirm_resize(server, self.store.clock(), self.timing)
        return self._accepted(context, server, "confirmResize", status=204)

    async def revert_resize(self, request, context, server, body, args) -> web.Response:
        check_lock(context, server)
        require(server, "revertResize", (S.RESIZED,))
        if server.old_flavor is not None:
            new, old = server.flavor, server.old_flavor
            self.store.release(new)
            self.store.change_flavor_usage(server, new, old)
            server.flavor, server.old_flavor = old, None
        lifecycle.revert_resize(server, self.store.clock(), self.timing)
        return self._accepted(context, server, "revertResize")

    async def rebuild(self, request, context, server, body, args) -> web.Response:
        rebuild_schema(context.version).validate(body)
        check_lock(context, server)
        require(server, "rebuild", (S.ACTIVE, S.STOPPED, S.ERROR))
        image = self.images.get(args["imageRef"])
        if image is None or not self.images.visible(image, context.project_id,
                                                    context.is_admin):
            raise bad_request("Cannot find image for rebuild")
        check_image_fits(image, server.flavor)
        if "key_name" in args and args["key_name"] is not None \
                and args["key_name"] not in self.store.user_keypairs(context.user_id):
            raise bad_request("Invalid key_name provided.")
        if "metadata" in args:
            quotas.check_metadata(self.store.quota_book, context.project_id, context.user_id,
                                  len(args["metadata"]))
        server.image_id = image.id
        server.image_props = image_props_of(image)
        if "name" in args:
            server_views.rename(server, args["name"].strip())
        if "metadata" in args:
            server.metadata = dict(args["metadata"]) or None
        for field, attr in (("description", "description"), ("key_name", "key_name"),
                            ("user_data", "user_data"), ("hostname", "hostname")):
            if field in args:
                setattr(server, attr, args[field])
        for field, attr in (("accessIPv4", "access_ipv4"), ("accessIPv6", "access_ipv6")):
            if field in args:
                setattr(server, attr, V.normal_ip(args[field]))
        if "OS-DCF:diskConfig" in args:
            server.auto_disk_config = args["OS-DCF:diskConfig"] == "AUTO"
        password = args.get("adminPass") or generate_password()
        now = self.store.clock()
        lifecycle.rebuild(server, now, self.timing)
        record(context, server, "rebuild", now)
        view = server_views.full(context, server, mode="rebuild",
                                 host_status=self.host_status())
        view["adminPass"] = password
        if context.version >= (2, 57):
            view["user_data"] = server.user_data
        return respond({"server": view}, 202, headers={"Location": view["links"][0]["href"]})

    async def reset_state(self, request, context, server, body, args) -> web.Response:
        if not context.is_admin:
            raise policy_forbidden("os_compute_api:os-admin-actions:reset_state")
        _RESET_STATE_SCHEMA.validate(body)
        server.steps = None
        server.vm_state = S.ERROR if args["state"] == "error" else S.ACTIVE
        server.task_state = None
        server.touch(self.store.clock())
        return self._accepted(context, server, "resetState")

    async def inject_network_info(self, request, context, server, body, args) -> web.Response:
        _INJECT_SCHEMA.validate(body)
        if not context.is_admin:
            raise policy_forbidden("os_compute_api:os-admin-actions:inject_network_info")
        return web.Response(status=202)      # the guest gets its network info; nothing shows
