"""RFC 3161 trusted timestamps over the manifest.

The archive asks each configured timestamp authority in turn (`[evidence] tsa_urls`) for a
token over the SHA-256 of the manifest bytes, with a fresh nonce and certReq set, so the
token embeds the authority's certificate. The authority's DER `TimeStampResp` is stored
byte for byte as `manifest.tsr`. Requests are built and responses parsed and verified by
`rfc3161-client`; nothing here encodes ASN.1 by hand.

An auditor checks a stored token without this software, in the capture's directory::

    openssl ts -verify -in manifest.tsr -data manifest.json -CAfile tsa-ca.pem

where `tsa-ca.pem` holds the CA certificate(s) the authority's certificate chains to (the
file named by `[evidence] tsa_ca_bundle`). It prints `Verification: OK` and exits 0.
`-digest <sha256 hex of manifest.json>` may replace `-data manifest.json`. The check is
made at the current time, so once the authority's certificate has expired, add
`-attime <the token's time as Unix seconds>`, e.g.
`-attime $(date -u -d 2026-11-24T02:04:10Z +%s)`, to check the chain when the token was
issued. An authority that did not embed its certificate needs `-untrusted tsa-cert.pem`.
`openssl ts -reply -in manifest.tsr -text` shows the token's contents.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from archiver.errors import FetchError, HTTPStatusError, StoreError, TimestampError
from archiver.net import Http
from archiver.store.files import fsync_dir, inside, make_dirs

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
#: a token with a full certificate chain is a few kilobytes; anything far larger is not one
MAX_REPLY_BYTES = 1_000_000
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")


if TYPE_CHECKING:
    from archiver.store.index import Index


@dataclass(frozen=True)
class Stamp:
    """A granted timestamp: the authority's answer and what it says."""

    tsa_url: str
    response: bytes  # the DER TimeStampResp exactly as the authority sent it (manifest.tsr)
    gen_time: str  # ISO 8601 UTC, from the token
    serial: str  # the token's serial number, decimal
    digest_sha256: str  # hex of the message imprint: the SHA-256 of the stamped data


@dataclass(frozen=True)
class StampCheck:
    """The outcome of `verify_stamp`; `detail` is one line for people."""

    ok: bool
    gen_time: str | None
    tsa: str | None  # subject of the authority's certificate, RFC 4514
    detail: str


def request_stamp(http: Http, tsa_url: str, data: bytes) -> Stamp:
    """Ask one authority for a token over SHA-256(`data`).

    Raises FetchError when no answer arrives or the answer is an HTTP error, and
    TimestampError when the answer is not a granted token for this request (not a
    response, not granted, another imprint or nonce, no certificate).
    """
    request = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    exchange = http.post(tsa_url, request.as_bytes(), QUERY_TYPE, REPLY_TYPE,
                         max_bytes=MAX_REPLY_BYTES)
    if exchange.status != 200:
        raise HTTPStatusError(f"the timestamp authority answered HTTP {exchange.status}",
                              url=tsa_url, status=exchange.status)
    body = exchange.body
    try:
        response = decode_timestamp_response(body)
        if response.status != PKIStatus.GRANTED:
            raise TimestampError(f"the timestamp authority refused: {_status_text(response)}")
        info = response.tst_info
        imprint = info.message_imprint
        if imprint.hash_algorithm != SHA256_OID:
            raise TimestampError(f"the token's imprint uses {imprint.hash_algorithm.dotted_string}"
                                 ", not the SHA-256 asked for")
        if imprint.message != hashlib.sha256(data).digest():
            raise TimestampError("the token is over another digest than the one sent")
        if info.nonce != request.nonce:
            raise TimestampError("the token's nonce is not the request's (a replayed answer?)")
        if not response.signed_data.certificates:
            raise TimestampError("the token does not include the authority's certificate")
        return Stamp(tsa_url=tsa_url, response=body, gen_time=_iso(info.gen_time),
                     serial=str(info.serial_number), digest_sha256=imprint.message.hex())
    except TimestampError:
        raise
    except Exception as exc:
        raise TimestampError(f"not a timestamp response ({len(body)} bytes): "
                             f"{type(exc).__name__}: {_first_line(exc)}") from exc


def stamp_first(http: Http, tsa_urls: Sequence[str], data: bytes
                ) -> tuple[Stamp | None, list[str]]:
    """The first token any of `tsa_urls` grants, tried in order, and one line per failure.

    (None, errors) when none does: the caller stores the capture as untimestamped and
    stamps it on a later run.
    """
    errors: list[str] = []
    for url in tsa_urls:
        try:
            return request_stamp(http, url, data), errors
        except (FetchError, TimestampError) as exc:
            errors.append(f"{url}: {exc}")
    return None, errors


