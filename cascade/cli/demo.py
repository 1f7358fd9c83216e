"""`cascade demo`: simcloud and the cascade on one machine, ready for the
`openstack` CLI.

Starts simcloud (N simulated sites and a shared Keystone) as a child
process, writes `DIR/cascade.conf`, serves the cascade from this process on
SQLite in DIR, adds every site through the admin API, registers the
cascade's endpoints in Keystone as region `Cascade`, writes `DIR/clouds.yaml`
(clouds cascade, cascade-alt, cascade-admin and site1..N), prints `ready`,
and runs until interrupted."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys

import yaml

from cascade import config
from cascade.cli import serve
from cascade.cli.admin_client import AdminClient


def register(sub) -> None:
    p = sub.add_parser("demo", help="run simcloud and the cascade together")
    p.add_argument("--sites", type=int, default=3)
    p.add_argument("--state-dir", default=".cascade-demo")
    p.add_argument("--port", type=int, default=8780, help="the cascade's port")
    p.add_argument("--simcloud-port", type=int, default=0, help="simcloud's Keystone port (0: any free port)")
    p.add_argument("--build-seconds", type=float, default=1.0, help="how long simulated servers take to build")
    p.add_argument("--site-config", help="simcloud per-site overrides (JSON or YAML)")
    p.set_defaults(func=run)


def start_simcloud(args: argparse.Namespace, state: pathlib.Path) -> tuple[subprocess.Popen, dict]:
    sim_dir = state / "simcloud"
    sim_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "simcloud", "--sites", str(args.sites), "--port", str(args.simcloud_port),
               "--state-dir", str(sim_dir), "--build-seconds", str(args.build_seconds)]
    if args.site_config:
        command += ["--site-config", args.site_config]
    log = open(state / "simcloud.log", "ab")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    for line in process.stdout:
        if line.strip() == b"ready":
            break
    else:
        raise SystemExit(f"simcloud did not start; see {state / 'simcloud.log'}")
    return process, json.loads((sim_dir / "simcloud.json").read_text())


def settings_for(state: pathlib.Path, keystone_url: str, port: int) -> config.Settings:
    return config.Settings(
        DEFAULT=config.DefaultSection(listen=f"127.0.0.1:{port}", state_dir=str(state.resolve())),
        database=config.DatabaseSection(connection=f"sqlite:///{(state / 'cascade.sqlite').resolve()}"),
        keystone=config.KeystoneSection(auth_url=keystone_url),
    )


def register_endpoints(admin: AdminClient, base: str) -> None:
    """Region `Cascade` with the cascade's compute and image endpoints, on
    the services the sites' endpoints already hang from."""
    session, keystone = admin.session, admin.session.get_endpoint(service_type="identity", interface="public")
    keystone = keystone.rstrip("/")
    if not keystone.endswith("/v3"):
        keystone += "/v3"

    def call(method, path, **kw):
        response = session.request(keystone + path, method, raise_exc=False, **kw)
        if response.status_code >= 400 and response.status_code != 409:
            raise SystemExit(f"keystone {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else {}

    call("POST", "/regions", json={"region": {"id": "Cascade", "description": "Cascade"}})
    # the shared Keystone is listed in the cascade's region too, as in every site's
    for service_type, url in (("identity", keystone), ("compute", f"{base}/compute/v2.1"), ("image", f"{base}/image")):
        services = call("GET", "/services", params={"type": service_type})["services"]
        service_id = services[0]["id"] if services else call(
            "POST", "/services", json={"service": {"type": service_type, "name": service_type}})["service"]["id"]
        existing = call("GET", "/endpoints", params={"service_id": service_id, "region_id": "Cascade"})["endpoints"]
        for interface in ("public", "internal", "admin"):
            if not any(e["interface"] == interface for e in existing):
                call("POST", "/endpoints", json={"endpoint": {"service_id": service_id, "interface": interface,
                                                              "region_id": "Cascade", "url": url}})


def write_clouds(state: pathlib.Path, sim: dict, sites: int) -> pathlib.Path:
    sim_clouds = yaml.safe_load((state / "simcloud" / "clouds.yaml").read_text())["clouds"]
    auth_url = sim["keystone_url"]

    def cloud(user: str, project: str) -> dict:
        return {"auth": {"auth_url": auth_url, "username": user, "password": "password", "project_name": project,
                         "user_domain_name": "Default", "project_domain_name": "Default"},
                "region_name": "Cascade", "identity_api_version": 3, "interface": "public"}

    clouds = {"cascade": cloud("demo", "demo"), "cascade-alt": cloud("alt", "alt"),
              "cascade-admin": cloud("admin", "admin")}
    for i in range(1, sites + 1):
        clouds[f"site{i}"] = sim_clouds[f"site{i}"]
    path = state / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": clouds}, sort_keys=False))
    return path


async def main(args: argparse.Namespace) -> None:
    state = pathlib.Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    simcloud, sim = start_simcloud(args, state)
    try:
        settings = settings_for(state, sim["keystone_url"], args.port)
        config.write(settings, state / "cascade.conf")
        os.environ["OS_CLIENT_CONFIG_FILE"] = str((state / "simcloud" / "clouds.yaml").resolve())

        async def add_sites() -> None:
            admin = AdminClient(settings)
            known = {s["name"] for s in (await asyncio.to_thread(admin.call, "GET", "/sites"))["sites"]}
            from cascade.cli.site import cloud_settings
            for i in range(1, args.sites + 1):
                name = f"site{i}"
                if name not in known:
                    body = {"site": {"name": name, "availability_zone": name, "cloud": cloud_settings(name)}}
                    await asyncio.to_thread(admin.call, "POST", "/sites", body)
            await asyncio.to_thread(register_endpoints, admin, f"http://127.0.0.1:{args.port}")
            write_clouds(state, sim, args.sites)

        await serve.serve_forever(settings, on_ready=add_sites)
    finally:
        simcloud.send_signal(signal.SIGTERM)
        try:
            simcloud.wait(timeout=10)
        except subprocess.TimeoutExpired:
            simcloud.kill()


def run(args: argparse.Namespace) -> int:
    asyncio.run(main(args))
    return 0
