"""`POST /servers`: the body checks Nova makes (JSON Schema per microversion,
then the semantic checks: image, flavor, keypair, availability zone, server
group, quota) and the creation of the servers, placed on the site's host
when they fit (in room and by their group's policy), or bound for ERROR with
"No valid host was found" when they do not. As Nova's scheduler does, a
request whose servers cannot all be placed places none of them."""
from __future__ import annotations

import copy
import functools
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from simcloud.glance.store import Image, ImageStore
from simcloud.nova import image_props, lifecycle, quotas
from simcloud.nova import validation as V
from simcloud.nova.context import ComputeContext
from simcloud.nova.errors import bad_request, policy_forbidden
from simcloud.nova.flavor_access import usable_flavor
from simcloud.nova.model import AUTO_NICS, Flavor, Server
from simcloud.nova.security_groups import check_requested
from simcloud.nova.server_groups import fits_policy, group_of_hint
from simcloud.nova.store import ComputeStore

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."

_BDM = {"type": "object", "properties": {
    "virtual_name": {"type": "string", "maxLength": 255},
    "volume_id": V.UUID, "snapshot_id": V.UUID,
    "volume_size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
    "device_name": {"type": "string", "minLength": 1, "maxLength": 255,
                    "pattern": "^[a-zA-Z0-9._/-]*$"},
    "delete_on_termination": V.BOOLEAN, "no_device": {},
    "connection_info": {"type": "string"}}, "additionalProperties": False}
_BDM_V2 = copy.deepcopy(_BDM)
_BDM_V2["properties"].update({
    "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
    "uuid": {"type": "string", "minLength": 1, "maxLength": 255,
             "pattern": "^[a-zA-Z0-9._-]*$"},
    "image_id": V.UUID,
    "destination_type": {"type": "string", "enum": ["local", "volume"]},
    "guest_format": {"type": "string", "maxLength": 255},
    "device_type": {"type": "string", "maxLength": 255},
    "disk_bus": {"type": "string", "maxLength": 255},
    "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
    "tag": V.TAG, "volume_type": {"type": ["string", "null"], "maxLength": 255},
})


_SERVER_IDS = {"oneOf": [V.UUID, {"type": "array", "items": V.UUID}]}
# the hints Nova knows; others pass unchecked
_HINTS = {"type": "object", "properties": {
    "group": {"oneOf": [{"type": "array", "items": V.UUID}, V.UUID]},
    "different_host": _SERVER_IDS,
    "same_host": {"type": ["string", "array"], "items": V.UUID},
    "query": {"type": ["string", "object"]},
    "target_cell": V.NAME,
    "different_cell": {"type": ["string", "array"], "items": {"type": "string"}},
    "build_near_host_ip": V.IP_ADDRESS,
    "cidr": {"type": "string", "pattern": "^/[0-9a-f.:]+$"}},
    "additionalProperties": True}


@functools.lru_cache(maxsize=None)
def create_schema(version: tuple[int, int]) -> V.BodySchema:
    """Built once per microversion."""
    network_item: dict = {"type": "object", "properties": {
        "fixed_ip": V.IP_ADDRESS, "port": {"type": ["string", "null"], "format": "uuid"},
        "uuid": {"type": "string"}}, "additionalProperties": False}
    if (2, 32) <= version < (2, 37) or version >= (2, 42):
        network_item["properties"]["tag"] = V.TAG
    networks: dict = {"type": "array", "items": network_item}
    if version >= (2, 37):
        network_item["properties"]["uuid"] = V.UUID
        networks = {"oneOf": [networks, {"type": "string", "enum": ["none", "auto"]}]}
    props: dict[str, Any] = {
        "name": V.NAME,
        "imageRef": {"oneOf": [V.UUID, {"type": "string", "maxLength": 0}]},
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "adminPass": {"type": "string"}, "metadata": V.METADATA, "networks": networks,
        "OS-DCF:diskConfig": V.DISK_CONFIG,
        "accessIPv4": {"type": "string", "format": "ipv4"},
        "accessIPv6": {"type": "string", "format": "ipv6"},
        "availability_zone": V.NAME,
        "block_device_mapping": {"type": "array", "items": _BDM},
        "block_device_mapping_v2": {"type": "array", "items": _BDM_V2},
        "config_drive": V.BOOLEAN, "key_name": V.NAME,
        "min_count": V.POSITIVE_INTEGER, "max_count": V.POSITIVE_INTEGER,
        "return_reservation_id": V.BOOLEAN,
        "security_groups": {"type": "array", "items": {
            "type": "object", "properties": {"name": V.NAME}, "additionalProperties": False}},
        "user_data": {"type": "string", "format": "base64", "maxLength": 65535},
    }
    if version < (2, 57):
        props["personality"] = {"type": "array", "items": {
            "type": "object", "properties": {"path": {"type": "string"},
                                             "contents": {"type": "string", "format": "base64"}},
            "additionalProperties": False}}
    if version >= (2, 19):
        props["description"] = V.DESCRIPTION
    if version >= (2, 52):
        props["tags"] = {"type": "array", "items": V.TAG, "maxItems": 50}
    if version >= (2, 63):
        props["trusted_image_certificates"] = {
            "type": ["array", "null"], "minItems": 1, "maxItems": 50, "uniqueItems": True,
            "items": {"type": "string", "minLength": 1}}
    if version >= (2, 74):
        props["host"] = V.FQDN
        props["hypervisor_hostname"] = V.FQDN
    if version >= (2, 90):
        props["hostname"] = V.FQDN if version >= (2, 94) else V.HOSTNAME
    required = ["name", "flavorRef"] + (["networks"] if version >= (2, 37) else [])
    return V.BodySchema({
        "type": "object",
        "properties": {"server": {"type": "object", "properties": props,
                                  "required": required, "additionalProperties": False},
                       "os:scheduler_hints": _HINTS, "OS-SCH-HNT:scheduler_hints": _HINTS},
        "required": ["server"], "additionalProperties": False})


