"""A simulated Nova (compute API v2.1 with microversions) for one site.

`service.NovaService` builds the aiohttp app from `store.ComputeStore`; the
resource modules (servers, server_actions, metadata_tags, flavors, keypairs,
...) each serve one part of the API; `model`, `lifecycle` and `states` hold
the server records and their timed transitions.
"""
