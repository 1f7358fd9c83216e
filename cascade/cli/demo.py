"""`cascade demo`: the cascade in front of a set of sites, ready for the
`openstack` CLI.

The sites come from simcloud (`--sites N` simulated sites and a shared
Keystone, started as a process of its own, its pid in DIR/simcloud.pid) or
from an existing `clouds.yaml` (`--sites-from FILE`: every cloud region in
it, e.g. realstack's). Either way the same steps follow: write
`DIR/cascade.conf` (the first cloud's Keystone, its user as the service
account, SQLite in DIR unless `--database-url`), serve the cascade, add each
cloud region as a site (named and zoned after its region; with `--adopt`, or
`--preload-servers N`, which starts each simulated site with N servers of the
demo tenants, adopting what the site holds, every adoption ended before
`ready`), register the cascade's endpoints in Keystone under region
`Cascade` (a stale endpoint of an earlier run is replaced), make sure the
tenant projects and users exist, write `DIR/clouds.yaml` (clouds cascade,
cascade-alt, cascade-admin and one cloud per site, the demo user straight
at that site), print `ready`, and run
until SIGINT or SIGTERM, which stop everything the demo started. Every step
is idempotent, so a re-run over the same Keystone or DIR changes nothing it
need not.

The cascade is served from the demo's own process unless `--split` (implied
by `--api-processes N` above 1 and by `--workers M`): then it runs as
processes of its own, each in its own session, so that it can be killed
and started again alone:

- `cascade serve --config DIR/cascade.conf`, N of them (`--api-processes`)
  sharing the port through SO_REUSEPORT (`reuse_port = true`), pids in
  DIR/cascade.pid, output in DIR/cascade-<n>.log;
- with `--workers M`, M `cascade worker` processes, pids in DIR/workers.pid,
  output in DIR/worker-<n>.log; the API processes then run no worker
  (`[jobs] run_in_api = false`).

The demo completes its set-up against them, prints `ready` and then only
waits: it supervises nothing, so a cascade process that dies stays dead and
neither the demo nor simcloud stop for it. Whoever starts the cascade again
(`cascade serve --config DIR/cascade.conf`) writes its pid into
DIR/cascade.pid (tests/demoproc.py's `restart_cascade` does); on SIGINT or
SIGTERM the demo stops the processes the pid files name at that moment,
then simcloud. Several processes work over SQLite on one host, writers
waiting for each other; they are meant for PostgreSQL (`--database-url`),
and the demo says so.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import pathlib
import signal
import socket
import sys
import time
from typing import Iterator

import yaml

from cascade import config
from cascade.cli import processes, serve
from cascade.cli.admin_client import AdminClient
from cascade.cli.keystone_admin import KeystoneAdmin
from cascade.cli.site import settings_of

TENANT_PASSWORD = "password"
TENANT_ROLE = "member"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the cascade in front of simcloud or of existing clouds")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--sites", type=int, default=3, help="how many simulated sites simcloud runs")
    source.add_argument("--sites-from", metavar="CLOUDS_YAML",
                        help="add every cloud region of this clouds.yaml as a site instead of starting simcloud")
    p.add_argument("--service-cloud", help="with --sites-from: the cloud whose Keystone and admin user the "
                                           "cascade uses (default: the file's first cloud)")
    p.add_argument("--state-dir", default=".cascade-demo")
    p.add_argument("--port", type=int, default=8780, help="the cascade's port")
    p.add_argument("--region-name", default="Cascade", help="Keystone region of the cascade's endpoints")
    p.add_argument("--simcloud-port", type=int, default=0, help="simcloud's Keystone port (0: any free port)")
    p.add_argument("--build-seconds", type=float, default=1.0, help="how long simulated servers take to build")
    p.add_argument("--site-config", help="simcloud per-site overrides (JSON or YAML)")
    p.add_argument("--preload-servers", type=int, default=0, metavar="N",
                   help="simcloud starts each site with N ACTIVE servers of the demo tenants, which the cascade "
                        "adopts (implies --adopt)")
    p.add_argument("--preload-tenants", type=int, default=0, metavar="T",
                   help="spread the preloaded servers over T more tenants too (tenant1..tenantT, password "
                        "'password'), besides demo and alt")
    p.add_argument("--adopt", action="store_true",
                   help="adopt what each site already holds as it is added, and print `ready` only once every "
                        "adoption has ended (the top-id stamps may still be being written)")
    p.add_argument("--database-url", help="the cascade's database, e.g. postgresql://user@host/name "
                                          "(default: SQLite in the state dir)")
    p.add_argument("--split", action="store_true",
                   help="run the cascade as processes of its own (pids in DIR/cascade.pid), which can be "
                        "killed and started again alone with `cascade serve --config DIR/cascade.conf`")
    p.add_argument("--api-processes", type=int, default=1, metavar="N",
                   help="`cascade serve` processes sharing the port (SO_REUSEPORT); above 1 implies --split")
    p.add_argument("--workers", type=int, default=0, metavar="M",
                   help="`cascade worker` processes (pids in DIR/workers.pid) instead of a worker in each API "
                        "process; implies --split")
    p.add_argument("--option", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                   help="set a cascade.conf option of the demo's cascade (repeatable), e.g. sites.list_deadline=2")
    p.set_defaults(func=run)


@dataclasses.dataclass(frozen=True)
class Backdrop:
    """Where the sites come from: a clouds.yaml, which of its clouds are
    sites (None: all), whose credentials the cascade uses, and the tenant
    users the demo hands out ({cloud name in DIR/clouds.yaml: user and project})."""

    clouds_file: pathlib.Path
    site_clouds: tuple[str, ...] | None
    service_cloud: str | None
    tenants: dict[str, str]


@contextlib.contextmanager
def simcloud_backdrop(args: argparse.Namespace, state: pathlib.Path) -> Iterator[Backdrop]:
    sim_dir = state / "simcloud"
    sim_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "simcloud", "--sites", str(args.sites), "--port", str(args.simcloud_port),
               "--state-dir", str(sim_dir), "--build-seconds", str(args.build_seconds)]
    if args.site_config:
        command += ["--site-config", args.site_config]
    if args.preload_servers:
        command += ["--preload-servers", str(args.preload_servers), "--preload-tenants", str(args.preload_tenants)]
    simcloud = processes.launch(command, state / "simcloud.log")
    pid_file = state / "simcloud.pid"
    try:
        try:
            processes.wait_ready([simcloud], timeout=60 + args.preload_servers * args.sites / 10_000)
        except processes.NotReady as exc:
            raise SystemExit(f"simcloud did not start: {exc}") from None
        processes.write_pids(pid_file, [simcloud.process.pid])
        sites = tuple(s["name"] for s in json.loads((sim_dir / "simcloud.json").read_text())["sites"])
        yield Backdrop(clouds_file=sim_dir / "clouds.yaml", site_clouds=sites, service_cloud="admin",
                       tenants={"cascade": "demo", "cascade-alt": "alt"})
    finally:
        processes.stop_pids([simcloud.process.pid], marker="simcloud")
        pid_file.unlink(missing_ok=True)


@contextlib.contextmanager
def existing_backdrop(args: argparse.Namespace) -> Iterator[Backdrop]:
    path = pathlib.Path(args.sites_from)
    if not path.is_file():
        raise SystemExit(f"no clouds.yaml at {path}")
    yield Backdrop(clouds_file=path, site_clouds=None, service_cloud=args.service_cloud,
                   tenants={"cascade": "cascade-demo", "cascade-alt": "cascade-alt"})


def cloud_regions(backdrop: Backdrop) -> list:
    """The backdrop's clouds as openstack.config CloudRegions, one per
    (cloud, region), in the file's order; the service cloud's first."""
    import openstack.config
    names = list(yaml.safe_load(backdrop.clouds_file.read_text()).get("clouds") or {})
    loader = openstack.config.OpenStackConfig(config_files=[str(backdrop.clouds_file)], load_envvars=False)
    regions = [r for r in loader.get_all() if r.name in names]
    if not regions:
        raise SystemExit(f"{backdrop.clouds_file} names no cloud")
    return regions


def service_region(backdrop: Backdrop, regions: list):
    wanted = backdrop.service_cloud or regions[0].name
    for region in regions:
        if region.name == wanted:
            return region
    raise SystemExit(f"{backdrop.clouds_file} has no cloud {wanted}")


def site_regions(backdrop: Backdrop, regions: list) -> dict[str, object]:
    """{site name: CloudRegion}: a site per distinct (Keystone, region) among
    the site clouds, named after its region (the name operators and
    tenants know it by), or after its cloud when it has no region."""
    sites: dict[str, object] = {}
    seen = set()
    for region in regions:
        if backdrop.site_clouds is not None and region.name not in backdrop.site_clouds:
            continue
        key = (region.config["auth"].get("auth_url", "").rstrip("/"), region.region_name)
        if key in seen:
            continue
        seen.add(key)
        name = region.region_name or region.name
        if name in sites:
            raise SystemExit(f"two clouds of {backdrop.clouds_file} would both be site {name}")
        sites[name] = region
    return sites


def keystone_section(cloud_region, region_name: str) -> config.KeystoneSection:
    auth = cloud_region.config["auth"]
    return config.KeystoneSection(
        auth_url=auth["auth_url"], username=auth["username"], password=auth["password"],
        project_name=auth["project_name"], user_domain_name=auth.get("user_domain_name", "Default"),
        project_domain_name=auth.get("project_domain_name", "Default"), region_name=region_name)


def settings_for(state: pathlib.Path, keystone: config.KeystoneSection, port: int, *,
                 database_url: str | None = None, api_processes: int = 1, workers: int = 0) -> config.Settings:
    return config.Settings(
        DEFAULT=config.DefaultSection(listen=f"127.0.0.1:{port}", state_dir=str(state.resolve()),
                                      reuse_port=api_processes > 1),
        database=config.DatabaseSection(
            connection=database_url or f"sqlite:///{(state / 'cascade.sqlite').resolve()}"),
        keystone=keystone,
        jobs=config.JobsSection(run_in_api=workers == 0),
    )


def add_sites(admin: AdminClient, sites: dict[str, object], *, adopt: bool = False) -> None:
    """Add the sites the cascade does not know yet; with `adopt`, adopt what
    each holds and wait until every adoption has ended."""
    known = {s["name"] for s in admin.call("GET", "/sites")["sites"]}
    jobs = []
    for name, region in sites.items():
        if name not in known:
            answer = admin.call("POST", "/sites", {"site": {"name": name, "availability_zone": name,
                                                            "cloud": settings_of(region), "adopt": adopt}})
            if answer.get("job"):
                jobs.append(answer["job"])
    for job in jobs:
        ended = admin.wait_job(job["id"], interval=0.5)
        if ended["state"] != "succeeded":
            raise SystemExit(f"the adoption job {job['id']} {ended['state']}: {ended.get('error')}")


def _cloud(auth_url: str, user: str, project: str, password: str, region: str, *, domain: str = "Default") -> dict:
    return {"auth": {"auth_url": auth_url, "username": user, "password": password, "project_name": project,
                     "user_domain_name": domain, "project_domain_name": domain},
            "region_name": region, "identity_api_version": 3, "interface": "public"}


def write_clouds(state: pathlib.Path, settings: config.Settings, backdrop: Backdrop,
                 sites: dict[str, object]) -> pathlib.Path:
    """DIR/clouds.yaml: the cascade as each tenant and as the admin, and each
    site straight, as the demo tenant where the site shares the Keystone."""
    ks = settings.keystone
    demo = backdrop.tenants["cascade"]
    clouds = {name: _cloud(ks.auth_url, user, user, TENANT_PASSWORD, ks.region_name)
              for name, user in backdrop.tenants.items()}
    clouds["cascade-admin"] = _cloud(ks.auth_url, ks.username, ks.project_name, ks.password, ks.region_name,
                                     domain=ks.user_domain_name)
    for name, region in sites.items():
        auth_url = region.config["auth"]["auth_url"]
        if auth_url.rstrip("/") == ks.auth_url.rstrip("/"):
            clouds[name] = _cloud(auth_url, demo, demo, TENANT_PASSWORD, region.region_name)
        else:
            clouds[name] = {**settings_of(region), "identity_api_version": 3}
    path = state / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": clouds}, sort_keys=False))
    return path


def prepare(settings: config.Settings, backdrop: Backdrop, sites: dict[str, object],
            state: pathlib.Path, *, adopt: bool = False) -> None:
    """Everything after the cascade listens: sites (adopted, with `adopt`),
    catalog, tenants, clouds.yaml."""
    admin = AdminClient(settings)
    add_sites(admin, sites, adopt=adopt)
    keystone = KeystoneAdmin(admin.session, settings.keystone.auth_url)
    base = f"http://{settings.DEFAULT.listen}"
    keystone.register_endpoints(settings.keystone.region_name, {
        "identity": keystone.url, "compute": f"{base}/compute/v2.1", "image": f"{base}/image"})
    for user in backdrop.tenants.values():
        keystone.ensure_tenant(user, TENANT_PASSWORD, TENANT_ROLE)
    write_clouds(state, settings, backdrop, sites)


def configure(args: argparse.Namespace, state: pathlib.Path,
              backdrop: Backdrop) -> tuple[config.Settings, dict[str, object]]:
    """The cascade's settings, written to DIR/cascade.conf, and the sites to add."""
    regions = cloud_regions(backdrop)
    settings = settings_for(state, keystone_section(service_region(backdrop, regions), args.region_name),
                            args.port, database_url=args.database_url, api_processes=args.api_processes,
                            workers=args.workers)
    try:
        settings = config.override(settings, args.option)
    except ValueError as exc:
        raise SystemExit(f"--option: {exc}") from None
    config.write(settings, state / "cascade.conf")
    return settings, site_regions(backdrop, regions)


