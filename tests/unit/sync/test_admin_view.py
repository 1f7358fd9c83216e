"""The admin view of the projection (/cascade/v1/servers): filters, pages,
the site's sync state, and the admin API's errors."""
from __future__ import annotations

from cascade.sync.jobs import CHANGES
from tests.unit.sync.test_changes import wait_status


async def test_the_projection_as_an_operator_sees_it(harness):
    h = harness
    mine = [(await h.create(f"vm{n}"))["server"]["id"] for n in range(3)]
    theirs = (await h.create("alt-vm", user="alt", zone="site2"))["server"]["id"]
    await wait_status(h, "site1", mine[-1], "ACTIVE")
    await h.run(CHANGES, "site1")

    status, body = await h.cascade("admin", "GET", "/cascade/v1/servers?site=site1")
    assert status == 200
    assert {s["id"] for s in body["servers"]} == set(mine)
    created = [s["created"] for s in body["servers"]]
    assert created == sorted(created, reverse=True)       # newest first
    row = next(s for s in body["servers"] if s["id"] == mine[2])
    assert (row["site"], row["status"], row["name"], row["deleted"]) == ("site1", "ACTIVE", "vm2", False)
    assert row["synced_at"] and row["updated"] and row["task_state"] is None
    assert body["sync"]["changes_since"] and body["sync"]["swept_at"] and body["sync"]["last_error"] is None

    _, page1 = await h.cascade("admin", "GET", "/cascade/v1/servers?limit=2")
    assert len(page1["servers"]) == 2 and page1["servers_links"][0]["rel"] == "next"
    _, page2 = await h.cascade("admin", "GET", f"/cascade/v1/servers?limit=2&marker={page1['servers'][-1]['id']}")
    assert {s["id"] for s in page1["servers"] + page2["servers"]} == {*mine, theirs}

    _, alt = await h.cascade("admin", "GET", f"/cascade/v1/servers?project_id={row['project_id']}&status=active")
    assert {s["id"] for s in alt["servers"]} == set(mine)
    status, shown = await h.cascade("admin", "GET", f"/cascade/v1/servers/{theirs}")
    assert status == 200 and shown["server"]["site"] == "site2" and shown["server"]["synced_at"] is None


async def test_the_view_answers_errors_as_the_admin_api_does(harness):
    h = harness
    assert (await h.cascade("demo", "GET", "/cascade/v1/servers"))[0] == 403
    assert (await h.cascade("demo", "GET", "/cascade/v1/servers/x"))[0] == 403
    status, body = await h.cascade("admin", "GET", "/cascade/v1/servers/nope")
    assert status == 404 and "nope" in str(body)
    for query in ("limit=0", "limit=x", "marker=nope", "deleted=maybe"):
        assert (await h.cascade("admin", "GET", f"/cascade/v1/servers?{query}"))[0] == 400, query
    assert (await h.cascade("admin", "GET", "/cascade/v1/servers?site=nowhere"))[0] == 404
