"""A local RFC 3161 timestamp authority for tests: `openssl ts -reply` behind HTTP.

`start_tsa(workdir)` generates a throw-away CA and a TSA certificate (EC P-256, extended
key usage critical timeStamping, valid for days), writes an openssl config with a [tsa]
section, and answers every POST on 127.0.0.1 by running `openssl ts -reply` on the query.
The config has no `certs=` line: the token then embeds the TSA certificate alone, which
is what rfc3161-client accepts (it refuses the token openssl makes with a chain).

Switch `.fail = True` to make it answer HTTP 503; set `.canned` to bytes to have them sent
as a 200 answer instead of a fresh token (replays, rejections, garbage); `.requests` counts
the POSTs it saw.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Embed Archiver Test TSA CA"
TSA_NAME = "Embed Archiver Test TSA"
#: the policy OID the test authority puts in its tokens (a private-arc example)
POLICY_OID = "1.3.6.1.4.1.55555.1.1"

_CONFIG = """\
[tsa]
default_tsa = tsa_config

[tsa_config]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Embed Archiver tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def make_tsa_pki(directory: Path, *, days: int = 7) -> tuple[Path, Path]:
    """Write ca.pem, tsa.pem and tsa.key into `directory`; return (ca_pem, tsa_pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME)).issuer_name(_name(CA_NAME))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(TSA_NAME)).issuer_name(ca_cert.subject)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                       critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, tsa_pem = directory / "ca.pem", directory / "tsa.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tsa_pem.write_bytes(tsa_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(directory / "tsa.key", tsa_key)
    return ca_pem, tsa_pem


@dataclass
class LocalTSA:
    """A running local authority; use as a context manager or call `close()`."""

    directory: Path
    ca_pem: Path
    tsa_cert: Path
    config: Path
    port: int = 0
    fail: bool = False
    canned: bytes | None = None
    requests: int = 0
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    def reply(self, query: bytes) -> bytes:
        """The DER TimeStampResp openssl makes for a DER TimeStampReq."""
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            qfile, rfile = Path(tmp) / "query.tsq", Path(tmp) / "reply.tsr"
            qfile.write_bytes(query)
            with self._lock:  # openssl ts rewrites the serial file: one at a time
                out = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(self.config),
                     "-queryfile", str(qfile), "-out", str(rfile)],
                    capture_output=True, text=True, timeout=30, check=False)
            if out.returncode != 0 or not rfile.exists():
                raise RuntimeError(f"openssl ts -reply failed: {out.stderr.strip()}")
            return rfile.read_bytes()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _handler(tsa: LocalTSA) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet in test output

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(length)
            with tsa._lock:
                tsa.requests += 1
            if tsa.fail:
                self._send(503, "text/plain", b"timestamp service unavailable\n")
                return
            if tsa.canned is not None:
                self._send(200, "application/timestamp-reply", tsa.canned)
                return
            if self.headers.get("Content-Type", "") != "application/timestamp-query":
                self._send(415, "text/plain", b"expected application/timestamp-query\n")
                return
            try:
                body = tsa.reply(query)
            except RuntimeError as exc:
                self._send(500, "text/plain", str(exc).encode())
                return
            self._send(200, "application/timestamp-reply", body)

        def do_GET(self) -> None:
            self._send(405, "text/plain", b"POST a timestamp query\n")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def start_tsa(workdir: Path, *, keep: bool = False) -> LocalTSA:
    """Generate the authority's PKI in `workdir` and serve it on 127.0.0.1 (a free port).

    With `keep` (the demo), a PKI already in `workdir` is reused, and a new one is valid
    for ten years: tokens stamped by earlier runs must still verify against its CA."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_pem, tsa_pem = workdir / "ca.pem", workdir / "tsa.pem"
    if not (keep and ca_pem.is_file() and tsa_pem.is_file() and (workdir / "tsa.key").is_file()):
        ca_pem, tsa_pem = make_tsa_pki(workdir, days=3650 if keep else 7)
    (workdir / "serial").write_text("01\n")
    config = workdir / "tsa.cnf"
    config.write_text(_CONFIG.format(dir=workdir, policy=POLICY_OID))
    tsa = LocalTSA(directory=workdir, ca_pem=ca_pem, tsa_cert=tsa_pem, config=config)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(tsa))
    server.daemon_threads = True
    tsa.port = server.server_address[1]
    tsa._server = server
    tsa._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                   name="local-tsa", daemon=True)
    tsa._thread.start()
    return tsa
