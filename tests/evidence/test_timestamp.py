"""RFC 3161 timestamps from a local `openssl ts` authority, checked by us and by openssl."""

from __future__ import annotations

import hashlib
import shlex
import socket
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from archiver.config import NetworkConfig
from archiver.errors import BlockedAddressError, HTTPStatusError, TimestampError
from archiver.evidence import timestamp
from archiver.evidence.timestamp import Stamp, request_stamp, stamp_first, verify_stamp
from archiver.net import Http
from tests.tsa import TSA_NAME, LocalTSA, make_tsa_pki, start_tsa

MANIFEST = b'{"post": "https://x.com/a/status/1", "sha256": "00ff"}\n'


@pytest.fixture()
def http() -> Iterator[Http]:
    client = Http(NetworkConfig(allow_networks=("127.0.0.0/8",)))
    yield client
    client.close()


@pytest.fixture()
def failing_tsa(tmp_path: Path) -> Iterator[LocalTSA]:
    with start_tsa(tmp_path / "failing-tsa") as authority:
        authority.fail = True
        yield authority


@pytest.fixture()
def stamp(http: Http, tsa: LocalTSA) -> Stamp:
    return request_stamp(http, tsa.url, MANIFEST)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


def documented_command() -> list[str]:
    """The `openssl ts -verify` line an auditor reads in the module docstring."""
    doc = timestamp.__doc__ or ""
    lines = [line.strip() for line in doc.splitlines()
             if line.strip().startswith("openssl ts -verify")]
    assert len(lines) == 1, "the docstring must give exactly one verify command"
    return shlex.split(lines[0])


def run_openssl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)


def write_capture(directory: Path, stamp: Stamp, tsa: LocalTSA, data: bytes = MANIFEST) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_bytes(data)
    (directory / "manifest.tsr").write_bytes(stamp.response)
    (directory / "tsa-ca.pem").write_bytes(tsa.ca_pem.read_bytes())


def test_a_stamp_describes_its_token(stamp: Stamp, tsa: LocalTSA) -> None:
    assert stamp.tsa_url == tsa.url
    assert stamp.digest_sha256 == hashlib.sha256(MANIFEST).hexdigest()
    assert stamp.serial.isdigit()
    assert stamp.gen_time.endswith("Z")
    when = datetime.fromisoformat(stamp.gen_time.replace("Z", "+00:00"))
    assert abs((datetime.now(when.tzinfo) - when).total_seconds()) < 120


def test_the_stored_token_verifies_with_its_ca(stamp: Stamp, tsa: LocalTSA) -> None:
    check = verify_stamp(stamp.response, MANIFEST, tsa.ca_pem.read_bytes())
    assert check.ok, check.detail
    assert check.gen_time == stamp.gen_time
    assert check.tsa is not None and f"CN={TSA_NAME}" in check.tsa


def test_the_documented_openssl_command_passes(stamp: Stamp, tsa: LocalTSA,
                                               tmp_path: Path) -> None:
    write_capture(tmp_path, stamp, tsa)
    out = run_openssl(documented_command(), tmp_path)
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stderr
    # the variants the docstring names: a digest instead of the file, a time for -attime
    when = int(datetime.fromisoformat(stamp.gen_time.replace("Z", "+00:00")).timestamp())
    out = run_openssl(["openssl", "ts", "-verify", "-in", "manifest.tsr", "-digest",
                       stamp.digest_sha256, "-CAfile", "tsa-ca.pem", "-attime", str(when)],
                      tmp_path)
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stderr


def test_openssl_refuses_changed_data(stamp: Stamp, tsa: LocalTSA, tmp_path: Path) -> None:
    write_capture(tmp_path, stamp, tsa, MANIFEST.replace(b"00ff", b"00fe"))
    out = run_openssl(documented_command(), tmp_path)
    assert out.returncode != 0 and "Verification: OK" not in out.stdout


def test_without_a_ca_only_the_imprint_is_checked(stamp: Stamp) -> None:
    check = verify_stamp(stamp.response, MANIFEST, None)
    assert check.ok and "not checked" in check.detail


