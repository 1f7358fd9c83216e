"""Views of servers the cascade builds itself rather than translates: the
partial records of servers in unreachable sites (microversion 2.69), the
summary form of a list row, and collection `next` links."""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlencode

from cascade.context import RequestContext
from cascade.persistence.models import ServerRow
from cascade.sites.model import Site
from cascade.sites.versions import at_least


def links(ctx: RequestContext, path: str, top_id: str) -> list[dict]:
    root = ctx.base_url.rsplit("/", 1)[0]
    return [{"rel": "self", "href": f"{ctx.base_url}/{path}/{top_id}"},
            {"rel": "bookmark", "href": f"{root}/{path}/{top_id}"}]


def summary(server: Mapping[str, Any]) -> dict:
    return {"id": server["id"], "name": server.get("name"), "links": server.get("links", [])}


def partial(ctx: RequestContext, row: ServerRow, site: Site, *, form: str) -> dict:
    """A server whose site cannot answer, from the cascade's own records, with
    the keys Nova gives for servers in a down cell (form: list, detail, show)."""
    record: dict[str, Any] = {"id": row.top_id, "status": "UNKNOWN", "links": links(ctx, "servers", row.top_id)}
    if form == "list":
        return record
    record.update({"tenant_id": row.project_id, "created": row.created})
    if form == "show":
        root = ctx.base_url.rsplit("/", 1)[0]
        record.update({
            "user_id": row.user_id,
            "OS-EXT-AZ:availability_zone": site.availability_zone,
            "OS-EXT-STS:power_state": 0,
            "image": {"id": row.image_id, "links": [{"rel": "bookmark", "href": f"{root}/images/{row.image_id}"}]}
            if row.image_id else "",
            "flavor": {"id": row.flavor_id, "links": [{"rel": "bookmark", "href": f"{root}/flavors/{row.flavor_id}"}]},
        })
        if at_least(ctx.microversion, "2.71"):
            record["server_groups"] = []
    return record


def next_link(ctx: RequestContext, collection_path: str, query: Mapping[str, Any], marker: str) -> dict:
    params = [(k, v) for k, v in query.items() if k != "marker"] + [("marker", marker)]
    return {"rel": "next", "href": f"{ctx.base_url}/{collection_path}?{urlencode(params)}"}