def verify_stamp(response: bytes, data: bytes, ca_pem: bytes | None) -> StampCheck:
    """Check a stored TimeStampResp against the data it should cover.

    The imprint must be SHA-256(`data`). With `ca_pem`, the token's signature must verify
    and the authority's certificate must chain to one of its certificates (checked at the
    token's time) and carry the critical timeStamping extended key usage. Without it, only
    the imprint is checked and `detail` says so. Never raises on malformed input.
    """
    gen_time: str | None = None
    tsa: str | None = None
    try:
        parsed = decode_timestamp_response(response)
        if parsed.status != PKIStatus.GRANTED:
            return StampCheck(False, None, None, f"not a granted token: {_status_text(parsed)}")
        info = parsed.tst_info
        gen_time = _iso(info.gen_time)
        tsa = _signer_subject(parsed)
        imprint = info.message_imprint
        if imprint.hash_algorithm != SHA256_OID:
            return StampCheck(False, gen_time, tsa, "the token's imprint uses "
                              f"{imprint.hash_algorithm.dotted_string}, not SHA-256")
        digest = hashlib.sha256(data).digest()
        if imprint.message != digest:
            return StampCheck(False, gen_time, tsa,
                              f"the token covers SHA-256 {imprint.message.hex()}, but the "
                              f"data's SHA-256 is {digest.hex()}: the data changed")
        if ca_pem is None:
            return StampCheck(True, gen_time, tsa, "imprint matches; signature and certificate "
                              "chain not checked (no TSA CA certificate given)")
        roots = _load_roots(ca_pem)
        if isinstance(roots, str):
            return StampCheck(False, gen_time, tsa, roots)
        VerifierBuilder(roots=roots).build().verify(parsed, digest)
    except VerificationError as exc:
        return StampCheck(False, gen_time, tsa,
                          f"signature or certificate check failed: {_first_line(exc)}")
    except Exception as exc:
        # Damaged DER makes the parsers (rfc3161-client, cryptography's lazy X.509) raise
        # ValueError, KeyError, InvalidVersion and more; a verifier answers, never raises.
        return StampCheck(False, gen_time, tsa, "not a valid timestamp response: "
                          f"{type(exc).__name__}: {_first_line(exc)}")
    return StampCheck(True, gen_time, tsa, f"valid token from {tsa} at {gen_time}, "
                      "signed by a certificate that chains to the given CA")


def _load_roots(ca_pem: bytes) -> list[x509.Certificate] | str:
    """The CA certificates in a PEM bundle, or why there are none."""
    try:
        certs = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        return "the TSA CA bundle holds no readable PEM certificate"
    unique: dict[bytes, x509.Certificate] = {c.fingerprint(hashes.SHA256()): c
                                             for c in certs}
    return list(unique.values())


def _signer_subject(response: TimeStampResponse) -> str | None:
    """Subject of the embedded certificate that signed the token, if it is there."""
    signers = list(response.signed_data.signer_infos)
    if len(signers) != 1:
        return None
    signer = signers[0]
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if cert.issuer == signer.issuer and cert.serial_number == signer.serial_number:
            return cert.subject.rfc4514_string()
    return None


def _status_text(response: TimeStampResponse) -> str:
    try:
        name = PKIStatus(response.status).name.lower()
    except ValueError:
        name = f"status {response.status}"
    texts = "; ".join(response.status_string)
    return f"{name} ({texts})" if texts else name


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # GeneralizedTime in a token is UTC by definition
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _first_line(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).split("\n")[0][:300]


LATE_DIR = "stamps"


def late_token_path(data_dir: Path, capture_id: str) -> Path:
    """Where a token obtained after the capture was stored lives: capture directories are
    never modified once complete, so late tokens sit beside them, one file per capture."""
    return data_dir / LATE_DIR / f"{capture_id}.tsr"


def stamp_pending(index: Index, http: Http, data_dir: Path, tsa_urls: Sequence[str]
                  ) -> tuple[int, list[str]]:
    """Stamp captures stored while no authority answered; (stamped count, error lines)."""
    if not tsa_urls:
        return 0, []
    done, errors = 0, []
    for row in index.captures_to_stamp():
        try:
            manifest = inside(data_dir, row.directory) / "manifest.json"
        except StoreError as exc:
            errors.append(f"capture {row.id}: {exc}")
            continue
        if not manifest.is_file():
            continue
        body = manifest.read_bytes()
        if hashlib.sha256(body).hexdigest() != row.manifest_sha256:  # never certify a forgery
            errors.append(f"capture {row.id}: manifest.json changed since it was stored; "
                          "not stamped (run archiver verify)")
            continue
        stamp, failures = stamp_first(http, tsa_urls, body)
        if stamp is None:
            errors.extend(failures)
            break  # nobody answers: try again next run rather than hammering
        try:
            _write_token(late_token_path(data_dir, row.id), stamp.response)
        except OSError as exc:
            errors.append(f"capture {row.id}: cannot write its token: {exc.strerror or exc}")
            break
        index.set_timestamp(row.id, "stamped_later")
        done += 1
    return done, errors


def _write_token(target: Path, token: bytes) -> None:
    """Put a token in place whole: written under a name of its own (two runs may stamp the
    same capture at once; either token is good), synced, then renamed over the target."""
    make_dirs(target.parent)  # stamps/ itself, the first time, is named durably too
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(token)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
