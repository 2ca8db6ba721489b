"""The archive's own signing key: ECDSA P-384 (signing SHA-256 digests), created on first use.

P-384 because it is the curve ReplayWeb.page (wabac.js) expects of an anonymously signed
WACZ, so the same key signs manifests and WACZ exports and both verify everywhere.

The private key lives in one PEM file, mode 0600 (default `<data_dir>/keys/archive-key.pem`,
or `[evidence] key_file`); the public key is written beside it (`.pub.pem`) and its
fingerprint, the SHA-256 of its SubjectPublicKeyInfo, goes into every manifest. Signatures
are DER-encoded ECDSA over SHA-256, so `openssl dgst -sha256 -verify archive-key.pub.pem
-signature manifest.sig manifest.json` checks them without this software. The private key
is never logged, printed or exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from archiver.errors import ConfigError, StoreError
from archiver.store.files import fsync_dir


@dataclass(frozen=True)
class ArchiveKey:
    path: Path
    _private: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:  # never show key material, even by accident
        return f"ArchiveKey({self.path}, {self.fingerprint})"

    @property
    def public_der(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def public_pem(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(self.public_der).hexdigest()

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA-SHA256 signature of `data`."""
        return self._private.sign(data, ec.ECDSA(hashes.SHA256()))


def public_fingerprint(public_pem: bytes) -> str:
    key = serialization.load_pem_public_key(public_pem)
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def verify_signature(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid ECDSA-SHA256 signature of `data` by the key."""
    try:
        key = serialization.load_pem_public_key(public_pem)
    except ValueError:
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create_key(path: Path) -> ArchiveKey:
    """The key at `path`, created (mode 0600, never overwritten) when missing."""
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"the archive key {path} is readable by others (mode {mode:o}); "
                          f"run: chmod 600 {path}")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not an EC private key")
    key = ArchiveKey(path, private)
    pub = public_key_path(path)
    if not pub.exists() or pub.read_bytes() != key.public_pem:
        _replace(pub, key.public_pem)  # whole: `verify` may be reading it meanwhile
    return key


def public_key_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = ec.generate_private_key(ec.SECP384R1())
    pem = private.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # Written whole to a private temporary file, then hard-linked into place: a crash leaves
    # no half-written key, and of two processes starting at once only one key wins (link
    # refuses to replace an existing file); the loser loads the winner's.
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StoreError(f"cannot create the archive key {path}: {exc.strerror}") from exc
    tmp = Path(name)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(tmp, path)
        fsync_dir(path.parent)  # the key's name too reaches the disk
    except OSError as exc:
        raise StoreError(f"cannot create the archive key {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole: a temporary file of its own, synced, renamed over it."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(name, 0o644)  # a public key
            os.replace(name, path)
        finally:
            Path(name).unlink(missing_ok=True)
        fsync_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}") from exc



def signature_seal(key: ArchiveKey) -> dict[str, Callable[[bytes], bytes]]:
    """The files a signed evidence directory derives from its manifest, by name."""
    from archiver.store.files import PUBLIC_KEY, SIGNATURE

    return {SIGNATURE: key.sign, PUBLIC_KEY: lambda _manifest: key.public_pem}
