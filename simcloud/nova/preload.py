"""Servers a site already holds when it starts, for scale runs (status sync
and adoption of 10,000 servers a site): `count` ACTIVE servers on the site's
host, round-robin over the given tenants, each booted by the tenant's user
from the site's first image with its smallest flavor.

They are ordinary servers of the site (listed, shown, acted on and deleted
like any other) made in one batch: a generator seeded with the site's name
gives the ids, the same on every run; the rest is shared between them
(flavor, image properties, creator) or derived (addresses, hostnames, the
create request's id). Their creation times are spread over the `SPAN`
before the site started, oldest first, and each was last updated somewhere
between its creation and `QUIET` before the start, so that `changes-since`
windows in the past catch some of them and none is newer than an hour.

The site's capacity grows by what they hold, so that the capacity it was
configured with stays free for new servers; the tenants' usage counts them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import random
import uuid
from typing import Iterator, Sequence

from simcloud.glance.store import ImageStore
from simcloud.nova import image_props, states
from simcloud.nova.model import AUTO_NICS, Server
from simcloud.nova.store import ComputeStore

SPAN = 30 * 86400.0
QUIET = 3600.0
BOOT_SECONDS = 10.0          # created -> launched
ROLES = "member,reader"


@dataclasses.dataclass(frozen=True)
class Tenant:
    """Who owns preloaded servers: a project and the user who booted them."""
    project_id: str
    user_id: str
    project_name: str
    user_name: str


def preload_servers(store: ComputeStore, images: ImageStore, count: int,
                    tenants: Sequence[Tenant]) -> list[Server]:
    if count <= 0:
        return []
    if not tenants:
        raise ValueError(f"{store.site_name}: preloaded servers need tenants to own them")
    if store.by_id:      # creation order must stay time order
        raise ValueError(f"{store.site_name}: servers are preloaded into an empty site only")
    flavor = min(store.flavors.values(), key=lambda f: (f.vcpus, f.ram, f.disk))
    image = next(iter(images.images.values()), None)
    image_id = image.id if image is not None else ""
    props = image_props.shown(image.properties) if image is not None else None
    creators = [store.creator(t.user_name, t.project_name, ROLES) for t in tenants]
    store.capacity.vcpus += count * flavor.vcpus
    store.capacity.ram_mb += count * flavor.ram
    store.capacity.disk_gb += count * (flavor.disk + flavor.ephemeral)

    rng = random.Random(f"{store.site_name}/preload")
    newest = store.clock() - QUIET
    step = SPAN / count
    servers = []
    with _no_cyclic_collections():
        for index in range(count):
            tenant = tenants[index % len(tenants)]
            created = newest - SPAN + index * step
            updated = created + rng.random() * (newest - created)
            launched = min(created + BOOT_SECONDS, updated)
            server = Server(
                seq=store.next_seq(), id=_uuid(rng), name=f"pre-{store.site_name}-{index + 1}",
                project_id=tenant.project_id, user_id=tenant.user_id, image_id=image_id,
                flavor=flavor, created_at=created, updated_at=updated,
                create_request_id=None,
                reservation_id=f"r-{rng.getrandbits(32):08x}",
                vm_state=states.ACTIVE, task_state=None, power_state=states.RUNNING,
                launched_at=launched, built_at=launched, nics=AUTO_NICS, image_props=props,
                creator=creators[index % len(tenants)])
            store.occupy(server)
            servers.append(server)
        store.add_servers(servers)
    return servers


@contextlib.contextmanager
def _no_cyclic_collections() -> Iterator[None]:
    """Nothing made here is garbage, yet the collector's full passes would
    walk every server already made (100 sites of 10,000: ready in 13 s
    rather than 10)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