def image_props_of(image: Image | None) -> dict[str, str] | None:
    return image_props.shown(image.properties) if image is not None else None


def scheduler_hints(body: dict) -> dict[str, list[str]] | None:
    """As Nova's request spec keeps them: every value a list of strings."""
    given = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    return {key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for key, value in given.items()} or None


def id_from_href(ref: Any) -> str:
    return urlsplit(str(ref)).path.split("/")[-1]


def generate_password() -> str:
    return secrets.token_urlsafe(9)


def check_image_fits(image: Image | None, flavor: Flavor) -> None:
    """The flavor must hold the image (Nova's FlavorMemoryTooSmall and friends)."""
    if image is None:
        return
    if image.min_ram and flavor.ram < image.min_ram:
        raise bad_request("Flavor's memory is too small for requested image.")
    if flavor.disk and image.size and image.size > flavor.disk * 1024 ** 3:
        raise bad_request(
            "Flavor's disk is too small for requested image. Flavor disk is "
            f"{flavor.disk * 1024 ** 3} bytes, image is {image.size} bytes.")
    if flavor.disk and image.min_disk > flavor.disk:
        raise bad_request(
            "Flavor's disk is smaller than the minimum size specified in image "
            f"metadata. Flavor disk is {flavor.disk * 1024 ** 3} bytes, minimum size "
            f"is {image.min_disk * 1024 ** 3} bytes.")


