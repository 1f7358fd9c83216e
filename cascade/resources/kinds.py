"""Declarations per resource kind: which service serves it, its collection
and member keys, which fields of its body hold which kind of id, where its
links are, which query filters carry ids, and how its bottom copy is stamped
with its top id.

Translation (`routing.translate`), fan-out (`fanout`) and the fronts read these
declarations; nothing else should know which field of which body holds an id.

Field paths use dots for nesting and `[]` for "every element of this list":
`"image.id"`, `"os-extended-volumes:volumes_attached[].id"`.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    service: str
    collection: str            # key of the list in a list answer ("servers")
    member: str                # key of the object in a single answer ("server")
    path: str                  # collection path under the service's endpoint
    id_fields: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # path of a links list -> kind of the object that list points at
    links: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # query filter -> kind of id it carries (translated per site; a filter
    # whose id has no copy in a site means that site has no match)
    filter_ids: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # fields holding the zone a resource is in: always the site's cascade AZ
    # (placed in a site, it is in that zone even before the site schedules it)
    az_fields: tuple[str, ...] = ()
    # fields holding a zone the tenant asked for: the site's cascade AZ when set
    requested_az_fields: tuple[str, ...] = ()
    # metadata key a bottom copy carries its top id under (hidden from tenants)
    stamp_key: str | None = None
    # where bottom copies live: "one" site (routed), or "many" (top-owned, a copy per site)
    placement: str = "one"


STAMP_KEY = "cascade_top_id"

SERVER = Kind(
    name="server",
    service="compute",
    collection="servers",
    member="server",
    path="servers",
    id_fields={
        "id": "server",
        "image.id": "image",
        "flavor.id": "flavor",
        "os-extended-volumes:volumes_attached[].id": "volume",
        "server_groups[]": "server_group",
        "scheduler_hints.group[]": "server_group",   # 2.100: the hints as the site was given them
    },
    links={"links": "server", "image.links": "image", "flavor.links": "flavor"},
    filter_ids={"image": "image", "flavor": "flavor"},
    az_fields=("OS-EXT-AZ:availability_zone",),
    requested_az_fields=("pinned_availability_zone",),
    stamp_key=STAMP_KEY,
)

FLAVOR = Kind(
    name="flavor",
    service="compute",
    collection="flavors",
    member="flavor",
    path="flavors",
    id_fields={"id": "flavor"},
    links={"links": "flavor"},
    placement="many",
)

KEYPAIR = Kind(
    name="keypair",
    service="compute",
    collection="keypairs",
    member="keypair",
    path="os-keypairs",
    placement="many",
)

IMAGE = Kind(
    name="image",
    service="image",
    collection="images",
    member="image",
    path="images",
    # a snapshot's or backup's properties name its server and that server's image
    id_fields={"id": "image", "instance_uuid": "server", "base_image_ref": "image"},
    filter_ids={"instance_uuid": "server"},
    placement="many",
)

SERVER_GROUP = Kind(
    name="server_group",
    service="compute",
    collection="server_groups",
    member="server_group",
    path="os-server-groups",
    id_fields={"id": "server_group", "members[]": "server"},
    placement="many",
)

VOLUME = Kind(
    name="volume",
    service="volume",
    collection="volumes",
    member="volume",
    path="volumes",
    id_fields={"id": "volume"},
    links={"links": "volume"},
)

KINDS: Mapping[str, Kind] = {k.name: k for k in (SERVER, FLAVOR, KEYPAIR, IMAGE, SERVER_GROUP, VOLUME)}


def kind(name: str) -> Kind:
    return KINDS[name]
