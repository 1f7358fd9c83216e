"""Key material for keypairs: fingerprints of imported keys (MD5 of an SSH
key blob, SHA-1 of an X.509 certificate, as Nova computes them) and the key
pairs Nova generates when no public key is given (before 2.92)."""
from __future__ import annotations

import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from simcloud.nova.errors import bad_request


def _colons(hex_digest: str) -> str:
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2))


def ssh_fingerprint(public_key: str) -> str:
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.strip().split()[1])
    except Exception:
        raise bad_request("Keypair data is invalid: failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def x509_fingerprint(certificate: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except Exception as exc:
        raise bad_request("Keypair data is invalid: failed to generate X509 fingerprint. "
                          f"Error message: {exc}") from None
    return _colons(cert.fingerprint(hashes.SHA1()).hex())


def fingerprint(public_key: str, key_type: str) -> str:
    return x509_fingerprint(public_key) if key_type == "x509" else ssh_fingerprint(public_key)


def generate(key_type: str, user_id: str) -> tuple[str, str]:
    """(private key PEM, public key) of a new pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    if key_type == "x509":
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                .sign(key, hashes.SHA256()))
        return private, cert.public_bytes(serialization.Encoding.PEM).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, f"{public} Generated-by-Nova\n"
