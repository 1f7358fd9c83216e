"""The per-request context: who is calling (from the validated token), the
request id, and the microversion negotiated by the front that serves it."""
from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Identity:
    """What Keystone said about a token (cached by `cascade.identity`)."""

    token: str
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    domain_id: str | None
    roles: frozenset[str]
    expires_at: dt.datetime

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclasses.dataclass
class RequestContext:
    identity: Identity
    request_id: str
    microversion: str | None = None
    # Base URL of the front serving this request, e.g. http://host:port/compute/v2.1
    # (links in answers are built from it, never from a site's URL).
    base_url: str = ""

    @property
    def token(self) -> str:
        return self.identity.token

    @property
    def project_id(self) -> str | None:
        return self.identity.project_id

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    @property
    def is_admin(self) -> bool:
        return self.identity.is_admin
