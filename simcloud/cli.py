"""The ``simcloud`` command.

Serve a world (the default form)::

    simcloud --sites N [--port P] [--state-dir DIR] [--host H]
             [--build-seconds S] [--preload-servers N [--preload-tenants T]]
             [--site-config FILE]

writes ``DIR/clouds.yaml`` and ``DIR/simcloud.json``, prints ``ready`` alone
on a line once Keystone and every site answer, and runs until SIGINT or
SIGTERM. ``--site-config`` is a JSON or YAML mapping of per-site settings,
e.g. ``{"site2": {"max_microversion": "2.60", "vcpus": 4}}``.

Switch a running world's faults through its control API::

    simcloud fault SITE [--down | --up] [--hang | --no-hang] [--latency S]
                        [--error-rate R] [--clear] [--state-dir DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pathlib
import signal
import sys
import urllib.error
import urllib.request
from typing import Any, Sequence

import aiohttp
import yaml

from simcloud.cloudsyaml import read_state

DEFAULT_STATE_DIR = os.environ.get("SIMCLOUD_STATE_DIR", ".simcloud")
READY_TIMEOUT = 30.0


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simcloud", description="Simulated OpenStack sites plus a shared Keystone. "
        "'simcloud fault SITE ...' switches faults of a running one.")
    parser.add_argument("--sites", type=int, required=True, help="number of sites (site1..siteN)")
    parser.add_argument("--port", type=int, default=0,
                        help="Keystone's port; site i listens on PORT+i (default: free ports)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR,
                        help="where clouds.yaml and simcloud.json are written")
    parser.add_argument("--build-seconds", type=float, default=1.0,
                        help="seconds a server takes to become ACTIVE")
    parser.add_argument("--preload-servers", type=int, default=0, metavar="N",
                        help="ACTIVE servers each site starts with, round-robin over the "
                        "projects demo and alt (and the --preload-tenants) (default 0)")
    parser.add_argument("--preload-tenants", type=int, default=0, metavar="T",
                        help="T more tenants (tenant1..tenantT: a project and a member user of that name, "
                        "password 'password') that preloaded servers are spread over too")
    parser.add_argument("--site-config", type=pathlib.Path,
                        help="JSON or YAML file of per-site settings")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime, seconds")
    return parser


def _fault_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simcloud fault",
                                     description="Switch the faults of one site of a running simcloud.")
    parser.add_argument("site", help="site name, e.g. site2")
    down = parser.add_mutually_exclusive_group()
    down.add_argument("--down", dest="down", action="store_const", const=True,
                      help="close the site's listener (connection refused)")
    down.add_argument("--up", dest="down", action="store_const", const=False,
                      help="reopen the site's listener")
    hang = parser.add_mutually_exclusive_group()
    hang.add_argument("--hang", dest="hang", action="store_const", const=True,
                      help="accept calls and never answer them")
    hang.add_argument("--no-hang", dest="hang", action="store_const", const=False,
                      help="answer calls again")
    parser.add_argument("--latency", type=float, help="seconds added to every answer")
    parser.add_argument("--error-rate", type=float, help="share of calls (0..1) that fail")
    parser.add_argument("--clear", action="store_true", help="clear every fault first")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR,
                        help="the state directory of the running simcloud")
    return parser


def load_site_config(path: pathlib.Path) -> dict[str, dict[str, Any]]:
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of site name to settings")
    return data


async def _wait_until_answering(world: Any) -> None:
    """Every listener answers HTTP (any status counts as an answer)."""
    urls = [world.keystone_url] + [h.url + "/" for h in world.sites]
    timeout = aiohttp.ClientTimeout(total=READY_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for url in urls:
            async with http.get(url) as response:
                await response.read()


async def serve(args: argparse.Namespace) -> int:
    from simcloud.world import World        # the site simulator loads only when serving

    overrides = load_site_config(args.site_config) if args.site_config else None
    world = World(args.sites, host=args.host, port=args.port, state_dir=args.state_dir,
                  site_overrides=overrides, build_seconds=args.build_seconds,
                  token_ttl=args.token_ttl, preload_servers=args.preload_servers,
                  preload_tenants=args.preload_tenants)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await world.start()
    # What the world holds now lives as long as the process: kept out of the
    # cyclic collector's full scans, which at 100,000 preloaded servers cost
    # a 1000-server page about 15% of its time and a whole-site sort half.
    gc.collect()
    gc.freeze()
    try:
        await _wait_until_answering(world)
        print(f"simcloud: Keystone {world.keystone_url}, {len(world.sites)} sites, "
              f"state in {pathlib.Path(args.state_dir).resolve()}", file=sys.stderr, flush=True)
        print("ready", flush=True)
        await stop.wait()
    finally:
        await world.stop()
    return 0


def fault(args: argparse.Namespace) -> int:
    try:
        control_url = read_state(args.state_dir)["control_url"]
    except FileNotFoundError:
        print(f"simcloud fault: no simcloud.json in {args.state_dir}; is simcloud running "
              "with this --state-dir?", file=sys.stderr)
        return 1
    url = f"{control_url}/sites/{args.site}/faults"
    changes = {key: value for key, value in (
        ("down", args.down), ("hang", args.hang), ("latency", args.latency),
        ("error_rate", args.error_rate)) if value is not None}
    try:
        answer = None
        if args.clear:
            answer = _call("DELETE", url, None)
        if changes or not args.clear:
            answer = _call("PUT", url, changes)
    except urllib.error.HTTPError as error:
        print(f"simcloud fault: {error.code}: {error.read().decode(errors='replace')}",
              file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"simcloud fault: cannot reach {control_url}: {error.reason}", file=sys.stderr)
        return 1
    print(json.dumps(answer["site"]))
    return 0


def _call(method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "fault":
        return fault(_fault_parser().parse_args(argv[1:]))
    args = _serve_parser().parse_args(argv)
    if args.sites < 1:
        _serve_parser().error("--sites must be at least 1")
    if args.preload_servers < 0:
        _serve_parser().error("--preload-servers cannot be negative")
    if args.preload_tenants < 0:
        _serve_parser().error("--preload-tenants cannot be negative")
    try:
        return asyncio.run(serve(args))
    except (ValueError, OSError) as error:
        print(f"simcloud: {error}", file=sys.stderr)
        return 1
