"""The two sites the scenario runs against, each prepared the same way: a
project and a member user of our own (unique prefix), two public images
tagged with the prefix (uploaded to the real Glance; declared in the
simulated site's config, as simcloud's Glance is read-only), and the labels
that let ids, URLs and names specific to one site compare equal.

`RealTarget` talks to realstack's RegionOne; `SimTarget` starts its own
`simcloud --sites 1` subprocess. Both delete what they created on `close()`.
"""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable

import requests

from tests.interop.fidelity.recorder import CallFailed, Recorder

REAL_KEYSTONE = os.environ.get("FIDELITY_KEYSTONE", "http://127.0.0.1:5000/v3")
REAL_COMPUTE = os.environ.get("FIDELITY_COMPUTE", "http://127.0.0.1:8774")
REAL_IMAGE = os.environ.get("FIDELITY_IMAGE", "http://127.0.0.1:9292")
REAL_NETWORK = os.environ.get("FIDELITY_NETWORK", "http://127.0.0.1:9696")
# Nova's default quotas, which the real site runs with; simcloud's own
# defaults are generous for scale runs, so the simulated site is given these.
NOVA_DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200, "key_pairs": 100,
                       "metadata_items": 128, "server_groups": 10,
                       "server_group_members": 10}
ADMIN = {"user": "admin", "password": "password", "project": "admin"}
IMAGE_BYTES = b"fidelity-image\n" * 70         # 1,050 bytes
IMAGES = 2
# Image properties Nova keeps on the servers built from the first image (2.98
# shows the ones it knows, not the others).
IMAGE_PROPERTIES = {"hw_rng_model": "virtio", "os_distro": "cirros", "fidelity_note": "x"}


def new_prefix() -> str:
    return f"fid{secrets.token_hex(3)}"


def realstack_unreachable() -> str | None:
    """Why the real site cannot be used, or None."""
    for url in (REAL_KEYSTONE, REAL_COMPUTE + "/", REAL_IMAGE + "/"):
        try:
            requests.get(url, timeout=5)
        except requests.RequestException as exc:
            return f"realstack is not reachable at {url} ({type(exc).__name__})"
    return None


def password_token(keystone: str, user: str, password: str, project: str) -> tuple[str, dict]:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"id": "default"}}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    response = requests.post(f"{keystone}/auth/tokens?nocatalog", json=body, timeout=30)
    if response.status_code != 201:
        raise CallFailed(f"token for {user}: {response.status_code} {response.text[:300]}")
    return response.headers["X-Subject-Token"], response.json()["token"]


class Target:
    """What the scenario needs from a site. Subclasses fill the endpoints
    and images; `open()` provisions the tenant."""

    name = ""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.keystone = ""
        self.bases: dict[str, str] = {}
        self.image_ids: list[str] = []
        self.labels: dict[str, str] = {}           # site-specific string -> label
        self.admin_token = ""
        self.tenant_token = ""
        self.project_id = ""
        self.user_id = ""
        self.admin_project_id = ""
        self.admin_user_id = ""
        self.max_version = ""
        self._cleanups: list[Callable[[], None]] = []
        self.recorder: Recorder | None = None

    # ---- life ---------------------------------------------------------------
    def open(self) -> Recorder:
        self.admin_token, admin = password_token(self.keystone, ADMIN["user"], ADMIN["password"],
                                                 ADMIN["project"])
        self.admin_user_id = admin["user"]["id"]
        self.admin_project_id = admin["project"]["id"]
        self._provision_tenant()
        self.recorder = Recorder(self.bases, {"admin": self.admin_token,
                                              "tenant": self.tenant_token})
        self._prepare_images()
        for index, image_id in enumerate(self.image_ids, start=1):
            self.label(image_id, f"image{index}")
        for value, label in ((self.project_id, "project"), (self.user_id, "user"),
                             (self.admin_project_id, "admin-project"),
                             (self.admin_user_id, "admin-user")):
            self.label(value, label)
        return self.recorder

    def close(self) -> None:
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception as exc:            # keep cleaning the rest
                print(f"fidelity: {self.name} cleanup failed: {exc}", file=sys.stderr)
        if self.recorder is not None:
            self.recorder.close()

    def on_close(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def label(self, value: str, label: str) -> None:
        self.labels[value] = f"<{label}>"

    # ---- identity -------------------------------------------------------------
    def _identity(self, method: str, path: str, body: dict | None = None,
                  expect: tuple[int, ...] = (200, 201, 204)) -> dict:
        response = requests.request(method, f"{self.keystone}{path}", json=body, timeout=30,
                                    headers={"X-Auth-Token": self.admin_token})
        if response.status_code not in expect:
            raise CallFailed(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def _provision_tenant(self) -> None:
        roles = self._identity("GET", "/roles?name=member")["roles"]
        project = self._identity("POST", "/projects", {"project": {
            "name": f"{self.prefix}-project", "domain_id": "default",
            "description": "fidelity check"}})["project"]
        self.project_id = project["id"]
        self.on_close(lambda: self._identity("DELETE", f"/projects/{project['id']}",
                                             expect=(204, 404)))
        password = secrets.token_urlsafe(12)
        user = self._identity("POST", "/users", {"user": {
            "name": f"{self.prefix}-user", "domain_id": "default", "password": password,
            "default_project_id": project["id"]}})["user"]
        self.user_id = user["id"]
        self.on_close(lambda: self._identity("DELETE", f"/users/{user['id']}",
                                             expect=(204, 404)))
        self._identity("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/"
                              f"{roles[0]['id']}")
        self.tenant_token, _ = password_token(self.keystone, user["name"], password,
                                              project["name"])

    def _prepare_images(self) -> None:
        raise NotImplementedError

    def image_name(self, index: int) -> str:
        return f"{self.prefix}-image-{index}"


class RealTarget(Target):
    name = "real"

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.keystone = REAL_KEYSTONE
        self.bases = {"compute-root": REAL_COMPUTE, "compute": REAL_COMPUTE + "/v2.1",
                      "image": REAL_IMAGE}

    def open(self) -> Recorder:
        recorder = super().open()
        self._tenant_network()
        return recorder

    def _tenant_network(self) -> None:
        """The project's own network, named as simcloud names the one its
        servers are on, so that a server created without `networks` gets a
        port on both sites."""
        headers = {"X-Auth-Token": self.tenant_token}

        def call(method: str, path: str, body: dict | None = None) -> dict:
            response = requests.request(method, f"{REAL_NETWORK}{path}", json=body,
                                        headers=headers, timeout=30)
            if response.status_code >= 400:
                raise CallFailed(f"{method} {path}: {response.status_code} {response.text[:300]}")
            return response.json() if response.content else {}

        network = call("POST", "/v2.0/networks", {"network": {"name": "private"}})["network"]
        self.on_close(lambda: _retry(lambda: call("DELETE", f"/v2.0/networks/{network['id']}")))
        call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/24",
            "name": f"{self.prefix}-subnet"}})

    def _prepare_images(self) -> None:
        rec = self.recorder
        assert rec is not None
        for index in range(1, IMAGES + 1):
            image = rec.call(None, "POST", "/v2/images", service="image", who="admin", body={
                "name": self.image_name(index), "disk_format": "raw",
                "container_format": "bare", "visibility": "public", "tags": [self.prefix],
                **(IMAGE_PROPERTIES if index == 1 else {})},
                expect=201).json()
            image_id = image["id"]
            self.on_close(lambda i=image_id: rec.call(None, "DELETE", f"/v2/images/{i}",
                                                      service="image", who="admin"))
            rec.call(None, "PUT", f"/v2/images/{image_id}/file", service="image", who="admin",
                     data=IMAGE_BYTES, headers={"Content-Type": "application/octet-stream"},
                     expect=204)
            self.image_ids.append(image_id)
            time.sleep(1.1)     # created a second apart, as simcloud preloads them
        deadline = time.monotonic() + 60
        for image_id in self.image_ids:
            while rec.call(None, "GET", f"/v2/images/{image_id}", service="image",
                           who="admin").json()["status"] != "active":
                if time.monotonic() > deadline:
                    raise CallFailed(f"image {image_id} did not become active")
                time.sleep(0.5)


