"""The images Nova makes of a server in the site's Glance: `createImage`
(a snapshot), `createBackup` (a backup, with rotation) and, for `shelve`,
the snapshot it boots from again. Each image carries what Nova gives it: the
properties inherited from the server's image, `base_image_ref`, who booted
the server (`owner_user_name`, `owner_project_name`, `boot_roles`), the
`instance_uuid`, the `user_id` who asked and the `image_type`; a private
image, or a shared one when an admin snapshots another project's server.

Rotation, as Nova's compute does it once a backup is uploaded: of the
server's backups of that type, newest first, those past `rotation` are
deleted (with rotation 0, the new one too).
"""
from __future__ import annotations

from aiohttp import web

from simcloud.glance.store import Image, ImageStore
from simcloud.nova import lifecycle, quotas
from simcloud.nova import states as S
from simcloud.nova import validation as V
from simcloud.nova.action_checks import Handler, record, require
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext
from simcloud.nova.errors import NovaError, bad_request, forbidden
from simcloud.nova.model import Server
from simcloud.nova.store import ComputeStore

_CREATE_IMAGE = V.BodySchema({"type": "object", "properties": {"createImage": {
    "type": "object", "properties": {"name": V.NAME, "metadata": V.METADATA},
    "required": ["name"], "additionalProperties": False}},
    "required": ["createImage"], "additionalProperties": False})
_CREATE_BACKUP = V.BodySchema({"type": "object", "properties": {"createBackup": {
    "type": "object", "properties": {
        "name": V.NAME, "backup_type": {"type": "string"},
        "rotation": V.NON_NEGATIVE_INTEGER, "metadata": V.METADATA},
    "required": ["name", "backup_type", "rotation"], "additionalProperties": False}},
    "required": ["createBackup"], "additionalProperties": False})
_SNAPSHOT_STATES = (S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED)
# image properties a snapshot does not inherit (Nova's NON_INHERITABLE_IMAGE_PROPERTIES)
_NOT_INHERITED = frozenset({"cache_in_nova", "bittorrent", "img_signature",
                            "img_signature_hash_method", "img_signature_key_type",
                            "img_signature_certificate_uuid"})


def make_image(images: ImageStore, context: ComputeContext, server: Server, name: str,
               image_type: str, extra: dict[str, str], ready_in: float) -> Image:
    """The queued image of a snapshot, backup or shelve of `server`."""
    base = images.get(server.image_id) if server.image_id else None
    properties = {k: v for k, v in (base.properties if base else {}).items()
                  if k not in _NOT_INHERITED}
    properties["base_image_ref"] = server.image_id
    if server.creator is not None:
        user_name, project_name, roles = server.creator
        properties.update(owner_user_name=user_name, owner_project_name=project_name,
                          boot_roles=roles)
    properties.update(instance_uuid=server.id, user_id=context.user_id, image_type=image_type)
    visibility = "private"
    if context.project_id != server.project_id:
        visibility = "shared"
        properties["instance_owner"] = server.project_id
    properties.update(extra)
    snapshot = image_type == "snapshot"       # its formats are those of the upload
    return images.snapshot(
        name=name, owner=context.project_id, visibility=visibility,
        min_disk=max(base.min_disk if base else 0, server.flavor.disk),
        min_ram=base.min_ram if base else 0,
        disk_format=None if snapshot or base is None else base.disk_format,
        container_format=None if snapshot or base is None else base.container_format,
        properties=properties, size=base.size or 0 if base else 0, ready_in=ready_in)


def empty_202(headers: dict[str, str]) -> web.Response:
    """Before 2.45 Nova answers with a bare webob response: webob's HTML type."""
    return web.Response(status=202, headers={**headers,
                                             "Content-Type": "text/html; charset=UTF-8"})


def image_location(context: ComputeContext, image_id: str) -> str:
    """Nova's Location of an image it made: under its own API's URL."""
    return f"{context.base}/images/{image_id}"


class SnapshotActions:
    def __init__(self, store: ComputeStore, images: ImageStore,
                 timing: lifecycle.Timing) -> None:
        self.store = store
        self.images = images
        self.timing = timing

    def handlers(self) -> dict[str, Handler]:
        return {"createImage": self.create_image, "createBackup": self.create_backup}

    async def create_image(self, request, context, server, body, args) -> web.Response:
        _CREATE_IMAGE.validate(body)
        require(server, "createImage", _SNAPSHOT_STATES)
        image = make_image(self.images, context, server, args["name"].strip(), "snapshot",
                           dict(args.get("metadata") or {}), self.timing.action)
        now = self.store.clock()
        lifecycle.snapshot(server, now, self.timing)
        record(context, server, "createImage", now)
        if context.version >= (2, 45):
            return respond({"image_id": image.id}, 202)
        return empty_202({"Location": image_location(context, image.id)})

    async def create_backup(self, request, context, server, body, args) -> web.Response:
        _CREATE_BACKUP.validate(body)
        metadata = dict(args.get("metadata") or {})
        if context.version < (2, 39):
            try:
                quotas.check_metadata(self.store.quota_book, context.project_id,
                                      context.user_id, len(metadata))
            except NovaError:
                raise forbidden("Image metadata limit exceeded") from None
        rotation = int(args["rotation"])
        require(server, "createBackup", _SNAPSHOT_STATES)
        if not server.image_id:
            raise bad_request("Backup is not supported for volume-backed instances.")
        backup_type = args["backup_type"]
        image = make_image(self.images, context, server, args["name"].strip(), "backup",
                           {**metadata, "backup_type": backup_type}, self.timing.action)
        now = self.store.clock()
        lifecycle.backup(server, now, self.timing)
        record(context, server, "createBackup", now)
        self.images.later(now + self.timing.action,
                          lambda: self._rotate(server.id, backup_type, rotation))
        if context.version >= (2, 45):
            return respond({"image_id": image.id}, 202)
        return empty_202({"Location": image_location(context, image.id)} if rotation > 0 else {})

    def _rotate(self, server_id: str, backup_type: str, rotation: int) -> None:
        backups = [i for i in self.images.images.values()
                   if i.properties.get("image_type") == "backup"
                   and i.properties.get("backup_type") == backup_type
                   and i.properties.get("instance_uuid") == server_id]
        backups.sort(key=lambda i: (i.created_at, i.seq), reverse=True)
        for image in backups[rotation:]:
            self.images.delete(image.id)
