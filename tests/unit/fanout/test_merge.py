import random

import pytest

from cascade.fanout.merge import SitePager, expected_page_size, first_page_size, merge, merge_indexed, page_fetcher
from cascade.fanout.sortkeys import SortSpec, after_marker


class FakeSite:
    """One site's list API: rows in the site's own order, `limit`/`marker` paging."""

    def __init__(self, rows):
        self.rows = rows
        self.requests = []          # (marker, limit)

    async def list_page(self, marker, limit):
        self.requests.append((marker, limit))
        start = 0
        if marker is not None:
            start = next(i for i, row in enumerate(self.rows) if row["id"] == marker) + 1
        return [dict(row) for row in self.rows[start:start + limit]]


async def rows_of(items, pulled=None, index=0, fail_after=None):
    for n, item in enumerate(items):
        if fail_after is not None and n == fail_after:
            raise ConnectionError("site went away")
        if pulled is not None:
            pulled[index] += 1
        yield item


def random_sites(rng, n_sites, spec):
    """Per-site data sets with ties and Nones; each site sorts by `spec` and
    breaks ties its own (unknown to the merge) way."""
    sites = []
    for s in range(n_sites):
        rows = []
        for r in range(rng.randint(0, 40)):
            rows.append({
                "id": f"s{s}-r{r}",
                "status": rng.choice(["ACTIVE", "BUILD", "ERROR", None]),
                "vcpus": rng.choice([1, 2, 4, None]),
                "created": rng.choice([None] + [f"2024-05-0{d}T10:00:00Z" for d in range(1, 6)]),
                "tiebreak": rng.random(),
            })
        rows.sort(key=lambda row: row["tiebreak"])
        rows.sort(key=spec.key)            # stable: ties keep the site's own order
        sites.append(FakeSite(rows))
    return sites


def expected_order(sites, spec):
    tagged = [(spec.key(row), s, i, row["id"]) for s, site in enumerate(sites) for i, row in enumerate(site.rows)]
    return [row_id for *_, row_id in sorted(tagged)]


async def walk_pages(sites, spec, limit, page_size):
    """Page through the merged list with global markers, the way a front does."""
    seen, marker = [], None              # marker: (row, stream index)
    for _ in range(1000):
        streams = []
        for index, site in enumerate(sites):
            keep, site_marker = None, None
            if marker is not None:
                marker_row, marker_stream = marker
                is_after = after_marker(spec, marker_row, marker_stream)
                if index == marker_stream:
                    site_marker = marker_row["id"]
                keep = (lambda row, i=index, f=is_after: f(row, i))
            streams.append(SitePager(page_fetcher(site.list_page), page_size=page_size,
                                     marker=site_marker, keep=keep))
        page = await merge_indexed(streams, spec, limit)
        seen.extend(row["id"] for _, row in page)
        if len(page) < limit:
            return seen
        marker = (page[-1][1], page[-1][0])
    raise AssertionError("pagination did not end")


