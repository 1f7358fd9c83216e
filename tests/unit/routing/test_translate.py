import copy

import pytest
from multidict import MultiDict, MultiDictProxy

from cascade.errors import NotFound, SiteUnavailable
from cascade.resources.kinds import FLAVOR, IMAGE, SERVER, STAMP_KEY, VOLUME
from cascade.routing.translate import Translator
from cascade.sites.model import Site
from tests.leakcheck import assert_no_leak, leaks

BASE = "http://cascade.test:8780/compute/v2.1"
BOOKMARK = "http://cascade.test:8780/compute"
SITE_COMPUTE = "http://site-a.internal:8774/v2.1"
SITE_IMAGE = "http://site-a.internal:9292"

SITE = Site(
    id="5ite-a",
    name="site-a",
    availability_zone="az-a",
    region_name="RegionOne",
    auth_url="http://keystone.test/v3",
    endpoints={"compute": SITE_COMPUTE, "image": SITE_IMAGE},
)
OTHER_SITE = Site(
    id="5ite-b", name="site-b", availability_zone="az-b", region_name="RegionOne",
    auth_url="http://keystone.test/v3", endpoints={"compute": "http://site-b.internal:8774/v2.1"},
)


class Routes:
    """In-memory stand-in for RouteTable: the two lookups translation uses."""

    def __init__(self):
        self.copies = {}          # (kind, site_id, top) -> bottom
        self.calls = []           # (method, kind, site_id, ids)

    def add(self, kind, top, bottom, site=SITE):
        self.copies[(kind, site.id, top)] = bottom

    async def top_ids(self, kind, site_id, bottom_ids):
        self.calls.append(("top_ids", kind, site_id, list(bottom_ids)))
        reverse = {(k, s, b): t for (k, s, t), b in self.copies.items()}
        return {b: reverse[(kind, site_id, b)] for b in bottom_ids if (kind, site_id, b) in reverse}

    async def bottom_ids(self, kind, site_id, top_ids):
        self.calls.append(("bottom_ids", kind, site_id, list(top_ids)))
        return {t: self.copies[(kind, site_id, t)] for t in top_ids if (kind, site_id, t) in self.copies}

    def kinds_asked(self, method="top_ids"):
        return sorted(kind for m, kind, _, _ in self.calls if m == method)


class Resolver:
    def __init__(self, answers=None, error=None):
        self.answers = answers or {}
        self.error = error
        self.calls = []

    async def __call__(self, kind, site, bottom_ids):
        self.calls.append((kind, site.id, list(bottom_ids)))
        if self.error:
            raise self.error
        return {b: self.answers[b] for b in bottom_ids if b in self.answers}


