"""TokenValidator: asks Keystone once per token, caches answers both ways, coalesces, expires."""
from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time

import aiohttp
import pytest

from cascade.errors import NotAuthenticated
from cascade.identity.service_auth import IdentityUnavailable, ServiceAuth
from cascade.identity.tokens import TokenValidator


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_validator(keystone, service_settings, http, clock):
    def make(**kwargs) -> TokenValidator:
        options = {"cache_seconds": 300, "clock": clock} | kwargs
        return TokenValidator(ServiceAuth(service_settings), http, auth_url=keystone.auth_url, **options)
    return make


async def test_valid_token_gives_the_identity_keystone_describes(keystone, make_validator):
    token = keystone.issue("alice", "demo")
    identity = await make_validator().validate(token)
    assert identity.token == token
    assert (identity.user_id, identity.user_name) == ("u-alice", "alice")
    assert (identity.project_id, identity.project_name, identity.domain_id) == ("p-demo", "demo", "default")
    assert identity.roles == {"member", "reader"}    # implied roles as Keystone lists them
    assert not identity.is_admin
    assert identity.expires_at.tzinfo is not None
    assert identity.expires_at > dt.datetime.now(dt.timezone.utc)


async def test_a_valid_answer_is_cached(keystone, make_validator):
    validator = make_validator()
    token = keystone.issue("alice", "demo")
    for _ in range(3):
        await validator.validate(token)
    assert keystone.validations == 1


async def test_the_cache_trusts_an_answer_for_cache_seconds_at_most(keystone, make_validator, clock):
    validator = make_validator(cache_seconds=60)
    token = keystone.issue("alice", "demo")
    await validator.validate(token)
    clock.offset = 59
    await validator.validate(token)
    assert keystone.validations == 1
    clock.offset = 61
    await validator.validate(token)
    assert keystone.validations == 2


async def test_the_cache_never_outlives_the_token(keystone, make_validator, clock):
    validator = make_validator(cache_seconds=300)
    token = keystone.issue("alice", "demo", lifetime=dt.timedelta(seconds=30))
    await validator.validate(token)
    keystone.revoke(token)       # Keystone forgets it once expired
    clock.offset = 20
    await validator.validate(token)
    clock.offset = 31
    with pytest.raises(NotAuthenticated):
        await validator.validate(token)
    assert keystone.validations == 2


async def test_a_refused_token_is_remembered_briefly(keystone, make_validator, clock):
    validator = make_validator(negative_seconds=5)
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            await validator.validate("not-a-token")
    assert keystone.validations == 1
    clock.offset = 6
    with pytest.raises(NotAuthenticated):
        await validator.validate("not-a-token")
    assert keystone.validations == 2


async def test_an_empty_token_is_refused_without_asking(keystone, make_validator):
    with pytest.raises(NotAuthenticated):
        await make_validator().validate("")
    assert keystone.validations == 0


async def test_concurrent_validations_of_one_token_share_one_call(keystone, make_validator):
    keystone.validation_delay = 0.1
    validator = make_validator()
    token = keystone.issue("alice", "demo")
    identities = await asyncio.gather(*(validator.validate(token) for _ in range(20)))
    assert {i.user_id for i in identities} == {"u-alice"}
    assert keystone.validations == 1


async def test_concurrent_refusals_are_shared_too(keystone, make_validator):
    keystone.validation_delay = 0.1
    validator = make_validator()
    results = await asyncio.gather(*(validator.validate("bogus") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, NotAuthenticated) for r in results)
    assert keystone.validations == 1


async def test_a_rejected_service_token_is_renewed_once(keystone, service_settings, http, clock):
    auth = ServiceAuth(service_settings)
    validator = TokenValidator(auth, http, auth_url=keystone.auth_url, cache_seconds=300, clock=clock)
    keystone.revoke(await auth.token())
    identity = await validator.validate(keystone.issue("alice", "demo"))
    assert identity.user_name == "alice"
    assert keystone.logins == 2
    assert keystone.validations == 2


async def test_keystone_errors_are_identity_unavailable_and_not_cached(keystone, make_validator):
    validator = make_validator()
    token = keystone.issue("alice", "demo")
    keystone.validation_status = 500
    with pytest.raises(IdentityUnavailable):
        await validator.validate(token)
    keystone.validation_status = None
    assert (await validator.validate(token)).user_name == "alice"


async def test_unreachable_keystone_is_identity_unavailable(keystone, service_settings, http):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    auth = ServiceAuth(service_settings)
    await auth.token()
    validator = TokenValidator(auth, http, auth_url=f"http://127.0.0.1:{port}/v3", cache_seconds=300)
    with pytest.raises(IdentityUnavailable):
        await validator.validate("whatever")


async def test_the_cache_is_bounded_and_drops_the_least_recently_used(keystone, make_validator):
    validator = make_validator(max_entries=2)
    first, second, third = (keystone.issue("alice", "demo") for _ in range(3))
    await validator.validate(first)
    await validator.validate(second)
    await validator.validate(first)        # first is now the most recently used
    await validator.validate(third)        # evicts second
    assert keystone.validations == 3
    await validator.validate(first)
    assert keystone.validations == 3
    await validator.validate(second)
    assert keystone.validations == 4


async def test_tokens_of_projects_created_later_are_accepted(keystone, make_validator):
    validator = make_validator()
    await validator.validate(keystone.issue("alice", "demo"))
    keystone.projects["newborn"] = "p-newborn"
    identity = await validator.validate(keystone.issue("alice", "newborn"))
    assert identity.project_id == "p-newborn"
