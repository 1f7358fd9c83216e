"""The ``/v3/auth`` endpoints: issue (``POST``), validate (``GET``, ``HEAD``)
and revoke (``DELETE``) tokens, and a token's catalog, projects and domains.

A token body has the full shape of Keystone's: methods, user with its domain,
the scope (project with its domain, or domain), roles including implied ones,
the catalog (left out with ``?nocatalog``), expires_at, issued_at, audit_ids.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from simcloud.keystone import views
from simcloud.keystone.auth import TokenService, ValidToken
from simcloud.keystone.catalog import CatalogRenderer
from simcloud.keystone.common import base_url, flag, no_content, self_url
from simcloud.keystone.errors import BadRequest, Forbidden, forbidden_action, not_found
from simcloud.keystone.policy import Policy
from simcloud.keystone.store import Store


def timestamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuthApi:
    def __init__(self, store: Store, tokens: TokenService, policy: Policy,
                 catalog: CatalogRenderer) -> None:
        self._store = store
        self._tokens = tokens
        self._policy = policy
        self._catalog = catalog

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v3/auth/tokens", self.issue),
            web.get("/v3/auth/tokens", self.validate, allow_head=False),
            web.head("/v3/auth/tokens", self.check),
            web.delete("/v3/auth/tokens", self.revoke),
            web.get("/v3/auth/catalog", self.catalog),
            web.get("/v3/auth/projects", self.projects),
            web.get("/v3/auth/domains", self.domains),
        ]

    def body(self, valid: ValidToken, *, with_catalog: bool) -> dict[str, Any]:
        store, token, user = self._store, valid.token, valid.user
        body: dict[str, Any] = {
            "methods": list(token.methods),
            "user": {"domain": views.domain_ref(store, user.domain_id), "id": user.id,
                     "name": user.name, "password_expires_at": None},
            "audit_ids": list(token.audit_ids),
            "expires_at": timestamp(token.expires_at),
            "issued_at": timestamp(token.issued_at),
        }
        if valid.project is not None:
            body["project"] = {"domain": views.domain_ref(store, valid.project.domain_id),
                               "id": valid.project.id, "name": valid.project.name}
            body["is_domain"] = False
        elif valid.domain is not None:
            body["domain"] = {"id": valid.domain.id, "name": valid.domain.name}
        if valid.project is not None or valid.domain is not None:
            body["roles"] = [{"id": r.id, "name": r.name} for r in valid.roles]
            if with_catalog:
                body["catalog"] = self._catalog.catalog(valid.token.project_id)
        return {"token": body}

    async def issue(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        valid = self._tokens.authenticate(payload)
        return web.json_response(self.body(valid, with_catalog=not flag(request, "nocatalog")),
                                 status=201, headers={"X-Subject-Token": valid.token.id})

    def _subject(self, request: web.Request, action: str) -> ValidToken:
        caller = self._policy.caller(request)
        subject_id = request.headers.get("X-Subject-Token")
        if not subject_id:
            raise BadRequest("Expecting to find X-Subject-Token in the request headers.")
        subject = self._tokens.validate(subject_id)
        if subject is None:
            raise not_found("token", subject_id)
        if not caller.is_admin and caller.user.id != subject.user.id:
            raise forbidden_action(f"identity:{action}")
        return subject

    async def validate(self, request: web.Request) -> web.Response:
        subject = self._subject(request, "validate_token")
        return web.json_response(self.body(subject, with_catalog=not flag(request, "nocatalog")),
                                 headers={"X-Subject-Token": subject.token.id})

    async def check(self, request: web.Request) -> web.Response:
        subject = self._subject(request, "check_token")
        return web.Response(status=200, headers={"X-Subject-Token": subject.token.id})

    async def revoke(self, request: web.Request) -> web.Response:
        subject = self._subject(request, "revoke_token")
        self._tokens.revoke(subject.token.id)
        return no_content()

    async def catalog(self, request: web.Request) -> web.Response:
        caller = self._policy.caller(request)
        if caller.project is None and caller.domain is None:
            raise Forbidden("The service catalog is only available to scoped tokens.")
        return web.json_response({"catalog": self._catalog.catalog(caller.token.project_id),
                                  "links": {"self": self_url(request)}})

    async def projects(self, request: web.Request) -> web.Response:
        caller = self._policy.caller(request)
        ids = dict.fromkeys(g.project_id for g in self._store.direct_grants(user_id=caller.user.id)
                            if g.project_id is not None)
        base = base_url(request)
        projects = (views.project(self._store.projects[p], base) for p in ids
                    if self._store.projects[p].enabled)
        return web.json_response(views.collection("projects", projects, self_url(request)))

    async def domains(self, request: web.Request) -> web.Response:
        caller = self._policy.caller(request)
        ids = dict.fromkeys(g.domain_id for g in self._store.direct_grants(user_id=caller.user.id)
                            if g.domain_id is not None)
        base = base_url(request)
        domains = (views.domain(self._store.domains[d], base) for d in ids
                   if self._store.domains[d].enabled)
        return web.json_response(views.collection("domains", domains, self_url(request)))