def nova_server(bottom, *, image="b-img-1", flavor="b-flv-1", volumes=("b-vol-1",), microversion="2.1",
                metadata=None, az="nova-zone-7"):
    """A server as a site's Nova shows it (GET /servers/{id}), at a few microversions."""
    body = {
        "OS-DCF:diskConfig": "AUTO",
        "OS-EXT-AZ:availability_zone": az,
        "OS-EXT-STS:power_state": 1,
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": "active",
        "OS-SRV-USG:launched_at": "2024-05-01T10:00:05.000000",
        "OS-SRV-USG:terminated_at": None,
        "accessIPv4": "",
        "accessIPv6": "",
        "addresses": {"private": [{"OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:4c:2c:30", "OS-EXT-IPS:type": "fixed",
                                   "addr": "192.168.1.30", "version": 4}]},
        "config_drive": "",
        "created": "2024-05-01T10:00:00Z",
        "hostId": "2091634baaccdc4c5a1d57069c833e402921df696b7f970791b12ec6",
        "id": bottom,
        "key_name": None,
        "links": [
            {"href": f"{SITE_COMPUTE}/servers/{bottom}", "rel": "self"},
            {"href": f"{SITE_COMPUTE.rsplit('/', 1)[0]}/servers/{bottom}", "rel": "bookmark"},
        ],
        "metadata": dict(metadata or {}),
        "name": "web-" + bottom.rsplit("-", 1)[-1],
        "os-extended-volumes:volumes_attached": [{"id": v} for v in volumes],
        "progress": 0,
        "security_groups": [{"name": "default"}],
        "status": "ACTIVE",
        "tenant_id": "6f70656e737461636b20342065766572",
        "updated": "2024-05-01T10:00:06Z",
        "user_id": "fake",
    }
    site_root = SITE_COMPUTE.rsplit("/", 1)[0]
    if image:
        body["image"] = {"id": image, "links": [{"href": f"{site_root}/images/{image}", "rel": "bookmark"}]}
    else:
        body["image"] = ""
    if microversion >= "2.47":
        body["flavor"] = {"disk": 1, "ephemeral": 0, "extra_specs": {"hw:cpu_policy": "shared"},
                          "original_name": "m1.tiny", "ram": 512, "swap": 0, "vcpus": 1}
    else:
        body["flavor"] = {"id": flavor, "links": [{"href": f"{site_root}/flavors/{flavor}", "rel": "bookmark"}]}
    if microversion >= "2.3":
        body["os-extended-volumes:volumes_attached"] = [{"id": v, "delete_on_termination": False} for v in volumes]
    if microversion >= "2.96":
        body["pinned_availability_zone"] = None
    return body


def routes_for(*pairs):
    routes = Routes()
    for kind, top, bottom in pairs:
        routes.add(kind, top, bottom)
    return routes


def standard_routes():
    return routes_for(
        ("server", "t-srv-1", "b-srv-1"),
        ("server", "t-srv-2", "b-srv-2"),
        ("image", "t-img-1", "b-img-1"),
        ("flavor", "t-flv-1", "b-flv-1"),
        ("volume", "t-vol-1", "b-vol-1"),
        ("volume", "t-vol-2", "b-vol-2"),
    )


BOTTOMS = ["b-srv-1", "b-srv-2", "b-srv-3", "b-img-1", "b-img-2", "b-img-3", "b-flv-1", "b-vol-1", "b-vol-2",
           SITE_COMPUTE, "site-a.internal", "nova-zone-7", STAMP_KEY]


async def test_server_show_at_2_1_is_fully_translated():
    routes = standard_routes()
    original = nova_server("b-srv-1", metadata={STAMP_KEY: "t-srv-1", "role": "web"})
    kept = copy.deepcopy(original)

    shown = await Translator(routes).to_top(SERVER, SITE, original, base_url=BASE)

    assert shown["id"] == "t-srv-1"
    assert shown["links"] == [
        {"href": f"{BASE}/servers/t-srv-1", "rel": "self"},
        {"href": f"{BOOKMARK}/servers/t-srv-1", "rel": "bookmark"},
    ]
    assert shown["image"] == {"id": "t-img-1", "links": [{"href": f"{BOOKMARK}/images/t-img-1", "rel": "bookmark"}]}
    assert shown["flavor"] == {"id": "t-flv-1", "links": [{"href": f"{BOOKMARK}/flavors/t-flv-1", "rel": "bookmark"}]}
    assert shown["os-extended-volumes:volumes_attached"] == [{"id": "t-vol-1"}]
    assert shown["OS-EXT-AZ:availability_zone"] == "az-a"
    assert shown["metadata"] == {"role": "web"}
    # untouched fields stay as the site said
    assert shown["addresses"] == original["addresses"] and shown["created"] == original["created"]
    assert_no_leak(shown, BOTTOMS)
    assert original == kept, "the caller's object must not be modified"


