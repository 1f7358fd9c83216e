"""A site's key pairs brought under the cascade, user by user.

Nova lists key pairs per user only (an admin names the user from 2.10), so
the users asked are the owners of the site's servers and, when the service
account may list them, Keystone's users (the site shares the cascade's
Keystone). Each key pair becomes the user's top key pair of that name, with
a route to the site's copy; where the user already has a top key pair of
that name with another public key, nothing is overwritten and the clash is
reported."""
from __future__ import annotations

import dataclasses
import logging

import aiohttp

from cascade import errors
from cascade.adoption.site_servers import keypairs_of
from cascade.api.compute.dependencies import keypair_bottom_id
from cascade.persistence.keypairs import Keypair
from cascade.resources.kinds import KEYPAIR
from cascade.runtime import Runtime
from cascade.sites.model import Site

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class KeypairOutcome:
    adopted: int = 0
    skipped: int = 0
    clashes: list[str] = dataclasses.field(default_factory=list)   # "user id/name"

    def add(self, other: "KeypairOutcome") -> None:
        self.adopted += other.adopted
        self.skipped += other.skipped
        self.clashes += other.clashes


async def keystone_users(rt: Runtime) -> list[str]:
    """Keystone's user ids as the service account sees them; none when it may not list them."""
    try:
        token = await rt.service_auth.token()
        async with rt.http.get(f"{rt.service_auth.auth_url.rstrip('/')}/users",
                               headers={"X-Auth-Token": token, "Accept": "application/json"}) as response:
            if response.status != 200:
                LOG.info("keystone user list refused (%s): key pairs of users without servers are not adopted",
                         response.status)
                return []
            return [user["id"] for user in (await response.json()).get("users", [])]
    except (aiohttp.ClientError, TimeoutError, errors.CascadeError) as exc:
        LOG.info("keystone user list failed: %s", exc)
        return []


async def _top_keypair(rt: Runtime, user_id: str, body: dict) -> Keypair:
    try:
        return await rt.keypairs.get(user_id, body["name"])
    except errors.NotFound:
        pass
    try:
        return await rt.keypairs.add(user_id=user_id, name=body["name"], public_key=body["public_key"],
                                     fingerprint=body.get("fingerprint") or "", type=body.get("type") or "ssh")
    except errors.Conflict:  # made meanwhile (the user, or another site's adoption)
        return await rt.keypairs.get(user_id, body["name"])


async def adopt_user(rt: Runtime, site: Site, user_id: str) -> KeypairOutcome:
    outcome = KeypairOutcome()
    client = rt.registry.client(site.id)
    try:
        bodies = await keypairs_of(client, user_id)
    except errors.NotAcceptable:  # a site older than 2.10 lists only the caller's own
        return outcome
    for body in bodies:
        keypair = await _top_keypair(rt, user_id, body)
        if keypair.public_key.strip() != body["public_key"].strip():
            outcome.clashes.append(f"{user_id}/{body['name']}")
            continue
        recorded = await rt.routes.bind_many(KEYPAIR.name, site.id, [(keypair.id, keypair_bottom_id(keypair), None)])
        if recorded:
            outcome.adopted += 1
        else:
            outcome.skipped += 1
    return outcome
