"""JSON schemas of compute request bodies, per microversion, and Nova's way
of reporting a body that does not match ("Invalid input for field/attribute
...")."""
from __future__ import annotations

import functools
import ipaddress
import unicodedata
import uuid
from typing import Any

import jsonschema

from cascade import errors
from cascade.sites.versions import APIVersion

_name = {"type": "string", "minLength": 1, "maxLength": 255, "format": "name"}
_metadata = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
_count = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1, "minLength": 1}
_hostname = {"type": "string", "pattern": "^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$", "minLength": 2, "maxLength": 63}
_fqdn = {"type": "string", "pattern": "^[a-zA-Z0-9-._]*$", "minLength": 1, "maxLength": 255}
_network = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
        "fixed_ip": {"type": "string"}, "tag": {"type": "string"},
    },
    "additionalProperties": False,
}
_bdm = {
    "type": "object",
    "properties": {
        "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
        "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "uuid": {"type": "string"}, "boot_index": {"type": ["integer", "string", "null"]},
        "volume_size": {"type": ["integer", "string"]}, "delete_on_termination": {"type": ["boolean", "string"]},
        "device_name": {"type": "string"}, "guest_format": {"type": "string"}, "disk_bus": {"type": "string"},
        "device_type": {"type": "string"}, "tag": {"type": "string"}, "volume_type": {"type": ["string", "null"]},
        "no_device": {}, "snapshot_id": {"type": "string"}, "volume_id": {"type": "string"},
    },
    "additionalProperties": False,
}

# field -> (first microversion that accepts it, last microversion that accepts it)
_SERVER_FIELDS: dict[str, tuple[dict, str, str | None]] = {
    "name": (_name, "2.1", None),
    "imageRef": ({"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]}, "2.1", None),
    "flavorRef": ({"type": ["string", "integer"], "minLength": 1}, "2.1", None),
    "adminPass": ({"type": "string"}, "2.1", None),
    "metadata": (_metadata, "2.1", None),
    "networks": ({"oneOf": [{"type": "array", "items": _network},
                            {"type": "string", "enum": ["none", "auto"]}]}, "2.1", None),
    "OS-DCF:diskConfig": ({"type": "string", "enum": ["AUTO", "MANUAL"]}, "2.1", None),
    "accessIPv4": ({"type": "string", "format": "ipv4"}, "2.1", None),
    "accessIPv6": ({"type": "string", "format": "ipv6"}, "2.1", None),
    "personality": ({"type": "array"}, "2.1", "2.56"),
    "availability_zone": ({"type": "string", "minLength": 1, "maxLength": 255}, "2.1", None),
    "block_device_mapping_v2": ({"type": "array", "items": _bdm}, "2.1", None),
    "key_name": ({"type": "string", "minLength": 1, "maxLength": 255}, "2.1", None),
    "user_data": ({"type": "string"}, "2.1", None),
    "config_drive": ({"type": ["boolean", "string"]}, "2.1", None),
    "min_count": (_count, "2.1", None),
    "max_count": (_count, "2.1", None),
    "return_reservation_id": ({"type": ["boolean", "string"]}, "2.1", None),
    "security_groups": ({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}},
                                                     "additionalProperties": False}}, "2.1", None),
    "description": ({"type": ["string", "null"], "maxLength": 255}, "2.19", None),
    "tags": ({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60,
                                         "pattern": "^[^,/]*$"}, "maxItems": 50}, "2.52", None),
    "trusted_image_certificates": ({"type": ["array", "null"]}, "2.63", None),
    "host": (_fqdn, "2.74", None),
    "hypervisor_hostname": (_fqdn, "2.74", None),
    "hostname": (_hostname, "2.90", None),
}


def hostname_schema(version: APIVersion) -> dict:
    """A server's hostname: one DNS label from 2.90, an FQDN from 2.94."""
    return _fqdn if version >= APIVersion("2.94") else _hostname


def _allowed(first: str, last: str | None, version: APIVersion) -> bool:
    return APIVersion(first) <= version and (last is None or version <= APIVersion(last))


@functools.lru_cache(maxsize=64)
def server_create_schema(version: str) -> dict:
    v = APIVersion(version)
    properties = {name: spec for name, (spec, first, last) in _SERVER_FIELDS.items() if _allowed(first, last, v)}
    if "hostname" in properties:
        properties["hostname"] = hostname_schema(v)
    required = ["name", "flavorRef"]
    if v >= APIVersion("2.37"):
        required.append("networks")
    return {
        "type": "object",
        "properties": {
            "server": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False},
            "os:scheduler_hints": {"type": "object"},
            "OS-SCH-HNT:scheduler_hints": {"type": "object"},
        },
        "required": ["server"],
        "additionalProperties": False,
    }


