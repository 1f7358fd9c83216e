"""Details of creates and small endpoints as Nova serves them, through the
cascade: min_count alone, access IPs in Nova's canonical form, FQDN
hostnames from 2.94, a server's addresses, the legacy v2.0 version
document, Nova's extension list, and x509 key pairs."""
from __future__ import annotations

import base64
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.functional.helpers import boot, bottom_copy, flavor_id, image_id, wait_for


def post_server(demo, conn, microversion="2.37", **fields):
    body = {"server": {"name": f"sd-{uuid.uuid4().hex[:8]}", "imageRef": image_id(conn, demo.image),
                       "flavorRef": flavor_id(conn, demo.tiny), "networks": "none", **fields}}
    return conn.compute.post("/servers", json=body, microversion=microversion)


def test_min_count_alone_makes_that_many(demo, cloud, sites):
    """Nova takes max_count = min_count when only min_count is given; the
    answer has the keys of the site's own answer to a multiple create."""
    name = f"sd-multi-{uuid.uuid4().hex[:8]}"
    response = post_server(demo, cloud, name=name, min_count=2)
    assert response.status_code == 202, response.text
    site = sites[demo.zones[0]]
    straight_name = f"sd-straight-{uuid.uuid4().hex[:8]}"
    straight = post_server(demo, site, name=straight_name, min_count=2)
    assert straight.status_code == 202, straight.text
    for server in wait_for(lambda: len(s := list(site.compute.servers(name=f"^{straight_name}"))) == 2 and s):
        site.compute.delete_server(server)
    assert sorted(response.json()["server"]) == sorted(straight.json()["server"])
    assert response.json()["server"]["adminPass"]
    made = wait_for(lambda: len(s := [s for s in cloud.compute.servers(name=f"^{name}")]) == 2 and s)
    for server in made:
        demo.made(cloud, server.id)
    # servers of a multiple create carry no top-id stamp yet: found by name
    in_sites = {zone: len(list(conn.compute.servers(name=f"^{name}"))) for zone, conn in sites.items()}
    assert sorted(in_sites.values())[-1] == 2 and sum(in_sites.values()) == 2, in_sites
    for server in made:
        cloud.compute.delete_server(server)


