"""`cascade site ...`: register and manage sites through the admin API.

`site add NAME --cloud CLOUD` reads CLOUD from clouds.yaml (the usual
places, or OS_CLIENT_CONFIG_FILE) with openstack.config and hands its
settings to the cascade, which discovers the site's endpoints itself; with
`--adopt` the cascade then adopts what the site already holds (a job;
`--wait` follows it to its end). `site orphans NAME` lists what a site holds
that the cascade does not know, `site adopt NAME [--server ID ...]` adopts
it."""
from __future__ import annotations

import argparse
import json
import sys

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
    add.add_argument("--adopt", action="store_true",
                     help="bring the servers and key pairs already in the site under the cascade")
    add.add_argument("--wait", action="store_true", help="with --adopt: wait for the adoption to end")
    add.set_defaults(func=add_site)
    adopt = s.add_parser("adopt", help="adopt a site's servers and key pairs (all, or the servers named)")
    adopt.add_argument("name")
    adopt.add_argument("--server", action="append", metavar="ID", help="a server of the site (its id there); "
                       "repeat for more; default: every server the cascade does not know")
    adopt.add_argument("--no-stamp", action="store_true", help="do not write the top id into adopted servers' metadata")
    adopt.add_argument("--wait", action="store_true", help="wait for the adoption to end")
    adopt.set_defaults(func=adopt_site)
    orphans = s.add_parser("orphans", help="list what a site holds that the cascade does not know")
    orphans.add_argument("name")
    orphans.set_defaults(func=list_orphans)
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
    if args.adopt:
        body["site"]["adopt"] = True
    client = _client(args)
    answer = client.call("POST", "/sites", json=body)
    _print(answer["site"])
    if "job" in answer:
        return _follow(client, answer["job"], wait=args.wait)
    return 0


def adopt_site(args: argparse.Namespace) -> int:
    body: dict = {}
    if args.server:
        body["servers"] = args.server
    if args.no_stamp:
        body["stamp"] = False
    client = _client(args)
    job = client.call("POST", f"/sites/{args.name}/adopt", json=body or None)["job"]
    return _follow(client, job, wait=args.wait)


def _counts(values: dict) -> str:
    keypairs = values.get("keypairs") or {}
    return (f"adopted {values.get('adopted', 0)}, skipped {values.get('skipped', 0)}, failed {values.get('failed', 0)}"
            f"; key pairs adopted {keypairs.get('adopted', 0)}, skipped {keypairs.get('skipped', 0)}, "
            f"clashes {keypairs.get('clashes', 0)}")


def _follow(client: AdminClient, job: dict, *, wait: bool) -> int:
    """Say which job adopts; with `wait`, follow it and print its counts."""
    print(f"adoption job {job['id']} {job['state']}")
    if not wait:
        return 0
    shown = [None]

    def progress(running: dict) -> None:
        line = _counts(running["payload"])
        if line != shown[0]:
            print(f"  ... {line}", file=sys.stderr)
            shown[0] = line

    job = client.wait_job(job["id"], progress=progress)
    result = job.get("result") or job["payload"]
    print(f"adoption {job['state']}: {_counts(result)}")
    for failure in result.get("failures") or []:
        print(f"  failed: {failure}")
    for clash in (result.get("keypairs") or {}).get("clashing") or []:
        print(f"  key pair clash (not adopted): {clash}")
    if job["state"] != "succeeded":
        print(f"  {job.get('last_error') or ''}", file=sys.stderr)
        return 1
    return 0


def list_orphans(args: argparse.Namespace) -> int:
    orphans = _client(args).call("GET", f"/sites/{args.name}/orphans")["orphans"]
    print(f"servers ({len(orphans['servers'])}):")
    for server in orphans["servers"]:
        print(f"  {server['id']}  {server['name'] or '':<24}  {server['status'] or '':<10}  "
              f"project {server['project_id']}  user {server['user_id']}")
    print(f"flavors ({len(orphans['flavors'])}):")
    for flavor in orphans["flavors"]:
        print(f"  {flavor['id']}  {flavor['name']}")
    print(f"key pairs ({len(orphans['keypairs'])}):")
    for keypair in orphans["keypairs"]:
        print(f"  {keypair['user_id']}/{keypair['name']}  {keypair['fingerprint'] or ''}")
    if orphans.get("leftovers"):
        print(f"({orphans['leftovers']} server(s) stamped by the cascade without a route: leftovers, not orphans)")
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
