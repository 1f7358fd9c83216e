"""Status sync: the cached projection of servers (`persistence.servers`)
follows what the sites say, without one request per server.

- `jobs`: the periodic jobs per site, `sync.changes` (changes-since from a
  watermark in the site's clock) and `sync.sweep` (every server, slower);
  where each site stands is `persistence.site_sync`.
- `apply`: one page of a site's servers (read by `adoption.site_servers`,
  as adoption reads them) applied to the projection in a fixed number of
  queries; servers that lack their own top id stamped (`adoption.stamping`).
- `gone`: servers deleted straight in a site (marked deleted at the top),
  leftovers of interrupted creates (deleted in the site), and deleted
  servers past their retention (purged).
"""
