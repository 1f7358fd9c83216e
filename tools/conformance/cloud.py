"""Small admin client for the set-ups: a Keystone session, the catalog, the
compute versions document, images and flavors by name."""
from __future__ import annotations

import hashlib

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3


class Admin:
    def __init__(self, auth_url: str, region: str, user: str = "admin", password: str = "password",
                 project: str = "admin"):
        self.auth_url, self.region = auth_url, region
        auth = v3.Password(auth_url=auth_url, username=user, password=password, project_name=project,
                           user_domain_name="Default", project_domain_name="Default")
        self.session = ks_session.Session(auth=auth)

    def endpoint(self, service_type: str, region: str | None = None) -> str:
        url = self.session.get_endpoint(service_type=service_type, interface="public",
                                        region_name=region or self.region)
        if not url:
            raise RuntimeError(f"no {service_type} endpoint in region {region or self.region}")
        return url.rstrip("/")

    def call(self, method: str, url: str, **kw):
        response = self.session.request(url, method, raise_exc=False, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else {}

    def drop_region(self, region: str) -> None:
        """Delete REGION and its endpoints from Keystone."""
        keystone = self.auth_url.rstrip("/")
        for endpoint in self.call("GET", f"{keystone}/endpoints", params={"region_id": region})["endpoints"]:
            self.session.delete(f"{keystone}/endpoints/{endpoint['id']}", raise_exc=False)
        self.session.delete(f"{keystone}/regions/{region}", raise_exc=False)

    # ------------------------------------------------------------- compute
    def compute_versions(self, region: str | None = None) -> dict:
        """{'min': '2.1', 'max': '2.96'} from the compute endpoint's own
        versions document (no token needed, as in Nova)."""
        response = self.session.get(self.endpoint("compute", region), authenticated=False, raise_exc=False)
        version = response.json()["version"]
        return {"min": version.get("min_version") or "2.1", "max": version.get("version") or "2.1"}

    def flavor_by_name(self, name: str, region: str | None = None) -> dict | None:
        url = self.endpoint("compute", region) + "/flavors/detail"
        flavors = self.call("GET", url, params={"is_public": "None"})["flavors"]
        found = [f for f in flavors if f["name"] == name]
        return found[0] if found else None

    def ensure_flavor(self, name: str, ram: int, vcpus: int, disk: int, region: str | None = None) -> str:
        flavor = self.flavor_by_name(name, region)
        if flavor is None:
            body = {"flavor": {"name": name, "ram": ram, "vcpus": vcpus, "disk": disk,
                               "os-flavor-access:is_public": True}}
            flavor = self.call("POST", self.endpoint("compute", region) + "/flavors", json=body)["flavor"]
        return flavor["id"]

    def sweep_orphans(self, since: str, region: str | None = None) -> list[str]:
        """Delete Tempest's servers (named tempest-*) made since SINCE (ISO
        time) whose project no longer exists: a test that failed between the
        create and its clean-up registration leaves them behind once its
        dynamic project is gone. Returns their names."""
        url = self.endpoint("compute", region) + "/servers/detail"
        servers = [s for s in self.call("GET", url, params={"all_tenants": "1", "name": "^tempest-"})["servers"]
                   if s["created"] >= since]
        keystone = self.auth_url.rstrip("/")
        gone = []
        for server in servers:
            project = self.session.get(f"{keystone}/projects/{server['tenant_id']}", raise_exc=False)
            if project.status_code == 404:
                self.session.delete(self.endpoint("compute", region) + f"/servers/{server['id']}", raise_exc=False)
                gone.append(server["name"])
        return gone

    # ------------------------------------------------------------- images
    def images_by_name(self, name: str, region: str | None = None) -> list[dict]:
        url = self.endpoint("image", region) + "/v2/images"
        return self.call("GET", url, params={"name": name})["images"]

    def ensure_image(self, name: str, data: bytes, region: str | None = None) -> str:
        """A public raw image NAME holding DATA, uploaded if no active one
        with the same checksum exists yet."""
        checksum = hashlib.md5(data).hexdigest()
        for image in self.images_by_name(name, region):
            if image["status"] == "active" and image.get("checksum") == checksum:
                return image["id"]
        base = self.endpoint("image", region) + "/v2/images"
        image = self.call("POST", base, json={"name": name, "disk_format": "raw", "container_format": "bare",
                                              "visibility": "public"})
        self.call("PUT", f"{base}/{image['id']}/file", data=data,
                  headers={"Content-Type": "application/octet-stream"})
        return image["id"]
