"""Identity and catalog administration of simcloud's Keystone through
openstacksdk, as Tempest's dynamic credentials and the cascade use it, plus
the policy a tenant meets."""
from __future__ import annotations

import uuid
from typing import Iterator

import openstack
import openstack.connection
import pytest
import requests
from openstack import exceptions as sdk_exc

from simcloud.world import World


def connect(world: World, user: str, project: str, password: str = "password",
            region: str = "site1") -> openstack.connection.Connection:
    return openstack.connect(
        auth_url=world.keystone_url, username=user, password=password, project_name=project,
        user_domain_name="Default", project_domain_name="Default", region_name=region,
        load_yaml_config=False, load_envvars=False)


@pytest.fixture(scope="module")
def admin(world: World) -> Iterator[openstack.connection.Connection]:
    conn = connect(world, "admin", "admin")
    yield conn
    conn.close()


def test_dynamic_credentials_flow(world: World, admin: openstack.connection.Connection) -> None:
    suffix = uuid.uuid4().hex[:8]
    [domain] = admin.identity.domains(name="Default")
    project = admin.identity.create_project(name=f"tempest-{suffix}", description="dyn",
                                            domain_id=domain.id)
    user = admin.identity.create_user(name=f"tempest-{suffix}", password="secret",
                                      domain_id=domain.id, default_project_id=project.id,
                                      email="t@example.com", enabled=True)
    assert user.email == "t@example.com" and user.default_project_id == project.id
    [member] = admin.identity.roles(name="member")
    admin.identity.assign_project_role_to_user(project, user, member)
    assert admin.identity.validate_user_has_project_role(project, user, member)
    with pytest.raises(sdk_exc.ConflictException):
        admin.identity.create_project(name=f"tempest-{suffix}", domain_id=domain.id)

    effective = list(admin.identity.role_assignments(
        user_id=user.id, scope_project_id=project.id, effective=True, include_names=True))
    assert {a.role["name"] for a in effective} == {"member", "reader"}
    assert all(a.scope["project"]["name"] == project.name for a in effective)
    direct = list(admin.identity.role_assignments(user_id=user.id))
    assert [a.role["id"] for a in direct] == [member.id]
    assert [p.id for p in admin.identity.user_projects(user)] == [project.id]

    tenant = connect(world, user.name, project.name, password="secret")
    assert tenant.current_project_id == project.id
    token = tenant.auth_token
    assert world.keystone.validate(token).roles == ("member", "reader")

    admin.identity.unassign_project_role_from_user(project, user, member)
    assert world.keystone.validate(token) is None          # roles are recomputed per validation
    admin.identity.delete_user(user)
    admin.identity.delete_project(project)
    assert admin.identity.find_project(project.name) is None
    with pytest.raises(sdk_exc.SDKException, match="401"):
        connect(world, user.name, project.name, password="secret").authorize()


def test_lists_filter_by_name_and_domain(admin: openstack.connection.Connection) -> None:
    assert [p.name for p in admin.identity.projects(name="demo")] == ["demo"]
    assert {p.name for p in admin.identity.projects(domain_id="default")} >= {
        "admin", "service", "demo", "alt"}
    assert [u.name for u in admin.identity.users(name="alt", domain_id="default")] == ["alt"]
    assert list(admin.identity.users(name="nobody")) == []
    assert {r.name for r in admin.identity.roles()} >= {"admin", "member", "reader", "service"}


def test_project_update_and_role_create_delete(admin: openstack.connection.Connection) -> None:
    project = admin.identity.create_project(name=f"upd-{uuid.uuid4().hex[:6]}", domain_id="default")
    updated = admin.identity.update_project(project, description="changed", enabled=False)
    assert updated.description == "changed" and updated.is_enabled is False
    role = admin.identity.create_role(name=f"role-{uuid.uuid4().hex[:6]}")
    assert admin.identity.get_role(role.id).name == role.name
    admin.identity.delete_role(role)
    with pytest.raises(sdk_exc.NotFoundException):
        admin.identity.get_role(role.id)
    admin.identity.delete_project(project)


