"""JSON on the wire, with orjson: parsing a site's answers and writing the
cascade's own. A 1,000-server page is about 1.3 MB of JSON each way, and the
standard library's codec was a quarter of what such a page cost the cascade
(docs/performance.md). orjson reads the same documents into the same Python
values, except integers beyond 64 bits, which it reads as floats (no
OpenStack API sends one). It writes without the blanks the standard library
puts after `:` and `,`, and writes non-ASCII text as UTF-8 rather than `\\u`
escapes: the same JSON to every client. What orjson will not write and the
standard library does (integers beyond 64 bits) falls back to the standard
library.
"""
from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """The parsed document; ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """The document as UTF-8 JSON; TypeError for what JSON cannot hold."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode()
