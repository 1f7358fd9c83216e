"""Translation of bodies between the cascade and a site, driven by the
declarations in `resources.kinds` (never by code per endpoint).

Answers go bottom -> top (`to_top`, `many_to_top`):

- every declared id field gets the top id of its route; a row whose own id
  has no route is not the cascade's and is dropped; a nested reference with
  no route is offered to the resolver, then becomes None (a bottom id never
  reaches a tenant);
- declared `links` are rebuilt from the front's base URL, never the site's;
- declared availability-zone fields show the site's cascade AZ;
- the stamp key (a bottom copy's top id) is removed from `metadata`.

Requests go top -> bottom (`to_bottom`, `filters_to_bottom`). Route lookups
are batched: one `top_ids`/`bottom_ids` call per kind of id per call, however
long the list. Answers are translated on copies; the caller's objects are
left as they were.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from multidict import MultiDict, MultiDictProxy

from cascade.errors import CascadeError, NotFound
from cascade.resources.kinds import KINDS, Kind
from cascade.routing import paths
from cascade.sites.model import Site

LOG = logging.getLogger(__name__)

# (kind name, site, bottom ids without a route) -> {bottom id: top id}
Resolver = Callable[[str, Site, list[str]], Awaitable[dict[str, str]]]

_VERSION_SEGMENT = re.compile(r"v\d+(\.\d+)?")


class RouteLookup(Protocol):
    """The part of `routing.table.RouteTable` translation reads."""

    async def top_ids(self, kind: str, site_id: str, bottom_ids: Sequence[str]) -> Mapping[str, str]: ...

    async def bottom_ids(self, kind: str, site_id: str, top_ids: Sequence[str]) -> Mapping[str, str]: ...


@dataclass
class _Reference:
    """One id found in a body: where it is, which kind it names, whose row it is in."""

    row: int
    slot: paths.Slot
    kind: str
    value: str
    own: bool          # the row's own id, as opposed to a reference to another resource


class Translator:
    def __init__(self, routes: RouteLookup, resolver: Resolver | None = None) -> None:
        self._routes = routes
        self._resolver = resolver

    # -- answers: bottom -> top ------------------------------------------------

    async def to_top(self, kind: Kind, site: Site, obj: dict, *, base_url: str) -> dict | None:
        """The object as the cascade shows it, or None when it is not the cascade's."""
        rows = await self.many_to_top(kind, site, [obj], base_url=base_url)
        return rows[0] if rows else None

    async def many_to_top(self, kind: Kind, site: Site, objs: list[dict], *, base_url: str) -> list[dict]:
        """Every object translated, in order, without those that are not the cascade's."""
        rows = [_copy_json(obj) for obj in objs]
        references = _references(kind, rows)
        wanted = _ids_by_kind(references)
        found = {name: dict(await self._routes.top_ids(name, site.id, sorted(ids))) for name, ids in wanted.items()}

        dropped = {ref.row for ref in references if ref.own and ref.value not in found[ref.kind]}
        unrouted = _ids_by_kind(
            ref for ref in references if ref.row not in dropped and ref.value not in found[ref.kind]
        )
        for name, ids in unrouted.items():
            found[name].update(await self._resolve(name, site, sorted(ids)))

        for ref in references:
            if ref.row not in dropped:
                ref.slot.container[ref.slot.key] = found[ref.kind].get(ref.value)

        kept = [row for index, row in enumerate(rows) if index not in dropped]
        for row in kept:
            _rebuild_links(kind, row, base_url)
            _show_site_az(kind, row, site)
            _hide_stamp(kind, row)
        return kept

    async def _resolve(self, kind_name: str, site: Site, bottom_ids: list[str]) -> dict[str, str]:
        if self._resolver is None:
            return {}
        try:
            resolved = await self._resolver(kind_name, site, bottom_ids)
        except CascadeError as error:
            # A reference we cannot name must not fail the whole answer: it shows as None.
            LOG.warning("could not resolve %d %s id(s) of site %s: %s", len(bottom_ids), kind_name, site.name, error)
            return {}
        return {bottom: resolved[bottom] for bottom in bottom_ids if resolved.get(bottom)}

    # -- requests: top -> bottom -----------------------------------------------

    async def to_bottom(self, kind: Kind, site: Site, obj: dict) -> dict:
        """A request body with every declared id field given as the site knows it.

        Raises NotFound for a referenced id that has no copy in the site.
        """
        body = _copy_json(obj)
        references = _references(kind, [body])
        for name, ids in _ids_by_kind(references).items():
            copies = await self._routes.bottom_ids(name, site.id, sorted(ids))
            for ref in (ref for ref in references if ref.kind == name):
                bottom = copies.get(ref.value)
                if bottom is None:
                    raise NotFound(f"{_title(name)} {ref.value} could not be found.", kind=name, resource_id=ref.value)
                ref.slot.container[ref.slot.key] = bottom
        return body

    async def filters_to_bottom(
        self, kind: Kind, site: Site, params: MultiDict[str] | MultiDictProxy[str] | Mapping[str, str]
    ) -> MultiDict[str] | None:
        """Query filters with their ids given as the site knows them.

        A repeated filter keeps the values that have a copy in the site; a
        filter none of whose ids has a copy there means the site cannot match,
        and the answer is None (skip the site).
        """
        items = list(params.items())
        wanted: dict[str, set[str]] = {}
        for param, value in items:
            name = kind.filter_ids.get(param)
            if name is not None and value:
                wanted.setdefault(name, set()).add(value)
        copies = {name: await self._routes.bottom_ids(name, site.id, sorted(ids)) for name, ids in wanted.items()}

        translated: MultiDict[str] = MultiDict()
        asked: set[str] = set()
        matched: set[str] = set()
        for param, value in items:
            name = kind.filter_ids.get(param)
            if name is None or not value:
                translated.add(param, value)
                matched.add(param)
                continue
            asked.add(param)
            bottom = copies[name].get(value)
            if bottom is not None:
                translated.add(param, bottom)
                matched.add(param)
        return translated if asked <= matched else None

    # -- error text ------------------------------------------------------------

    def scrub(self, text: str, replacements: Mapping[str, str]) -> str:
        """`text` with every occurrence of a key of `replacements` (bottom ids,
        site URLs) replaced by its value; longer keys win over their prefixes."""
        keys = sorted((key for key in replacements if key), key=len, reverse=True)
        if not text or not keys:
            return text
        pattern = re.compile("|".join(re.escape(key) for key in keys))
        return pattern.sub(lambda match: replacements[match.group(0)], text)


