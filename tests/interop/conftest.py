"""The interop tier: the cascade in front of real OpenStack.

`bash scripts/realstack` installs (once) and starts realstack, real upstream
OpenStack with two regions behind one Keystone (exit 3: it cannot exist
here, and every test that needs it skips with the reason). Then a
`cascade demo --sites-from` subprocess adds both regions as sites (zones
RegionOne and RegionTwo) and registers its endpoints under a Keystone region
of its own (`cascade-test-<hex>`, removed again at the end; realstack is
shared, so two test runs must not steer each other's clients), and this
module prepares what real Nova needs: an image with the same name and bytes
in each region's Glance, flavors made through the cascade by its admin, and
room in the tenant's quotas.

Everything made here is named `cascade-test*`, the only names this tier
creates or removes in the shared realstack."""
from __future__ import annotations

import contextlib
import hashlib
import pathlib
import socket
import subprocess
import urllib.parse
import uuid

import openstack
import openstack.config
import pytest
import yaml

from tests.demo_fixtures import admin, alt, cloud, sites  # noqa: F401 - the tier's clients
from tests.demoproc import Demo, free_port, running_demo

ROOT = pathlib.Path(__file__).resolve().parents[2]
REALSTACK = ROOT / "scripts" / "realstack"
PREFIX = "cascade-test"
IMAGE = f"{PREFIX}-image"
IMAGE_DATA = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(2048))   # 64 KiB, the same every run
FLAVORS = {f"{PREFIX}.tiny": {"ram": 128, "vcpus": 1, "disk": 1},
           f"{PREFIX}.small": {"ram": 256, "vcpus": 1, "disk": 2}}
QUOTAS = {"instances": 100, "cores": 200, "ram": 204800}


class RealDemo(Demo):
    """The demo over realstack; `site_admins` are realstack's own admin
    clouds, by zone (= region)."""

    def __init__(self, state: pathlib.Path, port: int, realstack_clouds: pathlib.Path) -> None:
        super().__init__(state, port, tiny=f"{PREFIX}.tiny", small=f"{PREFIX}.small", image=IMAGE)
        self.realstack_clouds = realstack_clouds
        self.site_admins = realstack_admins(realstack_clouds)

    def site_urls(self) -> list[str]:
        return [conn.endpoint_for(service).rstrip("/") for conn in self.site_admins.values()
                for service in ("compute", "image")]


def realstack_admins(clouds_file: pathlib.Path) -> dict[str, openstack.connection.Connection]:
    """{region: realstack's admin connection in that region}."""
    loader = openstack.config.OpenStackConfig(config_files=[str(clouds_file)], load_envvars=False)
    admins = {}
    for name in yaml.safe_load(clouds_file.read_text())["clouds"]:
        region = loader.get_one(name)
        admins[region.region_name] = openstack.connection.Connection(config=region)
    return admins


@pytest.fixture(scope="session")
def realstack() -> pathlib.Path:
    """realstack's clouds.yaml, once it runs; skips when it cannot exist here."""
    if not REALSTACK.is_file():
        pytest.skip(f"no {REALSTACK.relative_to(ROOT)}: realstack is not part of this checkout")
    result = subprocess.run(["bash", str(REALSTACK)], capture_output=True, text=True, timeout=3600)
    if result.returncode == 3:
        pytest.skip(f"realstack cannot run here: {result.stderr.strip()}")
    if result.returncode != 0:
        pytest.fail(f"scripts/realstack failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return pathlib.Path(result.stdout.strip().splitlines()[-1])


def ensure_image(conn) -> None:
    """IMAGE, active and holding IMAGE_DATA, in the connection's region;
    settled leftovers of that name holding anything else are removed (one
    still uploading may be another run's)."""
    checksum = hashlib.md5(IMAGE_DATA).hexdigest()
    images = list(conn.image.images(name=IMAGE))
    for image in images:
        if image.status in ("active", "killed", "deactivated") and image.checksum != checksum:
            conn.image.delete_image(image, ignore_missing=True)
    if not any(i.status == "active" and i.checksum == checksum for i in images):
        conn.image.create_image(IMAGE, data=IMAGE_DATA, disk_format="raw", container_format="bare",
                                visibility="public", allow_duplicates=True, wait=True, timeout=120)


def ensure_flavors(admin) -> None:
    """The tier's flavors, top-owned: made through the cascade (which pushes
    them to the sites) unless a site already had them and the cascade adopted them."""
    for name, shape in FLAVORS.items():
        if admin.compute.find_flavor(name) is None:
            admin.compute.create_flavor(name=name, **shape)


def raise_quotas(site_admins: dict, cascade_admin, project_name: str) -> None:
    """Room for the tier's servers in the tenant's quotas: in each region, and
    in the cascade's own where it serves os-quota-sets."""
    for conn in site_admins.values():
        project = conn.identity.find_project(project_name, domain_id="default", ignore_missing=False)
        current = conn.compute.get_quota_set(project.id)
        if any(getattr(current, key) < value for key, value in QUOTAS.items()):
            conn.compute.update_quota_set(project.id, **QUOTAS)
    response = cascade_admin.compute.put(f"/os-quota-sets/{project.id}", json={"quota_set": QUOTAS})
    assert response.status_code in (200, 404), response.text


def listening(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    with contextlib.suppress(OSError), socket.create_connection((parts.hostname, parts.port or 80), timeout=1):
        return True
    return False


def drop_region(identity, region_id: str) -> None:
    for endpoint in list(identity.endpoints(region_id=region_id)):
        identity.delete_endpoint(endpoint, ignore_missing=True)
    identity.delete_region(region_id, ignore_missing=True)


def sweep_stale_regions(identity) -> None:
    """Regions of earlier test runs whose cascade no longer answers (a run
    that was killed could not remove its own)."""
    for region in list(identity.regions()):
        if not region.id.startswith(f"{PREFIX}-"):
            continue
        urls = [e.url for e in identity.endpoints(region_id=region.id) if "/compute/" in e.url]
        if not any(listening(url) for url in urls):
            drop_region(identity, region.id)


@pytest.fixture(scope="session")
def demo(realstack, tmp_path_factory) -> RealDemo:
    admins = realstack_admins(realstack)
    for conn in admins.values():
        ensure_image(conn)
    identity = next(iter(admins.values())).identity
    sweep_stale_regions(identity)
    state = tmp_path_factory.mktemp("interop")
    port = free_port()
    region = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    try:
        with running_demo(["--sites-from", str(realstack), "--region-name", region], state, port, timeout=300):
            demo = RealDemo(state, port, realstack)
            ensure_flavors(demo.conn("cascade-admin"))
            raise_quotas(admins, demo.conn("cascade-admin"), "cascade-demo")
            try:
                yield demo
            finally:
                demo.delete_leftovers()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        drop_region(identity, region)


@pytest.fixture(scope="session")
def site_admins(demo):
    return demo.site_admins