def adopts(args: argparse.Namespace) -> bool:
    return args.adopt or args.preload_servers > 0


def backdrop_for(args: argparse.Namespace, state: pathlib.Path):
    return existing_backdrop(args) if args.sites_from else simcloud_backdrop(args, state)


async def main(args: argparse.Namespace) -> None:
    """The cascade served from this process."""
    state = pathlib.Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    with backdrop_for(args, state) as backdrop:
        settings, sites = configure(args, state, backdrop)
        await serve.serve_forever(settings, on_ready=lambda: asyncio.to_thread(
            prepare, settings, backdrop, sites, state, adopt=adopts(args)))


class Interrupted(Exception):
    """SIGINT or SIGTERM reached the split demo."""


def _interrupt(signum, frame) -> None:
    # once: a second signal must not cut short the stopping of the processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted


def ensure_port_free(port: int) -> None:
    """SO_REUSEPORT would let the cascade share a port another server holds; refuse instead."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(f"port {port} is in use: {exc.strerror}") from None


class CascadeProcesses:
    """The split demo's cascade processes: started ready, then only waited
    beside (a dead one is reaped, not replaced), stopped as the pid files
    name them when the demo stops."""

    def __init__(self, state: pathlib.Path) -> None:
        self.state = state
        self.started: list = []

    def start(self, kind: processes.Kind, count: int) -> None:
        if count > 0:
            try:
                self.started += processes.start(kind, self.state, self.state / "cascade.conf", count)
            except processes.NotReady as exc:
                raise SystemExit(f"the cascade did not start: {exc}") from None

    def wait(self) -> None:
        """Until SIGINT or SIGTERM (Interrupted)."""
        while True:
            time.sleep(0.5)
            for process in self.started:   # reaped, or a killed one would linger as a zombie
                process.poll()

    def stop(self) -> None:
        processes.stop(processes.API, self.state)
        processes.stop(processes.WORKER, self.state)


def main_split(args: argparse.Namespace) -> None:
    """The cascade as processes of its own; this process only sets up, then waits."""
    state = pathlib.Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    if args.api_processes + args.workers > 1 and (args.database_url or "sqlite").startswith("sqlite"):
        print(f"cascade demo: {args.api_processes + args.workers} processes share one SQLite file; writers "
              "wait for each other (PostgreSQL, --database-url, is what several processes are for)",
              file=sys.stderr, flush=True)
    ensure_port_free(args.port)
    with backdrop_for(args, state) as backdrop:
        settings, sites = configure(args, state, backdrop)
        cascade = CascadeProcesses(state)
        try:
            cascade.start(processes.API, 1)
            prepare(settings, backdrop, sites, state, adopt=adopts(args))
            # the others read the sites table as they start, so they know every site from their first request
            cascade.start(processes.API, args.api_processes - 1)
            cascade.start(processes.WORKER, args.workers)
            print("ready", flush=True)
            cascade.wait()
        finally:
            cascade.stop()


def run(args: argparse.Namespace) -> int:
    if args.api_processes < 1 or args.workers < 0:
        raise SystemExit("--api-processes must be at least 1 and --workers at least 0")
    if args.preload_servers < 0:
        raise SystemExit("--preload-servers cannot be negative")
    if args.preload_servers and args.sites_from:
        raise SystemExit("--preload-servers fills simulated sites; it does not go with --sites-from")
    if not (args.split or args.api_processes > 1 or args.workers):
        asyncio.run(main(args))
        return 0
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        main_split(args)
    except Interrupted:
        pass
    return 0
