"""The images of one simulated site.

Images declared by an `ImageSpec` are the same on every site (name, size,
checksum and hash derive from the spec) but get ids unique to the site, as
the same image uploaded to two clouds would.
"""
from __future__ import annotations

import dataclasses
import hashlib
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

    def settle(self, now: float) -> None:
        if self.active_at is not None and now >= self.active_at:
            self.status = "active"
            self.updated_at = self.active_at
            self.active_at = None


class ImageStore:
    def __init__(self, site_name: str, specs: list[ImageSpec] | tuple[ImageSpec, ...],
                 clock: Callable[[], float], default_owner: str | None = None) -> None:
        self.site_name = site_name
        self.clock = clock
        self.default_owner = default_owner
        self.images: dict[str, Image] = {}
        self._seq = itertools.count(1)
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
        image = self.images.get(image_id)
        if image is not None:
            image.settle(self.clock())
        return image

    def visible(self, image: Image, project_id: str | None, is_admin: bool) -> bool:
        if is_admin or image.visibility in ("public", "community"):
            return True
        return image.owner is not None and image.owner == project_id

    def snapshot(self, *, name: str, owner: str, min_disk: int, min_ram: int,
                 metadata: dict[str, str], ready_in: float) -> Image:
        """A server snapshot: queued now, active `ready_in` seconds later."""
        now = self.clock()
        image_id = str(uuid.uuid4())
        seed = f"snapshot:{image_id}".encode()
        image = Image(
            seq=next(self._seq), id=image_id, name=name, status="queued",
            visibility="private", owner=owner, size=0, virtual_size=None, disk_format="qcow2",
            container_format="bare", checksum=hashlib.md5(seed).hexdigest(),
            os_hash_value=hashlib.sha512(seed).hexdigest(), min_disk=min_disk,
            min_ram=min_ram, created_at=now, updated_at=now,
            properties={**metadata, "image_type": "snapshot"}, active_at=now + ready_in)
        self.images[image.id] = image
        return image