class ServerCreator:
    def __init__(self, store: ComputeStore, images: ImageStore, timing: lifecycle.Timing) -> None:
        self.store = store
        self.images = images
        self.timing = timing

    def create(self, ctx: ComputeContext, body: Any) -> tuple[list[Server], str, str]:
        """Returns (servers, reservation id, admin password)."""
        create_schema(ctx.version).validate(body)
        spec: dict = body["server"]
        name = spec["name"].strip()
        description = spec.get("description") if ctx.version >= (2, 19) else name
        min_count = int(spec.get("min_count", 1))
        max_count = int(spec.get("max_count", min_count))
        if min_count > max_count:
            raise bad_request("min_count must be <= max_count")
        hostname = spec.get("hostname") if ctx.version >= (2, 90) else None
        if hostname and max_count > 1:
            raise bad_request("Unable to determine a unique hostname for multiple "
                              "instances; use the hostname field only when creating one.")
        requested_az = self._availability_zone(ctx, spec)
        image_id = self._image(ctx, spec)
        nics = self._networks(spec)
        flavor = self._flavor(ctx, spec)
        security_group_names = [sg["name"] for sg in spec.get("security_groups", [])
                                if sg.get("name")]
        check_requested(security_group_names)
        if image_id:
            check_image_fits(self.images.get(image_id), flavor)
        key_name = spec.get("key_name")
        if key_name is not None and key_name not in self.store.user_keypairs(ctx.user_id):
            raise bad_request("Invalid key_name provided.")
        metadata = spec.get("metadata") or {}
        book = self.store.quota_book
        quotas.check_metadata(book, ctx.project_id, ctx.user_id, len(metadata))
        group = group_of_hint(self.store, ctx, body)
        count = quotas.servers_allowed(book, self.store, ctx.project_id, ctx.user_id, flavor,
                                       min_count, max_count)
        if group is not None:
            quotas.check_group_members(book, self.store, group, ctx.project_id, ctx.user_id,
                                       count)
        password = spec.get("adminPass") or generate_password()
        reservation_id = "r-" + secrets.token_hex(4)
        security_groups = tuple(sorted(set(security_group_names))) or None
        volumes = tuple(b["uuid"] for b in spec.get("block_device_mapping_v2", [])
                        if b.get("source_type") == "volume" and b.get("uuid")) or None
        image = self.images.get(image_id) if image_id else None
        image_props = image_props_of(image)
        hints = scheduler_hints(body)
        group_fits = group is None or fits_policy(self.store, group, count)
        token = ctx.token
        creator = self.store.creator(token.user_name, token.project_name or "",
                                     ",".join(token.roles))
        servers = []
        for index in range(count):
            now = self.store.creation_time()
            seq = self.store.next_seq()
            placed = group_fits and self.store.fits(flavor)
            server = Server(
                seq=seq, id=str(uuid.uuid4()),
                name=f"{name}-{index + 1}" if count > 1 else name,
                project_id=ctx.project_id, user_id=ctx.user_id, image_id=image_id,
                flavor=flavor, created_at=now, updated_at=now,
                create_request_id=ctx.request_id, reservation_id=reservation_id,
                launch_index=index, hostname=hostname, description=description,
                key_name=key_name, user_data=spec.get("user_data"),
                access_ipv4=V.normal_ip(spec.get("accessIPv4")),
                access_ipv6=V.normal_ip(spec.get("accessIPv6")),
                config_drive=V.to_bool(spec.get("config_drive", False)),
                auto_disk_config=spec.get("OS-DCF:diskConfig") == "AUTO",
                metadata=dict(metadata) or None,
                tags=sorted(set(spec["tags"])) if spec.get("tags") else None,
                security_groups=security_groups, volumes=volumes,
                pinned_az=requested_az, availability_zone=requested_az,
                image_props=image_props, scheduler_hints=hints,
                group_id=group.id if group is not None else None, creator=creator)
            if placed:
                self.store.occupy(server)
                server.nics = nics
            else:
                server.fault = (500, NO_VALID_HOST, now + self.timing.build * 0.2)
            lifecycle.build(server, now, self.timing, placed=placed)
            self.store.add_server(server)
            if group is not None:
                group.members.append(server.id)
            servers.append(server)
        return servers, reservation_id, password

    def _availability_zone(self, ctx: ComputeContext, spec: dict) -> str | None:
        requested = spec.get("availability_zone")
        if not requested:
            return None
        zone, host, node = requested, None, None
        if ":" in requested:
            parts = requested.split(":")
            if len(parts) > 3:
                raise bad_request("Unable to parse availability_zone")
            zone, host = parts[0], parts[1] or None
            node = parts[2] if len(parts) == 3 and parts[2] else None
            if (host or node) and not ctx.is_admin:
                raise policy_forbidden("os_compute_api:servers:create:forced_host")
            if host and host != self.store.host:
                raise bad_request(f"Compute host {host} could not be found.")
        if zone and zone != self.store.availability_zone:
            raise bad_request("The requested availability zone is not available")
        return zone or None

    def _image(self, ctx: ComputeContext, spec: dict) -> str:
        legacy = spec.get("block_device_mapping")
        bdms = spec.get("block_device_mapping_v2")
        if legacy and bdms:
            raise bad_request("Using different block_device_mapping syntaxes is not "
                              "allowed in the same request.")
        image_ref = spec.get("imageRef")
        if not image_ref:
            boot_image = next((b.get("uuid") for b in bdms or ()
                               if b.get("source_type") == "image"
                               and str(b.get("boot_index", "")) == "0"), None)
            if boot_image:
                image_ref = boot_image
            elif legacy or bdms:
                return ""
            else:
                raise bad_request("Missing imageRef attribute")
        image = self.images.get(image_ref)
        if image is None or not self.images.visible(image, ctx.project_id, ctx.is_admin):
            raise bad_request("Can not find requested image")
        if image.status != "active":
            raise bad_request(f"Image {image.id} is not active.")
        return image.id

    def _flavor(self, ctx: ComputeContext, spec: dict) -> Flavor:
        flavor_id = id_from_href(spec["flavorRef"])
        flavor = usable_flavor(self.store, ctx, flavor_id)
        if flavor is None:
            raise bad_request(f"Flavor {flavor_id} could not be found.")
        if flavor.disabled:
            raise bad_request("Flavor is disabled.")
        return flavor

    def _networks(self, spec: dict) -> tuple[str | None, ...] | None:
        """Checks the networks request; returns the NICs to give each server."""
        requested = spec.get("networks")
        if requested == "none":
            return None
        if requested in (None, "auto") or requested == []:
            return AUTO_NICS
        ports: list[str] = []
        nics: list[str | None] = []
        for nic in requested:
            port, fixed_ip = nic.get("port"), nic.get("fixed_ip")
            if port:
                if port in ports:
                    raise bad_request(f"Port ID '{port}' was specified twice: you cannot "
                                      "attach a port multiple times.")
                if fixed_ip is not None:
                    raise bad_request(f"Specified Fixed IP '{fixed_ip}' cannot be used with "
                                      f"port '{port}': the two cannot be specified together.")
                ports.append(port)
            elif "uuid" not in nic:
                raise bad_request("Bad network format: missing 'uuid'")
            elif not V.is_uuid(nic["uuid"]):
                raise bad_request("Bad networks format: network uuid is not in proper "
                                  f"format ({nic['uuid']})")
            nics.append(fixed_ip)
        if any(nics) and int(spec.get("max_count", 1)) > 1:
            raise bad_request("max_count cannot be greater than 1 if an fixed_ip is specified.")
        return tuple(nics)
