"""Fixtures for simcloud's tests: one World for the whole session, running on
its own event loop in a background thread so that blocking clients
(openstacksdk, keystoneauth1, requests, the openstack CLI) can talk to it."""
from __future__ import annotations

import asyncio
import pathlib
import threading
from typing import Any, Awaitable, Iterator, TypeVar

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from simcloud.world import World

T = TypeVar("T")
SITES = 3


class WorldThread:
    """A `World` served from a daemon thread's event loop."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="simcloud-world",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.run(self.world.start())

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.run(self.world.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def world_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldThread]:
    state_dir = tmp_path_factory.mktemp("simcloud-state")
    runner = WorldThread(World(SITES, state_dir=state_dir, build_seconds=0.05,
                               site_overrides={"site3": {"max_microversion": "2.60"}}))
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture(scope="session")
def world(world_thread: WorldThread) -> World:
    return world_thread.world


@pytest.fixture(scope="session")
def state_dir(world: World) -> pathlib.Path:
    assert world.state_dir is not None
    return world.state_dir


class Login:
    """Makes keystoneauth1 sessions for users of the session's world."""

    def __init__(self, world: World) -> None:
        self._world = world

    def __call__(self, user: str, project: str | None = "same",
                 password: str = "password") -> ks_session.Session:
        """A session for `user`, scoped to `project` (default: the project
        named as the user; None: unscoped)."""
        scope: dict[str, Any] = {}
        if project is not None:
            scope = {"project_name": user if project == "same" else project,
                     "project_domain_id": "default"}
        auth = v3.Password(auth_url=self._world.keystone_url, username=user, password=password,
                           user_domain_id="default", **scope)
        return ks_session.Session(auth=auth)

    def token(self, user: str, project: str | None = "same") -> str:
        token = self(user, project).get_token()
        assert token
        return token


@pytest.fixture(scope="session")
def login(world: World) -> Login:
    return Login(world)


@pytest.fixture(scope="session")
def admin_token(login: Login) -> str:
    return login.token("admin")


@pytest.fixture
def clean_faults(world_thread: WorldThread) -> Iterator[None]:
    """Every site without faults after the test, whatever it switched on."""
    yield
    for handle in world_thread.world.sites:
        world_thread.run(handle.clear_faults())


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s
