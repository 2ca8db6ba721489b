"""A throw-away test PKI: a CA and one server certificate for every host the fake serves.

Generated at test time (never committed), valid for days, EC P-256. Clients trust it by
loading `ca.pem` (requests `verify=`, `ssl.create_default_context(cafile=)`); Chromium can
pin the server key with `--ignore-certificate-errors-spki-list=<spki_sha256>`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The real host names the fake platform answers for (Host header routing).
HOSTS: tuple[str, ...] = (
    "news.example.org",
    "x.com",
    "twitter.com",
    "www.twitter.com",
    "mobile.twitter.com",
    "www.x.com",
    "platform.twitter.com",
    "cdn.syndication.twimg.com",
    "publish.twitter.com",
    "publish.x.com",
    "pbs.twimg.com",
    "abs.twimg.com",
)
#: Extra names in the certificate only (covered by the SAN, not served).
EXTRA_SAN: tuple[str, ...] = ("*.twimg.com", "*.twitter.com", "*.x.com", "localhost")

CA_NAME = "Embed Archiver Test CA"


@dataclass(frozen=True)
class TestPKI:
    """Where the generated files are, plus the server key's SPKI pin."""

    __test__ = False  # not a pytest test class

    directory: Path
    ca_pem: Path
    server_pem: Path  # leaf certificate followed by the CA (full chain)
    server_key: Path
    spki_sha256: str  # base64 SHA-256 of the server SubjectPublicKeyInfo (Chromium pin)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Embed Archiver tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_test_pki(directory: Path, hosts: Sequence[str] = HOSTS) -> TestPKI:
    """Create a CA and a server certificate for `hosts`; write ca.pem, server.pem, server.key."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names = list(dict.fromkeys([*hosts, *EXTRA_SAN]))
    san: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    san.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0] if hosts else "localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=29))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_pem = directory / "ca.pem"
    server_pem = directory / "server.pem"
    server_key = directory / "server.key"
    ca_pem.write_bytes(ca_cert.public_bytes(pem))
    server_pem.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_bytes = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(server_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TestPKI(
        directory=directory,
        ca_pem=ca_pem,
        server_pem=server_pem,
        server_key=server_key,
        spki_sha256=base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"),
    )
