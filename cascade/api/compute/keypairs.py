"""Key pairs: top-owned per user. Served from the cascade's table; a site
gets a copy (made with the user's own token) when a server there needs it,
and loses it when the key pair is deleted (`consistency.copies`, retried
while a site is down)."""
from __future__ import annotations

import base64
import datetime
import hashlib
import re
import uuid

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cascade import errors
from cascade.api.compute import quota_checks
from cascade.api.compute.common import body_of, context, reply, require_admin, runtime_of
from cascade.consistency import copies
from cascade.persistence.keypairs import Keypair
from cascade.sites.versions import at_least

_NAME = re.compile(r"^[a-zA-Z0-9 _.@-]{1,255}$")


def fingerprint(public_key: str, key_type: str) -> str:
    """Nova's fingerprints: MD5 of the key blob for ssh, SHA-1 of the
    certificate for x509, as colon-separated hex."""
    try:
        if key_type == "x509":
            cert = x509.load_pem_x509_certificate(public_key.encode())
            digest = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        else:
            serialization.load_ssh_public_key(public_key.strip().encode())
            blob = base64.b64decode(public_key.strip().split()[1])
            digest = hashlib.md5(blob).hexdigest()
    except (ValueError, IndexError, TypeError):
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def generate(key_type: str = "ssh", user_id: str = "") -> tuple[str, str]:
    """(public key, private key) of a new pair, as Nova makes them: for ssh
    an OpenSSH public key and a PEM private key; for x509 a self-signed
    client certificate (PEM) for CN=user_id and its key as base64 PKCS#12
    without a password."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "x509":
        return _x509_certificate(key, user_id)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode() + " Generated-by-Cascade"
    return public, private


def _x509_certificate(key: rsa.RSAPrivateKey, user_id: str) -> tuple[str, str]:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id or "cascade")])
    now = datetime.datetime.now(datetime.timezone.utc)
    upn = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                         _der_utf8(f"{user_id}@localhost"))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([upn]), critical=False)
            .sign(key, hashes.SHA256()))
    certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pkcs12.serialize_key_and_certificates(None, key, cert, None, serialization.NoEncryption())
    return certificate, base64.b64encode(bundle).decode("ascii")


def _der_utf8(text: str) -> bytes:
    """A DER UTF8String (the value of a UPN other-name)."""
    data = text.encode()
    return bytes([0x0C, len(data)]) + data if len(data) < 128 else bytes([0x0C, 0x81, len(data)]) + data


def view(ctx, keypair: Keypair, *, full: bool) -> dict:
    body = {"name": keypair.name, "public_key": keypair.public_key, "fingerprint": keypair.fingerprint}
    if at_least(ctx.microversion, "2.2"):
        body["type"] = keypair.type
    if full:
        body.update({"user_id": keypair.user_id, "created_at": keypair.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                     "deleted": False, "deleted_at": None, "updated_at": None, "id": uuid.UUID(keypair.id).int % 10**9})
    return body


def _user(ctx, request: web.Request) -> str:
    wanted = request.query.get("user_id")
    if wanted and wanted != ctx.user_id and at_least(ctx.microversion, "2.10"):
        require_admin(ctx, "os_compute_api:os-keypairs:index")
        return wanted
    return ctx.user_id


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    q = request.query
    limit = marker = None
    if at_least(ctx.microversion, "2.35"):
        marker = q.get("marker")
        if "limit" in q:
            try:
                limit = int(q["limit"])
            except ValueError:
                raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {q['limit']}.") from None
    keypairs = await rt.keypairs.list_for_user(_user(ctx, request), limit=limit, marker=marker)
    body: dict = {"keypairs": [{"keypair": view(ctx, k, full=False)} for k in keypairs]}
    if limit and len(keypairs) == limit:
        from cascade.api.compute.server_views import next_link
        body["keypairs_links"] = [next_link(ctx, "os-keypairs", q, keypairs[-1].name)]
    return reply(body)


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    keypair = await rt.keypairs.get(_user(ctx, request), request.match_info["name"])
    return reply({"keypair": view(ctx, keypair, full=True)})


async def create(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    body = await body_of(request, "keypair")
    spec = body["keypair"]
    if not isinstance(spec, dict):
        raise errors.BadRequest("Invalid input for field/attribute keypair.")
    allowed = {"name", "public_key"} | ({"type"} if at_least(ctx.microversion, "2.2") else set()) \
        | ({"user_id"} if at_least(ctx.microversion, "2.10") else set())
    unexpected = set(spec) - allowed
    if unexpected:
        raise errors.BadRequest(f"Additional properties are not allowed ({', '.join(repr(u) for u in sorted(unexpected))} "
                                f"{'was' if len(unexpected) == 1 else 'were'} unexpected)")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or name != name.strip():
        raise errors.BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
    key_type = spec.get("type", "ssh")
    if key_type not in ("ssh", "x509"):
        raise errors.BadRequest(f"Invalid input for field/attribute type. Value: {key_type}. "
                                f"'{key_type}' is not one of ['ssh', 'x509']")
    user_id = ctx.user_id
    if spec.get("user_id") and spec["user_id"] != ctx.user_id:
        require_admin(ctx, "os_compute_api:os-keypairs:create")
        user_id = spec["user_id"]
    await quota_checks.check_keypairs(request, user_id)
    private_key = None
    public_key = spec.get("public_key")
    if public_key is None:
        if at_least(ctx.microversion, "2.92"):
            raise errors.BadRequest("Invalid input for field/attribute keypair. 'public_key' is a required property")
        public_key, private_key = generate(key_type, user_id)
    keypair = await rt.keypairs.add(user_id=user_id, name=name, public_key=public_key,
                                    fingerprint=fingerprint(public_key, key_type), type=key_type)
    answer = view(ctx, keypair, full=False)
    answer["user_id"] = keypair.user_id
    if private_key is not None:
        answer["private_key"] = private_key
    return reply({"keypair": answer}, status=201 if at_least(ctx.microversion, "2.2") else 200)


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    user_id = _user(ctx, request)
    keypair = await rt.keypairs.get(user_id, request.match_info["name"])
    await rt.keypairs.delete(user_id, keypair.name)
    await copies.carry(rt, copies.KEYPAIR, keypair.id, [r.site_id for r in await rt.routes.routes_of("keypair", keypair.id)],
                       user_id=keypair.user_id, name=keypair.name)
    return reply(status=204 if at_least(ctx.microversion, "2.2") else 202)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/os-keypairs", index)
    router.add_post(f"{prefix}/os-keypairs", create)
    router.add_get(f"{prefix}/os-keypairs/{{name}}", show)
    router.add_delete(f"{prefix}/os-keypairs/{{name}}", delete)