def test_one_changed_byte_of_the_data_fails(stamp: Stamp, tsa: LocalTSA) -> None:
    changed = bytearray(MANIFEST)
    changed[3] ^= 0x20
    check = verify_stamp(stamp.response, bytes(changed), tsa.ca_pem.read_bytes())
    assert not check.ok
    assert "the data changed" in check.detail
    assert hashlib.sha256(bytes(changed)).hexdigest() in check.detail
    assert check.gen_time == stamp.gen_time  # still says what the token claims


def test_a_token_under_another_ca_fails(stamp: Stamp, tmp_path: Path) -> None:
    other_ca, _ = make_tsa_pki(tmp_path / "other")
    check = verify_stamp(stamp.response, MANIFEST, other_ca.read_bytes())
    assert not check.ok
    assert "certificate check failed" in check.detail


def test_the_tsa_certificate_alone_is_not_a_ca(stamp: Stamp, tsa: LocalTSA) -> None:
    check = verify_stamp(stamp.response, MANIFEST, tsa.tsa_cert.read_bytes())
    assert not check.ok


@pytest.mark.parametrize("ca", [b"", b"not a pem", b"-----BEGIN CERTIFICATE-----\nAA==\n"
                                b"-----END CERTIFICATE-----\n"])
def test_an_unreadable_ca_bundle_fails(stamp: Stamp, ca: bytes) -> None:
    check = verify_stamp(stamp.response, MANIFEST, ca)
    assert not check.ok and "CA bundle" in check.detail


@pytest.mark.parametrize("garbage", [b"", b"garbage", b"\x30\x03\x02\x01\x00",
                                     b"\x30\x82\xff\xff" + b"\0" * 64])
def test_garbage_is_not_a_token(garbage: bytes, tsa: LocalTSA) -> None:
    check = verify_stamp(garbage, MANIFEST, tsa.ca_pem.read_bytes())
    assert not check.ok and check.detail


def test_no_damaged_token_raises(stamp: Stamp, tsa: LocalTSA) -> None:
    ca = tsa.ca_pem.read_bytes()
    assert not verify_stamp(stamp.response[:-1], MANIFEST, ca).ok
    assert not verify_stamp(stamp.response + b"\0", MANIFEST, ca).ok
    for i in range(len(stamp.response)):  # every single-bit flip: an answer, never an error
        damaged = bytearray(stamp.response)
        damaged[i] ^= 0x01
        assert verify_stamp(bytes(damaged), MANIFEST, ca).detail


def test_the_signature_covers_the_token(stamp: Stamp, tsa: LocalTSA) -> None:
    # the last bytes of the response are the signature value
    damaged = bytearray(stamp.response)
    damaged[-5] ^= 0x01
    check = verify_stamp(bytes(damaged), MANIFEST, tsa.ca_pem.read_bytes())
    assert not check.ok and "signature" in check.detail


def test_the_first_answering_authority_wins(http: Http, tsa: LocalTSA,
                                            failing_tsa: LocalTSA) -> None:
    got, errors = stamp_first(http, [failing_tsa.url, tsa.url], MANIFEST)
    assert got is not None and got.tsa_url == tsa.url
    assert len(errors) == 1 and errors[0].startswith(failing_tsa.url) and "503" in errors[0]
    assert failing_tsa.requests == 1
    assert verify_stamp(got.response, MANIFEST, tsa.ca_pem.read_bytes()).ok


def test_a_closed_port_is_skipped(http: Http, tsa: LocalTSA) -> None:
    closed = closed_port_url()
    got, errors = stamp_first(http, [closed, tsa.url], MANIFEST)
    assert got is not None and got.tsa_url == tsa.url
    assert len(errors) == 1 and errors[0].startswith(closed) and "cannot connect" in errors[0]


