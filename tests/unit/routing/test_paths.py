import pytest

from cascade.routing import paths


def server():
    return {
        "id": "s1",
        "image": {"id": "i1", "links": [{"rel": "bookmark", "href": "x"}]},
        "flavor": {"id": "f1"},
        "os-extended-volumes:volumes_attached": [{"id": "v1"}, {"id": "v2", "delete_on_termination": True}, {}],
        "metadata": None,
    }


def test_parse_reads_dots_and_list_marks():
    assert paths.parse("os-extended-volumes:volumes_attached[].id") == (
        paths.Segment("os-extended-volumes:volumes_attached", True),
        paths.Segment("id", False),
    )


@pytest.mark.parametrize("bad", ["", "a..b", "[]", "a.[]"])
def test_parse_refuses_malformed_paths(bad):
    with pytest.raises(ValueError):
        paths.parse(bad)


def test_values_follow_nesting_and_lists():
    body = server()
    assert paths.values(body, "id") == ["s1"]
    assert paths.values(body, "image.id") == ["i1"]
    assert paths.values(body, "os-extended-volumes:volumes_attached[].id") == ["v1", "v2"]
    assert paths.values(body, "image.links[].rel") == ["bookmark"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"image": ""},                     # Nova's boot-from-volume image
        {"image": None},
        {"image": {"links": None}},
        {"os-extended-volumes:volumes_attached": None},
        {"os-extended-volumes:volumes_attached": {"id": "not-a-list"}},
        [],
        None,
    ],
)
def test_missing_or_odd_shapes_yield_nothing(body):
    assert paths.values(body, "image.id") == []
    assert paths.values(body, "image.links[].href") == []
    assert paths.values(body, "os-extended-volumes:volumes_attached[].id") == []


def test_get_gives_first_value_or_default():
    assert paths.get(server(), "flavor.id") == "f1"
    assert paths.get(server(), "flavor.name", "none") == "none"
    assert paths.get(server(), "metadata", "x") is None    # a present None is a value


def test_update_rewrites_every_reached_value_in_place():
    body = server()
    count = paths.update(body, "os-extended-volumes:volumes_attached[].id", str.upper)
    assert count == 2
    assert body["os-extended-volumes:volumes_attached"] == [
        {"id": "V1"}, {"id": "V2", "delete_on_termination": True}, {}
    ]


def test_update_of_list_elements_replaces_each_element():
    body = {"tags": ["a", "b"]}
    assert paths.update(body, "tags[]", lambda tag: tag * 2) == 2
    assert body == {"tags": ["aa", "bb"]}


def test_assign_never_creates_keys():
    body = {"image": ""}
    assert paths.assign(body, "image.id", "x") == 0
    assert paths.assign(body, "flavor.id", "x") == 0
    assert body == {"image": ""}
    assert paths.assign(body, "image", None) == 1
    assert body == {"image": None}


def test_remove_deletes_keys_where_present():
    body = server()
    assert paths.remove(body, "os-extended-volumes:volumes_attached[].delete_on_termination") == 1
    assert paths.remove(body, "flavor.missing") == 0
    assert body["os-extended-volumes:volumes_attached"][1] == {"id": "v2"}
    with pytest.raises(ValueError):
        paths.remove(body, "os-extended-volumes:volumes_attached[]")


def test_sibling_and_parent():
    assert paths.parent("image.links") == "image"
    assert paths.parent("links") == ""
    assert paths.sibling("image.links", "id") == "image.id"
    assert paths.sibling("links", "id") == "id"
    assert paths.sibling("a[].links", "id") == "a[].id"


@pytest.mark.parametrize("path", ["id", "image.id", "server_groups[]", "os-extended-volumes:volumes_attached[].id",
                                  "scheduler_hints.group[]", "image.links[].rel"])
@pytest.mark.parametrize("body", [
    server(), {"server_groups": ["g1", "g2"], "scheduler_hints": {"group": ["g1"]}}, {"server_groups": "g1"},
    {"image": "", "os-extended-volumes:volumes_attached": [None, "v", {"id": None}]}, [], None,
])
def test_each_finder_shape_reaches_what_the_generic_walk_reaches(path, body):
    segments = paths.parse(path)
    assert list(paths.finder(segments)(body)) == paths._walk(body, segments)
