"""Request validation the way Nova's API layer does it: JSON Schema bodies
and query strings, with Nova's wording of the 400 messages
("Invalid input for field/attribute name. Value: ... . ...").

The parameter fragments (`NAME`, `METADATA`, `TAG`, ...) mirror the kinds of
values Nova accepts; resource modules compose their schemas from them.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import uuid
from typing import Any

import jsonschema

from simcloud.nova.errors import bad_request
from simcloud.nova.timefmt import parse_iso


class InvalidName(Exception):
    pass


_checker = jsonschema.FormatChecker(formats=())


@_checker.checks("name", raises=InvalidName)
def _is_name(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if value.strip() != value or not value.isprintable():
        raise InvalidName(
            "An invalid 'name' value was provided. The name must be: printable "
            "characters. Can not start or end with whitespace.")
    return True


@_checker.checks("uuid")
def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return uuid.UUID(value).hex == value.replace("-", "").lower().strip("{}")
    except ValueError:
        return False


@_checker.checks("ipv4")
def _is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv4Address(value)
        return True
    except ValueError:
        return False


@_checker.checks("ipv6")
def _is_ipv6(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv6Address(value)
        return True
    except ValueError:
        return False


@_checker.checks("base64")
def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


@_checker.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_iso(value) is not None


NAME = {"type": "string", "format": "name", "minLength": 1, "maxLength": 255}
DESCRIPTION = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
BOOLEAN = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]}
POSITIVE_INTEGER = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
                    "minLength": 1}
NON_NEGATIVE_INTEGER = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0,
                        "minLength": 1}
UUID = {"type": "string", "format": "uuid"}
METADATA = {"type": "object",
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                               "maxLength": 255}},
            "additionalProperties": False}
TAG = {"type": "string", "pattern": "^[^,/]*$", "minLength": 1, "maxLength": 60}
IP_ADDRESS = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
DISK_CONFIG = {"type": "string", "enum": ["AUTO", "MANUAL"]}
HOSTNAME = {"type": "string", "pattern": "^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$",
            "minLength": 2, "maxLength": 63}
FQDN = {"type": "string", "pattern": "^[a-zA-Z0-9-._]*$", "minLength": 1, "maxLength": 255}

_TRUE = {"true", "1", "on", "yes", "y", "t"}
_FALSE = {"false", "0", "off", "no", "n", "f"}


def to_bool(value: Any, *, strict: bool = False, default: bool = False) -> bool:
    """oslo's bool_from_string."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not strict:
        return default
    raise bad_request(
        f"Unrecognized value '{value}', acceptable values are: '0', '1', 'f', 'false', "
        "'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")


def _number_in_string(keyword: str):
    """Nova's validator applies `minimum`/`maximum` to numbers written as
    strings too ("-2" is less than the minimum of -1); other strings pass."""
    check = jsonschema.Draft202012Validator.VALIDATORS[keyword]

    def validate(validator, bound, instance, schema):
        if isinstance(instance, str):
            try:
                instance = int(instance)
            except ValueError:
                try:
                    instance = float(instance)
                except ValueError:
                    return
        yield from check(validator, bound, instance, schema) or ()
    return validate


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {
    "minimum": _number_in_string("minimum"), "maximum": _number_in_string("maximum")})


class BodySchema:
    """A request body schema, compiled once; `validate` raises Nova's 400."""

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self._validator = _Validator(schema, format_checker=_checker)

    def validate(self, body: Any) -> None:
        error = next(self._validator.iter_errors(body), None)     # Nova reports the first
        if error is None:
            return
        if isinstance(error.cause, InvalidName):
            raise bad_request(str(error.cause))
        if error.path:
            raise bad_request(
                f"Invalid input for field/attribute {error.path[-1]}. "
                f"Value: {_py(error.instance)}. {error.message}")
        raise bad_request(error.message)


class QuerySchema:
    """Query parameters, each a list of strings as Nova validates them;
    `strict` (2.75 on) refuses parameters it does not know."""

    def __init__(self, properties: dict[str, dict], *, strict: bool,
                 patterns: dict[str, dict] | None = None, single: bool = False) -> None:
        """`patterns`: patternProperties (Nova lets `^_` names through the
        schema of server lists to refuse them later); `single`: each
        parameter given at most once."""
        most = {"maxItems": 1} if single else {}
        schema: dict = {"type": "object",
                        "properties": {k: {"type": "array", "items": v, **most}
                                       for k, v in properties.items()},
                        "additionalProperties": not strict}
        if patterns:
            schema["patternProperties"] = {k: {"type": "array", "items": v}
                                           for k, v in patterns.items()}
        self._validator = _Validator(schema, format_checker=_checker)

    def validate(self, query: Any) -> None:
        """`query`: a multidict (aiohttp's request.query)."""
        values = {key: query.getall(key) for key in query.keys()}
        error = next(self._validator.iter_errors(values), None)
        if error is None:
            return
        if error.path:
            raise bad_request(
                f"Invalid input for query parameters {error.path[0]}. "
                f"Value: {_py(error.instance)}. {error.message}")
        raise bad_request(error.message)


_NO_QUERY = QuerySchema({}, strict=True)
SHOW_QUERY_STRICT = (2, 102)    # from 2.102 Nova refuses unknown parameters on every GET


def no_query(version: tuple[int, int], query: Any,
             since: tuple[int, int] = SHOW_QUERY_STRICT) -> None:
    """A GET that takes no query parameters: any is a 400 from `since` on
    (before, Nova's schema strips them)."""
    if version >= since and query:
        _NO_QUERY.validate(query)


def normal_ip(value: str | None) -> str | None:
    """An address as Nova stores it (its IPAddress column): the canonical form."""
    return str(ipaddress.ip_address(value)) if value else value


def _py(value: Any) -> str:
    """Values printed as Python would (Nova's messages show Python reprs)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    return repr(value)


def parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Malformed request body") from None


def regex(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error:
        raise bad_request(f"Invalid regular expression: {value}") from None