def test_domain_grant_and_domain_scope(world: World, admin: openstack.connection.Connection,
                                       http: requests.Session) -> None:
    user = admin.identity.create_user(name=f"dom-{uuid.uuid4().hex[:6]}", password="pw",
                                      domain_id="default")
    admin_role = admin.identity.find_role("admin")
    admin.identity.assign_domain_role_to_user("default", user, admin_role)
    assert admin.identity.validate_user_has_domain_role("default", user, admin_role)
    answer = http.post(world.keystone_url + "/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": user.id, "password": "pw"}}},
        "scope": {"domain": {"name": "Default"}}}})
    assert answer.status_code == 201
    body = answer.json()["token"]
    assert body["domain"] == {"id": "default", "name": "Default"} and "project" not in body
    assert {r["name"] for r in body["roles"]} == {"admin", "member", "reader"}
    listed = list(admin.identity.role_assignments(scope_domain_id="default", user_id=user.id))
    assert [a.role["id"] for a in listed] == [admin_role.id]
    admin.identity.delete_user(user)


def test_endpoint_registration_like_the_cascade(world: World,
                                                admin: openstack.connection.Connection) -> None:
    region = admin.identity.create_region(id="Cascade", description="the cascade")
    service = admin.identity.create_service(type="compute", name="cascade-compute")
    try:
        endpoint = admin.identity.create_endpoint(service_id=service.id, interface="public",
                                                  url="http://127.0.0.1:1/compute/v2.1",
                                                  region_id=region.id)
        [listed] = admin.identity.endpoints(region_id="Cascade", interface="public",
                                            service_id=service.id)
        assert listed.id == endpoint.id and listed.url.endswith("/compute/v2.1")
        assert [s.id for s in admin.identity.services(name="cascade-compute")] == [service.id]

        cascade = connect(world, "demo", "demo", region="Cascade")
        assert cascade.session.get_endpoint(service_type="compute", region_name="Cascade",
                                            interface="public") == endpoint.url
        admin.identity.delete_endpoint(endpoint)
        assert list(admin.identity.endpoints(region_id="Cascade")) == []
    finally:
        admin.identity.delete_service(service)
        admin.identity.delete_region(region)


def test_tenant_policy(world: World, login, http: requests.Session) -> None:
    token = login.token("demo")
    headers = {"X-Auth-Token": token}
    info = world.keystone.validate(token)
    refused = http.get(world.keystone_url + "/users", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["title"] == "Forbidden"
    assert "identity:list_users" in refused.json()["error"]["message"]
    own = http.get(f"{world.keystone_url}/users/{info.user_id}", headers=headers)
    assert own.status_code == 200 and own.json()["user"]["name"] == "demo"
    assert "password" not in own.json()["user"]
    project = http.get(f"{world.keystone_url}/projects/{info.project_id}", headers=headers)
    assert project.status_code == 200 and project.json()["project"]["name"] == "demo"
    admin_project = world.keystone.store.project_by_name("admin", "default")
    assert http.get(f"{world.keystone_url}/projects/{admin_project.id}",
                    headers=headers).status_code == 403
    assert http.post(world.keystone_url + "/projects", headers=headers,
                     json={"project": {"name": "x"}}).status_code == 403
    missing = http.get(world.keystone_url + "/projects", headers={"X-Auth-Token": "bogus"})
    assert missing.status_code == 401 and missing.json()["error"]["title"] == "Unauthorized"


def test_unknown_ids_and_bad_bodies(world: World, admin_token: str,
                                    http: requests.Session) -> None:
    headers = {"X-Auth-Token": admin_token}
    gone = http.get(world.keystone_url + "/projects/nope", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"] == {"code": 404, "message": "Could not find project: nope.",
                                    "title": "Not Found"}
    bad = http.post(world.keystone_url + "/users", headers=headers, json={"user": {}})
    assert bad.status_code == 400 and bad.json()["error"]["title"] == "Bad Request"
    nowhere = http.get(world.keystone_url + "/nothing-here", headers=headers)
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == 404
