"""The images of one simulated site.

Images declared by an `ImageSpec` are the same on every site (name, size,
checksum and hash derive from the spec) but get ids unique to the site, as
the same image uploaded to two clouds would. Nova adds the images its
servers' snapshots, backups and shelves make (queued, then active once
"uploaded") and deletes those it rotates out or no longer needs; work that
is due later (a backup rotation after its upload) runs when the images are
next read.
"""
from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import uuid
from typing import Any, Callable, Mapping

_NAMESPACE = uuid.UUID("0f6b4d0e-3c55-4d8e-9a1e-2f4e8c7d9b31")


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    name: str
    size: int
    disk_format: str = "qcow2"
    container_format: str = "bare"
    min_disk: int = 0
    min_ram: int = 0
    virtual_size: int | None = None         # None: the size for raw images, else unknown
    visibility: str = "public"
    owner: str | None = None
    tags: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "ImageSpec":
        """From a site-config file: lists for `tags`, a mapping for `properties`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"unknown image settings: {', '.join(unknown)}")
        spec = dict(values)
        spec["tags"] = tuple(spec.get("tags", ()))
        spec["properties"] = tuple(dict(spec.get("properties", {})).items())
        return cls(**spec)

    def content_digest(self, algorithm: str) -> str:
        """Stands for the digest of the image's bytes, identical on every site."""
        seed = f"simcloud-image:{self.name}:{self.size}:{self.disk_format}".encode()
        return hashlib.new(algorithm, seed).hexdigest()


DEFAULT_IMAGES = (
    ImageSpec("cirros", 21430272, virtual_size=117440512,
              tags=("cirros", "cirros-0.6.2-x86_64-disk")),
    ImageSpec("ubuntu-22.04-server-cloudimg-amd64", 692387840, min_disk=3, min_ram=512,
              virtual_size=2361393152,
              properties=(("os_distro", "ubuntu"), ("os_version", "22.04"))),
    ImageSpec("Fedora-Cloud-Base-39-1.5.x86_64", 541065216, min_disk=5, min_ram=512,
              virtual_size=5368709120,
              properties=(("os_distro", "fedora"), ("os_version", "39"))),
)


@dataclasses.dataclass(slots=True, eq=False)
class Image:
    seq: int
    id: str
    name: str | None
    status: str
    visibility: str
    owner: str | None
    size: int | None
    virtual_size: int | None
    disk_format: str | None
    container_format: str | None
    checksum: str | None
    os_hash_value: str | None
    min_disk: int
    min_ram: int
    created_at: float
    updated_at: float
    protected: bool = False
    os_hidden: bool = False
    tags: tuple[str, ...] = ()
    properties: dict[str, str] = dataclasses.field(default_factory=dict)
    active_at: float | None = None    # a snapshot turns active then
    uploaded_size: int = 0            # its size once uploaded

    def settle(self, now: float) -> None:
        if self.active_at is not None and now >= self.active_at:
            self.status = "active"
            self.updated_at = self.active_at
            self.active_at = None
            self.size = self.uploaded_size
            self.disk_format = self.disk_format or "qcow2"     # what the hypervisor uploaded
            self.container_format = self.container_format or "bare"
            seed = f"snapshot:{self.id}".encode()
            self.checksum = hashlib.md5(seed).hexdigest()
            self.os_hash_value = hashlib.sha512(seed).hexdigest()


class ImageStore:
    def __init__(self, site_name: str, specs: list[ImageSpec] | tuple[ImageSpec, ...],
                 clock: Callable[[], float], default_owner: str | None = None) -> None:
        self.site_name = site_name
        self.clock = clock
        self.default_owner = default_owner
        self.images: dict[str, Image] = {}
        self._seq = itertools.count(1)
        self._due: list[tuple[float, int, Callable[[], None]]] = []   # heap: (when, seq, work)
        now = clock()
        # uploaded one after the other, a second apart, the last one now
        for offset, spec in enumerate(specs):
            self.add_spec(spec, now - (len(specs) - 1 - offset))

    def add_spec(self, spec: ImageSpec, created_at: float | None = None) -> Image:
        created = self.clock() if created_at is None else created_at
        image = Image(
            seq=next(self._seq),
            id=str(uuid.uuid5(_NAMESPACE, f"{self.site_name}/{spec.name}")),
            name=spec.name, status="active", visibility=spec.visibility,
            owner=spec.owner or self.default_owner, size=spec.size,
            virtual_size=spec.virtual_size if spec.virtual_size is not None else (
                spec.size if spec.disk_format == "raw" else None), disk_format=spec.disk_format,
            container_format=spec.container_format,
            checksum=spec.content_digest("md5"), os_hash_value=spec.content_digest("sha512"),
            min_disk=spec.min_disk, min_ram=spec.min_ram, created_at=created,
            updated_at=created, tags=spec.tags, properties=dict(spec.properties))
        self.images[image.id] = image
        return image

    def get(self, image_id: str) -> Image | None:
        self.run_due()
        image = self.images.get(image_id)
        if image is not None:
            image.settle(self.clock())
        return image

    def all(self) -> list[Image]:
        self.run_due()
        now = self.clock()
        for image in self.images.values():
            image.settle(now)
        return list(self.images.values())

    def later(self, when: float, work: Callable[[], None]) -> None:
        heapq.heappush(self._due, (when, next(self._seq), work))

    def run_due(self) -> None:
        now = self.clock()
        while self._due and self._due[0][0] <= now:
            _, _, work = heapq.heappop(self._due)
            work()

    def delete(self, image_id: str) -> None:
        self.images.pop(image_id, None)

    def visible(self, image: Image, project_id: str | None, is_admin: bool) -> bool:
        if is_admin or image.visibility in ("public", "community"):
            return True
        return image.owner is not None and image.owner == project_id

    def snapshot(self, *, name: str, owner: str, visibility: str, min_disk: int, min_ram: int,
                 disk_format: str | None, container_format: str | None,
                 properties: dict[str, str], size: int, ready_in: float) -> Image:
        """An image Nova makes of a server: queued now (no data, formats
        unknown for a snapshot), active `ready_in` seconds later."""
        now = self.clock()
        image = Image(
            seq=next(self._seq), id=str(uuid.uuid4()), name=name, status="queued",
            visibility=visibility, owner=owner, size=None, virtual_size=None,
            disk_format=disk_format, container_format=container_format,
            checksum=None, os_hash_value=None, min_disk=min_disk,
            min_ram=min_ram, created_at=now, updated_at=now, properties=dict(properties),
            active_at=now + ready_in, uploaded_size=size)
        self.images[image.id] = image
        return image
