"""The files a running world leaves in its state directory, for people and
programs that want to reach it:

- ``clouds.yaml``: clouds ``admin`` (admin/admin, region ``site1``), ``demo``
  and ``alt`` (their users and projects, region ``site1``) and one cloud per
  site, ``site1``..``siteN`` (user ``demo``, project ``demo``, that site's
  region); every ``auth_url`` is Keystone's ``/v3`` URL. Use it with
  ``OS_CLIENT_CONFIG_FILE=DIR/clouds.yaml openstack --os-cloud site2 ...``.
- ``simcloud.json``: Keystone's URL, the control API's URL and each site's
  name, URL and region (what ``simcloud fault`` reads).
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import TYPE_CHECKING, Any

import yaml

from simcloud.keystone.seed import DEFAULT_PASSWORD

if TYPE_CHECKING:
    from simcloud.world import World

CLOUDS_FILE = "clouds.yaml"
STATE_FILE = "simcloud.json"


def _cloud(auth_url: str, user: str, project: str, region: str) -> dict[str, Any]:
    return {
        "auth": {"auth_url": auth_url, "username": user, "password": DEFAULT_PASSWORD,
                 "project_name": project, "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "region_name": region,
        "identity_api_version": 3,
        "interface": "public",
    }


def clouds(world: "World") -> dict[str, Any]:
    first_region = world.sites[0].config.region if world.sites else "RegionOne"
    entries = {
        "admin": _cloud(world.keystone_url, "admin", "admin", first_region),
        "demo": _cloud(world.keystone_url, "demo", "demo", first_region),
        "alt": _cloud(world.keystone_url, "alt", "alt", first_region),
    }
    for handle in world.sites:
        entries[handle.name] = _cloud(world.keystone_url, "demo", "demo", handle.config.region)
    return {"clouds": entries}


def state(world: "World") -> dict[str, Any]:
    return {
        "keystone_url": world.keystone_url,
        "control_url": world.control_url,
        "pid": os.getpid(),
        "sites": [{"name": h.name, "url": h.url, "region": h.config.region,
                   "compute_url": h.compute_url, "image_url": h.image_url}
                  for h in world.sites],
    }


def _write_atomically(path: pathlib.Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def write_state(world: "World", directory: str | pathlib.Path) -> None:
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(directory / CLOUDS_FILE, yaml.safe_dump(clouds(world), sort_keys=False))
    _write_atomically(directory / STATE_FILE, json.dumps(state(world), indent=2) + "\n")


def read_state(directory: str | pathlib.Path) -> dict[str, Any]:
    """``simcloud.json`` of a running world; FileNotFoundError when absent."""
    with open(pathlib.Path(directory) / STATE_FILE) as f:
        return json.load(f)
