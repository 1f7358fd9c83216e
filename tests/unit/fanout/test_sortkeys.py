import pytest

from cascade.fanout.sortkeys import SortSpec, after_marker


def ordered(rows, spec):
    return sorted(rows, key=spec.key)


def test_ascending_puts_none_first_and_descending_last():
    rows = [{"v": 2}, {"v": None}, {"v": 1}, {}]
    assert [r.get("v") for r in ordered(rows, SortSpec((("v", "asc"),)))] == [None, None, 1, 2]
    assert [r.get("v") for r in ordered(rows, SortSpec((("v", "desc"),)))] == [2, 1, None, None]


def test_descending_strings_without_negation():
    rows = [{"name": n} for n in ["b", "abc", "ab", "c", ""]]
    assert [r["name"] for r in ordered(rows, SortSpec((("name", "desc"),)))] == ["c", "b", "abc", "ab", ""]


def test_timestamps_of_one_format_compare_as_time():
    rows = [{"created": "2024-05-01T10:00:00Z"}, {"created": "2023-12-31T23:59:59Z"},
            {"created": "2024-05-01T09:59:59Z"}]
    assert [r["created"] for r in ordered(rows, SortSpec((("created", "desc"),)))] == [
        "2024-05-01T10:00:00Z", "2024-05-01T09:59:59Z", "2023-12-31T23:59:59Z"]


def test_mixed_types_never_raise_and_rank_by_type():
    rows = [{"v": "x"}, {"v": 3}, {"v": None}, {"v": True}, {"v": {"a": 1}}, {"v": 2.5}, {"v": [1]}]
    values = [r["v"] for r in ordered(rows, SortSpec((("v", "asc"),)))]
    assert values[:5] == [None, True, 2.5, 3, "x"]
    assert sorted(map(str, values[5:])) == ["[1]", "{'a': 1}"]


def test_several_keys_mix_directions():
    rows = [{"s": "ACTIVE", "n": "b"}, {"s": "ERROR", "n": "a"}, {"s": "ACTIVE", "n": "c"}, {"s": "ERROR", "n": "z"}]
    spec = SortSpec((("s", "asc"), ("n", "desc")))
    assert [(r["s"], r["n"]) for r in ordered(rows, spec)] == [
        ("ACTIVE", "c"), ("ACTIVE", "b"), ("ERROR", "z"), ("ERROR", "a")]


def test_keys_of_equal_rows_are_equal_in_both_directions():
    for direction in ("asc", "desc"):
        spec = SortSpec((("a", direction), ("b", direction)))
        assert spec.key({"a": 1, "b": None}) == spec.key({"a": 1})
        assert not spec.key({"a": 1}) < spec.key({"a": 1, "b": None})


def test_spec_refuses_unknown_direction():
    with pytest.raises(ValueError):
        SortSpec((("created", "up"),))


def test_of_pads_directions_like_nova():
    assert SortSpec.of(["created", "id"], ["asc"]).keys == (("created", "asc"), ("id", "desc"))
    assert SortSpec.of(["name"], default="asc").keys == (("name", "asc"),)
    with pytest.raises(ValueError):
        SortSpec.of(["name"], ["asc", "desc"])


def test_values_gives_the_sort_fields_of_a_row():
    spec = SortSpec.of(["created", "name"])
    assert spec.values({"created": "t", "id": "x"}) == {"created": "t", "name": None}
    assert spec.fields == ("created", "name")


def test_after_marker_respects_stream_order_on_ties():
    spec = SortSpec((("v", "asc"),))
    is_after = after_marker(spec, {"v": 5}, marker_stream=1)
    # a stream before the marker's: ties came before the marker
    assert [is_after({"v": v}, 0) for v in (4, 5, 6)] == [False, False, True]
    # a stream after the marker's: ties come after it
    assert [is_after({"v": v}, 2) for v in (4, 5, 6)] == [False, True, True]
    # the marker's own stream is positioned by the site's own marker
    assert is_after({"v": 0}, 1)


def test_after_marker_in_descending_order():
    spec = SortSpec((("created", "desc"),))
    is_after = after_marker(spec, {"created": "2024-02-01"}, marker_stream=0)
    assert is_after({"created": "2024-01-01"}, 1)
    assert is_after({"created": "2024-02-01"}, 1)
    assert not is_after({"created": "2024-03-01"}, 1)
    assert is_after({"created": None}, 1)          # None comes last in descending order
