"""What a site holds, read as the cascade's service account: its servers
of every project page by page (adoption, orphans, status sync), a few
servers by id, its users' key pairs.

Servers are read at the base microversion, where a server names its flavor
by id (from 2.47 it embeds the flavor instead), with the extended status
attributes an admin sees."""
from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
from typing import Any, AsyncIterator, Iterable, Mapping

from cascade.resources.kinds import STAMP_KEY
from cascade.sites.client import SiteClient


def stamp_of(server: dict) -> str | None:
    """The top id a server was stamped with by a cascade, if any."""
    metadata = server.get("metadata")
    return metadata.get(STAMP_KEY) if isinstance(metadata, dict) else None


@dataclasses.dataclass(frozen=True)
class Page:
    servers: list[dict]
    marker: str | None                 # resumes after this page
    site_time: dt.datetime | None      # the site's clock when it answered (its Date header)


def reference(server: Mapping[str, Any], field: str) -> str | None:
    """The id of a server's flavor or image ("" for an image when booted from a volume)."""
    value = server.get(field)
    return value.get("id") if isinstance(value, dict) else None


def _site_time(headers: Mapping[str, str]) -> dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(headers["Date"]).astimezone(dt.timezone.utc)
    except (KeyError, TypeError, ValueError):
        return None


async def walk(client: SiteClient, *, page_size: int, marker: str | None = None,
               params: Mapping[str, str] | None = None) -> AsyncIterator[Page]:
    """Every server of every project (with `params`: those the filters
    keep, e.g. `changes-since`), a page at a time, oldest first (so
    that servers made while the walk goes on come at its end, but for those
    made in the second of a page's last server: sites order by creation
    time to the second, then by id). A page ends the walk when the
    site gives no next link and the page is short (a site whose own
    `max_limit` is below `page_size` answers short pages with a next link).
    A marker the site no longer knows (its server was deleted meanwhile)
    starts over from the first page: callers skip what they already did.
    A first answer with no server is one empty page, for the site's time.
    Raises the client's `SiteUnavailable`, or `SiteError` for an error answer."""
    first = True
    while True:
        query = {"all_tenants": "1", **(params or {}), "limit": str(page_size), "sort_key": "created_at",
                 "sort_dir": "asc"}
        if marker is not None:
            query["marker"] = marker
        response = await client.service_request("compute", "GET", "/servers/detail", params=query)
        if response.status == 400 and marker is not None and "marker" in (response.text or "").lower():
            marker = None
            continue
        client.raise_for_error(response)
        body = response.body if isinstance(response.body, dict) else {}
        servers = [s for s in body.get("servers") or [] if isinstance(s, dict) and s.get("id")]
        if not servers:
            if first:
                yield Page([], marker, _site_time(response.headers))
            return
        first = False
        marker = servers[-1]["id"]
        yield Page(servers, marker, _site_time(response.headers))
        more = any(link.get("rel") == "next" for link in body.get("servers_links") or [])
        if not more and len(servers) < page_size:
            return


async def pages(client: SiteClient, *, page_size: int, marker: str | None = None
                ) -> AsyncIterator[tuple[list[dict], str | None]]:
    """`walk`'s pages as (servers, the marker that resumes after them)."""
    async for page in walk(client, page_size=page_size, marker=marker):
        if page.servers:
            yield page.servers, page.marker


async def by_id(client: SiteClient, server_ids: Iterable[str]) -> tuple[list[dict], list[str]]:
    """The servers of `server_ids` the site has, and the ids it does not."""
    found: list[dict] = []
    missing: list[str] = []
    for server_id in server_ids:
        response = await client.service_request("compute", "GET", f"/servers/{server_id}")
        if response.status == 404:
            missing.append(server_id)
            continue
        client.raise_for_error(response)
        found.append(response.body["server"])
    return found, missing


async def keypairs_of(client: SiteClient, user_id: str) -> list[dict]:
    """A user's key pairs in the site (2.10 lets an admin name the user)."""
    response = await client.service_request("compute", "GET", "/os-keypairs", params={"user_id": user_id},
                                            microversion="2.10")
    if response.status == 404:
        return []
    client.raise_for_error(response)
    return [entry["keypair"] for entry in response.body.get("keypairs", [])]

