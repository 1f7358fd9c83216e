"""What only real Nova shows about the cascade: the same request straight at
a region and through the cascade answers alike where simcloud does not (yet)
behave as Nova does (see /tmp/sess/simcloud-diffs-from-interop.md while
simcloud catches up)."""
from __future__ import annotations

import pytest
import requests

from tests.functional.helpers import boot, bottom_copy
from tests.functional.test_errors_and_isolation import assert_same_fault

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", "application/json"])
def test_body_types_are_read_as_nova_reads_them(demo, cloud, sites, content_type):
    """Nova answers 415 to a body type it does not read (on any call, even
    one without a body) and takes text/plain as no type at all."""
    server = boot(demo, cloud, zone=demo.zones[0])
    try:
        zone, copy = bottom_copy(sites, server.id)
        answers = []
        for conn, server_id, tag in ((cloud, server.id, "top"), (sites[zone], copy.id, "site")):
            endpoint = conn.compute.get_endpoint().rstrip("/")
            answers.append(requests.put(f"{endpoint}/servers/{server_id}/tags/{tag}", timeout=30, headers={
                "X-Auth-Token": conn.auth_token, "OpenStack-API-Version": "compute 2.26",
                "Content-Type": content_type}))
        top, bottom = answers
        assert top.status_code == bottom.status_code, (top.text, bottom.text)
        if bottom.status_code == 415:
            assert_same_fault(top, bottom)
    finally:
        cloud.compute.delete_server(server)
