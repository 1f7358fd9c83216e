"""Flavors (`/flavors`, `/flavors/detail`, create/delete/update for admins)
and their extra specs (`/flavors/{id}/os-extra_specs`), with the view fields
each microversion adds or drops (2.55 description, 2.61 extra_specs, 2.75
integer swap, 2.102 no rxtx_factor nor OS-FLV-DISABLED:disabled, and a `name`
filter)."""
from __future__ import annotations

import functools
import uuid

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import (NovaError, bad_request, conflict, flavor_not_found,
                                  not_found, policy_forbidden)
from simcloud.nova.flavor_access import usable_flavor
from simcloud.nova.model import Flavor
from simcloud.nova.server_list import MAX_LIMIT
from simcloud.nova.store import ComputeStore

_SORT_KEYS = ["created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id",
              "is_public", "memory_mb", "name", "root_gb", "rxtx_factor", "swap",
              "updated_at", "vcpu_weight", "vcpus"]
_SORT_VALUES = {
    "created_at": lambda f: int(f.created_at), "description": lambda f: f.description,
    "disabled": lambda f: f.disabled, "ephemeral_gb": lambda f: f.ephemeral,
    "flavorid": lambda f: f.id, "id": lambda f: f.internal_id, "is_public": lambda f: f.is_public,
    "memory_mb": lambda f: f.ram, "name": lambda f: f.name, "root_gb": lambda f: f.disk,
    "rxtx_factor": lambda f: f.rxtx_factor, "swap": lambda f: f.swap,
    "updated_at": lambda f: None, "vcpu_weight": lambda f: None, "vcpus": lambda f: f.vcpus,
}
_SIZE = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "maximum": 0x7FFFFFFF}
_EXTRA_SPECS = {"type": "object", "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {
    "type": ["string", "number", "boolean"], "minLength": 1, "maxLength": 255}},
    "additionalProperties": False}
_FLAVOR_DESCRIPTION = {"type": ["string", "null"], "minLength": 0, "maxLength": 65535}
_UPDATE_BODY = V.BodySchema({"type": "object", "properties": {"flavor": {
    "type": "object", "properties": {"description": _FLAVOR_DESCRIPTION},
    "required": ["description"], "additionalProperties": False}},
    "required": ["flavor"], "additionalProperties": False})
_SPECS_BODY = V.BodySchema({"type": "object", "properties": {"extra_specs": _EXTRA_SPECS},
                            "required": ["extra_specs"], "additionalProperties": False})
_SPEC_ITEM_BODY = V.BodySchema(dict(_EXTRA_SPECS, minProperties=1))
_INDEX_PARAMS = {
    "limit": V.NON_NEGATIVE_INTEGER, "marker": {"type": "string"},
    "is_public": {"type": "string"}, "minRam": {"type": "string"},
    "minDisk": {"type": "string"}, "sort_key": {"type": "string", "enum": _SORT_KEYS},
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]}}
_INDEX_QUERY = {
    "2.1": V.QuerySchema(_INDEX_PARAMS, strict=False),
    "2.75": V.QuerySchema(_INDEX_PARAMS, strict=True),
    "2.102": V.QuerySchema({**_INDEX_PARAMS, "name": {"type": "string"}, "sort_key": {
        "type": "string", "enum": [k for k in _SORT_KEYS if k != "rxtx_factor"]}},
        strict=True),
}


def _index_query(version: tuple[int, int]) -> V.QuerySchema:
    if version >= (2, 102):
        return _INDEX_QUERY["2.102"]
    return _INDEX_QUERY["2.75" if version >= (2, 75) else "2.1"]


