import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.errors import UsageError
from archiver.evidence.keys import ArchiveKey, load_or_create_key
from archiver.evidence.wacz import WaczPage, build_wacz, verify_wacz_signature

TWEET = "https://platform.twitter.com/embed/Tweet.html?id=1"
PAGE = WaczPage(TWEET, "2024-05-01T12:00:00Z", "Tweet 1")
WACZ_CLI = Path(sys.executable).parent / "wacz"


def make_warc(path: Path) -> Path:
    body = b"<html><head><title>Tweet</title></head><body><p>Martial law.</p></body></html>"
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warc_record(
            TWEET, "response", payload=BytesIO(body), http_headers=http,
            warc_headers_dict={"WARC-Date": "2024-05-01T12:00:00Z"}))
        writer.write_record(writer.create_warc_record(
            "urn:embed-archiver:post:twitter:1", "resource", payload=BytesIO(b'{"id": "1"}'),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": "2024-05-01T12:00:01Z"}))
    return path


def build(tmp_path: Path, key: ArchiveKey, name: str = "post.wacz") -> Path:
    warc = tmp_path / "traffic.warc.gz"
    if not warc.exists():
        make_warc(warc)
    out = tmp_path / name
    build_wacz(out, [warc], [PAGE], key, title="Tweet 1 by someone", description="test")
    return out


def rewrite(src: Path, dst: Path, member: str, change: Callable[[bytes], bytes]) -> Path:
    """Copy a ZIP, passing one member through `change` (fresh CRCs, so only hashes catch it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, change(data) if info.filename == member else data)
    return dst


def flip(offset: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]
    return change


@pytest.fixture
def key(tmp_path: Path) -> ArchiveKey:
    return load_or_create_key(tmp_path / "k.pem")


def test_wacz_passes_wacz_validate_and_has_pages_and_index(tmp_path: Path,
                                                           key: ArchiveKey) -> None:
    out = build(tmp_path, key)
    run = subprocess.run([str(WACZ_CLI), "validate", "-f", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "is valid" in run.stdout
    with zipfile.ZipFile(out) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert infos["archive/traffic.warc.gz"].compress_type == zipfile.ZIP_STORED
        header, *entries = [json.loads(x) for x in zf.read("pages/pages.jsonl").splitlines()]
        cdxj = zf.read("indexes/index.cdxj").decode()
        package = json.loads(zf.read("datapackage.json"))
        digest = json.loads(zf.read("datapackage-digest.json"))
    # py-wacz's validator passes a WACZ without pages.jsonl, so check the pages ourselves
    assert header["format"] == "json-pages-1.0"
    assert [(e["url"], e["ts"], e["title"]) for e in entries] == [
        (TWEET, "2024-05-01T12:00:00Z", "Tweet 1")]
    urls = {json.loads(line.split(" ", 2)[2])["url"] for line in cdxj.splitlines()}
    assert urls == {TWEET, "urn:embed-archiver:post:twitter:1"}
    assert all('"filename": "traffic.warc.gz"' in line for line in cdxj.splitlines())
    assert cdxj.splitlines() == sorted(cdxj.splitlines())
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert {r["path"] for r in package["resources"]} == {
        "archive/traffic.warc.gz", "indexes/index.cdxj", "pages/pages.jsonl"}
    signed = digest["signedData"]
    assert digest["hash"] == signed["hash"]
    assert signed["created"] == package["created"]
    assert set(signed) == {"hash", "created", "software", "version", "signature", "publicKey"}
    assert base64.b64decode(signed["publicKey"]) == key.public_der
    assert len(base64.b64decode(signed["signature"])) == 96  # raw r || s for P-384


def test_our_verification_passes_and_names_the_key(tmp_path: Path, key: ArchiveKey) -> None:
    out = build(tmp_path, key)
    ok, message = verify_wacz_signature(out)
    assert ok, message
    assert key.fingerprint in message
    assert verify_wacz_signature(out, expected_fingerprint=key.fingerprint)[0]
    ok, message = verify_wacz_signature(out, expected_fingerprint="sha256:" + "0" * 64)
    assert not ok and "not the expected" in message


def test_signature_verifies_with_an_independent_implementation(tmp_path: Path,
                                                               key: ArchiveKey) -> None:
    """pycryptodome reading the signature as raw r || s, as WebCrypto (wabac.js) does."""
    pytest.importorskip("Crypto")
    from Crypto.Hash import SHA256
    from Crypto.PublicKey import ECC
    from Crypto.Signature import DSS

    with zipfile.ZipFile(build(tmp_path, key)) as zf:
        signed = json.loads(zf.read("datapackage-digest.json"))["signedData"]
        package_hash = "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()
    assert signed["hash"] == package_hash
    public = ECC.import_key(base64.b64decode(signed["publicKey"]))
    verifier = DSS.new(public, "fips-186-3", encoding="binary")
    verifier.verify(SHA256.new(signed["hash"].encode()), base64.b64decode(signed["signature"]))


def test_a_flipped_byte_in_the_warc_is_caught_and_named(tmp_path: Path, key: ArchiveKey) -> None:
    out = build(tmp_path, key)
    bad = rewrite(out, tmp_path / "bad.wacz", "archive/traffic.warc.gz", flip(200))
    ok, message = verify_wacz_signature(bad)
    assert not ok
    assert message.startswith("archive/traffic.warc.gz:") and "hash" in message
    run = subprocess.run([str(WACZ_CLI), "validate", "-f", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0


def test_a_flipped_byte_in_the_datapackage_is_caught(tmp_path: Path, key: ArchiveKey) -> None:
    out = build(tmp_path, key)
    bad = rewrite(out, tmp_path / "bad.wacz", "datapackage.json", flip(40))
    ok, message = verify_wacz_signature(bad)
    assert not ok
    assert message.startswith("datapackage.json:") and "datapackage-digest.json" in message


def test_a_consistent_forgery_needs_the_key(tmp_path: Path, key: ArchiveKey) -> None:
    """Re-hash everything after a change, sign with another key, keep our publicKey."""
    other = load_or_create_key(tmp_path / "other.pem")
    forged = build(tmp_path, other, "forged.wacz")
    our_public = base64.b64encode(key.public_der).decode()

    def swap_key(data: bytes) -> bytes:
        digest = json.loads(data)
        digest["signedData"]["publicKey"] = our_public
        return json.dumps(digest).encode()

    bad = rewrite(forged, tmp_path / "bad.wacz", "datapackage-digest.json", swap_key)
    ok, message = verify_wacz_signature(bad)
    assert not ok and "signature does not verify" in message
    # untouched, the other key's WACZ verifies, but not as ours
    ok, message = verify_wacz_signature(forged, expected_fingerprint=key.fingerprint)
    assert not ok and other.fingerprint in message


def test_an_unlisted_member_is_refused(tmp_path: Path, key: ArchiveKey) -> None:
    out = build(tmp_path, key)
    with zipfile.ZipFile(out, "a") as zf:
        zf.writestr("archive/extra.warc", b"WARC/1.0\r\n")
    ok, message = verify_wacz_signature(out)
    assert not ok and message.startswith("archive/extra.warc:")


def test_the_private_key_never_enters_the_wacz(tmp_path: Path, key: ArchiveKey) -> None:
    out = build(tmp_path, key)
    pem = (tmp_path / "k.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    secrets = [
        private.private_numbers().private_value.to_bytes((private.curve.key_size + 7) // 8, "big"),
        private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
        b"".join(pem.splitlines()[1:-1]),
    ]
    blobs = [out.read_bytes()]
    with zipfile.ZipFile(out) as zf:
        blobs += [zf.read(name) for name in zf.namelist()]
    for blob in blobs:
        for secret in secrets:
            assert secret not in blob
            assert base64.b64encode(secret) not in blob
            assert secret.hex().encode() not in blob


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 40])
def test_garbage_is_reported_not_raised(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.wacz"
    path.write_bytes(data)
    ok, message = verify_wacz_signature(path)
    assert not ok and message


def test_unsigned_or_malformed_digest_fails(tmp_path: Path, key: ArchiveKey) -> None:
    out = build(tmp_path, key)

    def unsign(data: bytes) -> bytes:
        digest = json.loads(data)
        del digest["signedData"]
        return json.dumps(digest).encode()

    ok, message = verify_wacz_signature(rewrite(out, tmp_path / "u.wacz",
                                                "datapackage-digest.json", unsign))
    assert not ok and "not signed" in message
    ok, message = verify_wacz_signature(rewrite(out, tmp_path / "m.wacz",
                                                "datapackage-digest.json", lambda _: b"[1, 2"))
    assert not ok and "unreadable" in message


def test_pages_are_required_and_must_be_in_the_warcs(tmp_path: Path, key: ArchiveKey) -> None:
    warc = make_warc(tmp_path / "traffic.warc.gz")
    with pytest.raises(UsageError, match="at least one page"):
        build_wacz(tmp_path / "a.wacz", [warc], [], key, title="t")
    missing = WaczPage("https://x.com/someone/status/2", "2024-05-01T12:00:00Z")
    with pytest.raises(UsageError, match="not in any of the WARC"):
        build_wacz(tmp_path / "b.wacz", [warc], [missing], key, title="t")
    for n, junk in enumerate([b"garbage\r\n\r\n", b"", b"\x1f\x8b\x08\x00junk"]):
        bad = tmp_path / f"junk{n}.warc"
        bad.write_bytes(junk)
        with pytest.raises(UsageError, match="WARC"):
            build_wacz(tmp_path / "c.wacz", [warc, bad], [PAGE], key, title="t")
    assert not list(tmp_path.glob("*.wacz")) and not list(tmp_path.glob(".*.tmp"))
