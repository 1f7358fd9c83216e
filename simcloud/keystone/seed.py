"""The identity a fresh simulated Keystone starts with, as `keystone-manage
bootstrap` plus a devstack-like set of tenants would leave it:

- domain ``Default`` (id ``default``);
- roles ``admin``, ``member``, ``reader``, ``service``, with ``admin`` implying
  ``member`` and ``member`` implying ``reader``;
- projects ``admin``, ``service``, ``demo``, ``alt``;
- users ``admin`` (admin on ``admin``), ``demo`` (member on ``demo``),
  ``alt`` (member on ``alt``); every password is ``password``.

`add_tenant` adds more tenants like demo (a project, and a member user of
the same name), for preloaded servers spread over many projects.

The catalog is not seeded here: `simcloud.world` registers the endpoints once
it knows the ports it listens on.
"""
from __future__ import annotations

from simcloud.keystone.store import Domain, Grant, Project, Role, Store, User, new_id

DEFAULT_DOMAIN_ID = "default"
DEFAULT_PASSWORD = "password"

_ROLES = ("admin", "member", "reader", "service")
_PROJECTS = ("admin", "service", "demo", "alt")
# user -> (project, role)
_USERS = {"admin": ("admin", "admin"), "demo": ("demo", "member"), "alt": ("alt", "member")}


def seed(store: Store) -> None:
    store.add_domain(Domain(id=DEFAULT_DOMAIN_ID, name="Default",
                            description="The default domain"))
    roles = {name: store.add_role(Role(id=new_id(), name=name)) for name in _ROLES}
    store.imply(roles["admin"].id, roles["member"].id)
    store.imply(roles["member"].id, roles["reader"].id)
    projects = {name: store.add_project(Project(
        id=new_id(), name=name, domain_id=DEFAULT_DOMAIN_ID, parent_id=DEFAULT_DOMAIN_ID,
        description=f"{name} project")) for name in _PROJECTS}
    for user_name, (project_name, role_name) in _USERS.items():
        project = projects[project_name]
        user = store.add_user(User(id=new_id(), name=user_name, domain_id=DEFAULT_DOMAIN_ID,
                                   password=DEFAULT_PASSWORD, default_project_id=project.id))
        store.grant(Grant(user_id=user.id, role_id=roles[role_name].id, project_id=project.id))


def add_tenant(store: Store, name: str) -> tuple[Project, User]:
    """A project `name` and a user `name`, member of it; password ``password``."""
    project = store.add_project(Project(id=new_id(), name=name, domain_id=DEFAULT_DOMAIN_ID,
                                        parent_id=DEFAULT_DOMAIN_ID, description=f"{name} project"))
    user = store.add_user(User(id=new_id(), name=name, domain_id=DEFAULT_DOMAIN_ID, password=DEFAULT_PASSWORD,
                               default_project_id=project.id))
    store.grant(Grant(user_id=user.id, role_id=store.role_by_name("member").id, project_id=project.id))
    return project, user
