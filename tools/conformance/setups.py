"""The four set-ups of the table. Each one starts what it needs (nothing for
the real site), makes sure two images and two flavors (Tempest's `_ref` and
`_ref_alt`) exist behind the endpoint under test, and describes that endpoint
for Tempest.

Names: real, cascade-real, simcloud, cascade-simcloud."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import pathlib
import selectors
import shutil
import signal
import socket
import subprocess
import time

import yaml

from tools.conformance.cloud import Admin

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PREFIX = "cfm-conformance"              # every resource this tool makes on realstack
# the same names and bytes in every region, so that the cascade shows one image each
IMAGES = {"image": (f"{PREFIX}-image", b"\0" * (1 << 20)), "alt": (f"{PREFIX}-image-alt", b"\1" * (1 << 20))}
# {key: (ram MB, vcpus, disk GB)}, named REAL_FLAVOR or CASCADE_FLAVOR % key; the
# real site's are made straight in RegionOne,
# the cascade's through the cascade, which pushes them to both sites
FLAVORS = {"flavor": (128, 1, 1), "alt": (256, 1, 2)}
REAL_FLAVOR = f"{PREFIX}-%s"
CASCADE_FLAVOR = f"{PREFIX}-cascade-%s"
REALSTACK_KEYSTONE = "http://127.0.0.1:5000/v3"
# realstack's Keystone is shared: a region of our own, so that no other
# cascade's registration steers Tempest's clients (dropped after the run)
CASCADE_REAL_REGION = f"{PREFIX}-cascade"
ORDER = ("real", "cascade-real", "simcloud", "cascade-simcloud")
TITLES = {"real": "real site", "cascade-real": "cascade over real sites",
          "simcloud": "simcloud site", "cascade-simcloud": "cascade over simcloud"}


@dataclasses.dataclass
class Endpoint:
    setup: str
    auth_url: str
    region: str
    images: dict                       # {'image': id, 'alt': id}
    flavors: dict                      # {'flavor': id, 'alt': id}
    compute: dict                      # {'min', 'max'} microversions
    services: tuple[str, ...]          # what the endpoint serves, of compute/image
    build_timeout: int
    notes: dict = dataclasses.field(default_factory=dict)
    tempest_extra: dict = dataclasses.field(default_factory=dict)   # {section: {option: value}}

    def tempest_env(self, service: str) -> dict[str, str]:
        env = {"OS_AUTH_URL": self.auth_url, "OS_REGION_NAME": self.region,
               "OS_ADMIN_USERNAME": "admin", "OS_ADMIN_PASSWORD": "password", "OS_ADMIN_PROJECT_NAME": "admin",
               "SERVICES": service, "TIERS": "core",
               # the same service view in every set-up. Neutron counts as
               # available because Tempest skips every server test class that
               # asks for a default network otherwise; no isolated networks
               # are made, so servers boot without explicit networks, as the
               # cascade (no network API yet) and simcloud need
               "AVAIL_NOVA": str("compute" in self.services).lower(),
               "AVAIL_GLANCE": str("image" in self.services).lower(),
               "AVAIL_NEUTRON": "true", "AVAIL_CINDER": "false", "CREATE_ISOLATED_NETWORKS": "false",
               "COMPUTE_RESIZE": "true",
               "COMPUTE_MAX_MICROVERSION": self.compute["max"],
               "COMPUTE_MIN_MICROVERSION": self.compute["min"],
               "BUILD_TIMEOUT": str(self.build_timeout)}
        if service == "compute":
            env.update(IMAGE_REF=self.images["image"], IMAGE_REF_ALT=self.images["alt"],
                       FLAVOR_REF=self.flavors["flavor"], FLAVOR_REF_ALT=self.flavors["alt"])
        return env


class Unavailable(Exception):
    """The set-up cannot run here (the reason is the message)."""


def free_port(span: int = 1) -> int:
    """A port P such that P..P+span-1 are all free right now."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span >= 65000:
            continue
        ok = True
        for p in range(port + 1, port + span):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no free port range")