async def test_embedded_flavor_of_2_47_is_left_alone_and_not_looked_up():
    routes = standard_routes()
    body = nova_server("b-srv-1", microversion="2.47", volumes=("b-vol-1", "b-vol-2"))

    shown = await Translator(routes).to_top(SERVER, SITE, body, base_url=BASE)

    assert shown["flavor"] == body["flavor"]
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": "t-vol-1", "delete_on_termination": False}, {"id": "t-vol-2", "delete_on_termination": False}]
    assert routes.kinds_asked() == ["image", "server", "volume"]
    assert_no_leak(shown, BOTTOMS)


async def test_boot_from_volume_keeps_empty_image_and_asks_no_image_route():
    routes = standard_routes()
    shown = await Translator(routes).to_top(SERVER, SITE, nova_server("b-srv-1", image=""), base_url=BASE)

    assert shown["image"] == ""
    assert "image" not in routes.kinds_asked()


async def test_pinned_zone_shows_site_zone_only_when_set():
    routes = standard_routes()
    unpinned = nova_server("b-srv-1", microversion="2.96")
    pinned = nova_server("b-srv-2", microversion="2.96")
    pinned["pinned_availability_zone"] = "nova-zone-7"

    shown = await Translator(routes).many_to_top(SERVER, SITE, [unpinned, pinned], base_url=BASE)

    assert [s["pinned_availability_zone"] for s in shown] == [None, "az-a"]
    assert [s["OS-EXT-AZ:availability_zone"] for s in shown] == ["az-a", "az-a"]


async def test_a_server_the_site_has_not_scheduled_yet_is_already_in_the_sites_zone():
    # the cascade placed it: it is in that zone however far the site got
    bottom = {**nova_server("b-srv-1", az=""), "pinned_availability_zone": None}
    shown = await Translator(standard_routes()).to_top(SERVER, SITE, bottom, base_url=BASE)
    assert shown["OS-EXT-AZ:availability_zone"] == SITE.availability_zone
    assert shown["pinned_availability_zone"] is None, "no zone was pinned in the site"


async def test_detail_list_batches_one_lookup_per_kind_and_drops_foreign_rows():
    routes = standard_routes()
    rows = [nova_server("b-srv-1"), nova_server("b-srv-3", image="b-img-2"), nova_server("b-srv-2")] * 20

    shown = await Translator(routes).many_to_top(SERVER, SITE, rows, base_url=BASE)

    assert [s["id"] for s in shown] == ["t-srv-1", "t-srv-2"] * 20
    assert routes.kinds_asked() == ["flavor", "image", "server", "volume"]
    server_call = next(c for c in routes.calls if c[1] == "server")
    assert server_call == ("top_ids", "server", SITE.id, ["b-srv-1", "b-srv-2", "b-srv-3"])
    assert_no_leak(shown, BOTTOMS)


async def test_an_owned_page_is_translated_in_place_as_a_copy_would_be():
    rows = [nova_server("b-srv-1"), nova_server("b-srv-3", image="b-img-2"), nova_server("b-srv-2")]
    copied = await Translator(standard_routes()).many_to_top(SERVER, SITE, copy.deepcopy(rows), base_url=BASE)

    owned = await Translator(standard_routes()).many_to_top(SERVER, SITE, rows, base_url=BASE, owned=True)

    assert owned == copied
    assert owned[0] is rows[0], "translated in place, not copied"
    assert_no_leak(owned, BOTTOMS)


async def test_to_top_of_a_row_without_route_is_none():
    assert await Translator(standard_routes()).to_top(SERVER, SITE, nova_server("b-srv-3"), base_url=BASE) is None


async def test_routes_are_per_site():
    routes = standard_routes()
    assert await Translator(routes).to_top(SERVER, OTHER_SITE, nova_server("b-srv-1"), base_url=BASE) is None


async def test_unrouted_reference_without_resolver_becomes_none_and_loses_links():
    routes = standard_routes()
    shown = await Translator(routes).to_top(SERVER, SITE, nova_server("b-srv-1", image="b-img-2"), base_url=BASE)

    assert shown["image"] == {"id": None, "links": []}
    assert_no_leak(shown, BOTTOMS)


