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
long the list. Answers are translated on copies, the caller's objects left
as they were, unless the caller hands them over (`owned`: a page it just
parsed, translated in place). A kind's declarations are parsed once
(`_plan`), so a row costs only the walk of its own fields.
"""
from __future__ import annotations

import functools
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


# One id found in a body: (row index, container, key, kind of id, value, own),
# `own` for the row's own id as opposed to a reference to another resource;
# container[key] holds the value. A plain tuple: a page makes thousands.
_Reference = tuple[int, Any, Any, str, str, bool]


@dataclass(frozen=True)
class _Plan:
    """A kind's declarations, parsed once."""

    ids: tuple[tuple[paths.Finder, str, bool], ...]     # (path, kind of id, the row's own id)
    # (links path, its holder is a mapping, collection, the `id` beside it is translated)
    links: tuple[tuple[paths.Finder, bool, str, bool], ...]
    az: tuple[paths.Finder, ...]
    requested_az: tuple[paths.Finder, ...]


_PLANS: dict[int, tuple[Kind, _Plan]] = {}


def _finder(path: str) -> paths.Finder:
    return paths.finder(paths.parse(path))


def _plan(kind: Kind) -> _Plan:
    cached = _PLANS.get(id(kind))
    if cached is not None and cached[0] is kind:
        return cached[1]
    ids = tuple((_finder(path), id_kind, id_kind == kind.name and "." not in path and not path.endswith("[]"))
                for path, id_kind in kind.id_fields.items())
    # Only an id this declaration translated may go into a link.
    links = tuple((_finder(links_path), not paths.parse(links_path)[-1].each, KINDS[linked].path,
                   kind.id_fields.get(paths.sibling(links_path, "id")) == linked)
                  for links_path, linked in kind.links.items())
    plan = _Plan(ids=ids, links=links, az=tuple(_finder(p) for p in kind.az_fields),
                 requested_az=tuple(_finder(p) for p in kind.requested_az_fields))
    _PLANS[id(kind)] = (kind, plan)   # the kind is kept, so its id is never another's
    return plan


class Translator:
    def __init__(self, routes: RouteLookup, resolver: Resolver | None = None) -> None:
        self._routes = routes
        self._resolver = resolver

    # -- answers: bottom -> top ------------------------------------------------

    async def to_top(self, kind: Kind, site: Site, obj: dict, *, base_url: str) -> dict | None:
        """The object as the cascade shows it, or None when it is not the cascade's."""
        rows = await self.many_to_top(kind, site, [obj], base_url=base_url)
        return rows[0] if rows else None

    async def many_to_top(self, kind: Kind, site: Site, objs: list[dict], *, base_url: str,
                          owned: bool = False) -> list[dict]:
        """Every object translated, in order, without those that are not the
        cascade's. With `owned`, the caller hands the objects over (a page it
        just parsed): they are translated in place instead of copied."""
        plan = _plan(kind)
        rows = objs if owned else [_copy_json(obj) for obj in objs]
        references = _references(plan, rows)
        wanted = _ids_by_kind(references)
        found = {name: dict(await self._routes.top_ids(name, site.id, sorted(ids))) for name, ids in wanted.items()}

        dropped = {ref[0] for ref in references if ref[5] and ref[4] not in found[ref[3]]}
        unrouted = _ids_by_kind(
            ref for ref in references if ref[0] not in dropped and ref[4] not in found[ref[3]]
        )
        for name, ids in unrouted.items():
            found[name].update(await self._resolve(name, site, sorted(ids)))

        for row, container, key, id_kind, value, _own in references:
            if row not in dropped:
                container[key] = found[id_kind].get(value)

        kept = [row for index, row in enumerate(rows) if index not in dropped] if dropped else rows
        links = _Links(plan, base_url)
        zone = site.availability_zone
        for row in kept:
            _rebuild_links(row, links)
            _show_site_az(plan, row, zone)
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
        references = _references(_plan(kind), [body])
        for name, ids in _ids_by_kind(references).items():
            copies = await self._routes.bottom_ids(name, site.id, sorted(ids))
            for _row, container, key, id_kind, value, _own in references:
                if id_kind != name:
                    continue
                bottom = copies.get(value)
                if bottom is None:
                    raise NotFound(f"{_title(name)} {value} could not be found.", kind=name, resource_id=value)
                container[key] = bottom
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


def _references(plan: _Plan, rows: list[dict]) -> list[_Reference]:
    references: list[_Reference] = []
    add = references.append
    for find, id_kind, own in plan.ids:
        for index, row in enumerate(rows):
            for container, key in find(row):
                value = container[key]
                if type(value) is not str:
                    if isinstance(value, int) and not isinstance(value, bool):
                        value = str(value)
                    elif not isinstance(value, str):
                        continue
                # "" is an id-less reference (Nova's "image": "" when booted from a volume).
                if value:
                    add((index, container, key, id_kind, value, own))
    return references


def _ids_by_kind(references: Iterable[_Reference]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for ref in references:
        ids.setdefault(ref[3], set()).add(ref[4])
    return ids


class _Links:
    """Link hrefs on the front's base URL: `self` under the versioned base,
    anything else (bookmark) under the unversioned one; per links path of a
    kind, (finder, holder is a mapping, its `id` is translated, self prefix,
    other prefix), each prefix wanting only the id."""

    def __init__(self, plan: _Plan, base_url: str) -> None:
        versioned, unversioned = base_url.rstrip("/"), _unversioned(base_url)
        self.paths = [(find, holds, translated, f"{versioned}/{collection}/", f"{unversioned}/{collection}/")
                      for find, holds, collection, translated in plan.links]


def _rebuild_links(row: dict, links: _Links) -> None:
    for find, holder_is_mapping, id_is_translated, self_prefix, other_prefix in links.paths:
        for holder, key in find(row):
            given = holder[key]
            if not isinstance(given, list):
                continue
            top_id = holder.get("id") if id_is_translated and holder_is_mapping else None
            if type(top_id) is not str or not top_id:
                holder[key] = []
                continue
            rebuilt = []
            for link in given:
                if not _is_mapping(link):
                    continue
                # href first, then only rel and type: nothing else of the site's link survives
                rel = link.get("rel")
                href = (self_prefix if rel == "self" else other_prefix) + top_id
                if "type" in link:
                    new = {"href": href, "rel": rel, "type": link["type"]} if "rel" in link else \
                        {"href": href, "type": link["type"]}
                else:
                    new = {"href": href, "rel": rel} if "rel" in link else {"href": href}
                rebuilt.append(new)
            holder[key] = rebuilt


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


@functools.lru_cache(maxsize=64)
def _unversioned(base_url: str) -> str:
    """The bookmark base: the front's base URL without its version segment."""
    base = base_url.rstrip("/")
    head, _, last = base.rpartition("/")
    return head if head and _VERSION_SEGMENT.fullmatch(last) else base


def _show_site_az(plan: _Plan, row: dict, zone: str) -> None:
    for find in plan.az:
        for container, key in find(row):
            container[key] = zone
    for find in plan.requested_az:
        for container, key in find(row):
            if container[key]:
                container[key] = zone


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
