"""Idempotent Keystone set-up for `cascade demo`: the cascade's region and
endpoints, and the tenant projects and users a demo hands out.

Every call may be repeated: a second run finds what the first made, updates
an endpoint whose URL changed (the cascade moved to another port) and drops
duplicates, so the catalog holds one endpoint per service and interface in
the cascade's region."""
from __future__ import annotations

from typing import Any, Mapping

from keystoneauth1 import session as ks_session

INTERFACES = ("public", "internal", "admin")
DOMAIN = "default"


class KeystoneAdmin:
    def __init__(self, session: ks_session.Session, auth_url: str) -> None:
        self.session = session
        self.url = auth_url.rstrip("/")
        if not self.url.endswith("/v3"):
            self.url += "/v3"

    def call(self, method: str, path: str, **kw: Any) -> dict:
        response = self.session.request(self.url + path, method, raise_exc=False, **kw)
        if response.status_code >= 400 and response.status_code != 409:
            raise SystemExit(f"keystone {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def _one(self, collection: str, **params: str) -> dict | None:
        found = self.call("GET", f"/{collection}", params=params)[collection]
        return found[0] if found else None

    def register_endpoints(self, region: str, urls: Mapping[str, str]) -> None:
        """One endpoint per interface for each service type in `urls`
        ({service type: URL}) in `region`, on the service of that type the
        catalog already has (made when missing)."""
        self.call("POST", "/regions", json={"region": {"id": region, "description": region}})
        endpoints = self.call("GET", "/endpoints", params={"region_id": region})["endpoints"]
        for service_type, url in urls.items():
            services = [s["id"] for s in self.call("GET", "/services", params={"type": service_type})["services"]]
            if not services:
                services = [self.call("POST", "/services", json={"service": {
                    "type": service_type, "name": service_type}})["service"]["id"]]
            for interface in INTERFACES:
                mine = [e for e in endpoints if e["service_id"] in services and e["interface"] == interface
                        and e.get("region_id", e.get("region")) == region]
                if not mine:
                    self.call("POST", "/endpoints", json={"endpoint": {
                        "service_id": services[0], "interface": interface, "region_id": region, "url": url}})
                    continue
                kept, *extra = mine
                if kept["url"] != url:
                    self.call("PATCH", f"/endpoints/{kept['id']}", json={"endpoint": {"url": url}})
                for endpoint in extra:
                    self.call("DELETE", f"/endpoints/{endpoint['id']}")

    def _ensure(self, collection: str, key: str, body: dict, **params: str) -> dict:
        """The one entry of `collection` matching `params`, made from `body`
        when missing (a concurrent maker's 409 finds it again)."""
        found = self._one(collection, **params)
        if found is None:
            found = self.call("POST", f"/{collection}", json={key: body}).get(key) or self._one(collection, **params)
        return found

    def ensure_tenant(self, name: str, password: str, role: str = "member") -> None:
        """Project `name` and user `name` (password `password` when made here)
        in the default domain, the user holding `role` on the project."""
        project = self._ensure("projects", "project", {"name": name, "domain_id": DOMAIN,
                                                       "description": "made by cascade demo"},
                               name=name, domain_id=DOMAIN)
        user = self._ensure("users", "user", {"name": name, "domain_id": DOMAIN, "password": password,
                                              "default_project_id": project["id"]}, name=name, domain_id=DOMAIN)
        role_ref = self._one("roles", name=role)
        if role_ref is None:
            raise SystemExit(f"keystone has no role {role}")
        self.call("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/{role_ref['id']}")