def test_access_ips_are_kept_in_novas_form(demo, cloud, sites):
    response = post_server(demo, cloud, accessIPv4="1.2.3.4",
                           accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2")
    assert response.status_code == 202, response.text
    server_id = response.json()["server"]["id"]
    demo.made(cloud, server_id)
    server = cloud.compute.get(f"/servers/{server_id}").json()["server"]
    assert (server["accessIPv4"], server["accessIPv6"]) == ("1.2.3.4", "::babe:dc0c:1602")
    _, bottom = bottom_copy(sites, server_id)
    assert bottom.access_ipv6 == "::babe:dc0c:1602"
    updated = cloud.compute.put(f"/servers/{server_id}", json={"server": {"accessIPv6": "2001:0db8:0000::0001"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["server"]["accessIPv6"] == "2001:db8::1"
    cloud.compute.delete(f"/servers/{server_id}")


def test_hostname_is_an_fqdn_from_2_94(demo, cloud, sites):
    fqdn = "x" * 52 + "-guest-test.domaintest.com"
    refused = post_server(demo, cloud, microversion="2.90", hostname=fqdn)
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"].startswith(f"Invalid input for field/attribute hostname. Value: {fqdn}.")
    response = post_server(demo, cloud, microversion="2.94", hostname=fqdn)
    assert response.status_code == 202, response.text
    server_id = response.json()["server"]["id"]
    demo.made(cloud, server_id)
    shown = cloud.compute.get(f"/servers/{server_id}", microversion="2.94").json()["server"]
    assert shown["OS-EXT-SRV-ATTR:hostname"] == fqdn
    zone, bottom = bottom_copy(sites, server_id)
    at_site = sites[zone].compute.get(f"/servers/{bottom.id}", microversion="2.94").json()["server"]
    assert at_site["OS-EXT-SRV-ATTR:hostname"] == fqdn
    cloud.compute.delete(f"/servers/{server_id}")


def test_an_image_needing_a_bigger_flavor_is_refused_as_the_site_refuses(demo, cloud, sites):
    """Nova checks an image's min_ram and min_disk against the flavor (what
    Tempest's test_boot_with_low_ram wants, after uploading such an image):
    the site's check, relayed."""
    tiny = cloud.compute.find_flavor(demo.tiny, ignore_missing=False)
    image = next((i for i in cloud.image.images() if i.status == "active" and
                  ((i.min_ram or 0) > tiny.ram or (i.min_disk or 0) > tiny.disk)), None)
    if image is None:
        pytest.skip(f"no image needs more than flavor {demo.tiny}")
    top = post_server(demo, cloud, imageRef=image.id)
    zone = demo.zones[0]
    site_image = next(i.id for i in sites[zone].image.images() if i.name == image.name)
    straight = post_server(demo, sites[zone], imageRef=site_image)
    assert top.status_code == straight.status_code == 400, (top.text, straight.text)
    assert top.json() == straight.json()


@pytest.mark.parametrize("query", ["changes-since=2011/01/01", "changes-before=yesterday"])
def test_a_list_filter_every_site_refuses_is_their_400(cloud, sites, query):
    """The sites' 400 for a malformed filter is the answer, not an empty list."""
    top = cloud.compute.get(f"/servers?{query}", microversion="2.66")
    straight = next(iter(sites.values())).compute.get(f"/servers?{query}", microversion="2.66")
    assert top.status_code == straight.status_code == 400, (top.text, straight.text)
    assert top.json() == straight.json()


@pytest.fixture(scope="module")
def server(demo, cloud):
    server = boot(demo, cloud, zone=demo.zones[0])
    yield server
    cloud.compute.delete_server(server)


def test_addresses_are_the_sites(cloud, sites, server):
    zone, bottom = bottom_copy(sites, server.id)
    top = cloud.compute.get(f"/servers/{server.id}/ips")
    at_site = sites[zone].compute.get(f"/servers/{bottom.id}/ips")
    assert top.status_code == at_site.status_code == 200, top.text
    assert top.json() == at_site.json()
    for network in top.json()["addresses"]:
        by_network = cloud.compute.get(f"/servers/{server.id}/ips/{network}")
        assert by_network.json() == {network: top.json()["addresses"][network]}
    missing = cloud.compute.get(f"/servers/{server.id}/ips/no-such-network")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Instance is not a member of specified network"
    unknown = str(uuid.uuid4())
    response = cloud.compute.get(f"/servers/{unknown}/ips")
    assert response.json() == {"itemNotFound": {"code": 404, "message": f"Instance {unknown} could not be found."}}


def test_addresses_of_another_tenants_server_are_not_found(alt, server):
    assert alt.compute.get(f"/servers/{server.id}/ips").status_code == 404


def test_legacy_v2_document(demo, cloud):
    listed = cloud.compute.get(f"{demo.url}/compute/").json()["versions"]
    v2 = next(v for v in listed if v["id"] == "v2.0")
    self_link = next(link["href"] for link in v2["links"] if link["rel"] == "self")
    assert self_link == f"{demo.url}/compute/v2/"
    response = cloud.compute.get(self_link)
    assert response.status_code == 200, response.text
    doc = response.json()["version"]
    assert (doc["id"], doc["status"], doc["version"], doc["min_version"]) == ("v2.0", "DEPRECATED", "", "")
    assert [link for link in doc["links"] if link["rel"] == "self"] == [{"rel": "self", "href": self_link}]
    assert doc["media-types"] == [{"base": "application/json",
                                   "type": "application/vnd.openstack.compute+json;version=2"}]


def test_extensions_are_novas(demo, cloud, sites):
    site = sites[demo.zones[0]]
    at_site = site.compute.get("/extensions")
    if at_site.status_code == 404:
        pytest.skip(f"the site of zone {demo.zones[0]} does not serve /extensions")
    top = cloud.compute.get("/extensions")
    assert top.status_code == 200, top.text
    assert top.json() == at_site.json()
    alias = top.json()["extensions"][0]["alias"]
    shown = cloud.compute.get(f"/extensions/{alias}")
    assert shown.json() == {"extension": top.json()["extensions"][0]}
    assert cloud.compute.get("/extensions/no-such-extension").status_code == 404


def test_x509_key_pairs_are_generated(cloud):
    name = f"sd-x509-{uuid.uuid4().hex[:8]}"
    response = cloud.compute.post("/os-keypairs", json={"keypair": {"name": name, "type": "x509"}},
                                  microversion="2.2")
    assert response.status_code == 201, response.text
    keypair = response.json()["keypair"]
    try:
        cert = x509.load_pem_x509_certificate(keypair["public_key"].encode())
        digest = cert.fingerprint(hashes.SHA1()).hex()
        assert keypair["fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
        key, bundled, _ = pkcs12.load_key_and_certificates(base64.b64decode(keypair["private_key"]), None)
        assert bundled == cert and key.public_key().public_numbers() == cert.public_key().public_numbers()
        shown = cloud.compute.get(f"/os-keypairs/{name}", microversion="2.2").json()["keypair"]
        assert (shown["type"], shown["public_key"], shown["fingerprint"]) == ("x509", keypair["public_key"],
                                                                             keypair["fingerprint"])
    finally:
        cloud.compute.delete(f"/os-keypairs/{name}", microversion="2.2")
