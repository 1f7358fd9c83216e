"""The `Site` value: what the cascade knows of one registered child cloud.

Immutable; the registry replaces a site's value when the record changes.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

ENABLED, DISABLED, DRAINING = "enabled", "disabled", "draining"
UP, DEGRADED, DOWN, UNKNOWN = "up", "degraded", "down", "unknown"


@dataclasses.dataclass(frozen=True)
class Capacity:
    vcpus: int = 0
    vcpus_used: int = 0
    memory_mb: int = 0
    memory_mb_used: int = 0

    @property
    def free_vcpus(self) -> int:
        return self.vcpus - self.vcpus_used

    @property
    def free_memory_mb(self) -> int:
        return self.memory_mb - self.memory_mb_used


@dataclasses.dataclass(frozen=True)
class Site:
    id: str
    name: str
    availability_zone: str
    region_name: str
    auth_url: str
    # service type ("compute", "image", ...) -> endpoint URL from the site's catalog
    endpoints: Mapping[str, str]
    state: str = ENABLED
    health: str = UNKNOWN
    compute_min_version: str = "2.1"
    compute_max_version: str = "2.1"
    capacity: Capacity = dataclasses.field(default_factory=Capacity)
    # credentials from the site's clouds.yaml entry, for sites that do not
    # share the cascade's Keystone; empty when they do
    auth: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    position: int = 0          # registration order; tie-breaker of fan-out merges

    @property
    def accepts_placements(self) -> bool:
        return self.state == ENABLED and self.health != DOWN
