"""A simulated Glance v2, read-only except for server snapshots: the images a
site offers (preloaded), their records as Glance shows them, and the list
semantics (filters, sort, marker pagination)."""
from simcloud.glance.store import DEFAULT_IMAGES, Image, ImageSpec, ImageStore

__all__ = ["DEFAULT_IMAGES", "Image", "ImageSpec", "ImageStore"]
