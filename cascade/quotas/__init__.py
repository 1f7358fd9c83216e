"""The cascade's global quotas, top-owned: one set of limits per project
(and per user inside it) across every site, enforced by the cascade before a
request reaches a site, as Nova enforces its own.

`resources` declares Nova's quota resources and their defaults; `engine`
holds the rules (effective limits, usage, the checks with Nova's messages,
reservations of creates and resizes in flight); `cascade.persistence.quotas`
reads and writes the records. The compute front serves os-quota-sets,
os-quota-class-sets and limits from here (`api/compute/quotas.py`,
`api/compute/limits.py`) and calls the checks (`api/compute/quota_checks.py`)."""
