"""The sequence of calls made at each target. Every recorded step has the
same name on both targets; set-up and waiting calls are not recorded.

Microversions: "2.1", "2.37" and `top`, the highest both sites support
(steps carry "@top" in their name, not the number, so that they pair up).
"""
from __future__ import annotations

import datetime
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.interop.fidelity.recorder import CallFailed, Exchange, Recorder
from tests.interop.fidelity.scenario_admin import AdminAreas
from tests.interop.fidelity.scenario_lifecycle import LifecycleAreas
from tests.interop.fidelity.targets import Target

WAIT_SECONDS = 180.0
# One public key for both targets, so the fingerprints must match.
PUBLIC_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() \
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() \
    + " fidelity@check"


def parse_version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def max_version(rec: Recorder) -> str:
    return rec.call(None, "GET", "/v2.1/", service="compute-root", who=None,
                    expect=200).json()["version"]["version"]


class Scenario(AdminAreas, LifecycleAreas):
    public_key = PUBLIC_KEY

    def __init__(self, target: Target, top: str, disk: int) -> None:
        """`disk`: this run's flavors' root disk (GB), the same at both sites
        and unlike other runs', so that `minDisk` finds this run's flavors."""
        assert target.recorder is not None
        self.disk = disk
        self.t = target
        self.r: Recorder = target.recorder
        self.top = top
        self.p = target.prefix
        self.servers: dict[str, str] = {}        # "A" -> id

    # ---- helpers --------------------------------------------------------------
    def call(self, step: str, method: str, path: str, *, v: str | None = None,
             **kwargs: Any) -> Exchange:
        version = self.top if v == "top" else v
        if v is not None:
            step = f"{step}@{v}"
        return self.r.call(step, method, path, version=version, **kwargs)

    def get(self, step: str, path: str, **kwargs: Any) -> Exchange:
        return self.call(step, "GET", path, **kwargs)

    def server(self, label: str) -> str:
        return self.servers[label]

    def show_quietly(self, server_id: str, who: str = "tenant") -> Exchange:
        return self.r.call(None, "GET", f"/servers/{server_id}", version=self.top, who=who)

    def wait(self, label: str, status: str) -> dict:
        """Until the server has `status` and no task state."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            answer = self.show_quietly(self.server(label))
            if answer.status != 200:
                raise CallFailed(f"{self.t.name}: server {label}: {answer.status} {answer.body}")
            server = answer.body["server"]
            if server["status"] == status and server.get("OS-EXT-STS:task_state") is None:
                return server
            if server["status"] == "ERROR" or time.monotonic() > deadline:
                raise CallFailed(f"{self.t.name}: server {label} is {server['status']}/"
                                 f"{server.get('OS-EXT-STS:task_state')}, wanted {status}: "
                                 f"{server.get('fault')}")
            time.sleep(0.5)

    def wait_gone(self, label: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.show_quietly(self.server(label)).status != 404:
            if time.monotonic() > deadline:
                raise CallFailed(f"{self.t.name}: server {label} was not deleted")
            time.sleep(0.5)

    def action(self, step: str, label: str, body: dict, *, v: str = "top",
               who: str = "tenant") -> Exchange:
        return self.call(f"actions.{step}", "POST", f"/servers/{self.server(label)}/action",
                         v=v, who=who, body=body)

    # ---- the sequence -----------------------------------------------------------
    def run(self) -> list[Exchange]:
        self.versions()
        self.microversions()
        self.flavors()
        self.flavor_access()
        self.keypairs()
        self.create_servers()
        self.show_and_list()
        self.update_metadata_tags()
        self.actions()
        self.console_and_admin_actions()
        self.backups()
        self.shelving()
        self.server_groups()
        self.quotas()
        self.zones_and_limits()
        self.extensions()
        self.delete_servers()
        self.delete_keypairs()
        self.images()
        self.errors()
        return self.r.exchanges

    def versions(self) -> None:
        for step, path in (("root", "/"), ("v2.1", "/v2.1"), ("v2.1-slash", "/v2.1/"),
                           ("v2", "/v2"), ("v2-slash", "/v2/")):
            self.r.call(f"versions.compute.{step}", "GET", path, service="compute-root", who=None)
        self.r.call("versions.compute.v2.1-with-token", "GET", "/v2.1/",
                    service="compute-root", who="tenant")
        self.r.call("versions.image.root", "GET", "/", service="image", who=None)
        self.r.call("versions.image.versions", "GET", "/versions", service="image", who=None)

    def microversions(self) -> None:
        path = f"/flavors?minDisk={self.disk}"
        for step, value in (("none", None), ("2.1", "2.1"), ("2.37", "2.37"),
                            ("latest", "latest"), ("too-high", "2.1000"), ("major-3", "3.0"),
                            ("below-min", "2.0"), ("malformed", "2.a"), ("word", "foo")):
            self.r.call(f"microversion.{step}", "GET", path, version=value)
        self.r.call("microversion.legacy-header", "GET", path,
                    headers={"X-OpenStack-Nova-API-Version": "2.37"})
        self.r.call("microversion.legacy-latest", "GET", path,
                    headers={"X-OpenStack-Nova-API-Version": "latest"})
        self.r.call("microversion.both-headers", "GET", path, version="2.40",
                    headers={"X-OpenStack-Nova-API-Version": "2.37"})
        self.r.call("microversion.other-service", "GET", path,
                    headers={"OpenStack-API-Version": "volume 3.10"})

    def flavors(self) -> None:
        p = self.p
        f1 = {"name": f"{p}-f1", "id": f"{p}-f1", "ram": 256, "vcpus": 1, "disk": self.disk}
        f2 = {"name": f"{p}-f2", "id": f"{p}-f2", "ram": 384, "vcpus": 1, "disk": self.disk + 1,
              "description": "second flavor"}
        for label, spec, v in (("f1", f1, "2.1"), ("f2", f2, "top")):
            self.t.label(spec["id"], f"flavor:{label}")
            self.call("flavors.create", "POST", "/flavors", v=v, who="admin",
                      body={"flavor": spec}, expect=200)
            self.t.on_close(lambda i=spec["id"]: self.r.call(
                None, "DELETE", f"/flavors/{i}", who="admin"))
        self.call("flavors.create.duplicate", "POST", "/flavors", v="2.1", who="admin",
                  body={"flavor": f1})
        self.call("flavors.create.duplicate-name", "POST", "/flavors", v="2.1", who="admin",
                  body={"flavor": dict(f1, id=f"{p}-f9")})
        self.call("flavors.create.not-admin", "POST", "/flavors", v="2.1",
                  body={"flavor": dict(f1, id=f"{p}-f8", name=f"{p}-f8")})
        self.call("flavors.create.bad-ram", "POST", "/flavors", v="2.1", who="admin",
                  body={"flavor": dict(f1, id=f"{p}-f7", name=f"{p}-f7", ram=0)})
        self.call("flavors.extra-specs.set", "POST", f"/flavors/{p}-f2/os-extra_specs",
                  v="2.1", who="admin", body={"extra_specs": {"hw:cpu_policy": "shared"}})
        self.get("flavors.extra-specs.list", f"/flavors/{p}-f2/os-extra_specs", v="2.1")
        self.get("flavors.extra-specs.show", f"/flavors/{p}-f2/os-extra_specs/hw:cpu_policy",
                 v="2.1")
        self.get("flavors.extra-specs.show.missing", f"/flavors/{p}-f2/os-extra_specs/nope",
                 v="2.1")
        self.call("flavors.extra-specs.set-more", "POST", f"/flavors/{p}-f2/os-extra_specs",
                  v="2.1", who="admin", body={"extra_specs": {"hw:numa_nodes": "1"}})
        self.call("flavors.extra-specs.delete", "DELETE",
                  f"/flavors/{p}-f2/os-extra_specs/hw:numa_nodes", v="2.1", who="admin")
        private = {"name": f"{p}-f3", "id": f"{p}-f3", "ram": 256, "vcpus": 1, "disk": self.disk,
                   "os-flavor-access:is_public": False}
        self.t.label(private["id"], "flavor:f3")
        self.call("flavors.create.private", "POST", "/flavors", v="2.1", who="admin",
                  body={"flavor": private}, expect=200)
        self.t.on_close(lambda: self.r.call(None, "DELETE", f"/flavors/{p}-f3", who="admin"))
        self.get("flavors.show.private", f"/flavors/{p}-f3", v="2.1")
        self.get("flavors.show.private.admin", f"/flavors/{p}-f3", v="2.1", who="admin")
        for v in ("2.1", "2.37", "top"):
            self.get("flavors.list", f"/flavors?minDisk={self.disk}", v=v)
            self.get("flavors.detail", f"/flavors/detail?minDisk={self.disk}", v=v)
            self.get("flavors.show", f"/flavors/{p}-f2", v=v)
        self.get("flavors.detail.admin", f"/flavors/detail?minDisk={self.disk}", v="top",
                 who="admin")
        self.get("flavors.show.missing", f"/flavors/{p}-nope", v="2.1")
        # pages sorted by disk: this run's flavors come first even when other
        # runs' flavors (larger disks) are there
        by_disk = f"/flavors?minDisk={self.disk}&sort_key=root_gb&sort_dir=asc"
        self.get("flavors.list.limit", f"{by_disk}&limit=1", v="2.1")
        self.get("flavors.list.marker", f"{by_disk}&limit=1&marker={p}-f1", v="2.1")
        self.get("flavors.list.bad-marker", f"/flavors?marker={p}-nope", v="2.1")
        self.get("flavors.list.sort-name-desc",
                 f"/flavors?minDisk={self.disk}&sort_key=name&sort_dir=desc", v="2.1")
        self.get("flavors.list.bad-sort-key", "/flavors?sort_key=nope", v="2.1")
        self.get("flavors.list.bad-sort-dir", "/flavors?sort_dir=up", v="2.1")
        self.get("flavors.list.min-ram", f"/flavors?minDisk={self.disk}&minRam=300", v="2.1")
        self.get("flavors.list.bad-min-ram", "/flavors?minRam=big", v="2.1")
        self.get("flavors.list.unknown-param", f"/flavors?minDisk={self.disk}&nope=1", v="top")
        self.get("flavors.list.name", f"/flavors?name={p}-f[2-9]", v="top")
        self.get("flavors.list.name", f"/flavors?minDisk={self.disk}&name={p}-f[2-9]", v="2.37")
        self.get("flavors.show.unknown-param", f"/flavors/{p}-f1?nope=1", v="top")
        self.get("flavors.extra-specs.list.unknown-param",
                 f"/flavors/{p}-f2/os-extra_specs?nope=1", v="top")
        self.call("flavors.update", "PUT", f"/flavors/{p}-f2", v="top", who="admin",
                  body={"flavor": {"description": "updated"}})
        self.call("flavors.update.old-version", "PUT", f"/flavors/{p}-f2", v="2.1",
                  who="admin", body={"flavor": {"description": "updated"}})

    def keypairs(self) -> None:
        p = self.p
        for name in (f"{p}-kp-gen", f"{p}-kp-imp", f"{p}-kp-top"):
            self.t.on_close(lambda n=name: self.r.call(None, "DELETE", f"/os-keypairs/{n}"))
        self.call("keypairs.create.generated", "POST", "/os-keypairs", v="2.1",
                  body={"keypair": {"name": f"{p}-kp-gen"}})
        self.call("keypairs.create.import", "POST", "/os-keypairs", v="2.1",
                  body={"keypair": {"name": f"{p}-kp-imp", "public_key": PUBLIC_KEY}})
        self.call("keypairs.create.import", "POST", "/os-keypairs", v="top",
                  body={"keypair": {"name": f"{p}-kp-top", "public_key": PUBLIC_KEY,
                                    "type": "ssh"}})
        self.call("keypairs.create.duplicate", "POST", "/os-keypairs", v="top",
                  body={"keypair": {"name": f"{p}-kp-top", "public_key": PUBLIC_KEY}})
        self.call("keypairs.create.bad-name", "POST", "/os-keypairs", v="top",
                  body={"keypair": {"name": f"{p}/bad", "public_key": PUBLIC_KEY}})
        self.call("keypairs.create.bad-key", "POST", "/os-keypairs", v="top",
                  body={"keypair": {"name": f"{p}-kp-bad", "public_key": "ssh-rsa nope"}})
        self.call("keypairs.create.no-key", "POST", "/os-keypairs", v="top",
                  body={"keypair": {"name": f"{p}-kp-none"}})
        for v in ("2.1", "2.37", "top"):
            self.get("keypairs.list", "/os-keypairs", v=v)
            self.get("keypairs.show", f"/os-keypairs/{p}-kp-imp", v=v)
        self.get("keypairs.list.limit", "/os-keypairs?limit=1", v="top")
        self.get("keypairs.list.marker", f"/os-keypairs?marker={p}-kp-gen", v="top")
        self.get("keypairs.list.bad-marker", f"/os-keypairs?marker={p}-nope", v="top")
        self.get("keypairs.show.missing", f"/os-keypairs/{p}-nope", v="top")

    def create_servers(self) -> None:
        p, t = self.p, self.t
        self.since = (datetime.datetime.now(datetime.timezone.utc)
                      - datetime.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        base = {"imageRef": t.image_ids[0], "flavorRef": f"{p}-f1"}
        specs = (
            ("A", "2.1", {"name": f"{p}-srv-a", "metadata": {"k1": "v1"},
                          "key_name": f"{p}-kp-imp"}),
            ("B", "2.37", {"name": f"{p}-srv-b", "networks": "none"}),
            ("C", "top", {"name": f"{p}-srv-c", "networks": "none", "tags": ["t1", "t2"],
                          "description": "third", "hostname": f"{p}-host-c",
                          "user_data": "ZmlkZWxpdHk=", "accessIPv4": "192.0.2.10",
                          "config_drive": True}),
        )
        hints = {"C": {"os:scheduler_hints": {"fidelity": "yes"}}}
        for label, v, spec in specs:
            answer = self.call(f"servers.create.{label}", "POST", "/servers", v=v,
                               body={"server": dict(base, **spec), **hints.get(label, {})},
                               expect=202)
            server_id = answer.body["server"]["id"]
            self.servers[label] = server_id
            t.label(server_id, f"server:{label}")
            t.on_close(lambda i=server_id: self.r.call(None, "DELETE", f"/servers/{i}",
                                                       who="admin"))
            time.sleep(1.1)      # distinct created_at seconds, so the default order is defined
        bad = dict(base, name=f"{p}-srv-bad", networks="none")
        for step, v, body in (
                ("no-networks", "2.37", dict(base, name=f"{p}-srv-bad")),
                ("bad-image", "top", dict(bad, imageRef="5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0000")),
                ("bad-flavor", "top", dict(bad, flavorRef=f"{p}-nope")),
                ("private-flavor", "top", dict(bad, flavorRef=f"{p}-f3")),
                ("bad-key", "top", dict(bad, key_name=f"{p}-nope")),
                ("bad-az", "top", dict(bad, availability_zone="nowhere")),
                ("unknown-field", "top", dict(bad, colour="blue")),
                ("no-name", "top", {k: v for k, v in bad.items() if k != "name"}),
                ("tags-old-version", "2.37", dict(bad, tags=["x"]))):
            self.call(f"servers.create.{step}", "POST", "/servers", v=v, body={"server": body})
        self.create_several(base)
        for label in self.servers:
            self.wait(label, "ACTIVE")
        admin_view = self.show_quietly(self.server("C"), who="admin").body["server"]
        t.label(admin_view["OS-EXT-SRV-ATTR:host"], "host")

    def create_several(self, base: dict) -> None:
        """min/max_count with return_reservation_id, found by its reservation id.
        Which of the two comes first depends on the second each was created in
        and then on their uuids (random): they are labelled M1, M2 in the
        order the site itself gives (names too), so that the other steps
        compare; which of them got launch index 0 then differs by chance."""
        body = {"server": dict(base, name=f"{self.p}-srv-m", networks="none", min_count=2,
                               max_count=2, return_reservation_id=True)}
        reservation = self.call("servers.create.several", "POST", "/servers", v="top",
                                body=body, expect=202).body["reservation_id"]
        self.t.label(reservation, "reservation")
        # until scheduled, Nova lists them from its build requests (creation
        # order, newest first): wait for the order of the cell database
        deadline = time.monotonic() + WAIT_SECONDS
        while {s["status"] for s in self.r.call(
                None, "GET", f"/servers/detail?reservation_id={reservation}",
                version=self.top).body["servers"]} != {"ACTIVE"}:
            if time.monotonic() > deadline:
                raise CallFailed(f"{self.t.name}: servers {reservation} did not become ACTIVE")
            time.sleep(0.5)
        found = self.get("servers.list.reservation-id", f"/servers?reservation_id={reservation}",
                         v="top").body["servers"]
        for rank, server in enumerate(found, start=1):
            label = f"M{rank}"
            self.servers[label] = server["id"]
            self.t.label(server["id"], f"server:{label}")
            self.t.label(server["name"], f"name:{label}")
            self.t.on_close(lambda i=server["id"]: self.r.call(None, "DELETE", f"/servers/{i}",
                                                               who="admin"))

    def show_and_list(self) -> None:
        A, B, C = (self.server(x) for x in "ABC")
        p = self.p
        for v in ("2.1", "2.37", "top"):
            self.get("servers.show", f"/servers/{C}", v=v)
            self.get("servers.list", "/servers", v=v)
            self.get("servers.detail", "/servers/detail", v=v)
        self.get("servers.show.A", f"/servers/{A}", v="top")
        self.get("servers.show.admin", f"/servers/{C}", v="top", who="admin")
        self.get("servers.show.admin", f"/servers/{C}", v="2.1", who="admin")
        self.get("servers.show.missing", "/servers/5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0001", v="top")
        self.get("servers.list.limit", "/servers?limit=2", v="top")
        self.get("servers.detail.limit", "/servers/detail?limit=2", v="top")
        self.get("servers.list.marker", f"/servers?limit=2&marker={B}", v="top")
        self.get("servers.list.bad-marker", f"/servers?marker={p}-nope", v="top")
        self.get("servers.list.name-regex", f"/servers?name={p}-srv-[ab]", v="top")
        self.get("servers.list.status", "/servers?status=ACTIVE", v="top")
        self.get("servers.list.bad-status", "/servers?status=NOPE", v="top")
        self.get("servers.list.changes-since", f"/servers?changes-since={self.since}", v="top")
        self.get("servers.list.bad-changes-since", "/servers?changes-since=yesterday", v="top")
        # (M1 and M2 are named by chance with respect to their labels: left out)
        self.get("servers.list.sort-name-asc",
                 f"/servers?name={p}-srv-[abc]&sort_key=display_name&sort_dir=asc", v="top")
        self.get("servers.list.sort-two-keys", f"/servers?name={p}-srv-[abc]&sort_key=vm_state"
                 "&sort_dir=asc&sort_key=display_name&sort_dir=desc", v="top")
        self.get("servers.list.sort-key-no-dir", "/servers?sort_key=created_at", v="top")
        self.get("servers.list.sort-keys-one-dir",
                 f"/servers?name={p}-srv-[abc]&sort_key=vm_state&sort_key=display_name"
                 "&sort_dir=desc", v="top")
        self.get("servers.list.bad-sort-key", "/servers?sort_key=nope", v="top")
        self.get("servers.list.forbidden-sort-key", "/servers?sort_key=host", v="top")
        self.get("servers.list.tags", "/servers?tags=t1", v="top")
        self.get("servers.list.unknown-param", "/servers?nope=1", v="top")
        self.get("servers.list.unknown-param", "/servers?nope=1", v="2.37")
        self.get("servers.list.flavor", f"/servers?flavor={p}-f1", v="top")
        self.get("servers.show.unknown-param", f"/servers/{C}?nope=1", v="top")
        self.get("shares.list", f"/servers/{C}/shares", v="top")
        self.get("shares.list.old-version", f"/servers/{C}/shares", v="2.37")
        self.get("shares.show.missing",
                 f"/servers/{C}/shares/5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0004", v="top")
        self.get("servers.list.image", f"/servers?image={self.t.image_ids[0]}", v="top")
        self.get("servers.list.all-tenants", f"/servers/detail?all_tenants=1&project_id="
                 f"{self.t.project_id}", v="top", who="admin")
        self.get("servers.ips", f"/servers/{A}/ips", v="2.1")
        self.get("servers.ips.network", f"/servers/{A}/ips/private", v="2.1")
        self.get("servers.ips.missing-network", f"/servers/{A}/ips/nowhere", v="2.1")

    def update_metadata_tags(self) -> None:
        A, C = self.server("A"), self.server("C")
        p = self.p
        self.call("servers.update", "PUT", f"/servers/{A}", v="2.1",
                  body={"server": {"name": f"{p}-srv-a"}})
        self.call("servers.update", "PUT", f"/servers/{C}", v="top",
                  body={"server": {"description": "third, updated"}})
        self.call("servers.update.description-old-version", "PUT", f"/servers/{A}", v="2.1",
                  body={"server": {"description": "x"}})
        self.call("servers.update.bad-field", "PUT", f"/servers/{A}", v="top",
                  body={"server": {"colour": "blue"}})
        self.call("servers.update.access-ips", "PUT", f"/servers/{A}", v="top", body={"server": {
            "accessIPv4": "192.0.2.11", "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"}})
        zone = self.show_quietly(C).body["server"]["OS-EXT-AZ:availability_zone"]
        for step, pinned in (("pin-elsewhere", "nowhere"), ("pin", zone),
                             ("repin-elsewhere", "nowhere"), ("unpin", None)):
            self.call(f"servers.update.{step}", "PUT", f"/servers/{C}", v="top",
                      body={"server": {"pinned_availability_zone": pinned}})
        self.call("servers.update.pin-old-version", "PUT", f"/servers/{C}", v="2.96",
                  body={"server": {"pinned_availability_zone": zone}})
        base = f"/servers/{A}/metadata"
        self.get("metadata.list", base, v="2.1")
        self.call("metadata.replace", "PUT", base, v="2.1",
                  body={"metadata": {"k1": "v1", "k2": "v2"}})
        self.call("metadata.merge", "POST", base, v="2.1", body={"metadata": {"k3": "v3"}})
        self.get("metadata.show", f"{base}/k2", v="2.1")
        self.get("metadata.show.missing", f"{base}/nope", v="2.1")
        self.call("metadata.set-key", "PUT", f"{base}/k4", v="2.1", body={"meta": {"k4": "v4"}})
        self.call("metadata.set-key.mismatch", "PUT", f"{base}/k5", v="2.1",
                  body={"meta": {"k6": "v6"}})
        self.call("metadata.set-key.two", "PUT", f"{base}/k5", v="2.1",
                  body={"meta": {"k5": "v5", "k6": "v6"}})
        self.call("metadata.delete-key", "DELETE", f"{base}/k4", v="2.1")
        self.call("metadata.delete-key.missing", "DELETE", f"{base}/k4", v="2.1")
        self.call("metadata.bad-body", "POST", base, v="2.1", body={"meta": {"k": "v"}})
        self.get("metadata.list.after", base, v="top")
        self.get("metadata.list.unknown-param", f"{base}?nope=1", v="top")
        self.get("metadata.list.unknown-param", f"{base}?nope=1", v="2.96")
        tags = f"/servers/{C}/tags"
        self.get("tags.list", tags, v="top")
        self.get("tags.list.old-version", tags, v="2.1")
        self.call("tags.replace", "PUT", tags, v="top", body={"tags": ["t1", "t2", "t3"]})
        self.call("tags.add", "PUT", f"{tags}/t4", v="top")
        self.call("tags.add.existing", "PUT", f"{tags}/t4", v="top")
        self.call("tags.add.bad", "PUT", f"{tags}/a,b", v="top")
        self.call("tags.add.octet-stream", "PUT", f"{tags}/t5", v="top",
                  headers={"Content-Type": "application/octet-stream"})
        self.call("tags.add.text-plain", "PUT", f"{tags}/t5", v="top",
                  headers={"Content-Type": "text/plain"})
        self.get("tags.check", f"{tags}/t4", v="top")
        self.get("tags.check.missing", f"{tags}/nope", v="top")
        self.call("tags.delete", "DELETE", f"{tags}/t4", v="top")
        self.call("tags.delete.missing", "DELETE", f"{tags}/t4", v="top")
        self.get("tags.list.after", tags, v="top")
        self.call("tags.delete-all", "DELETE", tags, v="top")
        self.get("tags.list.empty", tags, v="top")
        self.get("tags.list.unknown-param", f"{tags}?nope=1", v="top")

    def actions(self) -> None:
        B = self.server("B")
        self.action("reboot", "B", {"reboot": {"type": "SOFT"}}, v="2.1")
        self.wait("B", "ACTIVE")
        self.action("reboot.hard", "B", {"reboot": {"type": "HARD"}})
        self.wait("B", "ACTIVE")
        self.action("reboot.bad-type", "B", {"reboot": {"type": "MEDIUM"}})
        self.action("start.wrong-state", "B", {"os-start": None})
        self.action("stop", "B", {"os-stop": None})
        self.wait("B", "SHUTOFF")
        self.get("servers.show.shutoff", f"/servers/{B}", v="top")
        self.get("servers.list.status-shutoff", "/servers?status=SHUTOFF", v="top")
        self.action("stop.wrong-state", "B", {"os-stop": None})
        self.action("pause.wrong-state", "B", {"pause": None})
        self.action("start", "B", {"os-start": None})
        self.wait("B", "ACTIVE")
        self.action("pause", "B", {"pause": None})
        self.wait("B", "PAUSED")
        self.get("servers.show.paused", f"/servers/{B}", v="top")
        self.action("pause.again", "B", {"pause": None})
        self.action("unpause", "B", {"unpause": None})
        self.wait("B", "ACTIVE")
        self.action("unpause.wrong-state", "B", {"unpause": None})
        self.action("suspend", "B", {"suspend": None})
        self.wait("B", "SUSPENDED")
        self.action("resume.not-admin-state", "B", {"os-start": None})
        self.action("resume", "B", {"resume": None})
        self.wait("B", "ACTIVE")
        self.action("resume.wrong-state", "B", {"resume": None})
        self.action("lock", "B", {"lock": None}, v="2.1")
        self.get("servers.show.locked", f"/servers/{B}", v="top")
        self.action("stop.locked", "B", {"os-stop": None})
        self.call("servers.delete.locked", "DELETE", f"/servers/{B}", v="top")
        self.call("metadata.replace.locked", "PUT", f"/servers/{B}/metadata", v="top",
                  body={"metadata": {"k": "v"}})
        self.action("unlock", "B", {"unlock": None})
        self.action("lock.reason", "B", {"lock": {"locked_reason": "fidelity"}})
        self.get("servers.show.locked-reason", f"/servers/{B}", v="top")
        self.get("servers.list.locked", "/servers?locked=true", v="top")
        self.action("unlock.again", "B", {"unlock": None})
        self.action("resize", "B", {"resize": {"flavorRef": f"{self.p}-f2"}})
        self.wait("B", "VERIFY_RESIZE")
        self.get("servers.show.verify-resize", f"/servers/{B}", v="top")
        self.action("resize.while-verify", "B", {"resize": {"flavorRef": f"{self.p}-f1"}})
        self.action("confirm-resize", "B", {"confirmResize": None})
        self.wait("B", "ACTIVE")
        self.get("servers.show.resized", f"/servers/{B}", v="top")
        self.action("confirm-resize.wrong-state", "B", {"confirmResize": None})
        self.action("revert-resize.wrong-state", "B", {"revertResize": None})
        self.action("resize.same-flavor", "B", {"resize": {"flavorRef": f"{self.p}-f2"}})
        self.action("resize.missing-flavor", "B", {"resize": {"flavorRef": f"{self.p}-nope"}})
        self.action("resize.A", "A", {"resize": {"flavorRef": f"{self.p}-f2"}}, v="2.1")
        self.wait("A", "VERIFY_RESIZE")
        self.action("revert-resize", "A", {"revertResize": None}, v="2.1")
        self.wait("A", "ACTIVE")
        self.get("servers.show.reverted", f"/servers/{self.server('A')}", v="2.1")
        self.action("rebuild", "B", {"rebuild": {"imageRef": self.t.image_ids[1],
                                                 "name": f"{self.p}-srv-b2"}})
        self.wait("B", "ACTIVE")
        self.action("rebuild", "A", {"rebuild": {"imageRef": self.t.image_ids[1]}}, v="2.1")
        self.wait("A", "ACTIVE")
        self.action("rebuild.bad-image", "B",
                    {"rebuild": {"imageRef": "5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0002"}})
        self.get("servers.show.rebuilt", f"/servers/{B}", v="top")
        self.action("unknown", "B", {"fly": None})
        self.action("two-actions", "B", {"pause": None, "suspend": None})
        self.get("instance-actions.list", f"/servers/{B}/os-instance-actions", v="top")
        self.get("instance-actions.list", f"/servers/{B}/os-instance-actions", v="2.1")
        actions = self.r.call(None, "GET", f"/servers/{B}/os-instance-actions",
                              version=self.top).body["instanceActions"]
        seen: dict[str, int] = {}
        for action in reversed(actions):      # oldest first: every kind of action B had
            name = action["action"]
            seen[name] = seen.get(name, 0) + 1
            step = f"instance-actions.show.{name}.{seen[name]}"
            self.t.label(action["request_id"], f"request:{name}.{seen[name]}")
            path = f"/servers/{B}/os-instance-actions/{action['request_id']}"
            self.get(step, path, v="top")
            if name in ("create", "rebuild"):
                self.get(step, path, v="2.1")
                self.get(f"{step}.admin", path, v="top", who="admin")
        self.get("instance-actions.show.missing",
                 f"/servers/{B}/os-instance-actions/req-5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0005",
                 v="top")
        self.get("keypairs.show.unknown-param", f"/os-keypairs/{self.p}-kp-imp?nope=1", v="top")

    def zones_and_limits(self) -> None:
        self.get("availability-zones.list", "/os-availability-zone", v="2.1")
        self.get("availability-zones.list.unknown-param", "/os-availability-zone?nope=1",
                 v="top")
        self.get("availability-zones.detail.not-admin", "/os-availability-zone/detail", v="2.1")
        self.get("availability-zones.detail", "/os-availability-zone/detail", v="2.1",
                 who="admin")
        for v in ("2.1", "2.37", "top"):
            self.get("limits", "/limits", v=v)

    def delete_servers(self) -> None:
        A = self.server("A")
        self.call("servers.delete", "DELETE", f"/servers/{A}", v="2.1")
        self.wait_gone("A")
        self.get("servers.show.deleted", f"/servers/{A}", v="2.1")
        self.call("servers.delete.deleted", "DELETE", f"/servers/{A}", v="2.1")
        self.call("actions.stop.deleted", "POST", f"/servers/{A}/action", v="top",
                  body={"os-stop": None})
        self.call("actions.shelve.deleted", "POST", f"/servers/{A}/action", v="top",
                  body={"shelve": None})
        self.call("actions.unknown.deleted", "POST", f"/servers/{A}/action", v="top",
                  body={"fly": None})
        self.get("servers.list.after-delete", "/servers", v="top")
        # (the servers made together in one second by other steps come in
        # uuid order, by chance: only those labelled in the site's own order)
        self.get("servers.list.changes-since.deleted",
                 f"/servers/detail?changes-since={self.since}&name=^{self.p}-srv-[abcm]",
                 v="top")
        rest = [label for label in self.servers if label != "A"]
        for label in rest:
            self.call(f"servers.delete.{label}", "DELETE", f"/servers/{self.server(label)}",
                      v="top")
        for label in rest:
            self.wait_gone(label)

    def delete_keypairs(self) -> None:
        p = self.p
        self.call("keypairs.delete", "DELETE", f"/os-keypairs/{p}-kp-gen", v="2.1")
        self.call("keypairs.delete", "DELETE", f"/os-keypairs/{p}-kp-imp", v="top")
        self.call("keypairs.delete.missing", "DELETE", f"/os-keypairs/{p}-kp-imp", v="top")

    def images(self) -> None:
        p = self.p
        image1, image2 = self.t.image_ids
        for step, path in (
                ("list", f"/v2/images?tag={p}"),
                ("list.sort-name-desc", f"/v2/images?tag={p}&sort_key=name&sort_dir=desc"),
                ("list.sort-syntax", f"/v2/images?tag={p}&sort=name:asc"),
                ("list.limit", f"/v2/images?tag={p}&limit=1"),
                ("list.marker", f"/v2/images?tag={p}&marker={image2}"),
                ("list.name", f"/v2/images?name={p}-image-2"),
                ("list.status", f"/v2/images?tag={p}&status=active"),
                ("list.visibility", f"/v2/images?tag={p}&visibility=public"),
                ("list.bad-marker", f"/v2/images?marker={p}-nope"),
                ("list.bad-sort-key", f"/v2/images?sort_key=nope"),
                ("list.bad-sort-dir", f"/v2/images?sort_dir=up"),
                ("list.bad-limit", f"/v2/images?limit=-1"),
                ("list.bad-visibility", f"/v2/images?visibility=nope"),
                ("show", f"/v2/images/{image1}"),
                ("show.missing", "/v2/images/5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0003"),
                ("show.not-uuid", f"/v2/images/{p}-nope")):
            self.r.call(f"images.{step}", "GET", path, service="image")
        self.r.call("images.show.html-error", "GET",
                    "/v2/images/5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e0003", service="image",
                    headers={"Accept": "text/html"})
        self.r.call("images.list.no-token", "GET", f"/v2/images", service="image", who=None)

    def errors(self) -> None:
        self.r.call("compute.no-token", "GET", "/servers", who=None)
        self.r.call("compute.bad-token", "GET", "/servers", who=None,
                    headers={"X-Auth-Token": "nope"})
        self.get("compute.unknown-path", "/nope", v="2.1")
        self.call("compute.bad-method", "PATCH", "/flavors", v="2.1", body={})
        self.call("compute.bad-json", "POST", "/servers", v="top", data=b"{not json",
                  headers={"Content-Type": "application/json"})
