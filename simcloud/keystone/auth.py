"""Tokens: authenticate (password or token method, any scope), validate,
revoke. No HTTP here; `auth_api` serves these as ``/v3/auth/tokens``.

Tokens are random opaque strings kept in the store. Like Fernet tokens, a
token's roles are not frozen at issue: every validation recomputes them from
the current grants, and a token whose user, project or roles are gone (or
disabled) stops validating, as it would against a real Keystone.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
from typing import Any, Callable

from simcloud.keystone.errors import BadRequest, Unauthorized, missing
from simcloud.keystone.store import Domain, Project, Role, Store, Token, User

Clock = Callable[[], dt.datetime]
_SWEEP_EVERY = 1000          # issues between sweeps of expired tokens


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class ValidToken:
    """A token that validated just now, with what it stands for."""

    token: Token
    user: User
    project: Project | None
    domain: Domain | None          # the scope, when domain-scoped
    roles: tuple[Role, ...]

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_names


class TokenService:
    def __init__(self, store: Store, *, ttl_seconds: float = 3600.0, clock: Clock = utcnow) -> None:
        self._store = store
        self._ttl = dt.timedelta(seconds=ttl_seconds)
        self._clock = clock
        self._issued_since_sweep = 0

    # ---- issue -----------------------------------------------------------
    def authenticate(self, body: Any) -> ValidToken:
        """Handle the body of ``POST /v3/auth/tokens``; raises `Unauthorized`
        for bad credentials or scope, `BadRequest` for a malformed body."""
        auth = body.get("auth") if isinstance(body, dict) else None
        if not isinstance(auth, dict):
            raise missing("auth", "request body")
        identity = auth.get("identity")
        if not isinstance(identity, dict) or not isinstance(identity.get("methods"), list):
            raise missing("identity", "auth")
        methods = identity["methods"]
        now = self._clock()
        if "password" in methods:
            user = self._password_user(identity.get("password"))
            expires_at = now + self._ttl
            audit_ids: tuple[str, ...] = (secrets.token_urlsafe(16),)
        elif "token" in methods:
            prior = self._prior_token(identity.get("token"))
            user = prior.user
            expires_at = prior.token.expires_at
            audit_ids = (secrets.token_urlsafe(16), prior.token.audit_ids[-1])
        else:
            raise Unauthorized("Attempted to authenticate with an unsupported method.")
        project, domain = self._scope(user, auth.get("scope"))
        token = Token(id=secrets.token_urlsafe(32), user_id=user.id,
                      methods=tuple(m for m in methods if m in ("password", "token")),
                      project_id=project.id if project else None,
                      domain_id=domain.id if domain else None,
                      issued_at=now, expires_at=expires_at, audit_ids=audit_ids)
        self._store.tokens[token.id] = token
        self._sweep_now_and_then(now)
        valid = self.validate(token.id)
        assert valid is not None
        return valid

    def _password_user(self, password: Any) -> User:
        if not isinstance(password, dict) or not isinstance(password.get("user"), dict):
            raise missing("user", "password")
        ref = password["user"]
        if ref.get("id"):
            user = self._store.users.get(ref["id"])
        elif ref.get("name"):
            domain = self._find_domain(ref.get("domain"), target="user")
            user = self._store.user_by_name(ref["name"], domain.id) if domain else None
        else:
            raise missing("id or name", "user")
        if user is None or user.password is None or not hmac.compare_digest(
                str(ref.get("password", "")), user.password):
            raise Unauthorized()
        if not user.enabled or not self._store.domains[user.domain_id].enabled:
            raise Unauthorized(f"The account is disabled for user: {user.id}.")
        return user

    def _prior_token(self, ref: Any) -> ValidToken:
        if not isinstance(ref, dict) or not ref.get("id"):
            raise missing("id", "token")
        prior = self.validate(ref["id"])
        if prior is None:
            raise Unauthorized(f"Could not find token: {ref['id']}.")
        return prior

    def _find_domain(self, ref: Any, *, target: str) -> Domain | None:
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
            raise missing("domain", target)
        if ref.get("id"):
            return self._store.domains.get(ref["id"])
        return self._store.domain_by_name(ref["name"])

    def _scope(self, user: User, scope: Any) -> tuple[Project | None, Domain | None]:
        if scope == "unscoped":
            return None, None
        if scope is None:
            return self._default_scope(user), None
        if not isinstance(scope, dict):
            raise BadRequest("Invalid input for field 'scope': expected an object or 'unscoped'.")
        if "project" in scope:
            project = self._find_project(scope["project"])
            if not project.enabled or not self._store.domains[project.domain_id].enabled:
                raise Unauthorized(f"Project {project.id} is disabled.")
            if not self._store.effective_roles(user.id, project_id=project.id):
                raise Unauthorized(f"User {user.id} has no access to project {project.id}")
            return project, None
        if "domain" in scope:
            domain = self._find_domain(scope["domain"], target="scope")
            if domain is None:
                raise Unauthorized(f"Could not find domain: {scope['domain']}.")
            if not domain.enabled:
                raise Unauthorized(f"Domain {domain.id} is disabled.")
            if not self._store.effective_roles(user.id, domain_id=domain.id):
                raise Unauthorized(f"User {user.id} has no access to domain {domain.id}")
            return None, domain
        raise BadRequest("simcloud's Keystone scopes tokens to a project or a domain only.")

    def _find_project(self, ref: Any) -> Project:
        if not isinstance(ref, dict):
            raise missing("id or name", "project")
        project: Project | None
        if ref.get("id"):
            project = self._store.projects.get(ref["id"])
        elif ref.get("name"):
            domain = self._find_domain(ref.get("domain"), target="project")
            project = self._store.project_by_name(ref["name"], domain.id) if domain else None
        else:
            raise missing("id or name", "project")
        if project is None:
            raise Unauthorized(f"Could not find project: {ref.get('id') or ref.get('name')}.")
        return project

    def _default_scope(self, user: User) -> Project | None:
        project = self._store.projects.get(user.default_project_id or "")
        if project and project.enabled and self._store.effective_roles(user.id, project_id=project.id):
            return project
        return None

    # ---- validate / revoke ---------------------------------------------
    def validate(self, token_id: str) -> ValidToken | None:
        store = self._store
        token = store.tokens.get(token_id)
        if token is None:
            return None
        if self._clock() >= token.expires_at:
            del store.tokens[token_id]
            return None
        user = store.users.get(token.user_id)
        if user is None or not user.enabled:
            return None
        project = domain = None
        if token.project_id is not None:
            project = store.projects.get(token.project_id)
            if project is None or not project.enabled:
                return None
            roles = store.effective_roles(user.id, project_id=project.id)
        elif token.domain_id is not None:
            domain = store.domains.get(token.domain_id)
            if domain is None or not domain.enabled:
                return None
            roles = store.effective_roles(user.id, domain_id=domain.id)
        else:
            roles = []
        if (project or domain) and not roles:
            return None
        return ValidToken(token=token, user=user, project=project, domain=domain, roles=tuple(roles))

    def revoke(self, token_id: str) -> bool:
        return self._store.tokens.pop(token_id, None) is not None

    def _sweep_now_and_then(self, now: dt.datetime) -> None:
        self._issued_since_sweep += 1
        if self._issued_since_sweep < _SWEEP_EVERY:
            return
        self._issued_since_sweep = 0
        tokens = self._store.tokens
        for token_id in [t.id for t in tokens.values() if t.expires_at <= now]:
            del tokens[token_id]
