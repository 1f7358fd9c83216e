"""The clients every demo-driven tier uses, as session fixtures over that
tier's own `demo` fixture (simcloud in tests/functional, real OpenStack in
tests/interop). A conftest imports them to make them its own."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cloud(demo):
    return demo.conn("cascade")


@pytest.fixture(scope="session")
def alt(demo):
    return demo.conn("cascade-alt")


@pytest.fixture(scope="session")
def admin(demo):
    return demo.conn("cascade-admin")


@pytest.fixture(scope="session")
def sites(demo):
    """Connections straight at each site as the demo tenant, by availability zone."""
    return {zone: demo.conn(zone) for zone in demo.zones}
