"""`/servers/{id}/os-instance-actions`: the record of what was asked of a
server (create, reboot, stop, ...), newest first, each with the events Nova's
services record for it (newest first too); 2.58 adds `updated_at` and pages
(`limit`, `marker` a request id, `changes-since` on `updated_at`; 2.66
`changes-before`; a `next` link when a page is full). Events show to admins,
and from 2.51 to the owner without `traceback`; 2.62 adds `hostId` (and
`host` for admins), 2.84 `details` for admins."""
from __future__ import annotations

import hashlib

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import bad_request, instance_not_found, not_found
from simcloud.nova.server_list import MAX_LIMIT
from simcloud.nova.model import Action, Server, create_request_id
from simcloud.nova.store import ComputeStore
from simcloud.nova.timefmt import microtime, parse_iso

_PAGING = {"limit": V.NON_NEGATIVE_INTEGER, "marker": {"type": "string"},
           "changes-since": {"type": "string", "format": "date-time"}}
_INDEX_QUERY = {
    (2, 1): V.QuerySchema({}, strict=False),
    (2, 58): V.QuerySchema(_PAGING, strict=True, single=True),
    (2, 66): V.QuerySchema({**_PAGING, "changes-before": {"type": "string",
                                                          "format": "date-time"}},
                           strict=True, single=True),
}

# The events of each action, in the order the services record them.
_EVENTS = {"create": ("compute__do_build_and_run_instance",),
           "delete": ("compute_terminate_instance",),
           "reboot": ("compute_reboot_instance",), "stop": ("compute_stop_instance",),
           "start": ("compute_start_instance",),
           "rebuild": ("rebuild_server", "compute_rebuild_instance"),
           "resize": ("conductor_migrate_server", "cold_migrate", "compute_prep_resize",
                      "compute_resize_instance", "compute_finish_resize"),
           "confirmResize": ("compute_confirm_resize",),
           "revertResize": ("compute_revert_resize", "compute_finish_revert_resize"),
           "createImage": ("compute_snapshot_instance",),
           "pause": ("compute_pause_instance",), "unpause": ("compute_unpause_instance",),
           "suspend": ("compute_suspend_instance",), "resume": ("compute_resume_instance",),
           "lock": ("api_lock",), "unlock": ("api_unlock",),
           "createBackup": ("compute_backup_instance",),
           "shelve": ("compute_shelve_instance",),
           "shelveOffload": ("compute_shelve_offload_instance",),
           "unshelve": ("get_image_info", "schedule_instances", "compute_unshelve_instance")}


def _create_action(server: Server) -> Action:
    """Not stored: every server has one, and its facts are the server's own."""
    if server.built_at is not None:
        finish = server.built_at
    elif server.fault is not None:
        finish = server.fault[2]
    else:
        finish = server.steps[-1][0] if server.steps else server.created_at
    return Action("create", create_request_id(server), server.user_id, server.project_id,
                  server.created_at, finish)


def actions_of(server: Server) -> list[Action]:
    """Newest first, the create last."""
    later = sorted(server.actions or (), key=lambda a: a.start_time, reverse=True)
    return later + [_create_action(server)]


def _view(context: ComputeContext, server: Server, action: Action) -> dict:
    view = {"action": action.action, "instance_uuid": server.id, "message": None,
            "project_id": action.project_id, "request_id": action.request_id,
            "start_time": microtime(action.start_time), "user_id": action.user_id}
    if context.version >= (2, 58):
        view["updated_at"] = microtime(action.finish_time)
    return view


class InstanceActionsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        base = "/v2.1/servers/{server_id}/os-instance-actions"
        return [web.get(base, self.index), web.get(base + "/{request_id}", self.show)]

    def _server(self, request: web.Request) -> tuple[ComputeContext, Server]:
        context = ctx(request)
        server_id = request.match_info["server_id"]
        server = self.store.get_any(server_id)
        if server is None or (server.project_id != context.project_id and not context.is_admin):
            raise instance_not_found(server_id)
        return context, server

    async def index(self, request: web.Request) -> web.Response:
        context = ctx(request)
        version = max(v for v in _INDEX_QUERY if v <= context.version)
        _INDEX_QUERY[version].validate(request.query)
        context, server = self._server(request)
        actions = actions_of(server)
        if context.version < (2, 58):
            return respond({"instanceActions": [_view(context, server, a) for a in actions]})
        page, limit = self._page(request.query, actions)
        body: dict = {"instanceActions": [_view(context, server, a) for a in page]}
        if limit and len(page) == limit:
            body["links"] = context.next_link(request, f"servers/{server.id}/os-instance-actions",
                                              page[-1].request_id)
        return respond(body)

    @staticmethod
    def _page(query, everything: list[Action]) -> tuple[list[Action], int]:
        """Nova's paging of a server's actions (newest first): filters on
        `updated_at` at whole seconds, then the marker, then the limit."""
        actions = everything
        since = parse_iso(query["changes-since"]) if "changes-since" in query else None
        before = parse_iso(query["changes-before"]) if "changes-before" in query else None
        if since is not None and before is not None and before < since:
            raise bad_request("The value of changes-since must be less than or equal to "
                              "changes-before.")
        if since is not None:
            actions = [a for a in actions if int(a.finish_time) >= since]
        if before is not None:
            actions = [a for a in actions if int(a.finish_time) <= before]
        if "marker" in query:       # any of the server's actions, filtered or not
            marker = next((a for a in everything if a.request_id == query["marker"]), None)
            if marker is None:
                raise bad_request("Marker None could not be found.")   # sic: Nova's message
            after = everything.index(marker)
            actions = [a for a in actions if everything.index(a) > after]
        limit = min(int(query.get("limit", MAX_LIMIT)), MAX_LIMIT)
        return actions[:limit], limit

    async def show(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        context, server = self._server(request)
        request_id = request.match_info["request_id"]
        action = next((a for a in actions_of(server) if a.request_id == request_id), None)
        if action is None:
            raise not_found(f"Action {request_id} not found")
        view = _view(context, server, action)
        if context.is_admin or context.version >= (2, 51):
            view["events"] = self._events(context, server, action)
        return respond({"instanceAction": view})

    def _events(self, context: ComputeContext, server: Server, action: Action) -> list[dict]:
        names = _EVENTS.get(action.action, (f"compute_{action.action}",))
        now = self.store.clock()
        span = (action.finish_time - action.start_time) / len(names)
        host = server.host or self.store.host
        events = []
        for index, name in enumerate(names):
            start = action.start_time + span * index
            finish = start + span
            done = finish <= now
            event: dict = {"event": name, "start_time": microtime(start),
                           "finish_time": microtime(finish) if done else None,
                           "result": "Success" if done else None}
            if context.is_admin:
                event["traceback"] = None
            if context.version >= (2, 62):
                event["hostId"] = hashlib.sha224((action.project_id + host).encode()).hexdigest()
                if context.is_admin:
                    event["host"] = host
            if context.version >= (2, 84) and context.is_admin:
                event["details"] = None
            events.append(event)
        return events[::-1]       # newest first
