"""Nova's quota resources: their names, in Nova's order, and where each
default comes from. The network ones are kept only because the API still
shows them before 2.36; nothing counts or enforces them (-1, unlimited)."""
from __future__ import annotations

from cascade.config import QuotaSection

# name -> the [quota] option holding its default (None: unlimited, not configurable)
RESOURCES: dict[str, str | None] = {
    "cores": "cores",
    "injected_files": "injected_files",
    "injected_file_content_bytes": "injected_file_content_bytes",
    "injected_file_path_bytes": "injected_file_path_length",
    "instances": "instances",
    "key_pairs": "key_pairs",
    "metadata_items": "metadata_items",
    "ram": "ram",
    "server_groups": "server_groups",
    "server_group_members": "server_group_members",
    "fixed_ips": None,
    "floating_ips": None,
    "security_groups": None,
    "security_group_rules": None,
}

NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
INJECTED_FILES = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
SERVER_GROUPS = ("server_groups", "server_group_members")

# counted from what a project owns; the others are limits on one request
SERVER_RESOURCES = ("instances", "cores", "ram")

# limits that have no per-user value: a user's value is stored as the project's (as Nova does)
PER_PROJECT = ("fixed_ips", "floating_ips")

UNLIMITED = -1


def configured_defaults(section: QuotaSection) -> dict[str, int]:
    return {name: UNLIMITED if option is None else int(getattr(section, option))
            for name, option in RESOURCES.items()}