async def test_resolver_is_asked_once_for_all_unrouted_references_of_kept_rows():
    routes = standard_routes()
    resolver = Resolver({"b-img-2": "t-img-2"})
    rows = [
        nova_server("b-srv-1", image="b-img-2"),
        nova_server("b-srv-2", image="b-img-3"),
        nova_server("b-srv-1", image="b-img-2"),
        nova_server("b-srv-3", image="b-img-9"),     # dropped: its unrouted image is nobody's business
    ]

    shown = await Translator(routes, resolver).many_to_top(SERVER, SITE, rows, base_url=BASE)

    assert resolver.calls == [("image", SITE.id, ["b-img-2", "b-img-3"])]
    assert [s["image"]["id"] for s in shown] == ["t-img-2", None, "t-img-2"]
    assert shown[0]["image"]["links"] == [{"href": f"{BOOKMARK}/images/t-img-2", "rel": "bookmark"}]
    assert_no_leak(shown, BOTTOMS + ["b-img-9"])


async def test_resolver_is_not_called_when_everything_has_a_route():
    resolver = Resolver()
    await Translator(standard_routes(), resolver).to_top(SERVER, SITE, nova_server("b-srv-1"), base_url=BASE)
    assert resolver.calls == []


async def test_resolver_that_cannot_reach_the_site_leaves_none():
    resolver = Resolver(error=SiteUnavailable("glance down", site="site-a"))
    shown = await Translator(standard_routes(), resolver).to_top(
        SERVER, SITE, nova_server("b-srv-1", image="b-img-2"), base_url=BASE)
    assert shown["image"]["id"] is None


async def test_resolver_bug_is_not_hidden():
    resolver = Resolver(error=KeyError("bug"))
    with pytest.raises(KeyError):
        await Translator(standard_routes(), resolver).to_top(
            SERVER, SITE, nova_server("b-srv-1", image="b-img-2"), base_url=BASE)


async def test_resolver_answers_for_ids_it_was_not_asked_are_ignored():
    routes = standard_routes()

    async def generous(kind, site, ids):
        return {"b-img-2": "t-img-2", "b-img-1": "t-wrong"}

    shown = await Translator(routes, generous).many_to_top(
        SERVER, SITE, [nova_server("b-srv-1"), nova_server("b-srv-2", image="b-img-2")], base_url=BASE)
    assert [s["image"]["id"] for s in shown] == ["t-img-1", "t-img-2"]


async def test_links_follow_the_front_base_url_shape():
    routes = standard_routes()
    translator = Translator(routes)
    for base, bookmark in [
        ("http://c.test/compute/v2.1/", "http://c.test/compute"),
        ("https://c.test:8774/v2", "https://c.test:8774"),
        ("http://c.test/compute", "http://c.test/compute"),
    ]:
        shown = await translator.to_top(SERVER, SITE, nova_server("b-srv-1"), base_url=base)
        assert [link["href"] for link in shown["links"]] == [
            f"{base.rstrip('/')}/servers/t-srv-1", f"{bookmark}/servers/t-srv-1"]


async def test_other_link_relations_take_the_bookmark_form_and_keep_their_type():
    routes = routes_for(("flavor", "t-flv-1", "b-flv-1"))
    flavor = {
        "id": "b-flv-1", "name": "m1.tiny", "ram": 512, "vcpus": 1, "disk": 1,
        "links": [
            {"href": f"{SITE_COMPUTE}/flavors/b-flv-1", "rel": "self"},
            {"href": "http://site-a.internal:8774/flavors/b-flv-1", "rel": "bookmark"},
            {"href": "http://site-a.internal:9292/images/b-flv-1", "rel": "alternate",
             "type": "application/vnd.openstack.image"},
        ],
    }
    shown = await Translator(routes).to_top(FLAVOR, SITE, flavor, base_url=BASE)

    assert shown["links"] == [
        {"href": f"{BASE}/flavors/t-flv-1", "rel": "self"},
        {"href": f"{BOOKMARK}/flavors/t-flv-1", "rel": "bookmark"},
        {"href": f"{BOOKMARK}/flavors/t-flv-1", "rel": "alternate", "type": "application/vnd.openstack.image"},
    ]
    assert_no_leak(shown, ["b-flv-1", "site-a.internal"])


