"""WACZ 1.1.1 export, signed with the archive's key (WACZ Signing and Verification 0.1.0).

A WACZ is a ZIP holding the raw traffic (`archive/*.warc.gz`, stored, not deflated, so a
replayer can read records by range), a sorted CDXJ index made by `cdxj-indexer`
(`indexes/index.cdxj`), the entry points (`pages/pages.jsonl`), `datapackage.json` listing
every other member with its SHA-256 and size, and `datapackage-digest.json` holding the
SHA-256 of `datapackage.json` and an anonymous signature over it.

The anonymous `signedData` follows the form ArchiveWeb.page writes and wabac.js
(ReplayWeb.page) checks: `signature` is base64 of the raw IEEE P1363 `r || s` ECDSA-SHA256
signature of the UTF-8 bytes of the `hash` string ("sha256:<hex>"), and `publicKey` is
base64 of the DER SubjectPublicKeyInfo. The key is the archive's P-384 key (the curve
wabac.js expects), so
`verify_wacz_signature` reports the same fingerprint as every manifest.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cdxj_indexer.main import CDXJIndexer  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from archiver import __version__
from archiver.errors import StoreError, UsageError
from archiver.evidence.keys import ArchiveKey

WACZ_VERSION = "1.1.1"
SIGNING_VERSION = "0.1.0"  # of the "WACZ Signing and Verification" recommendation
SOFTWARE = f"embed-archiver {__version__}"
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
INDEX = "indexes/index.cdxj"
PAGES = "pages/pages.jsonl"
_CHUNK = 1 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_Stamp = tuple[int, int, int, int, int, int]


@dataclass(frozen=True)
class WaczPage:
    url: str
    ts: str  # ISO 8601 UTC
    title: str | None = None


def build_wacz(out: Path, warcs: Sequence[Path], pages: Sequence[WaczPage], key: ArchiveKey,
               *, title: str, description: str = "") -> dict[str, Any]:
    """Write a signed WACZ to `out` (atomically) and return its datapackage-digest.

    Raises UsageError when the inputs cannot make a replayable WACZ (no WARC, no page, a
    page whose URL no WARC holds) and StoreError when the file cannot be written.
    """
    if not warcs:
        raise UsageError("a WACZ needs at least one WARC file")
    if not pages:
        raise UsageError("a WACZ needs at least one page (pages/pages.jsonl)")
    names = _archive_names(warcs)
    cdxj = _index(warcs, names)
    pages_bytes = _pages_jsonl(pages, _indexed_urls(cdxj))
    created = datetime.now(UTC).replace(microsecond=0)
    created_str = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp: _Stamp = (created.year, created.month, created.day,
                     created.hour, created.minute, created.second)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            resources = [_add_file(zf, "archive/" + name, path, stamp)
                         for name, path in zip(names, warcs, strict=True)]
            resources.append(_add_bytes(zf, INDEX, cdxj.encode(), stamp))
            resources.append(_add_bytes(zf, PAGES, pages_bytes, stamp))
            package: dict[str, Any] = {"profile": "data-package", "wacz_version": WACZ_VERSION,
                                       "title": title}
            if description:
                package["description"] = description
            package.update({"created": created_str, "software": SOFTWARE,
                            "mainPageURL": pages[0].url, "mainPageDate": _utc_iso(pages[0].ts),
                            "resources": resources})
            package_bytes = (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode()
            _add_bytes(zf, DATAPACKAGE, package_bytes, stamp)
            digest = _signed_digest(package_bytes, created_str, key)
            _add_bytes(zf, DIGEST, (json.dumps(digest, indent=2) + "\n").encode(), stamp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise StoreError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return digest


def verify_wacz_signature(path: Path, *, expected_fingerprint: str | None = None
                          ) -> tuple[bool, str]:
    """Check every resource digest, the datapackage digest and the anonymous signature.

    Returns (ok, message); the message names the failing member, or on success the
    fingerprint of the signing key (compare it with the archive's: an anonymous
    signature proves only that whoever holds that key signed). Never raises on bad input.
    """
    try:
        return _verify(path, expected_fingerprint)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError,
            ValueError, KeyError, TypeError, RuntimeError, NotImplementedError,
            UnsupportedAlgorithm) as exc:
        return False, f"{path.name}: unreadable WACZ ({type(exc).__name__}: {exc})"


# -- building -------------------------------------------------------------------------------

def _archive_names(warcs: Sequence[Path]) -> list[str]:
    """Names under archive/: the file's own name made safe, with the extension the WACZ
    spec requires for its encoding (.warc.gz when gzipped, else .warc), never repeated."""
    names: list[str] = []
    for path in warcs:
        try:
            with path.open("rb") as fh:
                gzipped = fh.read(2) == b"\x1f\x8b"
        except OSError as exc:
            raise UsageError(f"cannot read WARC {path}: {exc.strerror or exc}") from exc
        stem = path.name
        for suffix in (".gz", ".warc"):
            stem = stem.removesuffix(suffix)
        stem = _SAFE_NAME.sub("_", stem).strip(".") or "data"
        name = stem + (".warc.gz" if gzipped else ".warc")
        n = 1
        while name.lower() in {x.lower() for x in names}:
            n += 1
            name = f"{stem}-{n}" + (".warc.gz" if gzipped else ".warc")
        names.append(name)
    return names


def _index(warcs: Sequence[Path], names: Sequence[str]) -> str:
    """Sorted CDXJ for all WARCs, each line made by cdxj-indexer (as py-wacz configures it:
    POST bodies appended to the key, a record digest per line for partial verification)."""
    lines: list[str] = []
    for path, name in zip(warcs, names, strict=True):
        buf = io.StringIO()
        with path.open("rb") as fh:
            indexer = CDXJIndexer(buf, [fh], filename=name, post_append=True,
                                  digest_records=True, fields="referrer")
            try:
                indexer.process_all()
            except Exception as exc:  # warcio fails on a malformed WARC with anything from
                # ArchiveLoadFailed to AttributeError: all mean "not a WARC we can index"
                raise UsageError(f"{path} is not a readable WARC: {exc}") from exc
        found = buf.getvalue().splitlines(keepends=True)
        if not found:
            raise UsageError(f"{path} holds no WARC record to index")
        lines.extend(found)
    return "".join(sorted(set(lines)))


def _indexed_urls(cdxj: str) -> set[str]:
    urls: set[str] = set()
    for line in cdxj.splitlines():
        _, _, block = line.partition(" {")
        try:
            url = json.loads("{" + block).get("url")
        except ValueError:
            continue
        if isinstance(url, str):
            urls.add(url)
    return urls


def _utc_iso(ts: str) -> str:
    """An RFC 3339 UTC string ('...Z') for an ISO 8601 time; naive times are taken as UTC."""
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError as exc:
        raise UsageError(f"page time {ts!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _pages_jsonl(pages: Sequence[WaczPage], indexed: set[str]) -> bytes:
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}]
    seen: set[str] = set()
    for page in pages:
        if page.url not in indexed:
            raise UsageError(f"page {page.url} is not in any of the WARC files")
        ts = _utc_iso(page.ts)
        page_id = hashlib.sha256(f"{ts} {page.url}".encode()).hexdigest()[:16]
        if page_id in seen:
            continue
        seen.add(page_id)
        entry = {"id": page_id, "url": page.url, "ts": ts}
        if page.title:
            entry["title"] = page.title
        lines.append(entry)
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()


def _resource(path: str, sha256_hex: str, size: int) -> dict[str, Any]:
    return {"name": path.rsplit("/", 1)[-1].lower(), "path": path,
            "hash": "sha256:" + sha256_hex, "bytes": size}


def _add_file(zf: zipfile.ZipFile, arcname: str, src: Path, stamp: _Stamp) -> dict[str, Any]:
    """Copy a WARC in stored (uncompressed) mode, hashing exactly the bytes written."""
    info = zipfile.ZipInfo(arcname, stamp)
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = src.stat().st_size  # lets zipfile choose ZIP64 only when needed
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as fh, zf.open(info, "w") as dst:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            dst.write(block)
            digest.update(block)
            size += len(block)
    return _resource(arcname, digest.hexdigest(), size)


def _add_bytes(zf: zipfile.ZipFile, arcname: str, data: bytes, stamp: _Stamp) -> dict[str, Any]:
    info = zipfile.ZipInfo(arcname, stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
    return _resource(arcname, hashlib.sha256(data).hexdigest(), len(data))


def _signed_digest(package_bytes: bytes, created: str, key: ArchiveKey) -> dict[str, Any]:
    package_hash = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    r, s = decode_dss_signature(key.sign(package_hash.encode()))
    size = (_public_key(key.public_der).curve.key_size + 7) // 8
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return {"path": DATAPACKAGE, "hash": package_hash, "signedData": {
        "hash": package_hash,
        "created": created,
        "software": SOFTWARE,
        "version": SIGNING_VERSION,
        "signature": base64.b64encode(raw).decode("ascii"),
        "publicKey": base64.b64encode(key.public_der).decode("ascii"),
    }}


def _public_key(der: bytes) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("publicKey is not an ECDSA key")
    return key


# -- verifying ------------------------------------------------------------------------------

def _verify(path: Path, expected_fingerprint: str | None) -> tuple[bool, str]:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        dupes = sorted(n for n, count in Counter(names).items() if count > 1)
        if dupes:
            return False, f"{dupes[0]}: appears more than once in the ZIP"
        for required in (DATAPACKAGE, DIGEST):
            if required not in names:
                return False, f"{required}: missing"
        package_bytes = zf.read(DATAPACKAGE)
        digest = json.loads(zf.read(DIGEST))
        if not isinstance(digest, dict) or digest.get("path") != DATAPACKAGE:
            return False, f"{DIGEST}: not a digest of {DATAPACKAGE}"
        package_hash = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
        if digest.get("hash") != package_hash:
            return False, f"{DATAPACKAGE}: hash does not match {DIGEST}"
        package = json.loads(package_bytes)
        resources = package.get("resources") if isinstance(package, dict) else None
        if not isinstance(resources, list) or not resources:
            return False, f"{DATAPACKAGE}: no resources listed"
        problem = _check_resources(zf, resources, set(names) - {DATAPACKAGE, DIGEST})
        if problem:
            return False, problem
        signed = digest.get("signedData")
        if not isinstance(signed, dict):
            return False, f"{DIGEST}: not signed (no signedData)"
        if signed.get("hash") != package_hash:
            return False, f"{DIGEST}: signedData.hash is not the hash of {DATAPACKAGE}"
        if signed.get("created") != package.get("created"):
            return False, f"{DIGEST}: signedData.created differs from {DATAPACKAGE} created"
        return _check_signature(signed, package_hash, expected_fingerprint)


def _check_resources(zf: zipfile.ZipFile, resources: list[Any], members: set[str]) -> str:
    """The first problem with the listed resources, or '' when every one matches."""
    listed: set[str] = set()
    for res in resources:
        if not isinstance(res, dict) or not isinstance(res.get("path"), str):
            return f"{DATAPACKAGE}: malformed resource entry"
        name, expected = res["path"], res.get("hash")
        listed.add(name)
        if name not in members:
            return f"{name}: listed in {DATAPACKAGE} but missing"
        if not isinstance(expected, str) or not expected.startswith("sha256:"):
            return f"{name}: no sha256 hash in {DATAPACKAGE}"
        try:
            actual, size = _hash_member(zf, name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            return f"{name}: damaged in the ZIP ({exc})"
        if actual != expected:
            return f"{name}: hash does not match {DATAPACKAGE}"
        if res.get("bytes") != size:
            return f"{name}: size does not match {DATAPACKAGE}"
    unlisted = sorted(members - listed)
    if unlisted:
        return f"{unlisted[0]}: not listed in {DATAPACKAGE}"
    return ""


def _hash_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(name) as fh:
        for block in _chunks(fh):
            digest.update(block)
            size += len(block)
    return "sha256:" + digest.hexdigest(), size


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while block := fh.read(_CHUNK):
        yield block


def _check_signature(signed: dict[str, Any], package_hash: str,
                     expected_fingerprint: str | None) -> tuple[bool, str]:
    public_b64, sig_b64 = signed.get("publicKey"), signed.get("signature")
    if not isinstance(public_b64, str) or not isinstance(sig_b64, str):
        return False, f"{DIGEST}: signedData lacks publicKey or signature (not anonymous form)"
    der = base64.b64decode(public_b64, validate=True)
    key = _public_key(der)
    fingerprint = "sha256:" + hashlib.sha256(der).hexdigest()
    sig = base64.b64decode(sig_b64, validate=True)
    size = (key.curve.key_size + 7) // 8
    if len(sig) == 2 * size:  # raw r || s, as WebCrypto writes and reads it
        sig = encode_dss_signature(int.from_bytes(sig[:size], "big"),
                                   int.from_bytes(sig[size:], "big"))
    try:  # anything else is tried as DER, the encoding authsign uses
        key.verify(sig, package_hash.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False, f"{DIGEST}: signature does not verify with the publicKey it carries"
    if expected_fingerprint and fingerprint != expected_fingerprint:
        return False, (f"{DIGEST}: signed by key {fingerprint}, "
                       f"not the expected {expected_fingerprint}")
    return True, f"signature valid; all resources match; key {fingerprint}"
