"""The merge half of a fanned-out list: per-site row streams, already sorted
by each site, become one page of the global list.

    site A pages ─ SitePager ─┐
    site B pages ─ SitePager ─┼─ merge(streams, spec, limit) ─> one page
    site C pages ─ SitePager ─┘

`merge` is a lazy k-way merge: it orders rows by `SortSpec.key`, then by the
stream's position, keeping each stream's own order, so a page is
deterministic and agrees with every site. It reads a stream only as far as it
must to emit `limit` rows, holding at most one row ahead per stream.

`SitePager` turns one site's paged list call into such a stream: it follows
the site's own markers, asks for more rows after each refill, and filters rows
(rows at or before a global marker, rows the cascade does not own) without
losing its place in the site's list.

Errors: the merge does not swallow a stream's error, it raises it. The caller
(`fanout.scatter` results and the front) decides what a failed or timed-out
site means, and gives the merge only streams of sites that answered, or
streams wrapped to end quietly.
"""
from __future__ import annotations

import asyncio
import collections
import heapq
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from cascade.fanout.sortkeys import SortSpec, after_marker

__all__ = ["SortSpec", "after_marker", "merge", "merge_indexed", "SitePager", "page_fetcher", "first_page_size",
           "expected_page_size"]

Row = dict[str, Any]
# (marker of the site's previous page or None, rows wanted) -> (rows, marker of the next page or None)
PageFetcher = Callable[[str | None, int], Awaitable[tuple[list[Row], str | None]]]

_END = object()

# A site's own cap on a page (Nova's and Glance's default `max_limit`/`api_limit_max`).
SITE_MAX_PAGE = 1000


async def merge(streams: Sequence[AsyncIterator[Row]], spec: SortSpec, limit: int | None) -> list[Row]:
    """The first `limit` rows (all when None) of the merged order of `streams`."""
    return [row for _, row in await merge_indexed(streams, spec, limit)]


async def merge_indexed(
    streams: Sequence[AsyncIterator[Row]], spec: SortSpec, limit: int | None
) -> list[tuple[int, Row]]:
    """Like `merge`, with each row's stream index (to know its site)."""
    if limit is not None and limit <= 0:
        return []
    if len(streams) == 1:
        # one stream is already in order: no keys to compute or compare
        merged: list[tuple[int, Row]] = []
        async for row in streams[0]:
            merged.append((0, row))
            if limit is not None and len(merged) >= limit:
                break
        return merged
    firsts = await asyncio.gather(*(anext(stream, _END) for stream in streams), return_exceptions=True)
    for first in firsts:
        if isinstance(first, BaseException):
            raise first
    # (key, stream index, row): the index is unique in the heap, so rows themselves never compare.
    heap = [(spec.key(row), index, row) for index, row in enumerate(firsts) if row is not _END]
    heapq.heapify(heap)
    merged = []
    while heap:
        _, index, row = heap[0]
        merged.append((index, row))
        if limit is not None and len(merged) >= limit:
            break
        following = await anext(streams[index], _END)
        if following is _END:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (spec.key(following), index, following))
    return merged


def first_page_size(limit: int, streams: int, *, minimum: int = 10, maximum: int = SITE_MAX_PAGE) -> int:
    """How many rows to ask each site for first: about its share of `limit`
    plus 10% (rows rarely spread evenly), within [minimum, maximum]."""
    share = -(-limit * 11 // (10 * max(streams, 1)))     # ceil(limit / streams * 1.1), in integers
    return max(1, min(maximum, max(minimum, share)))


def expected_page_size(expected: int, *, maximum: int = SITE_MAX_PAGE) -> int:
    """How many rows to ask a site for first when the page is expected to
    take `expected` of them (the cascade's own records say so): that, plus a
    little for what changed since, within [2, maximum]."""
    return max(2, min(maximum, expected + max(2, expected // 10)))


class SitePager:
    """One site's rows as a lazy async stream, page by page.

    `fetch_page(marker, size)` asks the site for `size` rows after its own
    `marker` (None: from the start) and returns the rows and the marker of the
    next page, None when the site has no more (see `page_fetcher`). The
    marker is the site's, taken from the last row the site returned, so rows
    that `keep` rejects (or that translation dropped) never move the pager's
    place in the site's list.

    The first page asks for `page_size` rows; every refill multiplies the size
    by `growth` (a filter that rejected a page suggests it will reject more),
    up to `max_page_size`, which must not exceed the site's own page cap.
    """

    def __init__(
        self,
        fetch_page: PageFetcher,
        *,
        page_size: int,
        marker: str | None = None,
        keep: Callable[[Row], bool] | None = None,
        max_page_size: int = SITE_MAX_PAGE,
        growth: float = 2.0,
    ) -> None:
        if page_size < 1 or max_page_size < 1:
            raise ValueError("page sizes must be positive")
        self._fetch_page = fetch_page
        self._page_size = min(page_size, max_page_size)
        self._max_page_size = max_page_size
        self._growth = growth
        self._marker = marker
        self._keep = keep
        self._buffer: collections.deque[Row] = collections.deque()
        self._exhausted = False
        self.pages_fetched = 0
        self.rows_fetched = 0

    def __aiter__(self) -> "SitePager":
        return self

    async def __anext__(self) -> Row:
        while not self._buffer:
            if self._exhausted:
                raise StopAsyncIteration
            await self._refill()
        return self._buffer.popleft()

    async def _refill(self) -> None:
        if self.pages_fetched:
            self._page_size = min(self._max_page_size, math.ceil(self._page_size * self._growth))
        rows, next_marker = await self._fetch_page(self._marker, self._page_size)
        self.pages_fetched += 1
        self.rows_fetched += len(rows)
        self._marker = next_marker
        self._exhausted = next_marker is None
        keep = self._keep
        self._buffer.extend(rows if keep is None else (row for row in rows if keep(row)))


def page_fetcher(
    list_page: Callable[[str | None, int], Awaitable[list[Row]]],
    *,
    translate: Callable[[list[Row]], Awaitable[list[Row]]] | None = None,
    marker_field: str = "id",
) -> PageFetcher:
    """A `PageFetcher` from a plain site call returning raw (bottom) rows.

    A page shorter than asked is the site's last. Otherwise the next marker is
    the last raw row's `marker_field` (its bottom id), read before
    `translate` (e.g. `Translator.many_to_top`) rewrites or drops rows.
    """

    async def fetch(marker: str | None, size: int) -> tuple[list[Row], str | None]:
        raw = await list_page(marker, size)
        next_marker = None
        if raw and len(raw) >= size:
            last = raw[-1]
            next_marker = last.get(marker_field) if isinstance(last, Mapping) else None
        rows = await translate(raw) if translate is not None else raw
        return rows, next_marker

    return fetch
