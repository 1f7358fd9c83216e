"""simcloud's Keystone through real clients: version discovery, password and
token authentication, token bodies, validation and revocation."""
from __future__ import annotations

import pytest
import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from simcloud.world import World


def test_root_lists_v3_and_v3_describes_itself(world: World, http: requests.Session) -> None:
    root = http.get(world.keystone_url.removesuffix("/v3") + "/")
    assert root.status_code == 300
    [version] = root.json()["versions"]["values"]
    assert version["id"].startswith("v3.") and version["status"] == "stable"
    v3_doc = http.get(world.keystone_url).json()["version"]
    assert v3_doc["links"][0]["href"] == world.keystone_url + "/"
    assert v3_doc["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


@pytest.mark.parametrize("user, roles", [
    ("admin", {"admin", "member", "reader"}),
    ("demo", {"member", "reader"}),
    ("alt", {"member", "reader"}),
])
def test_seeded_users_authenticate_with_implied_roles(world: World, login, user: str,
                                                      roles: set) -> None:
    sess = login(user)
    access = sess.auth.get_access(sess)
    assert access.project_name == user
    assert access.user_domain_id == "default" and access.project_domain_name == "Default"
    assert set(access.role_names) == roles
    info = world.keystone.validate(access.auth_token)
    assert info is not None and info.user_name == user and info.project_name == user
    assert set(info.roles) == roles and info.domain_id == "default"


def test_token_body_has_keystone_shape(world: World, http: requests.Session) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"name": "Default"}, "password": "password"}}},
        "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    answer = http.post(world.keystone_url + "/auth/tokens", json=body)
    assert answer.status_code == 201
    assert answer.headers["X-Subject-Token"]
    token = answer.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "demo" and token["user"]["domain"] == {
        "id": "default", "name": "Default"}
    assert token["project"]["name"] == "demo" and token["project"]["domain"]["id"] == "default"
    assert token["is_domain"] is False
    assert token["expires_at"].endswith("Z") and token["issued_at"] < token["expires_at"]
    assert len(token["audit_ids"]) == 1
    assert {s["type"] for s in token["catalog"]} >= {"identity", "compute", "image"}

    bare = http.post(world.keystone_url + "/auth/tokens?nocatalog", json=body).json()["token"]
    assert "catalog" not in bare and bare["roles"]


def test_wrong_password_is_keystone_401(world: World, login, http: requests.Session) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"id": "default"}, "password": "nope"}}}}}
    answer = http.post(world.keystone_url + "/auth/tokens", json=body)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == 401 and error["title"] == "Unauthorized" and error["message"]
    assert answer.headers["WWW-Authenticate"].startswith("Keystone uri=")
    with pytest.raises(ks_exc.Unauthorized):
        login("demo", password="nope").get_token()


def test_scope_to_a_project_without_roles_is_refused(login) -> None:
    with pytest.raises(ks_exc.Unauthorized):
        login("demo", project="alt").get_token()


def test_unscoped_then_rescoped_by_token(world: World, http: requests.Session) -> None:
    unscoped = http.post(world.keystone_url + "/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "alt", "domain": {"id": "default"}, "password": "password"}}},
        "scope": "unscoped"}})
    assert unscoped.status_code == 201
    body = unscoped.json()["token"]
    assert "project" not in body and "catalog" not in body and "roles" not in body
    unscoped_id = unscoped.headers["X-Subject-Token"]

    project_id = world.keystone.store.project_by_name("alt", "default").id
    rescoped = http.post(world.keystone_url + "/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped_id}},
        "scope": {"project": {"id": project_id}}}})
    assert rescoped.status_code == 201
    token = rescoped.json()["token"]
    assert token["project"]["id"] == project_id and token["methods"] == ["token"]
    assert token["expires_at"] == body["expires_at"]
    assert token["audit_ids"][1] == body["audit_ids"][0]


def test_no_scope_falls_back_to_default_project(world: World, http: requests.Session) -> None:
    answer = http.post(world.keystone_url + "/auth/tokens", json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"id": "default"}, "password": "password"}}}}})
    assert answer.json()["token"]["project"]["name"] == "demo"


def test_validate_head_and_revoke(world: World, login, http: requests.Session,
                                  admin_token: str) -> None:
    url = world.keystone_url + "/auth/tokens"
    demo = login.token("demo")
    shown = http.get(url, headers={"X-Auth-Token": admin_token, "X-Subject-Token": demo})
    assert shown.status_code == 200 and shown.json()["token"]["user"]["name"] == "demo"
    assert http.head(url, headers={"X-Auth-Token": admin_token,
                                   "X-Subject-Token": demo}).status_code == 200
    own = http.get(url, headers={"X-Auth-Token": demo, "X-Subject-Token": demo})
    assert own.status_code == 200
    alt = login.token("alt")
    others = http.get(url, headers={"X-Auth-Token": demo, "X-Subject-Token": alt})
    assert others.status_code == 403 and others.json()["error"]["title"] == "Forbidden"

    revoked = http.delete(url, headers={"X-Auth-Token": admin_token, "X-Subject-Token": demo})
    assert revoked.status_code == 204
    gone = http.get(url, headers={"X-Auth-Token": admin_token, "X-Subject-Token": demo})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == 404
    assert world.keystone.validate(demo) is None
    unknown = http.get(url, headers={"X-Auth-Token": admin_token, "X-Subject-Token": "bogus"})
    assert unknown.status_code == 404
    no_caller = http.get(url, headers={"X-Subject-Token": alt})
    assert no_caller.status_code == 401


def test_auth_catalog_projects_domains(world: World, login, http: requests.Session) -> None:
    headers = {"X-Auth-Token": login.token("demo")}
    catalog = http.get(world.keystone_url + "/auth/catalog", headers=headers).json()["catalog"]
    compute = next(s for s in catalog if s["type"] == "compute")
    assert {e["region_id"] for e in compute["endpoints"]} == {h.name for h in world.sites}
    projects = http.get(world.keystone_url + "/auth/projects", headers=headers).json()["projects"]
    assert [p["name"] for p in projects] == ["demo"]
    domains = http.get(world.keystone_url + "/auth/domains", headers=headers).json()["domains"]
    assert domains == []


def test_keystoneauth_session_reauthenticates_after_revocation(world: World,
                                                               admin_token: str) -> None:
    auth = v3.Password(auth_url=world.keystone_url, username="alt", password="password",
                       user_domain_name="Default", project_name="alt",
                       project_domain_name="Default")
    sess = ks_session.Session(auth=auth)
    first = sess.get_token()
    requests.delete(world.keystone_url + "/auth/tokens",
                    headers={"X-Auth-Token": admin_token, "X-Subject-Token": first})
    sess.invalidate()
    second = sess.get_token()
    assert second != first and world.keystone.validate(second) is not None
