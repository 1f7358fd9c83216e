"""Orphans: what was made straight in a site is listed (servers without
route or stamp, flavors and key pairs without route), a stamped server
without a route is a leftover and not an orphan, and adopting orphans by
id adopts those only."""
from __future__ import annotations

import uuid

from cascade.resources.kinds import STAMP_KEY
from tests.unit.adoption.test_adopt_site import PUBLIC_KEY, adopt


async def test_orphans_are_listed_and_one_can_be_adopted(harness):
    h = harness
    known = await h.make_server("demo", "known")
    await h.add_site()
    await adopt(h)
    orphan = await h.make_server("demo", "made-in-the-site")
    other = await h.make_server("alt", "also-made-there")
    leftover = await h.make_server("demo", "interrupted-create", metadata={STAMP_KEY: str(uuid.uuid4())})
    await h.site("demo", "POST", "/os-keypairs", {"keypair": {"name": "straight", "public_key": PUBLIC_KEY}})
    status, flavor = await h.site("admin", "POST", "/flavors", {"flavor": {
        "name": "made-there", "ram": 256, "vcpus": 1, "disk": 1}})
    assert status == 200, flavor

    status, body = await h.cascade("admin", "GET", "/cascade/v1/sites/site1/orphans")
    assert status == 200
    orphans = body["orphans"]
    assert {s["id"] for s in orphans["servers"]} == {orphan, other}
    assert orphans["leftovers"] == 1
    assert [f["name"] for f in orphans["flavors"]] == ["made-there"]
    assert [k["name"] for k in orphans["keypairs"]] == ["straight"]

    status, answer = await h.cascade("admin", "POST", "/cascade/v1/sites/site1/adopt",
                                     {"servers": [orphan, leftover, "no-such-server"]})
    assert status == 202
    await h.run_jobs()
    job = await h.rt.jobs.get(answer["job"]["id"])
    assert job.state == "succeeded"
    assert (job.result["adopted"], job.result["skipped"], job.result["failed"]) == (1, 1, 1)
    assert "no-such-server" in job.result["failures"][0]
    routed = await h.rt.routes.top_ids("server", h.site_id, [known, orphan, other, leftover])
    assert set(routed) == {known, orphan}
    # the adopted server's owner's key pairs came along with it
    assert [k["name"] for k in (await h.cascade("admin", "GET", "/cascade/v1/sites/site1/orphans"))[1]
            ["orphans"]["keypairs"]] == []
    _, after = await h.cascade("admin", "GET", "/cascade/v1/sites/site1/orphans")
    assert {s["id"] for s in after["orphans"]["servers"]} == {other}
