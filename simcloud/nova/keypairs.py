"""Keypairs (`/os-keypairs`), owned per user: import or (before 2.92)
generate, list (2.35 paging), show, delete; 2.2 adds the type, 2.10 lets an
admin act for another user."""
from __future__ import annotations

import functools

from aiohttp import web

from simcloud.nova import keys, quotas
from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import bad_request, conflict, not_found, policy_forbidden
from simcloud.nova.model import Keypair
from simcloud.nova.server_list import MAX_LIMIT
from simcloud.nova.store import ComputeStore
from simcloud.nova.timefmt import microtime


_INDEX_QUERY = {strict: V.QuerySchema({"limit": V.NON_NEGATIVE_INTEGER,
                                      "marker": {"type": "string"},
                                      "user_id": {"type": "string"}}, strict=strict)
                for strict in (False, True)}
_ONE_QUERY = V.QuerySchema({"user_id": {"type": "string"}}, strict=True)   # show, delete


def _check_one_query(context: ComputeContext, request: web.Request) -> None:
    if context.version >= (2, 75):
        _ONE_QUERY.validate(request.query)


@functools.lru_cache(maxsize=None)
def create_schema(version: tuple[int, int]) -> V.BodySchema:
    pattern = r"^[_\-\@\. a-zA-Z0-9]+$" if version >= (2, 92) else r"^[_\- a-zA-Z0-9]+$"
    props: dict = {"name": {"allOf": [V.NAME, {"type": "string", "pattern": pattern}]},
                   "public_key": {"type": "string"}}
    if version >= (2, 2):
        props["type"] = {"type": "string", "enum": ["ssh", "x509"]}
    if version >= (2, 10):
        props["user_id"] = {"type": "string"}
    required = ["name"] + (["public_key"] if version >= (2, 92) else [])
    return V.BodySchema({"type": "object", "properties": {"keypair": {
        "type": "object", "properties": props, "required": required,
        "additionalProperties": False}}, "required": ["keypair"], "additionalProperties": False})


def _view(context: ComputeContext, keypair: Keypair, fields: tuple[str, ...]) -> dict:
    values = {"name": keypair.name, "public_key": keypair.public_key,
              "fingerprint": keypair.fingerprint, "user_id": keypair.user_id,
              "type": keypair.type, "created_at": microtime(keypair.created_at),
              "deleted": False, "deleted_at": None, "updated_at": None,
              "id": keypair.internal_id}
    if context.version < (2, 2):
        fields = tuple(f for f in fields if f != "type")
    return {f: values[f] for f in fields}


class KeypairsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/os-keypairs", self.index),
                web.post("/v2.1/os-keypairs", self.create),
                web.get("/v2.1/os-keypairs/{name}", self.show),
                web.delete("/v2.1/os-keypairs/{name}", self.delete)]

    def _user(self, context: ComputeContext, requested: str | None, rule: str) -> str:
        if context.version < (2, 10) or not requested or requested == context.user_id:
            return context.user_id
        if not context.is_admin:
            raise policy_forbidden(f"os_compute_api:os-keypairs:{rule}")
        return requested

    def _find(self, user_id: str, name: str) -> Keypair:
        keypair = self.store.user_keypairs(user_id).get(name)
        if keypair is None:
            raise not_found(f"Keypair {name} not found for user {user_id}")
        return keypair

    async def index(self, request: web.Request) -> web.Response:
        context = ctx(request)
        user_id = self._user(context, request.query.get("user_id"), "index")
        pairs = sorted(self.store.user_keypairs(user_id).values(), key=lambda k: k.internal_id)
        limit = None
        if context.version >= (2, 35):
            _INDEX_QUERY[context.version >= (2, 75)].validate(request.query)
            marker = request.query.get("marker")
            if marker is not None:
                anchor = self.store.user_keypairs(user_id).get(marker)
                if anchor is None:
                    raise bad_request(f"Marker {marker} could not be found.")
                pairs = [k for k in pairs if k.internal_id > anchor.internal_id]
            limit = min(int(request.query.get("limit", MAX_LIMIT)), MAX_LIMIT)
            pairs = pairs[:limit]
        fields = ("name", "public_key", "fingerprint", "type")
        body: dict = {"keypairs": [{"keypair": _view(context, k, fields)} for k in pairs]}
        if limit and pairs and len(pairs) == limit:
            body["keypairs_links"] = context.next_link(request, "os-keypairs", pairs[-1].name)
        return respond(body)

    async def show(self, request: web.Request) -> web.Response:
        context = ctx(request)
        _check_one_query(context, request)
        user_id = self._user(context, request.query.get("user_id"), "show")
        keypair = self._find(user_id, request.match_info["name"])
        fields = ("name", "public_key", "fingerprint", "user_id", "created_at", "deleted",
                  "deleted_at", "id", "updated_at", "type")
        return respond({"keypair": _view(context, keypair, fields)})

    async def create(self, request: web.Request) -> web.Response:
        context = ctx(request)
        body = V.parse_json(await request.read())
        create_schema(context.version).validate(body)
        spec = body["keypair"]
        user_id = self._user(context, spec.get("user_id"), "create")
        name = spec["name"].strip()
        key_type = spec.get("type", "ssh")
        owned = self.store.user_keypairs(user_id)
        quotas.check_keypairs(self.store.quota_book, self.store, context.project_id,
                              context.user_id, user_id)
        private_key = None
        if "public_key" in spec:
            public_key = spec["public_key"]
        else:
            private_key, public_key = keys.generate(key_type, user_id)
        fingerprint = keys.fingerprint(public_key, key_type)
        if name in owned:
            raise conflict(f"Key pair '{name}' already exists.")
        keypair = Keypair(internal_id=self.store.new_keypair_id(), name=name, user_id=user_id,
                          type=key_type, public_key=public_key, fingerprint=fingerprint,
                          created_at=self.store.clock())
        owned[name] = keypair
        view = _view(context, keypair, ("name", "public_key", "fingerprint", "user_id", "type"))
        if private_key is not None:
            view["private_key"] = private_key
        return respond({"keypair": view}, 201 if context.version >= (2, 2) else 200)

    async def delete(self, request: web.Request) -> web.Response:
        context = ctx(request)
        _check_one_query(context, request)
        user_id = self._user(context, request.query.get("user_id"), "delete")
        name = request.match_info["name"]
        self._find(user_id, name)
        del self.store.user_keypairs(user_id)[name]
        return web.Response(status=204 if context.version >= (2, 2) else 202)