def test_the_first_url_is_asked_first(http: Http, tsa: LocalTSA,
                                      failing_tsa: LocalTSA) -> None:
    got, errors = stamp_first(http, [tsa.url, failing_tsa.url], MANIFEST)
    assert got is not None and got.tsa_url == tsa.url and errors == []
    assert failing_tsa.requests == 0


def test_none_answering_gives_no_stamp(http: Http, failing_tsa: LocalTSA) -> None:
    got, errors = stamp_first(http, [failing_tsa.url, closed_port_url()], MANIFEST)
    assert got is None and len(errors) == 2


def test_no_authorities_configured(http: Http) -> None:
    assert stamp_first(http, (), MANIFEST) == (None, [])


def test_an_http_error_is_a_fetch_error(http: Http, failing_tsa: LocalTSA) -> None:
    with pytest.raises(HTTPStatusError, match="HTTP 503"):
        request_stamp(http, failing_tsa.url, MANIFEST)


def test_the_address_guard_applies_to_posts(tsa: LocalTSA) -> None:
    guarded = Http(NetworkConfig())
    try:
        with pytest.raises(BlockedAddressError):
            request_stamp(guarded, tsa.url, MANIFEST)
    finally:
        guarded.close()


# -- authorities that answer, but not with a token for our request ----------------------------

@pytest.fixture()
def rogue_tsa(tmp_path: Path) -> Iterator[LocalTSA]:
    with start_tsa(tmp_path / "rogue-tsa") as authority:
        yield authority


def test_a_replayed_token_is_refused(http: Http, rogue_tsa: LocalTSA) -> None:
    rogue_tsa.canned = request_stamp(http, rogue_tsa.url, MANIFEST).response
    with pytest.raises(TimestampError, match="nonce"):
        request_stamp(http, rogue_tsa.url, MANIFEST)


def test_a_token_over_other_data_is_refused(http: Http, rogue_tsa: LocalTSA) -> None:
    rogue_tsa.canned = request_stamp(http, rogue_tsa.url, b"something else").response
    with pytest.raises(TimestampError, match="another digest"):
        request_stamp(http, rogue_tsa.url, MANIFEST)


def test_a_non_token_answer_is_refused(http: Http, rogue_tsa: LocalTSA) -> None:
    rogue_tsa.canned = b"<html>maintenance</html>"
    with pytest.raises(TimestampError, match="not a timestamp response"):
        request_stamp(http, rogue_tsa.url, MANIFEST)
    got, errors = stamp_first(http, [rogue_tsa.url], MANIFEST)
    assert got is None and "not a timestamp response" in errors[0]


def test_a_rejection_is_refused(http: Http, rogue_tsa: LocalTSA, tmp_path: Path) -> None:
    # a SHA-1 query, which the authority's config does not accept, gets a rejection
    (tmp_path / "data").write_bytes(MANIFEST)
    query = run_openssl(["openssl", "ts", "-query", "-data", "data", "-sha1", "-out", "q.tsq"],
                        tmp_path)
    assert query.returncode == 0, query.stderr
    rogue_tsa.canned = rogue_tsa.reply((tmp_path / "q.tsq").read_bytes())
    with pytest.raises(TimestampError, match="refused: rejection"):
        request_stamp(http, rogue_tsa.url, MANIFEST)
    check = verify_stamp(rogue_tsa.canned, MANIFEST, rogue_tsa.ca_pem.read_bytes())
    assert not check.ok and "not a granted token" in check.detail


def test_two_runs_writing_one_late_token_at_once_both_succeed(tmp_path: Path) -> None:
    """Two runs stamping the same capture at once (the scheduler and a manual run): each
    writes its token whole and renames it into place; neither fails on the other's file,
    and what stays is one whole token, with no temporary file left."""
    import threading

    target = tmp_path / "stamps" / "capture.tsr"
    tokens = [bytes([n]) * 50_000 for n in (1, 2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(token: bytes) -> None:
        start.wait()
        try:
            for _ in range(200):
                timestamp._write_token(target, token)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert target.read_bytes() in tokens
    assert [p.name for p in target.parent.iterdir()] == ["capture.tsr"]
