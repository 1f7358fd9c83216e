"""Flavors (with extra specs) and keypairs on the simulated Nova."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def test_preloaded_flavors_have_site_specific_ids():
    one, two = await start_site(name="site1"), await start_site(name="site2")
    try:
        ids_one = {f["name"]: f["id"] for f in (await one.compute("GET", "/flavors")).body["flavors"]}
        ids_two = {f["name"]: f["id"] for f in (await two.compute("GET", "/flavors")).body["flavors"]}
        assert set(ids_one) == {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"}
        assert not set(ids_one.values()) & set(ids_two.values())
    finally:
        await one.close()
        await two.close()


async def test_flavor_views_per_microversion(site):
    tiny = site.flavor_id("m1.tiny")
    v21 = (await site.compute("GET", f"/flavors/{tiny}")).body["flavor"]
    assert (v21["vcpus"], v21["ram"], v21["disk"], v21["swap"]) == (1, 512, 1, "")
    assert "description" not in v21 and "extra_specs" not in v21
    v275 = (await site.compute("GET", f"/flavors/{tiny}", version="2.75")).body["flavor"]
    assert v275["swap"] == 0 and v275["extra_specs"] == {} and v275["description"] is None
    missing = await site.compute("GET", "/flavors/none")
    assert missing.body == {"itemNotFound": {"code": 404,
                                             "message": "Flavor none could not be found."}}


async def test_flavor_filters_sort_and_pages(site):
    async def names(**params):
        reply = await site.compute("GET", "/flavors/detail", params=params)
        assert reply.status == 200, reply.body
        return [f["name"] for f in reply.body["flavors"]]
    assert await names(minRam="4096", sort_key="memory_mb") == ["m1.medium", "m1.large",
                                                               "m1.xlarge"]
    assert await names(minDisk="80", sort_key="name", sort_dir="desc") == ["m1.xlarge",
                                                                          "m1.large"]
    page = (await site.compute("GET", "/flavors", params={"sort_key": "vcpus", "limit": "2"})
            ).body
    assert [f["name"] for f in page["flavors"]] in (["m1.tiny", "m1.small"],
                                                    ["m1.small", "m1.tiny"])
    assert "marker=" in page["flavors_links"][0]["href"]
    rest = await names(sort_key="vcpus", marker=page["flavors"][-1]["id"])
    assert len(rest) == 3 and "m1.xlarge" == rest[-1]
    bad = await site.compute("GET", "/flavors", params={"marker": "x"})
    assert bad.body["badRequest"]["message"] == "marker [x] not found"
    assert (await site.compute("GET", "/flavors", params={"minRam": "lots"})).status == 400


async def test_flavor_management_is_admin_only_and_unique(site):
    body = {"flavor": {"name": "c1.custom", "ram": 1024, "vcpus": 2, "disk": 10, "id": "c1"}}
    denied = await site.compute("POST", "/flavors", json=body)
    assert denied.status == 403
    made = await site.compute("POST", "/flavors", json=body, as_="admin", version="2.55")
    assert made.status == 200 and made.body["flavor"]["id"] == "c1"
    again = await site.compute("POST", "/flavors", json=body, as_="admin")
    assert again.status == 409     # the id is checked first, as Nova's unique keys are
    assert again.body["conflictingRequest"]["message"] == "Flavor with ID c1 already exists."
    same_name = await site.compute("POST", "/flavors", as_="admin", json={"flavor": {
        **body["flavor"], "id": "c2"}})
    assert same_name.body["conflictingRequest"]["message"] == (
        "Flavor with name c1.custom already exists.")
    same_id = await site.compute("POST", "/flavors", as_="admin", json={"flavor": {
        "name": "other", "ram": 1, "vcpus": 1, "disk": 0, "id": "c1"}})
    assert same_id.body["conflictingRequest"]["message"] == "Flavor with ID c1 already exists."
    generated = await site.compute("POST", "/flavors", as_="admin", json={"flavor": {
        "name": "gen", "ram": 1, "vcpus": 1, "disk": 0}})
    assert len(generated.body["flavor"]["id"]) == 36
    described = await site.compute("PUT", "/flavors/c1", as_="admin", version="2.55",
                                   json={"flavor": {"description": "custom"}})
    assert described.body["flavor"]["description"] == "custom"
    assert (await site.compute("DELETE", "/flavors/c1", as_="admin")).status == 202
    assert (await site.compute("GET", "/flavors/c1")).status == 404


async def test_private_flavors_are_hidden_from_tenants(site):
    await site.compute("POST", "/flavors", as_="admin", json={"flavor": {
        "name": "secret", "ram": 1, "vcpus": 1, "disk": 0, "id": "s1",
        "os-flavor-access:is_public": False}})
    assert (await site.compute("GET", "/flavors/s1")).status == 404
    names = [f["name"] for f in (await site.compute(
        "GET", "/flavors", as_="admin", params={"is_public": "none"})).body["flavors"]]
    assert "secret" in names
    bad = await site.compute("GET", "/flavors", as_="admin", params={"is_public": "maybe"})
    assert bad.body["badRequest"]["message"] == "Invalid is_public filter [maybe]"


async def test_extra_specs(site):
    tiny = site.flavor_id("m1.tiny")
    base = f"/flavors/{tiny}/os-extra_specs"
    assert (await site.compute("POST", base, json={"extra_specs": {"hw:cpu": "2"}})).status == 403
    made = await site.compute("POST", base, as_="admin",
                              json={"extra_specs": {"hw:cpu_policy": "dedicated", "n": 1}})
    assert made.body == {"extra_specs": {"hw:cpu_policy": "dedicated", "n": "1"}}
    assert (await site.compute("GET", f"{base}/n")).body == {"n": "1"}
    mismatch = await site.compute("PUT", f"{base}/n", as_="admin", json={"m": "2"})
    assert mismatch.body["badRequest"]["message"] == "Request body and URI mismatch"
    assert (await site.compute("PUT", f"{base}/n", as_="admin", json={"n": "2"})).body == {"n": "2"}
    assert (await site.compute("DELETE", f"{base}/n", as_="admin")).status == 200
    missing = await site.compute("GET", f"{base}/n")
    assert missing.body["itemNotFound"]["message"] == (
        f"Flavor {tiny} has no extra specs with key n.")
    shown = (await site.compute("GET", f"/flavors/{tiny}", version="2.61")).body["flavor"]
    assert shown["extra_specs"] == {"hw:cpu_policy": "dedicated"}


def _ed25519_public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " me@host"


async def test_keypair_import_list_show_delete(site):
    public = _ed25519_public_key()
    made = await site.compute("POST", "/os-keypairs", version="2.2",
                              json={"keypair": {"name": "mine", "public_key": public}})
    assert made.status == 201
    key = made.body["keypair"]
    assert key["type"] == "ssh" and "private_key" not in key
    assert len(key["fingerprint"].split(":")) == 16
    assert (await site.compute("POST", "/os-keypairs", version="2.2", json={"keypair": {
        "name": "mine", "public_key": public}})).body["conflictingRequest"]["message"] == (
        "Key pair 'mine' already exists.")
    listed = (await site.compute("GET", "/os-keypairs", version="2.2")).body["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["mine"]
    shown = (await site.compute("GET", "/os-keypairs/mine", version="2.2")).body["keypair"]
    assert shown["user_id"] == "u-alice" and shown["fingerprint"] == key["fingerprint"]
    assert (await site.compute("GET", "/os-keypairs", as_="bob")).body["keypairs"] == []
    other = await site.compute("GET", "/os-keypairs/mine", as_="bob")
    assert other.body["itemNotFound"]["message"] == "Keypair mine not found for user u-bob"
    booted = await site.boot("with-key", key_name="mine")
    assert (await site.compute("GET", f"/servers/{booted}")).body["server"]["key_name"] == "mine"
    assert (await site.compute("DELETE", "/os-keypairs/mine", version="2.2")).status == 204
    assert (await site.compute("GET", "/os-keypairs/mine")).status == 404


async def test_keypair_generation_before_2_92_only(site):
    generated = await site.compute("POST", "/os-keypairs", version="2.91",
                                   json={"keypair": {"name": "gen"}})
    assert generated.status == 201
    assert generated.body["keypair"]["private_key"].startswith("-----BEGIN RSA PRIVATE KEY")
    assert generated.body["keypair"]["public_key"].startswith("ssh-rsa ")
    refused = await site.compute("POST", "/os-keypairs", version="2.92",
                                 json={"keypair": {"name": "gen2"}})
    assert refused.status == 400
    invalid = await site.compute("POST", "/os-keypairs", version="2.92", json={"keypair": {
        "name": "bad", "public_key": "ssh-rsa not-a-key"}})
    assert invalid.body["badRequest"]["message"] == (
        "Keypair data is invalid: failed to generate fingerprint")
    odd_name = await site.compute("POST", "/os-keypairs", version="2.91", json={"keypair": {
        "name": "a@b", "public_key": _ed25519_public_key()}})
    assert odd_name.status == 400
    allowed = await site.compute("POST", "/os-keypairs", version="2.92", json={"keypair": {
        "name": "a@b", "public_key": _ed25519_public_key()}})
    assert allowed.status == 201


async def test_admin_manages_another_users_keypairs_from_2_10(site):
    public = _ed25519_public_key()
    made = await site.compute("POST", "/os-keypairs", version="2.10", as_="admin", json={
        "keypair": {"name": "for-alice", "public_key": public, "user_id": "u-alice"}})
    assert made.body["keypair"]["user_id"] == "u-alice"
    assert (await site.compute("GET", "/os-keypairs/for-alice")).status == 200
    denied = await site.compute("GET", "/os-keypairs", version="2.10", as_="carol",
                                params={"user_id": "u-alice"})
    assert denied.status == 403


async def test_keypair_paging_from_2_35(site):
    for name in ("k1", "k2", "k3"):
        await site.compute("POST", "/os-keypairs", version="2.35", json={"keypair": {
            "name": name, "public_key": _ed25519_public_key()}})
    page = (await site.compute("GET", "/os-keypairs", version="2.35",
                               params={"limit": "2"})).body
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["k1", "k2"]
    assert "keypairs_links" in page
    rest = (await site.compute("GET", "/os-keypairs", version="2.35",
                               params={"marker": "k2"})).body
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == ["k3"]
