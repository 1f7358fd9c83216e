"""Microversion arithmetic shared by the fronts and the site clients."""
from __future__ import annotations

import functools


@functools.total_ordering
class APIVersion:
    __slots__ = ("major", "minor")

    def __init__(self, text: str) -> None:
        try:
            major, minor = text.strip().split(".")
            self.major, self.minor = int(major), int(minor)
        except (ValueError, AttributeError):
            raise ValueError(f"invalid version string {text!r}") from None
        if self.major < 0 or self.minor < 0:
            raise ValueError(f"invalid version string {text!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, APIVersion) and (self.major, self.minor) == (other.major, other.minor)

    def __lt__(self, other: "APIVersion") -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __hash__(self) -> int:
        return hash((self.major, self.minor))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    __repr__ = __str__


def at_least(version: str | None, minimum: str) -> bool:
    """True when `version` (None meaning the service's minimum, 2.1) >= minimum."""
    return APIVersion(version or "2.1") >= APIVersion(minimum)
