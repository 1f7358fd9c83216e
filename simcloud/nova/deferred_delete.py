"""`restore` and `forceDelete`, as Nova answers them with its default
`reclaim_instance_interval = 0`: deletes are never soft, so no server is
ever SOFT_DELETED and a restore is refused (409) in whatever state the
server is; a force delete is a plain delete (lock and task state checked)."""
from __future__ import annotations

from aiohttp import web

from simcloud.glance.store import ImageStore
from simcloud.nova import lifecycle
from simcloud.nova import states as S
from simcloud.nova import validation as V
from simcloud.nova.action_checks import Handler, require
from simcloud.nova.servers import check_lock, delete_server
from simcloud.nova.store import ComputeStore

_SCHEMAS = {name: V.BodySchema({"type": "object", "properties": {name: {}},
                                "required": [name], "additionalProperties": False})
            for name in ("restore", "forceDelete")}


class DeferredDeleteActions:
    def __init__(self, store: ComputeStore, images: ImageStore,
                 timing: lifecycle.Timing) -> None:
        self.store = store
        self.images = images
        self.timing = timing

    def handlers(self) -> dict[str, Handler]:
        return {"restore": self.restore, "forceDelete": self.force_delete}

    async def restore(self, request, context, server, body, args) -> web.Response:
        _SCHEMAS["restore"].validate(body)
        check_lock(context, server)
        require(server, "restore", (S.SOFT_DELETED,))
        return web.Response(status=202)       # unreachable: nothing is soft-deleted

    async def force_delete(self, request, context, server, body, args) -> web.Response:
        _SCHEMAS["forceDelete"].validate(body)
        check_lock(context, server)
        require(server, "forceDelete", None, must_have_launched=False)
        delete_server(self.store, self.images, self.timing, context, server)
        return web.Response(status=202)