def server_update_schema(version: str) -> dict:
    v = APIVersion(version)
    fields = {"name": _name, "accessIPv4": _SERVER_FIELDS["accessIPv4"][0],
              "accessIPv6": _SERVER_FIELDS["accessIPv6"][0], "OS-DCF:diskConfig": _SERVER_FIELDS["OS-DCF:diskConfig"][0]}
    if v >= APIVersion("2.19"):
        fields["description"] = _SERVER_FIELDS["description"][0]
    if v >= APIVersion("2.90"):
        fields["hostname"] = hostname_schema(v)
    if v >= APIVersion("2.104"):
        fields["pinned_availability_zone"] = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 255},
                                                        {"type": "null"}]}
    return {"type": "object", "properties": {"server": {"type": "object", "properties": fields,
                                                        "additionalProperties": False}},
            "required": ["server"], "additionalProperties": False}


def canonical_access_ips(fields: dict) -> dict:
    """`fields` with accessIPv4/accessIPv6 written as Nova stores them (its
    IP address fields keep the canonical form: "0:0::babe:220.12.22.2" is
    "::babe:dc0c:1602"), so every site stores and shows the same text."""
    out = dict(fields)
    for key in ("accessIPv4", "accessIPv6"):
        if isinstance(out.get(key), str) and out[key]:
            try:
                out[key] = str(ipaddress.ip_address(out[key]))
            except ValueError:
                pass  # the schema has answered for malformed ones already
    return out


METADATA_SCHEMA = {"type": "object", "properties": {"metadata": _metadata}, "required": ["metadata"],
                   "additionalProperties": False}
METADATA_ITEM_SCHEMA = {"type": "object", "properties": {"meta": {**_metadata, "minProperties": 1, "maxProperties": 1}},
                        "required": ["meta"], "additionalProperties": False}

class InvalidName(ValueError):
    """A name Nova refuses, with Nova's whole message."""


_FORMATS = jsonschema.FormatChecker(["ipv4", "ipv6"])


@_FORMATS.checks("uuid")
def _is_uuid(value: Any) -> bool:
    """Nova takes any spelling Python's UUID reads (with or without dashes,
    braces or a urn: prefix) whose hex digits it keeps."""
    if not isinstance(value, str):
        return True
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    digits = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    return parsed.hex == digits


def _printable(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] != "C" and category not in ("Zl", "Zp")


@_FORMATS.checks("name", raises=InvalidName)
def _is_name(value: Any) -> bool:
    """Printable characters (spaces too), neither first nor last a space."""
    if isinstance(value, str) and all(map(_printable, value)) and not (
            value and "Zs" in (unicodedata.category(value[0]), unicodedata.category(value[-1]))):
        return True
    raise InvalidName("An invalid 'name' value was provided. The name must be: printable characters. "
                      "Can not start or end with whitespace.")


def _as_number(instance: Any) -> Any:
    if isinstance(instance, bool) or isinstance(instance, (int, float)):
        return instance
    for kind in (int, float):
        try:
            return kind(instance)
        except (TypeError, ValueError):
            pass
    return None


def _bound(keyword: str):
    """Nova checks minimum and maximum on numbers given as text too ("0")."""
    check = jsonschema.Draft4Validator.VALIDATORS[keyword]

    def bounded(validator, limit, instance, schema):
        number = _as_number(instance)
        if number is not None and not isinstance(number, bool):
            yield from check(validator, limit, number, schema) or ()
    return bounded


_Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"minimum": _bound("minimum"), "maximum": _bound("maximum")})


def validate(body: Any, schema: dict) -> None:
    """Raise Nova's 400 for a body that does not match `schema`, worded as
    Nova words it: the innermost field's name and value, then the reason."""
    validator = _Validator(schema, format_checker=_FORMATS)
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return
    if isinstance(error.cause, InvalidName):
        raise errors.BadRequest(str(error.cause))
    if error.path:
        raise errors.BadRequest(f"Invalid input for field/attribute {error.path[-1]}. "
                                f"Value: {error.instance}. {error.message}")
    raise errors.BadRequest(error.message)


def validate_query(query: Any, properties: dict, *, strict: bool) -> None:
    """Raise Nova's 400 for query parameters that do not match `properties`
    (each parameter may be repeated); unknown parameters are refused only
    when `strict` (Nova's 2.75 and later for most lists)."""
    values: dict[str, list] = {}
    for key, value in query.items():
        values.setdefault(key, []).append(value)
    schema = {"type": "object", "properties": {k: {"type": "array", "items": v} for k, v in properties.items()},
              "additionalProperties": not strict}
    error = jsonschema.exceptions.best_match(_Validator(schema, format_checker=_FORMATS).iter_errors(values))
    if error is None:
        return
    if error.path:
        raise errors.BadRequest(f"Invalid input for query parameters {error.path[0]}. "
                                f"Value: {error.instance}. {error.message}")
    raise errors.BadRequest(error.message)
