"""Fan-out: the third request pattern (a list asked of every relevant site).

`scatter` runs one call per site concurrently under a deadline and reports
each site's outcome; `merge` combines the sites' sorted row streams into one
page of the global list (sort keys, global marker, limit); `SitePager` makes a
site's paged list call into such a stream.
"""
from cascade.fanout.merge import SitePager, first_page_size, merge, merge_indexed, page_fetcher
from cascade.fanout.scatter import SiteResult, scatter
from cascade.fanout.sortkeys import SortSpec, after_marker

__all__ = [
    "SiteResult",
    "SitePager",
    "SortSpec",
    "after_marker",
    "first_page_size",
    "merge",
    "merge_indexed",
    "page_fetcher",
    "scatter",
]
