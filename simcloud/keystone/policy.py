"""Who is calling and what they may do: the simulated Keystone's policy.

A much reduced form of Keystone's default policy that keeps its outcomes for
the calls simcloud serves:

- identity and catalog administration need the ``admin`` role (in any scope,
  as the legacy ``admin_required`` rule);
- a user may read itself and the projects it has roles on, and may validate
  or revoke its own tokens;
- a project-scoped user may read its own project and its domain.
"""
from __future__ import annotations

from aiohttp import web

from simcloud.keystone.auth import TokenService, ValidToken
from simcloud.keystone.errors import Unauthorized, forbidden_action


class Policy:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def caller(self, request: web.Request) -> ValidToken:
        """The validated ``X-Auth-Token`` of the request, or 401."""
        token_id = request.headers.get("X-Auth-Token")
        if not token_id:
            raise Unauthorized()
        valid = self._tokens.validate(token_id)
        if valid is None:
            raise Unauthorized()
        return valid

    def admin(self, request: web.Request, action: str) -> ValidToken:
        caller = self.caller(request)
        if not caller.is_admin:
            raise forbidden_action(f"identity:{action}")
        return caller

    def admin_or_self(self, request: web.Request, action: str, user_id: str) -> ValidToken:
        caller = self.caller(request)
        if not caller.is_admin and caller.user.id != user_id:
            raise forbidden_action(f"identity:{action}")
        return caller

    def admin_or_project_member(self, request: web.Request, action: str,
                                project_id: str) -> ValidToken:
        caller = self.caller(request)
        if not caller.is_admin and (caller.project is None or caller.project.id != project_id):
            raise forbidden_action(f"identity:{action}")
        return caller

    def admin_or_in_domain(self, request: web.Request, action: str, domain_id: str) -> ValidToken:
        caller = self.caller(request)
        scope_domain = (caller.domain.id if caller.domain
                        else caller.project.domain_id if caller.project else None)
        if not caller.is_admin and scope_domain != domain_id:
            raise forbidden_action(f"identity:{action}")
        return caller
