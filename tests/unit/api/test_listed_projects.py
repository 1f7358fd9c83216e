"""Which projects' sites a server list asks (servers_list._listed_projects)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from multidict import MultiDict

from cascade.api.compute.servers_list import _listed_projects


@pytest.mark.parametrize("query, expected", [
    ({}, {"mine"}),
    ({"name": "vm"}, {"mine"}),
    ({"project_id": "other"}, {"mine", "other"}),            # Nova ignores it without all_tenants: a superset
    ({"all_tenants": "1"}, None),                            # every project: every site
    ({"all_tenants": "1", "tenant_id": "other"}, {"mine", "other"}),
    ({"all_tenants": "0"}, None),
])
def test_listed_projects(query: dict, expected: set | None) -> None:
    assert _listed_projects(SimpleNamespace(project_id="mine"), MultiDict(query)) == expected


def test_a_token_with_no_project_lists_by_user_in_every_site() -> None:
    assert _listed_projects(SimpleNamespace(project_id=None), MultiDict()) is None