async def test_volume_kind_translates_id_and_links():
    routes = routes_for(("volume", "t-vol-1", "b-vol-1"))
    volume = {"id": "b-vol-1", "name": "data", "links": [
        {"href": "http://site-a.internal:8776/v3/proj/volumes/b-vol-1", "rel": "self"},
        {"href": "http://site-a.internal:8776/proj/volumes/b-vol-1", "rel": "bookmark"}]}
    shown = await Translator(routes).to_top(VOLUME, SITE, volume, base_url="http://c.test/volume/v3/proj")
    # Cinder's base carries the project after the version: only a trailing version segment is dropped
    assert shown["links"][0]["href"] == "http://c.test/volume/v3/proj/volumes/t-vol-1"
    assert_no_leak(shown, ["b-vol-1", "site-a.internal"])


def glance_image(bottom):
    return {
        "checksum": "eb9139e4942121f22bbc2afc0400b2a4", "container_format": "bare",
        "created_at": "2024-04-01T09:00:00Z", "disk_format": "qcow2", "id": bottom, "min_disk": 0,
        "min_ram": 0, "name": "cirros", "os_hash_algo": "sha512", "os_hash_value": "6b81" * 32,
        "os_hidden": False, "owner": "6f70656e737461636b20342065766572", "protected": False, "size": 12716032,
        "status": "active", "tags": [], "updated_at": "2024-04-01T09:00:01Z", "virtual_size": 46137344,
        "visibility": "public", "schema": "/v2/schemas/image",
    }


async def test_glance_images_translate_their_id_and_foreign_images_are_dropped():
    routes = routes_for(("image", "t-img-1", "b-img-1"))
    shown = await Translator(routes).many_to_top(
        IMAGE, SITE, [glance_image("b-img-1"), glance_image("b-img-2")], base_url="http://c.test/image/v2")

    assert len(shown) == 1
    assert shown[0] == {**glance_image("b-img-1"), "id": "t-img-1"}
    assert_no_leak(shown, ["b-img-1", "b-img-2"])


async def test_many_to_top_of_nothing_asks_nothing():
    routes = standard_routes()
    assert await Translator(routes).many_to_top(SERVER, SITE, [], base_url=BASE) == []
    assert routes.calls == []


# -- requests: top -> bottom ----------------------------------------------------


async def test_to_bottom_maps_declared_references():
    routes = standard_routes()
    body = {"id": "t-srv-1", "image": {"id": "t-img-1"}, "flavor": {"id": "t-flv-1"}, "name": "x",
            "os-extended-volumes:volumes_attached": [{"id": "t-vol-2"}]}

    bottom = await Translator(routes).to_bottom(SERVER, SITE, body)

    assert bottom == {"id": "b-srv-1", "image": {"id": "b-img-1"}, "flavor": {"id": "b-flv-1"}, "name": "x",
                      "os-extended-volumes:volumes_attached": [{"id": "b-vol-2"}]}
    assert body["image"]["id"] == "t-img-1"
    assert routes.kinds_asked("bottom_ids") == ["flavor", "image", "server", "volume"]


async def test_to_bottom_refuses_a_reference_with_no_copy_in_the_site():
    with pytest.raises(NotFound) as raised:
        await Translator(standard_routes()).to_bottom(SERVER, SITE, {"image": {"id": "t-img-404"}})
    assert (raised.value.kind, raised.value.resource_id) == ("image", "t-img-404")
    assert "t-img-404" in raised.value.message