class Process:
    """A child started in its own session, stopped by its pid."""

    def __init__(self, command: list[str], log: pathlib.Path, timeout: float = 180):
        self.log = log
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(log, "ab"),
                                     start_new_session=True, cwd=ROOT)
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=1):
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.strip() == b"ready":
                    return
        self.stop()
        raise RuntimeError(f"{' '.join(command[:2])} did not print ready; see {log}:\n"
                           + log.read_text(errors="replace")[-2000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_pid_from(path: pathlib.Path) -> None:
    """simcloud started by `cascade demo` runs in its own session; if the
    demo did not stop it, stop it by the pid it recorded."""
    with contextlib.suppress(Exception):
        pid = json.loads(path.read_text())["pid"]
        os.kill(pid, signal.SIGTERM)


def realstack_clouds() -> pathlib.Path:
    result = subprocess.run(["bash", str(ROOT / "scripts" / "realstack")], capture_output=True, text=True)
    if result.returncode != 0:
        raise Unavailable("realstack is not available: " + (result.stderr.strip().splitlines() or ["?"])[-1])
    return pathlib.Path(result.stdout.strip().splitlines()[-1])


def package_version(venv: str, package: str) -> str:
    python = pathlib.Path(venv) / "bin" / "python"
    if not python.exists():
        return "unknown"
    result = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def git_head() -> str:
    result = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %cs"], capture_output=True, text=True)
    return result.stdout.strip()


def _realstack_regions(clouds: pathlib.Path) -> list[str]:
    return [c["region_name"] for c in yaml.safe_load(clouds.read_text())["clouds"].values() if c.get("region_name")]


def _real_images(regions: list[str]) -> None:
    for region in regions:
        admin = Admin(REALSTACK_KEYSTONE, region)
        for name, data in IMAGES.values():
            admin.ensure_image(name, data)


def _flavors(admin: Admin, pattern: str) -> dict:
    return {key: admin.ensure_flavor(pattern % key, ram=ram, vcpus=vcpus, disk=disk)
            for key, (ram, vcpus, disk) in FLAVORS.items()}


def _images(admin: Admin, names: dict) -> dict:
    out = {}
    for key, name in names.items():
        found = admin.images_by_name(name)
        if len(found) != 1:
            raise RuntimeError(f"{len(found)} images named {name} in region {admin.region}, not one")
        out[key] = found[0]["id"]
    return out


def _sweep(regions: list[str], since: str) -> None:
    for region in regions:
        gone = Admin(REALSTACK_KEYSTONE, region).sweep_orphans(since)
        if gone:
            print(f"conformance: deleted {len(gone)} servers Tempest left in {region}: {', '.join(gone)}", flush=True)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def real(state: pathlib.Path):
    clouds = realstack_clouds()
    regions = _realstack_regions(clouds)
    _real_images(regions)
    admin = Admin(REALSTACK_KEYSTONE, "RegionOne")
    since = _now()
    try:
        yield Endpoint("real", REALSTACK_KEYSTONE, "RegionOne",
                       _images(admin, {k: v[0] for k, v in IMAGES.items()}), _flavors(admin, REAL_FLAVOR),
                       admin.compute_versions(), ("compute", "image"), build_timeout=300,
                       notes={"nova": package_version("/opt/realstack/venvs/nova", "nova"),
                              "glance": package_version("/opt/realstack/venvs/glance", "glance")})
    finally:
        _sweep(regions, since)


def _demo_supports(option: str) -> bool:
    result = subprocess.run([str(VENV_BIN / "cascade"), "demo", "--help"], capture_output=True, text=True)
    return option in result.stdout


@contextlib.contextmanager
def cascade_real(state: pathlib.Path):
    clouds = realstack_clouds()
    if not _demo_supports("--sites-from"):
        raise Unavailable("`cascade demo --sites-from` does not exist yet")
    regions = _realstack_regions(clouds)
    _real_images(regions)
    port = free_port()
    demo = Process([str(VENV_BIN / "cascade"), "demo", "--sites-from", str(clouds), "--state-dir", str(state),
                    "--port", str(port), "--region-name", CASCADE_REAL_REGION], state.parent / f"{state.name}.log",
                   timeout=300)
    admin = Admin(REALSTACK_KEYSTONE, CASCADE_REAL_REGION)
    since = _now()
    try:
        yield Endpoint("cascade-real", REALSTACK_KEYSTONE, CASCADE_REAL_REGION,
                       _images(admin, {k: v[0] for k, v in IMAGES.items()}), _flavors(admin, CASCADE_FLAVOR),
                       admin.compute_versions(), ("compute", "image"), build_timeout=300,
                       notes={"cascade": git_head(), "sites": ", ".join(regions),
                              "nova": package_version("/opt/realstack/venvs/nova", "nova")},
                       # the cascade has no network API: Tempest deletes each
                       # test project's default security group through
                       # RegionOne's Neutron, else it leaves the project behind
                       tempest_extra={"network": {"region": regions[0]}})
    finally:
        demo.stop()
        admin.drop_region(CASCADE_REAL_REGION)
        _sweep(regions, since)


def _simulated(setup: str, keystone: str, region: str, notes: dict) -> Endpoint:
    admin = Admin(keystone, region)
    images = _images(admin, {"image": "cirros", "alt": "ubuntu-22.04-server-cloudimg-amd64"})
    # the ubuntu image needs 3 GB of disk: m1.tiny is too small for rebuilds to it
    flavors = {"flavor": admin.flavor_by_name("m1.small")["id"], "alt": admin.flavor_by_name("m1.medium")["id"]}
    return Endpoint(setup, keystone, region, images, flavors, admin.compute_versions(), ("compute", "image"),
                    build_timeout=60, notes=notes)


@contextlib.contextmanager
def simcloud(state: pathlib.Path):
    port = free_port(span=3)
    sim = Process([str(VENV_BIN / "simcloud"), "--sites", "2", "--port", str(port), "--state-dir", str(state)],
                  state.parent / f"{state.name}.log")
    try:
        info = json.loads((state / "simcloud.json").read_text())
        region = info["sites"][0]["region"]
        yield _simulated("simcloud", info["keystone_url"], region, {"simcloud": git_head(), "site": region})
    finally:
        sim.stop()


@contextlib.contextmanager
def cascade_simcloud(state: pathlib.Path):
    port = free_port()
    demo = Process([str(VENV_BIN / "cascade"), "demo", "--sites", "2", "--state-dir", str(state),
                    "--port", str(port), "--build-seconds", "0.2"], state.parent / f"{state.name}.log")
    try:
        keystone = json.loads((state / "simcloud" / "simcloud.json").read_text())["keystone_url"]
        yield _simulated("cascade-simcloud", keystone, "Cascade", {"cascade": git_head(), "sites": "site1, site2"})
    finally:
        demo.stop()
        stop_pid_from(state / "simcloud" / "simcloud.json")


SETUPS = {"real": real, "cascade-real": cascade_real, "simcloud": simcloud, "cascade-simcloud": cascade_simcloud}


def fresh_dir(path: pathlib.Path) -> pathlib.Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
