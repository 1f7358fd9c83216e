"""An existing cloud put behind a running cascade, as an operator would.

The tier's shared demo adds every simcloud site at start, so this module
runs a cascade of its own: simcloud with two sites, and `cascade demo
--sites-from` a clouds.yaml that names only the first, so the second is a
cloud the cascade does not know. Tenants make servers and a key pair
straight in it (through its own Nova, with the shared Keystone); then
`cascade site add site2 --adopt --wait` brings them under the cascade, and
each tenant sees its own adopted servers through the cascade (list, show,
stop), never the other's, and never a bottom id. A server made straight in
the site afterwards is an orphan (`cascade site orphans`) until `cascade
site adopt --server` adopts it.

Last, a `cascade serve` killed (SIGKILL) in the middle of an adoption and
started again finishes it: every server routed exactly once."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys

import openstack
import openstack.config
import pytest
import requests
import yaml
from sqlalchemy import func, select

from cascade import config
from cascade.persistence.db import Database
from cascade.persistence.models import RouteRow

from tests.dbfixtures import demo_database_arguments, scratch_database, selected_backend
from tests.demoproc import free_port, running_demo
from tests.functional.helpers import STAMP, wait_for

PUBLIC_KEY = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0l"
              "RE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYc"
              "pSxsIbECHw== adopted-key")


class World:
    """The cascade of this module and the clouds around it."""

    def __init__(self, state: pathlib.Path, port: int, sim: dict) -> None:
        self.state, self.url, self.sim = state, f"http://127.0.0.1:{port}", sim
        self.clouds = state / "all-clouds.yaml"
        self._conns: dict[str, openstack.connection.Connection] = {}

    def conn(self, cloud: str) -> openstack.connection.Connection:
        """Connections read this module's clouds.yaml, whatever OS_CLIENT_CONFIG_FILE says."""
        if cloud not in self._conns:
            loader = openstack.config.OpenStackConfig(config_files=[str(self.clouds)], load_envvars=False)
            self._conns[cloud] = openstack.connection.Connection(config=loader.get_one(cloud))
        return self._conns[cloud]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.clouds))
        command = [sys.executable, "-m", "cascade.cli", "site", "--config", str(self.state / "cascade.conf"),
                   "--url", self.url, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done


def _cloud(keystone: str, user: str, region: str) -> dict:
    return {"auth": {"auth_url": keystone, "username": user, "password": "password", "project_name": user,
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": region, "identity_api_version": 3, "interface": "public"}


@contextlib.contextmanager
def simcloud(directory: pathlib.Path, sites: int, *extra: str):
    log = open(directory / "simcloud.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "simcloud", "--sites", str(sites), "--state-dir", str(directory),
                                "--build-seconds", "0.3", *extra], stdout=subprocess.PIPE, stderr=log,
                               start_new_session=True)
    try:
        for line in process.stdout:
            if line.strip() == b"ready":
                break
        else:
            raise RuntimeError((directory / "simcloud.log").read_text()[-2000:])
        yield json.loads((directory / "simcloud.json").read_text())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("adoption")
    (root / "simcloud").mkdir()
    saved = os.environ.get("OS_CLIENT_CONFIG_FILE")
    with simcloud(root / "simcloud", 2) as sim:
        keystone = sim["keystone_url"]
        first = root / "first-site.yaml"
        first.write_text(yaml.safe_dump({"clouds": {"admin": _cloud(keystone, "admin", "site1")}}))
        port = free_port()
        state = root / "demo"
        state.mkdir()
        try:
            with demo_database_arguments(state) as database, \
                    running_demo(["--sites-from", str(first), "--service-cloud", "admin", *database], state, port):
                world = World(state, port, sim)
                clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
                clouds.update({"site2-admin": _cloud(keystone, "admin", "site2"),
                               "site2-demo": _cloud(keystone, "cascade-demo", "site2"),
                               "site2-alt": _cloud(keystone, "cascade-alt", "site2")})
                world.clouds.write_text(yaml.safe_dump({"clouds": clouds}))
                yield world
        except RuntimeError as exc:
            pytest.fail(str(exc))
        finally:
            if saved is None:
                os.environ.pop("OS_CLIENT_CONFIG_FILE", None)
            else:
                os.environ["OS_CLIENT_CONFIG_FILE"] = saved


def straight_boot(conn, name: str, **extra):
    """A server made in the site itself, as its tenant."""
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    image = next(i for i in conn.image.images() if i.name == "cirros")
    server = conn.compute.create_server(name=name, flavor_id=flavor.id, image_id=image.id, networks="none", **extra)
    return conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.3)


def counts(output: str) -> str:
    """The line of `--wait` saying how the adoption ended."""
    ended = ("adoption succeeded", "adoption failed", "adoption cancelled")
    return next(line for line in output.splitlines() if line.startswith(ended))


@pytest.fixture(scope="module")
def adopted(world):
    """Servers and a key pair made straight in site2, then the site added with --adopt."""
    demo, alt = world.conn("site2-demo"), world.conn("site2-alt")
    demo.compute.create_keypair(name="adopted-key", public_key=PUBLIC_KEY)
    made = {"plain": straight_boot(demo, "adopt-plain"),
            "keyed": straight_boot(demo, "adopt-keyed", key_name="adopted-key"),
            "theirs": straight_boot(alt, "adopt-theirs")}
    done = world.cli("add", "site2", "--cloud", "site2-admin", "--adopt", "--wait")
    assert "adoption succeeded: adopted 3, skipped 0, failed 0" in counts(done.stdout), done.stdout
    assert "key pairs adopted 1" in counts(done.stdout)
    return made


def by_name(conn, name: str):
    return next(s for s in conn.compute.servers(details=True) if s.name == name)


def test_each_tenant_sees_its_adopted_servers_under_new_ids(world, adopted):
    cascade, cascade_alt = world.conn("cascade"), world.conn("cascade-alt")
    bottom_ids = {s.id for s in adopted.values()}
    mine = {s.name: s for s in cascade.compute.servers(details=True)}
    assert {"adopt-plain", "adopt-keyed"} <= set(mine) and "adopt-theirs" not in mine
    assert not bottom_ids & {s.id for s in mine.values()}
    theirs = {s.name: s for s in cascade_alt.compute.servers(details=True)}
    assert set(theirs) == {"adopt-theirs"}
    keyed = mine["adopt-keyed"]
    assert keyed.key_name == "adopted-key" and keyed.availability_zone == "site2"
    assert [k.name for k in cascade.compute.keypairs()] == ["adopted-key"]
    raw = cascade.compute.get(f"/servers/{keyed.id}").text + cascade.compute.get("/servers/detail").text
    assert not any(bottom in raw for bottom in bottom_ids) and STAMP not in raw
    assert cascade_alt.compute.get(f"/servers/{keyed.id}").status_code == 404


def test_an_adopted_server_obeys_the_cascade(world, adopted):
    cascade = world.conn("cascade")
    plain = by_name(cascade, "adopt-plain")
    cascade.compute.stop_server(plain.id)
    site = world.conn("site2-demo")
    wait_for(lambda: site.compute.get_server(adopted["plain"].id).status == "SHUTOFF")
    wait_for(lambda: cascade.compute.get_server(plain.id).status == "SHUTOFF")
    # the site's copy carries its top id (stamped by the follow-up job)
    wait_for(lambda: site.compute.get_server(adopted["plain"].id).metadata.get(STAMP) == plain.id)


def test_orphans_are_listed_and_one_is_adopted(world, adopted):
    site = world.conn("site2-demo")
    orphan = straight_boot(site, "made-in-site2")
    through = world.conn("cascade").compute.create_server(
        name="through-the-cascade", flavor_id=world.conn("cascade").compute.find_flavor("m1.tiny").id,
        image_id=next(i.id for i in world.conn("cascade").image.images() if i.name == "cirros"),
        networks="none", availability_zone="site2")
    listed = world.cli("orphans", "site2").stdout
    assert orphan.id in listed and "made-in-site2" in listed
    assert not any(s.id in listed for s in adopted.values()) and "through-the-cascade" not in listed
    done = world.cli("adopt", "site2", "--server", orphan.id, "--wait")
    assert "adopted 1, skipped 0, failed 0" in counts(done.stdout), done.stdout
    mine = {s.name: s.id for s in world.conn("cascade").compute.servers()}
    assert "made-in-site2" in mine and mine["made-in-site2"] != orphan.id
    assert orphan.id not in world.cli("orphans", "site2").stdout
    world.conn("cascade").compute.delete_server(through.id)


# ---- a cascade killed in the middle of an adoption --------------------------

CRASH_SERVERS = 3000


def serve(conf: pathlib.Path, log: pathlib.Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "cascade.cli", "serve", "--config", str(conf)],
                               stdout=subprocess.PIPE, stderr=open(log, "ab"), start_new_session=True)
    for line in process.stdout:
        if line.strip() == b"ready":
            return process
    raise RuntimeError(log.read_text()[-2000:])