async def test_to_bottom_leaves_bodies_without_ids_alone():
    body = {"name": "renamed", "image": ""}
    assert await Translator(standard_routes()).to_bottom(SERVER, SITE, body) == body


async def test_filters_to_bottom_maps_id_filters_and_keeps_the_rest():
    routes = standard_routes()
    params = MultiDictProxy(MultiDict([("name", "web"), ("image", "t-img-1"), ("flavor", "t-flv-1"),
                                       ("sort_key", "created"), ("sort_key", "id")]))

    site_params = await Translator(routes).filters_to_bottom(SERVER, SITE, params)

    assert list(site_params.items()) == [("name", "web"), ("image", "b-img-1"), ("flavor", "b-flv-1"),
                                         ("sort_key", "created"), ("sort_key", "id")]
    assert routes.kinds_asked("bottom_ids") == ["flavor", "image"]


async def test_filter_with_no_copy_in_the_site_skips_the_site():
    routes = standard_routes()
    translator = Translator(routes)
    assert await translator.filters_to_bottom(SERVER, SITE, MultiDict(image="t-img-404")) is None
    assert await translator.filters_to_bottom(SERVER, OTHER_SITE, MultiDict(image="t-img-1")) is None


async def test_repeated_filter_keeps_the_values_the_site_has():
    routes = routes_for(("image", "t-img-1", "b-img-1"))
    params = MultiDict([("image", "t-img-404"), ("image", "t-img-1")])
    assert list((await Translator(routes).filters_to_bottom(SERVER, SITE, params)).items()) == [("image", "b-img-1")]
    assert len(routes.calls) == 1


async def test_filters_without_ids_ask_nothing():
    routes = standard_routes()
    params = MultiDict(name="web", status="ACTIVE")
    assert await Translator(routes).filters_to_bottom(SERVER, SITE, params) == params
    assert routes.calls == []


# -- error text -----------------------------------------------------------------


def test_scrub_replaces_every_occurrence_longest_first():
    translator = Translator(Routes())
    text = (f"Instance b-srv-1 could not be found at {SITE_COMPUTE}/servers/b-srv-1; "
            f"also b-srv-10 and http://site-a.internal:8774")
    scrubbed = translator.scrub(text, {"b-srv-1": "t-srv-1", "b-srv-10": "t-srv-10", SITE_COMPUTE: BASE,
                                       "http://site-a.internal:8774": "http://cascade.test:8780", "": "x"})
    assert scrubbed == (f"Instance t-srv-1 could not be found at {BASE}/servers/t-srv-1; "
                        f"also t-srv-10 and http://cascade.test:8780")
    assert translator.scrub("nothing to see", {}) == "nothing to see"


# -- the leak checker itself ----------------------------------------------------


def test_leak_checker_finds_nested_values_and_keys():
    body = {"servers": [{"id": "ok", "meta": {"b-srv-1": 1}}, {"image": {"href": f"{SITE_COMPUTE}/x"}}]}
    found = list(leaks(body, ["b-srv-1", "site-a.internal", ""]))
    assert found == [("$.servers[0].meta.b-srv-1 (key)", "b-srv-1"),
                     ("$.servers[1].image.href", "site-a.internal")]
    with pytest.raises(AssertionError, match="site-a.internal"):
        assert_no_leak(body, ["site-a.internal"])
    assert_no_leak(body, ["t-srv-9"])


def test_leak_checker_sees_a_glance_self_link():
    # Glance's `self`/`file` carry the image id inside a string; the IMAGE
    # declaration does not (yet) say so, and the checker must notice.
    body = {**glance_image("t-img-1"), "self": "/v2/images/b-img-1", "file": "/v2/images/b-img-1/file"}
    assert [path for path, _ in leaks(body, ["b-img-1"])] == ["$.self", "$.file"]
