"""simcloud: simulated OpenStack sites plus one shared Keystone, in one
process, for tests, the demo and scale runs. Imports nothing from `cascade`.

- `simcloud.keystone`: the shared Keystone v3 subset.
- `simcloud.site` (with `nova/`, `glance`): one simulated site.
- `simcloud.world`: Keystone and N sites, each on its own port.
- `simcloud.faults`, `simcloud.control`: fault injection at run time.
- `simcloud.cli`: the `simcloud` command.

Nothing is imported here, so that importing one part does not load the rest.
"""