@functools.lru_cache(maxsize=None)
def create_schema(version: tuple[int, int]) -> V.BodySchema:
    props = {
        "name": V.NAME,
        "id": {"type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
               "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
        "ram": {**_SIZE, "minimum": 1}, "vcpus": {**_SIZE, "minimum": 1},
        "disk": {**_SIZE, "minimum": 0},
        "OS-FLV-EXT-DATA:ephemeral": {**_SIZE, "minimum": 0}, "swap": {**_SIZE, "minimum": 0},
        "rxtx_factor": {"type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?$",
                        "exclusiveMinimum": 0},
        "os-flavor-access:is_public": V.BOOLEAN,
    }
    if version >= (2, 55):
        props["description"] = _FLAVOR_DESCRIPTION
    if version >= (2, 102):
        del props["rxtx_factor"]
    return V.BodySchema({"type": "object", "properties": {"flavor": {
        "type": "object", "properties": props, "required": ["name", "ram", "vcpus", "disk"],
        "additionalProperties": False}}, "required": ["flavor"], "additionalProperties": False})


def flavor_view(context: ComputeContext, flavor: Flavor, *, brief: bool = False) -> dict:
    view: dict = {"id": flavor.id, "name": flavor.name,
                  "links": context.links("flavors", flavor.id)}
    if not brief:
        view.update({
            "ram": flavor.ram, "disk": flavor.disk,
            "swap": flavor.swap if context.version >= (2, 75) else (flavor.swap or ""),
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
            "vcpus": flavor.vcpus, "os-flavor-access:is_public": flavor.is_public,
        })
        if context.version < (2, 102):
            view["OS-FLV-DISABLED:disabled"] = flavor.disabled
            view["rxtx_factor"] = flavor.rxtx_factor
        if context.version >= (2, 61):
            view["extra_specs"] = dict(flavor.extra_specs)
    if context.version >= (2, 55):
        view["description"] = flavor.description
    return view


class FlavorsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        specs = "/v2.1/flavors/{flavor_id}/os-extra_specs"
        return [
            web.get("/v2.1/flavors", self.index), web.get("/v2.1/flavors/detail", self.detail),
            web.post("/v2.1/flavors", self.create),
            web.get("/v2.1/flavors/{flavor_id}", self.show),
            web.put("/v2.1/flavors/{flavor_id}", self.update),
            web.delete("/v2.1/flavors/{flavor_id}", self.delete),
            web.get(specs, self.specs_index), web.post(specs, self.specs_create),
            web.get(specs + "/{key}", self.specs_show), web.put(specs + "/{key}", self.specs_update),
            web.delete(specs + "/{key}", self.specs_delete),
        ]

    def _visible(self, context: ComputeContext, flavor_id: str) -> Flavor:
        flavor = usable_flavor(self.store, context, flavor_id)
        if flavor is None:
            raise flavor_not_found(flavor_id)
        return flavor

    def _select(self, request: web.Request) -> list[Flavor]:
        context = ctx(request)
        query = request.query
        _index_query(context.version).validate(query)
        flavors = list(self.store.flavors.values())
        wanted: bool | None = True       # public ones, and private ones granted to the caller
        if context.is_admin and query.get("is_public") is not None:
            is_public = query["is_public"]
            if is_public.lower() == "none":
                wanted = None
            else:
                try:
                    wanted = V.to_bool(is_public, strict=True)
                except NovaError:
                    raise bad_request(f"Invalid is_public filter [{is_public}]") from None
        if wanted is not None:
            flavors = [f for f in flavors if f.is_public == wanted or (
                wanted and context.project_id in (f.projects or ()))]
        if not context.is_admin:
            flavors = [f for f in flavors if not f.disabled]
        for param, attr in (("minRam", "ram"), ("minDisk", "disk")):
            if param in query:
                try:
                    minimum = int(query[param])
                except ValueError:
                    raise bad_request(f"Invalid {param} filter [{query[param]}]") from None
                flavors = [f for f in flavors if getattr(f, attr) >= minimum]
        if context.version >= (2, 102) and "name" in query:    # a regular expression
            pattern = V.regex(query["name"])
            flavors = [f for f in flavors if pattern.search(f.name)]
        key = query.get("sort_key") or "flavorid"
        descending = (query.get("sort_dir") or "asc") == "desc"

        def order(f: Flavor) -> tuple:
            value = _SORT_VALUES[key](f)
            return ((0, 0) if value is None else (1, value), f.internal_id)
        flavors.sort(key=order, reverse=descending)
        if "marker" in query:
            marker = usable_flavor(self.store, context, query["marker"])
            if marker is None:
                raise bad_request(f"marker [{query['marker']}] not found")
            after = order(marker)
            flavors = [f for f in flavors if (order(f) < after if descending else order(f) > after)]
        limit = min(int(query["limit"]), MAX_LIMIT) if "limit" in query else MAX_LIMIT
        return flavors[:limit]

    def _list(self, request: web.Request, *, brief: bool) -> web.Response:
        context = ctx(request)
        page = self._select(request)
        body: dict = {"flavors": [flavor_view(context, f, brief=brief) for f in page]}
        limit = min(int(request.query.get("limit", MAX_LIMIT)), MAX_LIMIT)
        if page and len(page) == limit:
            body["flavors_links"] = context.next_link(
                request, "flavors" if brief else "flavors/detail", page[-1].id)
        return respond(body)

    async def index(self, request: web.Request) -> web.Response:
        return self._list(request, brief=True)

    async def detail(self, request: web.Request) -> web.Response:
        return self._list(request, brief=False)

    async def show(self, request: web.Request) -> web.Response:
        context = ctx(request)
        V.no_query(context.version, request.query)
        flavor = self._visible(context, request.match_info["flavor_id"])
        return respond({"flavor": flavor_view(context, flavor)})

    async def create(self, request: web.Request) -> web.Response:
        context = ctx(request)
        if not context.is_admin:
            raise policy_forbidden("os_compute_api:os-flavor-manage:create")
        body = V.parse_json(await request.read())
        create_schema(context.version).validate(body)
        spec = body["flavor"]
        flavor_id = spec.get("id")
        flavor_id = str(uuid.uuid4()) if flavor_id is None else str(flavor_id)
        name = spec["name"].strip()
        if flavor_id in self.store.flavors:
            raise conflict(f"Flavor with ID {flavor_id} already exists.")
        if self.store.flavor_by_name(name) is not None:
            raise conflict(f"Flavor with name {name} already exists.")
        flavor = Flavor(
            id=flavor_id, internal_id=self.store.new_flavor_internal_id(), name=name,
            vcpus=int(spec["vcpus"]), ram=int(spec["ram"]), disk=int(spec["disk"]),
            ephemeral=int(spec.get("OS-FLV-EXT-DATA:ephemeral", 0)),
            swap=int(spec.get("swap", 0)), rxtx_factor=float(spec.get("rxtx_factor", 1.0)),
            is_public=V.to_bool(spec.get("os-flavor-access:is_public", True), default=True),
            description=spec.get("description") if context.version >= (2, 55) else None,
            created_at=self.store.clock())
        self.store.add_flavor(flavor)
        return respond({"flavor": flavor_view(context, flavor)})

    async def update(self, request: web.Request) -> web.Response:
        context = ctx(request)
        if context.version < (2, 55):
            raise not_found()
        if not context.is_admin:
            raise policy_forbidden("os_compute_api:os-flavor-manage:update")
        body = V.parse_json(await request.read())
        _UPDATE_BODY.validate(body)
        flavor = self._visible(context, request.match_info["flavor_id"])
        flavor.description = body["flavor"]["description"]
        return respond({"flavor": flavor_view(context, flavor)})

    async def delete(self, request: web.Request) -> web.Response:
        context = ctx(request)
        if not context.is_admin:
            raise policy_forbidden("os_compute_api:os-flavor-manage:delete")
        flavor_id = request.match_info["flavor_id"]
        if self.store.flavors.pop(flavor_id, None) is None:
            raise flavor_not_found(flavor_id)
        return web.Response(status=202)

    # ---- extra specs -------------------------------------------------
    def _admin_flavor(self, request: web.Request, rule: str) -> Flavor:
        context = ctx(request)
        if not context.is_admin:
            raise policy_forbidden(f"os_compute_api:os-flavor-extra-specs:{rule}")
        return self._visible(context, request.match_info["flavor_id"])

    async def specs_index(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        flavor = self._visible(ctx(request), request.match_info["flavor_id"])
        return respond({"extra_specs": dict(flavor.extra_specs)})

    async def specs_show(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        flavor = self._visible(ctx(request), request.match_info["flavor_id"])
        key = request.match_info["key"]
        if key not in flavor.extra_specs:
            raise not_found(f"Flavor {flavor.id} has no extra specs with key {key}.")
        return respond({key: flavor.extra_specs[key]})

    async def specs_create(self, request: web.Request) -> web.Response:
        flavor = self._admin_flavor(request, "create")
        body = V.parse_json(await request.read())
        _SPECS_BODY.validate(body)
        specs = {k: _spec_text(v) for k, v in body["extra_specs"].items()}
        flavor.extra_specs.update(specs)
        return respond({"extra_specs": specs})

    async def specs_update(self, request: web.Request) -> web.Response:
        flavor = self._admin_flavor(request, "update")
        body = V.parse_json(await request.read())
        _SPEC_ITEM_BODY.validate(body)
        key = request.match_info["key"]
        if len(body) > 1:
            raise bad_request("Request body contains too many items")
        if key not in body:
            raise bad_request("Request body and URI mismatch")
        flavor.extra_specs[key] = _spec_text(body[key])
        return respond({key: flavor.extra_specs[key]})

    async def specs_delete(self, request: web.Request) -> web.Response:
        flavor = self._admin_flavor(request, "delete")
        key = request.match_info["key"]
        if flavor.extra_specs.pop(key, None) is None:
            raise not_found(f"Flavor {flavor.id} has no extra specs with key {key}.")
        return web.Response(status=200)


def _spec_text(value: object) -> str:
    return str(value)
