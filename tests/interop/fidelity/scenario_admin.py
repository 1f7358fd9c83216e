"""Scenario steps for what an operator configures around servers: flavor
access lists, server groups and their placement on the site, quota sets and
quota classes (with their enforcement), and the extension list. Mixed into
`scenario.Scenario`; the same calls at both targets, named alike."""
from __future__ import annotations

import time

from tests.interop.fidelity.recorder import CallFailed, Exchange
from tests.interop.fidelity.scenario_state import ScenarioState

MISSING = "5ae2ba2a-8a31-4ea4-9e1f-3d2d7a1e00"      # + two digits: ids no site has


class AdminAreas(ScenarioState):
    # provided by Scenario
    disk: int
    public_key: str

    def wait_settled(self, label: str) -> dict:
        """Until the server has no task state and is ACTIVE or ERROR."""
        deadline = time.monotonic() + 180
        while True:
            server = self.show_quietly(self.server(label)).body["server"]
            if server["status"] in ("ACTIVE", "ERROR") and server.get("OS-EXT-STS:task_state") is None:
                return server
            if time.monotonic() > deadline:
                raise CallFailed(f"{self.t.name}: server {label} is {server['status']}")
            time.sleep(0.5)

    # ---- flavor access ---------------------------------------------------------
    def flavor_access(self) -> None:
        p, project = self.p, self.t.project_id
        path = f"/flavors/{p}-f3/os-flavor-access"

        def act(step: str, body: dict, *, v: str = "2.1", who: str = "admin",
                flavor: str = "f3") -> Exchange:
            return self.call(f"flavor-access.{step}", "POST", f"/flavors/{p}-{flavor}/action",
                             v=v, who=who, body=body)
        self.get("flavor-access.list", path, v="2.1", who="admin")
        self.get("flavor-access.list.not-admin", path, v="2.1")
        self.get("flavor-access.list.public", f"/flavors/{p}-f1/os-flavor-access", v="2.1",
                 who="admin")
        self.get("flavor-access.list.missing", f"/flavors/{p}-nope/os-flavor-access", v="2.1",
                 who="admin")
        self.get("flavor-access.list.unknown-param", f"{path}?nope=1", v="top", who="admin")
        act("add", {"addTenantAccess": {"tenant": project}})
        act("add.duplicate", {"addTenantAccess": {"tenant": project}})
        act("add.unknown-project", {"addTenantAccess": {"tenant": f"{p}-no-project"}})
        act("add.not-admin", {"addTenantAccess": {"tenant": project}}, who="tenant")
        act("add.empty-tenant", {"addTenantAccess": {"tenant": ""}})
        act("add.no-tenant", {"addTenantAccess": {}})
        act("two-actions", {"addTenantAccess": {"tenant": project},
                            "removeTenantAccess": {"tenant": project}})
        act("unknown-action", {"fly": {}})
        act("add.public", {"addTenantAccess": {"tenant": project}}, v="top", flavor="f1")
        act("add.missing-flavor", {"addTenantAccess": {"tenant": project}}, flavor="nope")
        self.get("flavor-access.list.granted", path, v="2.1", who="admin")
        self.get("flavors.show.private.granted", f"/flavors/{p}-f3", v="2.1")
        self.get("flavors.list.granted", f"/flavors?minDisk={self.disk}", v="2.1")
        self.get("flavors.list.private-only", f"/flavors?minDisk={self.disk}&is_public=false",
                 v="2.1", who="admin")
        self.get("flavors.extra-specs.list.granted", f"/flavors/{p}-f3/os-extra_specs", v="2.1")
        answer = self.call("servers.create.granted-flavor", "POST", "/servers", v="top",
                           body={"server": {"name": f"{p}-srv-granted", "networks": "none",
                                            "imageRef": self.t.image_ids[0],
                                            "flavorRef": f"{p}-f3"}}, expect=202)
        self.servers["granted"] = answer.body["server"]["id"]
        self.t.label(self.servers["granted"], "server:granted")
        self.t.on_close(lambda i=self.servers["granted"]: self.r.call(
            None, "DELETE", f"/servers/{i}", who="admin"))
        self.wait("granted", "ACTIVE")
        self.r.call(None, "DELETE", f"/servers/{self.servers['granted']}")
        self.wait_gone("granted")
        del self.servers["granted"]
        act("remove.unknown-project", {"removeTenantAccess": {"tenant": f"{p}-no-project"}})
        act("remove.not-admin", {"removeTenantAccess": {"tenant": project}}, who="tenant")
        act("remove", {"removeTenantAccess": {"tenant": project}})
        act("remove.again", {"removeTenantAccess": {"tenant": project}})
        self.get("flavors.show.private.revoked", f"/flavors/{p}-f3", v="2.1")

    # ---- server groups ---------------------------------------------------------
    def server_groups(self) -> None:
        p = self.p
        groups: dict[str, str] = {}

        def make(label: str, v: str, spec: dict) -> None:
            answer = self.call(f"server-groups.create.{label}", "POST", "/os-server-groups",
                               v=v, body={"server_group": spec}, expect=200)
            groups[label] = answer.body["server_group"]["id"]
            self.t.label(groups[label], f"group:{label}")
            self.t.on_close(lambda i=groups[label]: self.r.call(
                None, "DELETE", f"/os-server-groups/{i}", who="admin"))
        make("anti", "2.1", {"name": f"{p}-anti", "policies": ["anti-affinity"]})
        make("soft", "2.15", {"name": f"{p}-soft", "policies": ["soft-affinity"]})
        make("rules", "top", {"name": f"{p}-rules", "policy": "anti-affinity",
                              "rules": {"max_server_per_host": "2"}})
        make("affinity", "top", {"name": f"{p}-affinity", "policy": "affinity"})
        for step, v, spec in (
                ("rules-not-anti", "top", {"name": "x", "policy": "affinity",
                                           "rules": {"max_server_per_host": 2}}),
                ("soft-old-version", "2.1", {"name": "x", "policies": ["soft-affinity"]}),
                ("two-policies", "2.1", {"name": "x", "policies": ["affinity", "anti-affinity"]}),
                ("policy-old-version", "2.1", {"name": "x", "policy": "affinity"}),
                ("bad-rule", "top", {"name": "x", "policy": "anti-affinity",
                                     "rules": {"max_server_per_host": 0}}),
                ("no-name", "top", {"policy": "affinity"})):
            self.call(f"server-groups.create.{step}", "POST", "/os-server-groups", v=v,
                      body={"server_group": spec})
        for v in ("2.1", "2.13", "top"):
            self.get("server-groups.list", "/os-server-groups", v=v)
        self.get("server-groups.list.limit-offset", "/os-server-groups?limit=2&offset=1",
                 v="top")
        self.get("server-groups.list.unknown-param", "/os-server-groups?nope=1", v="top")
        self.get("server-groups.list.unknown-param", "/os-server-groups?nope=1", v="2.37")
        self.get("server-groups.list.all-projects",
                 "/os-server-groups?all_projects=True", v="top")
        self.get("server-groups.show", f"/os-server-groups/{groups['rules']}", v="top")
        self.get("server-groups.show", f"/os-server-groups/{groups['rules']}", v="2.1")
        self.get("server-groups.show.missing", f"/os-server-groups/{MISSING}10", v="top")
        self.get("server-groups.show.unknown-param",
                 f"/os-server-groups/{groups['anti']}?nope=1", v="top")
        self.get("server-groups.show.other-project", f"/os-server-groups/{groups['anti']}",
                 v="top", who="admin")
        self.members(groups)
        self.call("server-groups.delete", "DELETE", f"/os-server-groups/{groups['soft']}",
                  v="top")
        self.call("server-groups.delete.again", "DELETE", f"/os-server-groups/{groups['soft']}",
                  v="top")
        self.get("server-groups.list.after-delete", "/os-server-groups", v="top")

    def members(self, groups: dict[str, str]) -> None:
        """Servers in groups: anti-affinity holds one member on the site's one
        host (the next cannot be placed), affinity any number; a request
        whose servers cannot all be placed places none."""
        p, t = self.p, self.t
        base = {"imageRef": t.image_ids[0], "flavorRef": f"{p}-f1", "networks": "none"}

        def boot(label: str, group: str | list, step: str | None = None, **more) -> Exchange:
            body = {"server": dict(base, name=f"{p}-srv-{label.lower()}", **more),
                    "os:scheduler_hints": {"group": group}}
            answer = self.call(step or f"servers.create.in-group.{label}", "POST", "/servers",
                               v="top", body=body)
            if answer.status == 202 and "server" in answer.body:
                self.servers[label] = answer.body["server"]["id"]
                t.label(self.servers[label], f"server:{label}")
                t.on_close(lambda i=self.servers[label]: self.r.call(
                    None, "DELETE", f"/servers/{i}", who="admin"))
            return answer
        boot("G1", groups["anti"])
        self.wait_settled("G1")
        time.sleep(1.1)
        boot("G2", [groups["anti"]])
        self.wait_settled("G2")
        boot("G3", groups["affinity"])
        self.wait_settled("G3")
        boot("X", "not-a-uuid", "servers.create.in-group.not-a-uuid")
        boot("X", f"{MISSING}11", "servers.create.in-group.missing")
        several = boot("R", groups["rules"], "servers.create.in-group.too-many", min_count=3,
                       return_reservation_id=True).body["reservation_id"]
        t.label(several, "reservation:R")
        deadline = time.monotonic() + 180
        while True:
            listed = self.r.call(None, "GET", f"/servers/detail?reservation_id={several}",
                                 version=self.top).body["servers"]
            if len(listed) == 3 and all(s["status"] == "ERROR" for s in listed):
                break
            if time.monotonic() > deadline:
                raise CallFailed(f"{t.name}: servers {several} are "
                                 f"{[s['status'] for s in listed]}")
            time.sleep(0.5)
        for rank, server in enumerate(sorted(listed, key=lambda s: s["name"]), start=1):
            t.label(server["id"], f"server:R{rank}")
            t.on_close(lambda i=server["id"]: self.r.call(None, "DELETE", f"/servers/{i}",
                                                          who="admin"))
        self.get("servers.detail.in-group.too-many",
                 f"/servers/detail?reservation_id={several}&sort_key=display_name&sort_dir=asc",
                 v="top")
        for label in ("G1", "G2"):
            self.get(f"servers.show.in-group.{label}", f"/servers/{self.server(label)}", v="top")
        self.get("servers.show.in-group.old-version", f"/servers/{self.server('G1')}", v="2.70")
        self.get("server-groups.show.members", f"/os-server-groups/{groups['anti']}", v="top")
        self.get("server-groups.show.members.affinity",
                 f"/os-server-groups/{groups['affinity']}", v="2.1")
        for server in listed:
            self.r.call(None, "DELETE", f"/servers/{server['id']}")
        self.call("servers.delete.G2", "DELETE", f"/servers/{self.server('G2')}", v="top")
        self.wait_gone("G2")
        del self.servers["G2"]
        self.get("server-groups.show.members.after-delete",
                 f"/os-server-groups/{groups['anti']}", v="top")
        self.call("server-groups.delete.with-members", "DELETE",
                  f"/os-server-groups/{groups['affinity']}", v="top")
        self.get("servers.show.group-deleted", f"/servers/{self.server('G3')}", v="top")

    # ---- quotas ----------------------------------------------------------------
    def quotas(self) -> None:
        project, user = self.t.project_id, self.t.user_id
        path = f"/os-quota-sets/{project}"
        for v in ("2.1", "2.36", "top"):
            self.get("quota-sets.show", path, v=v)
        self.get("quota-sets.show.detail", f"{path}/detail", v="top")
        self.get("quota-sets.show.detail", f"{path}/detail", v="2.1")
        self.get("quota-sets.show.defaults", f"{path}/defaults", v="top")
        self.get("quota-sets.show.other-project", f"/os-quota-sets/{self.t.admin_project_id}",
                 v="top")
        self.get("quota-sets.show.unknown-project", f"/os-quota-sets/{self.p}-no-project",
                 v="top", who="admin")
        self.get("quota-sets.show.defaults.unknown-project",
                 f"/os-quota-sets/{self.p}-no-project/defaults", v="top")
        self.get("quota-sets.show.unknown-param", f"{path}?nope=1", v="top")

        def put(step: str, values: dict, *, v: str = "top", who: str = "admin",
                query: str = "") -> Exchange:
            return self.call(f"quota-sets.update.{step}", "PUT", f"{path}{query}", v=v,
                             who=who, body={"quota_set": values})
        used = self.r.call(None, "GET", f"{path}/detail", version=self.top).body["quota_set"]
        instances = used["instances"]["in_use"]
        put("not-admin", {"instances": 50}, who="tenant")
        put("below-usage", {"instances": instances - 1})
        put("bad-value", {"instances": -2})
        put("empty-value", {"ram": ""}, v="2.1")
        put("network-at-top", {"floating_ips": 3})
        put("network-old-version", {"floating_ips": 3, "instances": "40"}, v="2.1")
        put("user.over-project", {"instances": 41}, query=f"?user_id={user}")
        put("user", {"instances": instances, "cores": 20}, query=f"?user_id={user}")
        self.get("quota-sets.show.user", f"{path}?user_id={user}", v="top")
        self.get("quota-sets.show.detail.user", f"{path}/detail?user_id={user}", v="top")
        boot = {"server": {"name": f"{self.p}-srv-over", "networks": "none",
                           "imageRef": self.t.image_ids[0], "flavorRef": f"{self.p}-f1"}}
        self.call("servers.create.over-user-quota", "POST", "/servers", v="top", body=boot)
        self.call("quota-sets.delete.user", "DELETE", f"{path}?user_id={user}", v="top",
                  who="admin")
        self.get("quota-sets.show.user.after-delete", f"{path}?user_id={user}", v="top")
        put("at-usage", {"instances": instances, "metadata_items": 1, "key_pairs": 0})
        put("forced", {"server_groups": 0, "force": "True"})
        self.call("servers.create.over-quota", "POST", "/servers", v="top", body=boot)
        self.call("servers.create.over-quota.several", "POST", "/servers", v="top",
                  body={"server": dict(boot["server"], min_count=2, max_count=3)})
        self.call("metadata.replace.over-quota", "PUT",
                  f"/servers/{self.server('A')}/metadata", v="top",
                  body={"metadata": {"k1": "v1", "k2": "v2"}})
        self.call("keypairs.create.over-quota", "POST", "/os-keypairs", v="top",
                  body={"keypair": {"name": f"{self.p}-kp-over", "public_key": self.public_key}})
        self.call("server-groups.create.over-quota", "POST", "/os-server-groups", v="top",
                  body={"server_group": {"name": "over", "policy": "affinity"}})
        ram = used["ram"]["in_use"]
        put("ram-at-usage", {"ram": ram})
        self.action("resize.over-quota", "A", {"resize": {"flavorRef": f"{self.p}-f2"}})
        for v in ("2.1", "top"):
            self.get("limits.with-quotas", "/limits", v=v)
        self.call("quota-sets.delete.not-admin", "DELETE", path, v="top")
        self.call("quota-sets.delete", "DELETE", path, v="top", who="admin")
        self.get("quota-sets.show.after-delete", path, v="top")
        self.quota_classes()

    def quota_classes(self) -> None:
        mine = f"/os-quota-class-sets/{self.p}-class"
        self.get("quota-classes.show.not-admin", "/os-quota-class-sets/default", v="2.1")
        for v in ("2.1", "2.50", "top"):
            self.get("quota-classes.show", "/os-quota-class-sets/default", v=v, who="admin")
        self.get("quota-classes.show.unknown-param", "/os-quota-class-sets/default?nope=1",
                 v="top", who="admin")
        for step, v, who, values in (
                ("not-admin", "top", "tenant", {"instances": 7}),
                ("old-version", "2.1", "admin", {"instances": 7, "server_groups": 4}),
                ("top", "top", "admin", {"cores": 8}),
                ("network-at-top", "top", "admin", {"floating_ips": 4}),
                ("bad-value", "top", "admin", {"cores": "many"})):
            self.call(f"quota-classes.update.{step}", "PUT", mine, v=v, who=who,
                      body={"quota_class_set": values})
        self.get("quota-classes.show.updated", mine, v="top", who="admin")

    # ---- extensions ------------------------------------------------------------
    def extensions(self) -> None:
        self.get("extensions.list", "/extensions", v="2.1")
        self.get("extensions.show", "/extensions/os-consoles", v="2.1")
        self.get("extensions.show.missing", "/extensions/os-nope", v="2.1")
        self.get("extensions.list.unknown-param", "/extensions?nope=1", v="top")

