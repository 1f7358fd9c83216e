"""Token life in simcloud's Keystone without HTTP: expiry, and tokens that stop
validating when what they stand for changes."""
from __future__ import annotations

import datetime as dt

import pytest

from simcloud.keystone import Keystone
from simcloud.keystone.errors import BadRequest, Unauthorized
from simcloud.keystone.store import Grant


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


def password(user: str, project: str | None = None, secret: str = "password") -> dict:
    auth: dict = {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": secret}}}}
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return {"auth": auth}


def test_tokens_expire_after_their_ttl() -> None:
    clock = Clock()
    keystone = Keystone(token_ttl=60, clock=clock)
    token = keystone.tokens.authenticate(password("demo", "demo")).token
    assert token.expires_at - token.issued_at == dt.timedelta(seconds=60)
    clock.now += dt.timedelta(seconds=59)
    info = keystone.validate(token.id)
    assert info is not None and info.expires_at == token.expires_at
    clock.now += dt.timedelta(seconds=1)
    assert keystone.validate(token.id) is None


def test_disabling_or_deleting_invalidates_tokens() -> None:
    keystone = Keystone()
    store = keystone.store
    demo = keystone.tokens.authenticate(password("demo", "demo")).token.id
    alt = keystone.tokens.authenticate(password("alt", "alt")).token.id
    store.project_by_name("demo", "default").enabled = False
    assert keystone.validate(demo) is None
    store.project_by_name("demo", "default").enabled = True
    assert keystone.validate(demo) is not None
    store.delete_user(store.user_by_name("demo", "default").id)
    assert keystone.validate(demo) is None
    alt_user = store.user_by_name("alt", "default")
    [grant] = store.direct_grants(user_id=alt_user.id)
    store.revoke(grant)
    assert keystone.validate(alt) is None
    store.grant(Grant(user_id=alt_user.id, role_id=store.role_by_name("reader").id,
                      project_id=grant.project_id))
    assert keystone.validate(alt).roles == ("reader",)


def test_bad_requests_and_credentials() -> None:
    keystone = Keystone()
    with pytest.raises(BadRequest):
        keystone.tokens.authenticate({"nothing": 1})
    with pytest.raises(Unauthorized):
        keystone.tokens.authenticate(password("demo", secret="wrong"))
    with pytest.raises(Unauthorized):
        keystone.tokens.authenticate(password("nobody"))
    with pytest.raises(Unauthorized):
        keystone.tokens.authenticate(password("demo", "no-such-project"))
    keystone.store.user_by_name("alt", "default").enabled = False
    with pytest.raises(Unauthorized):
        keystone.tokens.authenticate(password("alt", "alt"))


def test_unscoped_token_info_has_no_project_nor_roles() -> None:
    keystone = Keystone()
    body = password("admin")
    body["auth"]["scope"] = "unscoped"
    info = keystone.validate(keystone.tokens.authenticate(body).token.id)
    assert info is not None and info.user_name == "admin"
    assert info.project_id is None and info.roles == () and not info.is_admin