def _references(kind: Kind, rows: list[dict]) -> list[_Reference]:
    references = []
    for path, id_kind in kind.id_fields.items():
        own = id_kind == kind.name and "." not in path and not path.endswith("[]")
        for index, row in enumerate(rows):
            for slot in paths.slots(row, path):
                value = slot.value
                if isinstance(value, int) and not isinstance(value, bool):
                    value = str(value)
                # "" is an id-less reference (Nova's "image": "" when booted from a volume).
                if isinstance(value, str) and value:
                    references.append(_Reference(index, slot, id_kind, value, own))
    return references


def _ids_by_kind(references: Iterable[_Reference]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for ref in references:
        ids.setdefault(ref.kind, set()).add(ref.value)
    return ids


def _rebuild_links(kind: Kind, row: dict, base_url: str) -> None:
    for links_path, linked_kind in kind.links.items():
        collection = KINDS[linked_kind].path
        id_path = paths.sibling(links_path, "id")
        # Only an id this declaration translated may go into a link.
        id_is_translated = kind.id_fields.get(id_path) == linked_kind
        for slot in list(paths.slots(row, links_path)):
            holder, links = slot.container, slot.value
            if not isinstance(links, list):
                continue
            top_id = holder.get("id") if id_is_translated and isinstance(holder, Mapping) else None
            if not isinstance(top_id, str) or not top_id:
                holder[slot.key] = []
                continue
            holder[slot.key] = [
                _link(link, base_url, collection, top_id) for link in links if isinstance(link, Mapping)
            ]


def _link(link: Mapping[str, Any], base_url: str, collection: str, top_id: str) -> dict[str, Any]:
    rel = link.get("rel")
    base = base_url.rstrip("/") if rel == "self" else _unversioned(base_url)
    rebuilt: dict[str, Any] = {"href": f"{base}/{collection}/{top_id}"}
    for kept in ("rel", "type"):
        if kept in link:
            rebuilt[kept] = link[kept]
    return rebuilt


def _unversioned(base_url: str) -> str:
    """The bookmark base: the front's base URL without its version segment."""
    base = base_url.rstrip("/")
    head, _, last = base.rpartition("/")
    return head if head and _VERSION_SEGMENT.fullmatch(last) else base


def _show_site_az(kind: Kind, row: dict, site: Site) -> None:
    for path in kind.az_fields:
        paths.update(row, path, lambda zone: site.availability_zone)
    for path in kind.requested_az_fields:
        paths.update(row, path, lambda zone: site.availability_zone if zone else zone)


def _hide_stamp(kind: Kind, row: dict) -> None:
    metadata = row.get("metadata")
    if kind.stamp_key and isinstance(metadata, dict):
        metadata.pop(kind.stamp_key, None)


def _title(kind_name: str) -> str:
    return kind_name.replace("_", " ").capitalize()


def _copy_json(value: Any) -> Any:
    """A deep copy of a JSON document (faster than copy.deepcopy for one)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value
