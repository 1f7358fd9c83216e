"""The fronts' error bodies for what is not one of the cascade's own errors."""
from __future__ import annotations

import json

import sqlalchemy.exc
from aiohttp.test_utils import make_mocked_request

from cascade.api import faults


def test_no_free_database_connection_is_a_503_to_retry_not_a_crash():
    request = make_mocked_request("POST", "/compute/v2.1/servers")
    response = faults.render(request, sqlalchemy.exc.TimeoutError("QueuePool limit reached"))
    assert response.status == 503
    assert json.loads(response.body) == {"serviceUnavailable": {"code": 503, "message": faults.BUSY}}


def test_anything_else_unexpected_is_nova_s_500():
    request = make_mocked_request("GET", "/compute/v2.1/servers")
    response = faults.render(request, KeyError("x"))
    assert response.status == 500
    assert json.loads(response.body)["computeFault"]["code"] == 500
