"""`cascade site ...`: register and manage sites through the admin API.

`site add NAME --cloud CLOUD` reads CLOUD from clouds.yaml (the usual
places, or OS_CLIENT_CONFIG_FILE) with openstack.config and hands its
settings to the cascade, which discovers the site's endpoints itself."""
from __future__ import annotations

import argparse
import json

from cascade import config
from cascade.cli.admin_client import AdminClient

COLUMNS = ("name", "availability_zone", "region_name", "state", "health", "compute_max_version")


def register(sub) -> None:
    p = sub.add_parser("site", help="manage sites")
    p.add_argument("--config", default="cascade.conf", help="path of cascade.conf")
    p.add_argument("--url", help="the cascade's URL (default: its listen address)")
    s = p.add_subparsers(dest="site_command", required=True)
    add = s.add_parser("add", help="register a site from a clouds.yaml entry")
    add.add_argument("name")
    add.add_argument("--cloud", required=True)
    add.add_argument("--availability-zone")
    add.set_defaults(func=add_site)
    s.add_parser("list", help="list sites").set_defaults(func=list_sites)
    for name, func in (("show", show_site), ("remove", remove_site)):
        cmd = s.add_parser(name)
        cmd.add_argument("name")
        if name == "remove":
            cmd.add_argument("--force", action="store_true", help="also forget the site's routed resources")
        cmd.set_defaults(func=func)
    for state, verb in (("enabled", "enable"), ("disabled", "disable"), ("draining", "drain")):
        cmd = s.add_parser(verb, help=f"mark a site {state}")
        cmd.add_argument("name")
        cmd.set_defaults(func=lambda args, state=state: set_state(args, state))


def _client(args: argparse.Namespace) -> AdminClient:
    return AdminClient(config.load(args.config), args.url)


def cloud_settings(cloud: str) -> dict:
    """The cloud's settings from clouds.yaml, as the cascade needs them."""
    import openstack.config
    return settings_of(openstack.config.OpenStackConfig().get_one(cloud))


def settings_of(cloud_region) -> dict:
    """What the cascade needs of an openstack.config CloudRegion to add it as a site."""
    return {"auth": dict(cloud_region.config.get("auth", {})), "region_name": cloud_region.config.get("region_name"),
            "interface": cloud_region.config.get("interface", "public")}


def _print(site: dict) -> None:
    width = max(len(k) for k in site)
    for key, value in site.items():
        print(f"{key:<{width}}  {json.dumps(value) if isinstance(value, (dict, list)) else value}")


def add_site(args: argparse.Namespace) -> int:
    body = {"site": {"name": args.name, "cloud": cloud_settings(args.cloud)}}
    if args.availability_zone:
        body["site"]["availability_zone"] = args.availability_zone
    _print(_client(args).call("POST", "/sites", json=body)["site"])
    return 0


def list_sites(args: argparse.Namespace) -> int:
    sites = _client(args).call("GET", "/sites")["sites"]
    print("  ".join(f"{c:<18}" for c in COLUMNS))
    for site in sites:
        print("  ".join(f"{str(site[c]):<18}" for c in COLUMNS))
    return 0


def show_site(args: argparse.Namespace) -> int:
    _print(_client(args).call("GET", f"/sites/{args.name}")["site"])
    return 0


def set_state(args: argparse.Namespace, state: str) -> int:
    _print(_client(args).call("PATCH", f"/sites/{args.name}", json={"site": {"state": state}})["site"])
    return 0


def remove_site(args: argparse.Namespace) -> int:
    _client(args).call("DELETE", f"/sites/{args.name}", params={"force": "true"} if args.force else None)
    return 0
