"""Scenario steps for the server actions beyond the everyday ones: console
output, injectNetworkInfo, restore and forceDelete (deletes are immediate
with Nova's defaults), security groups, createBackup with its rotation in
Glance, shelve / unshelve (offloaded at once with Nova's defaults), and the
paging of instance actions. Mixed into `scenario.Scenario`; the same calls at
both targets, named alike."""
from __future__ import annotations

from typing import Any

from tests.interop.fidelity.scenario_state import ScenarioState


class LifecycleAreas(ScenarioState):
    def console_and_admin_actions(self) -> None:
        for step, args in (("", {"length": 3}), (".zero", {"length": 0}),
                           (".string", {"length": "2"}), (".unlimited", {"length": -1}),
                           (".all", {}), (".bad-length", {"length": -2}),
                           (".unknown-key", {"lines": 3})):
            self.action(f"console-output{step}", "C", {"os-getConsoleOutput": args}, v="2.1")
        self.action("console-output.null", "C", {"os-getConsoleOutput": None}, v="2.1")
        self.action("inject-network-info.not-admin", "C", {"injectNetworkInfo": None})
        self.action("inject-network-info", "C", {"injectNetworkInfo": None}, who="admin")
        self.action("restore.wrong-state", "C", {"restore": None})
        self.action("restore.admin", "C", {"restore": None}, who="admin")
        self.security_groups()
        self.action("force-delete", "M2", {"forceDelete": None}, v="2.1")
        self.wait_gone("M2")
        self.get("servers.show.force-deleted", f"/servers/{self.server('M2')}", v="top")
        del self.servers["M2"]

    def security_groups(self) -> None:
        """A's NIC is on a port with the project's default group; C has no port."""
        A = self.server("A")
        self.call("servers.create.unknown-security-group", "POST", "/servers", v="top",
                  body={"server": {"name": f"{self.p}-srv-sg", "networks": "none",
                                   "imageRef": self.t.image_ids[0], "flavorRef": f"{self.p}-f1",
                                   "security_groups": [{"name": "default"},
                                                       {"name": f"{self.p}-sg"}]}})
        for step, label, body in (
                ("add.unknown", "A", {"addSecurityGroup": {"name": f"{self.p}-sg"}}),
                ("add.no-port", "C", {"addSecurityGroup": {"name": "default"}}),
                ("add.no-name", "A", {"addSecurityGroup": {}}),
                ("remove", "A", {"removeSecurityGroup": {"name": "default"}})):
            self.action(f"security-groups.{step}", label, body)
        self.get("servers.show.no-security-groups", f"/servers/{A}", v="top")
        self.action("security-groups.remove.again", "A",
                    {"removeSecurityGroup": {"name": "default"}})
        self.action("security-groups.add", "A", {"addSecurityGroup": {"name": "default"}})
        self.get("servers.show.security-group-back", f"/servers/{A}", v="top")

    def backups(self) -> None:
        p, C = self.p, self.server("C")

        def backup(step: str, name: str, v: str, rotation: Any = 1, **more: Any):
            args = {"name": f"{p}-{name}", "backup_type": "daily", "rotation": rotation, **more}
            return self.action(f"create-backup{step}", "C", {"createBackup": args}, v=v)
        made = []
        first = backup("", "bk1", "2.1", rotation=2)
        made.append(first.headers.get("location", "").rsplit("/", 1)[-1])
        backup(".while-backing-up", "bk-busy", "2.1")
        self.wait("C", "ACTIVE")
        second = backup("", "bk2", "top", metadata={"purpose": "fidelity"})
        made.append((second.body or {}).get("image_id", ""))
        self.wait("C", "ACTIVE")
        for index, image_id in enumerate(made, start=1):
            if image_id:
                self.t.label(image_id, f"image:bk{index}")
                self.t.on_close(lambda i=image_id: self.r.call(
                    None, "DELETE", f"/v2/images/{i}", service="image", who="admin"))
        self.r.call("images.list.backups", "GET",
                    f"/v2/images?instance_uuid={C}&image_type=backup&sort=name:asc",
                    service="image")
        backup(".no-rotation-header", "bk3", "2.1", rotation=0)
        self.wait("C", "ACTIVE")
        backup(".negative-rotation", "bk4", "top", rotation=-1)
        self.action("create-backup.no-rotation", "C", {"createBackup": {
            "name": f"{p}-bk5", "backup_type": "daily"}})
        self.action("create-backup.unknown-key", "C", {"createBackup": {
            "name": f"{p}-bk5", "backup_type": "daily", "rotation": 1, "colour": "blue"}})
        self.get("servers.show.backed-up", f"/servers/{C}", v="top")

    def shelving(self) -> None:
        B = self.server("B")
        zone = self.show_quietly(B).body["server"]["OS-EXT-AZ:availability_zone"]
        self.action("shelve", "B", {"shelve": None}, v="2.1")
        self.wait("B", "SHELVED_OFFLOADED")
        for v in ("2.1", "top"):
            self.get("servers.show.shelved", f"/servers/{B}", v=v)
        self.get("servers.show.shelved.admin", f"/servers/{B}", v="top", who="admin")
        self.get("servers.list.status-shelved", "/servers?status=SHELVED_OFFLOADED", v="top")
        self.get("limits.shelved", "/limits", v="top")
        self.action("shelve.wrong-state", "B", {"shelve": None})
        self.action("shelve-offload.not-admin", "B", {"shelveOffload": None})
        self.action("shelve-offload.wrong-state", "B", {"shelveOffload": None}, who="admin")
        self.action("console-output.shelved", "B", {"os-getConsoleOutput": {}})
        self.action("start.shelved", "B", {"os-start": None})
        self.action("unshelve.empty", "B", {"unshelve": {}}, v="2.77")
        self.action("unshelve.unknown-zone", "B",
                    {"unshelve": {"availability_zone": "nowhere"}}, v="2.77")
        self.action("unshelve.to-host.not-admin", "B", {"unshelve": {"host": "nope"}})
        self.action("unshelve.to-host.unknown", "B", {"unshelve": {"host": "nope"}},
                    who="admin")
        self.action("unshelve.bad-key", "B", {"unshelve": {"zone": zone}})
        self.action("unshelve", "B", {"unshelve": {"availability_zone": zone}}, v="2.77")
        self.wait("B", "ACTIVE")
        self.get("servers.show.unshelved", f"/servers/{B}", v="top")
        self.get("servers.show.unshelved.admin", f"/servers/{B}", v="top", who="admin")
        self.action("unshelve.wrong-state", "B", {"unshelve": None})
        self.action("shelve.locked", "B", {"lock": None})
        self.action("shelve.while-locked", "B", {"shelve": None})
        self.action("shelve.unlocked", "B", {"unlock": None})
        actions = self.r.call(None, "GET", f"/servers/{B}/os-instance-actions",
                              version=self.top).body["instanceActions"]
        self.get("instance-actions.list.shelved", f"/servers/{B}/os-instance-actions", v="top")
        for action in actions:
            if action["action"] in ("shelve", "unshelve"):
                self.t.label(action["request_id"], f"request:{action['action']}")
                self.get(f"instance-actions.show.{action['action']}",
                         f"/servers/{B}/os-instance-actions/{action['request_id']}", v="top")
        path = f"/servers/{B}/os-instance-actions"
        self.get("instance-actions.list.limit", f"{path}?limit=3", v="2.58")
        self.get("instance-actions.list.marker",
                 f"{path}?limit=3&marker={actions[2]['request_id']}", v="2.58")
        self.get("instance-actions.list.old-version", f"{path}?limit=3", v="2.57")
        self.get("instance-actions.list.bad-marker", f"{path}?marker=req-nope", v="2.58")
        self.get("instance-actions.list.unknown-param", f"{path}?nope=1", v="2.58")
        self.get("instance-actions.list.future", f"{path}?changes-since=2099-01-01T00:00:00Z",
                 v="top")
        self.get("instance-actions.list.before-old-version",
                 f"{path}?changes-before=2099-01-01T00:00:00Z", v="2.65")
        self.get("instance-actions.list.since-after-before",
                 f"{path}?changes-since=2099-01-01T00:00:00Z"
                 "&changes-before=2020-01-01T00:00:00Z", v="top")