def admin_token(keystone: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": "password", "domain": {"id": "default"}}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    return requests.post(f"{keystone}/auth/tokens", json=body, timeout=10).headers["X-Subject-Token"]


def routes_in(conf: pathlib.Path) -> tuple[int, int]:
    """(server routes, distinct bottom ids among them) in the cascade's database."""
    async def run() -> tuple[int, int]:
        db = await Database.open(config.load(conf).database_url, migrate=False)
        try:
            async with db.session() as session:
                where = RouteRow.kind == "server"
                total = await session.scalar(select(func.count()).select_from(RouteRow).where(where))
                distinct = await session.scalar(select(func.count(RouteRow.bottom_id.distinct())).where(where))
                return int(total), int(distinct)
        finally:
            await db.close()
    return asyncio.run(run())


def test_a_killed_cascade_finishes_the_adoption_it_was_running(tmp_path):
    (tmp_path / "sim").mkdir()
    with simcloud(tmp_path / "sim", 1, "--preload-servers", str(CRASH_SERVERS)) as sim, \
            scratch_database(selected_backend(), tmp_path) as database_url:
        keystone = sim["keystone_url"]
        port = free_port()
        conf = tmp_path / "cascade.conf"
        config.write(config.Settings(
            DEFAULT=config.DefaultSection(listen=f"127.0.0.1:{port}", state_dir=str(tmp_path)),
            database=config.DatabaseSection(connection=database_url),
            keystone=config.KeystoneSection(auth_url=keystone, username="admin", password="password",
                                            project_name="admin"),
            sync=config.SyncSection(page_size=100)), conf)
        api = f"http://127.0.0.1:{port}/cascade/v1"
        headers = {"X-Auth-Token": admin_token(keystone)}
        cloud = {"auth": {"auth_url": keystone, "username": "admin", "password": "password",
                          "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
                 "region_name": sim["sites"][0]["region"]}
        process = serve(conf, tmp_path / "cascade.log")
        try:
            answer = requests.post(f"{api}/sites", headers=headers, timeout=60,
                                   json={"site": {"name": "site1", "cloud": cloud, "adopt": True}}).json()
            job_id = answer["job"]["id"]
            progress = wait_for(lambda: (job := requests.get(f"{api}/jobs/{job_id}", headers=headers,
                                                             timeout=10).json()["job"])["payload"]["adopted"] >= 300
                                and job, interval=0.02)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            assert progress["state"] == "running" and progress["payload"]["adopted"] < CRASH_SERVERS
            process = serve(conf, tmp_path / "cascade.log")
            done = wait_for(lambda: (job := requests.get(f"{api}/jobs/{job_id}", headers=headers,
                                                         timeout=10).json()["job"])["state"] == "succeeded" and job,
                            timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        assert done["attempts"] == 2
        assert (done["result"]["adopted"], done["result"]["failed"]) == (CRASH_SERVERS, 0)
        assert routes_in(conf) == (CRASH_SERVERS, CRASH_SERVERS)
