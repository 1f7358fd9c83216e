"""cascade.jsoncodec: orjson with the standard library behind it."""
from __future__ import annotations

import json

import pytest

from cascade import jsoncodec


def test_reads_what_the_standard_library_reads():
    text = '{"a": [1, 2.5, null, true], "b": "\\u00e9t\\u00e9", "c": {"d": -3}}'
    assert jsoncodec.loads(text) == jsoncodec.loads(text.encode()) == json.loads(text)


def test_not_json_is_a_value_error():
    with pytest.raises(ValueError):
        jsoncodec.loads(b"<html>")


def test_writes_utf8_json_the_standard_library_reads_back():
    value = {"servers": [{"id": "x", "name": "été", "n": 1, "f": 0.5, "none": None}], 3: "int key"}
    assert json.loads(jsoncodec.dumps(value)) == json.loads(json.dumps(value))


def test_integers_beyond_64_bits_fall_back_to_the_standard_library():
    assert json.loads(jsoncodec.dumps({"big": 2 ** 70})) == {"big": 2 ** 70}
