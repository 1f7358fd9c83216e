"""Adoption: bringing what a site already holds under the cascade.

`cascade site add NAME --cloud C --adopt` (or `POST /cascade/v1/sites/{site}/adopt`)
queues a `site.adopt` job (`jobs`): the site's servers of every project get
new top ids in batches (`servers`: routes, projection rows and the job's
progress in one transaction per batch), each batch's servers are stamped
with their top ids by a follow-up `site.stamp` job (`stamping`), and the key
pairs of the site's users become top key pairs (`keypairs`). `orphans` lists
what a site holds that the cascade does not know. `site_servers` reads the
site as the service account."""