SPECS = [
    SortSpec((("created", "desc"),)),
    SortSpec((("created", "asc"),)),
    SortSpec((("status", "asc"), ("created", "desc"))),
    SortSpec((("vcpus", "desc"), ("status", "desc"), ("created", "asc"))),
    SortSpec((("status", "asc"),)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: ",".join(f"{f}:{d}" for f, d in spec.keys))
@pytest.mark.parametrize("seed", range(4))
async def test_paging_with_global_markers_walks_the_sorted_union(spec, seed):
    rng = random.Random(seed)
    sites = random_sites(rng, rng.randint(1, 5), spec)
    limit = rng.choice([1, 3, 7, 25])
    page_size = rng.choice([1, 4, 10])

    walked = await walk_pages(sites, spec, limit, page_size)

    assert walked == expected_order(sites, spec)


async def test_one_page_merges_by_key_then_site_then_site_order():
    spec = SortSpec((("n", "asc"),))
    a = [{"id": "a1", "n": 1}, {"id": "a2", "n": 2}, {"id": "a3", "n": 2}]
    b = [{"id": "b1", "n": None}, {"id": "b2", "n": 2}, {"id": "b3", "n": 3}]
    merged = await merge([rows_of(a), rows_of(b)], spec, limit=None)
    assert [row["id"] for row in merged] == ["b1", "a1", "a2", "a3", "b2", "b3"]


async def test_merge_indexed_names_each_rows_stream():
    spec = SortSpec((("n", "desc"),))
    merged = await merge_indexed([rows_of([{"n": 1}]), rows_of([]), rows_of([{"n": 2}])], spec, limit=5)
    assert merged == [(2, {"n": 2}), (0, {"n": 1})]


async def test_merge_reads_only_what_the_limit_needs_plus_one_row_per_stream():
    spec = SortSpec((("n", "asc"),))
    pulled = [0, 0, 0]
    streams = [rows_of([{"n": 3 * i + s} for i in range(100)], pulled, s) for s in range(3)]

    merged = await merge_indexed(streams, spec, limit=4)

    assert [row["n"] for _, row in merged] == [0, 1, 2, 3]
    emitted = [sum(1 for index, _ in merged if index == s) for s in range(3)]
    assert emitted == [2, 1, 1]
    assert all(pulled[s] <= emitted[s] + 1 for s in range(3)), pulled
    assert pulled == [2, 2, 2]         # the emitted rows, plus one look-ahead where the merge needed it


async def test_limit_zero_reads_nothing():
    pulled = [0]
    assert await merge([rows_of([{"n": 1}], pulled)], SortSpec((("n", "asc"),)), limit=0) == []
    assert pulled == [0]


async def test_pagers_fetch_one_page_each_for_a_small_limit():
    spec = SortSpec((("id", "asc"),))
    sites = [FakeSite([{"id": f"{s}-{i:03}"} for i in range(200)]) for s in range(3)]
    pagers = [SitePager(page_fetcher(site.list_page), page_size=first_page_size(10, 3)) for site in sites]

    merged = await merge(pagers, spec, limit=10)

    assert [row["id"] for row in merged] == [f"0-{i:03}" for i in range(10)]
    assert [len(site.requests) for site in sites] == [1, 1, 1]
    assert [pager.rows_fetched for pager in pagers] == [10, 10, 10]


async def test_merge_raises_a_streams_error_at_the_start():
    spec = SortSpec((("n", "asc"),))
    with pytest.raises(ConnectionError):
        await merge([rows_of([{"n": 1}]), rows_of([{"n": 2}], fail_after=0)], spec, limit=10)


async def test_merge_raises_a_streams_error_midway():
    spec = SortSpec((("n", "asc"),))
    with pytest.raises(ConnectionError):
        await merge([rows_of([{"n": 1}, {"n": 2}], fail_after=1), rows_of([{"n": 5}])], spec, limit=10)


async def test_a_caller_wrapped_failed_stream_just_ends():
    # The contract: the caller, not the merge, decides what a failed site means.
    async def quiet(stream):
        try:
            async for row in stream:
                yield row
        except ConnectionError:
            return

    spec = SortSpec((("n", "asc"),))
    merged = await merge([quiet(rows_of([{"n": 1}, {"n": 3}], fail_after=1)), rows_of([{"n": 2}])], spec, limit=10)
    assert [row["n"] for row in merged] == [1, 2]


# -- SitePager ---------------------------------------------------------------------


async def test_pager_follows_site_markers_and_grows_its_pages():
    site = FakeSite([{"id": f"r{i:02}"} for i in range(40)])
    pager = SitePager(page_fetcher(site.list_page), page_size=3, max_page_size=10)

    rows = [row["id"] async for row in pager]

    assert rows == [f"r{i:02}" for i in range(40)]
    assert site.requests == [(None, 3), ("r02", 6), ("r08", 10), ("r18", 10), ("r28", 10), ("r38", 10)]


async def test_pager_stops_on_a_short_page_without_asking_again():
    site = FakeSite([{"id": f"r{i}"} for i in range(5)])
    assert [row["id"] async for row in SitePager(page_fetcher(site.list_page), page_size=10)] == [
        f"r{i}" for i in range(5)]
    assert site.requests == [(None, 10)]


async def test_pager_of_an_empty_site_asks_once():
    site = FakeSite([])
    assert [row async for row in SitePager(page_fetcher(site.list_page), page_size=10)] == []
    assert site.requests == [(None, 10)]


async def test_filtered_rows_do_not_move_the_site_marker():
    site = FakeSite([{"id": f"r{i:02}", "mine": i % 4 == 0} for i in range(20)])

    async def translate(rows):        # drops rows the cascade does not own, as many_to_top does
        return [row for row in rows if row["mine"]]

    pager = SitePager(page_fetcher(site.list_page, translate=translate), page_size=5, growth=1.0,
                      keep=lambda row: row["id"] != "r08")

    assert [row["id"] async for row in pager] == ["r00", "r04", "r12", "r16"]
    assert [marker for marker, _ in site.requests] == [None, "r04", "r09", "r14", "r19"]


async def test_pager_starts_after_a_given_site_marker():
    site = FakeSite([{"id": f"r{i}"} for i in range(6)])
    pager = SitePager(page_fetcher(site.list_page), page_size=2, marker="r3")
    assert [row["id"] async for row in pager] == ["r4", "r5"]


async def test_pager_with_a_fetcher_that_reports_its_own_end():
    pages = {None: ([{"id": "a"}], "a"), "a": ([], "b"), "b": ([{"id": "c"}], None)}
    asked = []

    async def fetch(marker, size):
        asked.append(marker)
        return pages[marker]

    assert [row["id"] async for row in SitePager(fetch, page_size=100)] == ["a", "c"]
    assert asked == [None, "a", "b"]


def test_pager_refuses_empty_pages():
    with pytest.raises(ValueError):
        SitePager(FakeSite([]).list_page, page_size=0)


@pytest.mark.parametrize(
    "limit, streams, expected",
    [(1000, 10, 110), (1000, 1, 1000), (5, 3, 10), (100, 3, 37), (20, 0, 22), (50, 2, 28)],
)
def test_first_page_size_is_a_share_plus_ten_percent_within_bounds(limit, streams, expected):
    assert first_page_size(limit, streams) == expected


def test_first_page_size_honours_explicit_bounds():
    assert first_page_size(5, 3, minimum=1) == 2
    assert first_page_size(10_000, 2, maximum=500) == 500


@pytest.mark.parametrize("expected, size", [(0, 2), (1, 3), (10, 12), (40, 44), (995, 1000), (5000, 1000)])
def test_a_sites_first_ask_is_what_the_page_is_expected_to_take_and_a_little_more(expected, size):
    assert expected_page_size(expected) == size