def _retry(action: Callable[[], object], attempts: int = 20, pause: float = 1.0) -> None:
    """For deletions that wait on others (a network on its servers' ports)."""
    for attempt in range(attempts):
        try:
            action()
            return
        except CallFailed:
            if attempt == attempts - 1:
                raise
            time.sleep(pause)


def _free_port_pair() -> int:
    """A port P with P and P+1 both free (Keystone and site1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


class SimTarget(Target):
    name = "sim"

    def __init__(self, prefix: str, build_seconds: float = 1.0) -> None:
        super().__init__(prefix)
        self.build_seconds = build_seconds
        self.process: subprocess.Popen | None = None
        self.state_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"{prefix}-simcloud-"))

    def open(self) -> Recorder:
        self._start()
        return super().open()

    def _start(self) -> None:
        config = self.state_dir / "site-config.json"
        config.write_text(json.dumps({"site1": {"quotas": NOVA_DEFAULT_QUOTAS, "images": [
            {"name": self.image_name(index), "size": len(IMAGE_BYTES),
             "disk_format": "raw", "container_format": "bare", "visibility": "public",
             "tags": [self.prefix], "properties": IMAGE_PROPERTIES if index == 1 else {}}
            for index in range(1, IMAGES + 1)]}}))
        port = _free_port_pair()
        log = open(self.state_dir / "simcloud.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simcloud", "--sites", "1", "--port", str(port),
             "--state-dir", str(self.state_dir), "--site-config", str(config),
             "--build-seconds", str(self.build_seconds)],
            stdout=subprocess.PIPE, stderr=log, cwd=pathlib.Path(__file__).parents[3])
        self.on_close(self._stop)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"simcloud did not start: {line!r}; "
                               f"see {self.state_dir}/simcloud.log")
        state = json.loads((self.state_dir / "simcloud.json").read_text())
        site = state["sites"][0]
        self.keystone = state["keystone_url"]
        compute_root = site["compute_url"].removesuffix("/v2.1")
        self.bases = {"compute-root": compute_root, "compute": site["compute_url"],
                      "image": site["image_url"]}

    def _prepare_images(self) -> None:
        rec = self.recorder
        assert rec is not None
        images = rec.call(None, "GET", f"/v2/images?tag={self.prefix}&sort=name:asc",
                          service="image", expect=200).json()["images"]
        self.image_ids = [image["id"] for image in images]
        if len(self.image_ids) != IMAGES:
            raise CallFailed(f"simcloud site has {len(self.image_ids)} images tagged {self.prefix}")

    def _stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
