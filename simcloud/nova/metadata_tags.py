"""Server metadata (`/servers/{id}/metadata[/{key}]`) and, from 2.26, server
tags (`/servers/{id}/tags[/{tag}]`), with Nova's body checks, state checks
and messages."""
from __future__ import annotations

import copy

import jsonschema
from aiohttp import web

from simcloud.nova import quotas
from simcloud.nova import states as S
from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import bad_request, invalid_state, not_found
from simcloud.nova.model import Server
from simcloud.nova.servers import check_lock, find_server
from simcloud.nova.store import ComputeStore

_MUTABLE_STATES = (S.ACTIVE, S.PAUSED, S.SUSPENDED, S.STOPPED)
_WEBOB_DEFAULT = "text/html; charset=UTF-8"
MAX_TAGS = 50

_METADATA_BODY = V.BodySchema({"type": "object", "properties": {"metadata": V.METADATA},
                               "required": ["metadata"], "additionalProperties": False})
_META_ITEM = copy.deepcopy(V.METADATA)
_META_ITEM.update({"minProperties": 1, "maxProperties": 1})
_META_BODY = V.BodySchema({"type": "object", "properties": {"meta": _META_ITEM},
                           "required": ["meta"], "additionalProperties": False})
_TAGS_BODY = V.BodySchema({"type": "object", "properties": {"tags": {
    "type": "array", "items": V.TAG, "maxItems": MAX_TAGS}},
    "required": ["tags"], "additionalProperties": False})


class MetadataResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        base = "/v2.1/servers/{server_id}/metadata"
        return [web.get(base, self.index), web.post(base, self.create),
                web.put(base, self.update_all), web.get(base + "/{key}", self.show),
                web.put(base + "/{key}", self.update), web.delete(base + "/{key}", self.delete)]

    def _server(self, request: web.Request) -> tuple[ComputeContext, Server]:
        context = ctx(request)
        return context, find_server(self.store, context, request.match_info["server_id"])

    def _mutable(self, context: ComputeContext, server: Server, action: str) -> None:
        check_lock(context, server)
        if server.vm_state not in _MUTABLE_STATES:
            raise invalid_state(action, server.id, "vm_state", server.vm_state)
        if server.task_state is not None:
            raise invalid_state(action, server.id, "task_state", server.task_state)

    def _write(self, context: ComputeContext, server: Server, metadata: dict[str, str]) -> None:
        quotas.check_metadata(self.store.quota_book, context.project_id, context.user_id,
                              len(metadata))
        server.metadata = metadata or None
        server.touch(self.store.clock())

    async def index(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        _, server = self._server(request)
        return respond({"metadata": server.meta()})

    async def show(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        _, server = self._server(request)
        key = request.match_info["key"]
        metadata = server.meta()
        if key not in metadata:
            raise not_found("Metadata item was not found")
        return respond({"meta": {key: metadata[key]}})

    async def create(self, request: web.Request) -> web.Response:
        context, server = self._server(request)
        body = V.parse_json(await request.read())
        _METADATA_BODY.validate(body)
        self._mutable(context, server, "update metadata")
        self._write(context, server, {**server.meta(), **body["metadata"]})
        return respond({"metadata": server.meta()})

    async def update_all(self, request: web.Request) -> web.Response:
        context, server = self._server(request)
        body = V.parse_json(await request.read())
        _METADATA_BODY.validate(body)
        self._mutable(context, server, "update metadata")
        self._write(context, server, dict(body["metadata"]))
        return respond({"metadata": server.meta()})

    async def update(self, request: web.Request) -> web.Response:
        context, server = self._server(request)
        body = V.parse_json(await request.read())
        _META_BODY.validate(body)
        key = request.match_info["key"]
        if key not in body["meta"]:
            raise bad_request("Request body and URI mismatch")
        self._mutable(context, server, "update metadata")
        self._write(context, server, {**server.meta(), **body["meta"]})
        return respond({"meta": body["meta"]})

    async def delete(self, request: web.Request) -> web.Response:
        context, server = self._server(request)
        key = request.match_info["key"]
        metadata = server.meta()
        if key not in metadata:
            raise not_found("Metadata item was not found")
        self._mutable(context, server, "delete metadata")
        del metadata[key]
        self._write(context, server, metadata)
        return web.Response(status=204)


class TagsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        base = "/v2.1/servers/{server_id}/tags"
        return [web.get(base, self.index), web.put(base, self.update_all),
                web.delete(base, self.delete_all), web.get(base + "/{tag}", self.show),
                web.put(base + "/{tag}", self.update), web.delete(base + "/{tag}", self.delete)]

    def _server(self, request: web.Request, action: str | None = None
                ) -> tuple[ComputeContext, Server]:
        context = ctx(request)
        if context.version < (2, 26):
            raise not_found()
        server = find_server(self.store, context, request.match_info["server_id"])
        if action is not None and server.vm_state not in _MUTABLE_STATES:
            raise invalid_state(action, server.id, "vm_state", server.vm_state)
        return context, server

    def _touch(self, server: Server, tags: list[str]) -> None:
        server.tags = tags or None
        server.touch(self.store.clock())

    async def index(self, request: web.Request) -> web.Response:
        _, server = self._server(request)
        return respond({"tags": list(server.tags or ())})

    async def show(self, request: web.Request) -> web.Response:
        _, server = self._server(request)
        tag = request.match_info["tag"]
        if tag not in (server.tags or ()):
            raise not_found(f"Server {server.id} has no tag '{tag}'")
        return web.Response(status=204)

    async def update(self, request: web.Request) -> web.Response:
        context, server = self._server(request, "update tag")
        tag = request.match_info["tag"]
        try:
            jsonschema.validate(tag, V.TAG)
        except jsonschema.ValidationError as err:
            raise bad_request(
                f"Tag '{tag}' is invalid. It must be a non empty string without characters "
                f"'/' and ','. Validation error message: {err.message}") from None
        tags = list(server.tags or ())
        if len(tags) >= MAX_TAGS:
            raise bad_request(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        # Nova leaves these empty answers with webob's default content type
        if tag in tags:
            return web.Response(status=204, headers={"Content-Type": _WEBOB_DEFAULT})
        self._touch(server, sorted(tags + [tag]))
        return web.Response(status=201, headers={
            "Location": f"{context.base}/servers/{server.id}/tags/{tag}",
            "Content-Type": _WEBOB_DEFAULT})

    async def update_all(self, request: web.Request) -> web.Response:
        _, server = self._server(request, "update tags")
        body = V.parse_json(await request.read())
        _TAGS_BODY.validate(body)
        self._touch(server, sorted(set(body["tags"])))
        return respond({"tags": list(server.tags or ())})

    async def delete(self, request: web.Request) -> web.Response:
        _, server = self._server(request, "delete tag")
        tag = request.match_info["tag"]
        tags = list(server.tags or ())
        if tag not in tags:
            raise not_found(f"Instance {server.id} has no tag '{tag}'")
        tags.remove(tag)
        self._touch(server, tags)
        return web.Response(status=204)

    async def delete_all(self, request: web.Request) -> web.Response:
        _, server = self._server(request, "delete tags")
        self._touch(server, [])
        return web.Response(status=204)
