"""The README's tour with the real `openstack` CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cli
OPENSTACK = shutil.which("openstack") or os.path.join(os.path.dirname(sys.executable), "openstack")


def osc(demo, *args: str) -> str:
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(demo.clouds))
    result = subprocess.run([OPENSTACK, "--os-cloud", "cascade", *args], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_tour(demo, sites):
    made = json.loads(osc(demo, "server", "create", "--flavor", demo.tiny, "--image", demo.image, "--nic", "none",
                          "--wait", "-f", "json", "cli-vm1"))
    demo.made(demo.conn("cascade"), made["id"])
    assert made["status"] == "ACTIVE" and made["OS-EXT-AZ:availability_zone"] in sites
    listed = json.loads(osc(demo, "server", "list", "-f", "json"))
    assert made["id"] in [s["ID"] for s in listed]
    # --compute: the cascade's region has no block-storage or network endpoint yet
    zones = json.loads(osc(demo, "availability", "zone", "list", "--compute", "-f", "json"))
    assert {z["Zone Name"] for z in zones} == set(sites)
    osc(demo, "server", "stop", made["id"])
    osc(demo, "server", "delete", "--wait", made["id"])
    listed = json.loads(osc(demo, "server", "list", "-f", "json"))
    assert made["id"] not in [s["ID"] for s in listed]
