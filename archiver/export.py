"""Exports of stored captures: a signed WACZ for replay tools, or an auditor bundle (zip).

    archiver export ID_OR_POST_URL --format wacz -o FILE.wacz
    archiver export ID_OR_POST_URL --format zip  -o FILE.zip

The WACZ holds each capture's traffic WARC plus one small WARC of `urn:` records carrying
the manifests, signatures, tokens and the public key (never the page's own URL, so replay
serves the page, not the record). The bundle holds the capture directories as stored, the
archive's public key, the timestamp authority's CA (when configured), late tokens, the
ledger, and README.txt with the exact commands to check it using only sha256sum and
openssl. The private key never leaves the data directory.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from archiver import __version__
from archiver.capture.store import TRAFFIC
from archiver.capture.warc import WarcWriter
from archiver.config import Config
from archiver.errors import ArchiverError, UsageError
from archiver.evidence import ledger
from archiver.evidence.keys import load_or_create_key, public_key_path
from archiver.evidence.timestamp import late_token_path
from archiver.evidence.wacz import WaczPage, build_wacz
from archiver.retrieval import select_captures
from archiver.store.files import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    TIMESTAMP,
    inside,
    read_manifest,
)
from archiver.store.schema import CaptureRow

FORMATS = ("wacz", "zip")
#: a POSIX shell loop: each ledger line must name the SHA-256 of the line before it
LEDGER_CHECK = (
    "prev=$(printf '0%.0s' $(seq 64)); ok=OK; while IFS= read -r line; do "
    "case \"$line\" in *'\"prev_sha256\":\"'\"$prev\"'\"'*) ;; *) ok=BROKEN;; esac; "
    "prev=$(printf '%s' \"$line\" | sha256sum | cut -d' ' -f1); "
    f"done < {ledger.LEDGER}; echo \"ledger chain: $ok\"")


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str
    captures: tuple[str, ...]


def export(config: Config, ref: str, fmt: str, out: Path) -> Exported:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    rows = [r for r in select_captures(config, ref) if r.directory and r.manifest_sha256]
    if not rows:
        raise ArchiverError(f"{ref}: no stored capture to export")
    if fmt == "wacz":
        _wacz(config, rows, out, ref)
    else:
        _bundle(config, rows, out)
    return Exported(out, fmt, tuple(r.id for r in rows))


def _wacz(config: Config, rows: list[CaptureRow], out: Path, ref: str) -> None:
    data_dir = config.storage.data_dir
    warcs, pages = [], []
    with tempfile.TemporaryDirectory(prefix="archiver-wacz-") as tmp:
        sidecar = WarcWriter("export", f"embed-archiver/{__version__}")
        for row in rows:
            root = inside(data_dir, row.directory)
            if (root / TRAFFIC).is_file():
                warcs.append(root / TRAFFIC)
            for name in (MANIFEST, SIGNATURE, TIMESTAMP, PUBLIC_KEY):
                if (root / name).is_file():
                    kind = "application/json" if name == MANIFEST else "application/octet-stream"
                    sidecar.add_metadata(f"{row.id}/{name}", (root / name).read_bytes(), kind)
            late = late_token_path(data_dir, row.id)
            if late.is_file():
                sidecar.add_metadata(f"{row.id}/late-{TIMESTAMP}", late.read_bytes(),
                                     "application/timestamp-reply")
            manifest = read_manifest(root)
            for page in manifest.get("got", {}).get("pages", []):
                if page.get("signal") in ("rendered", "gone") and page.get("final_url"):
                    pages.append(WaczPage(page["final_url"], page.get("started") or
                                          row.started_at, f"{row.post.url} ({page['role']})"))
        if not warcs:
            raise ArchiverError("these captures hold no traffic WARC (captured before WARC "
                                "recording); export them with --format zip")
        meta = Path(tmp) / "capture-metadata.warc.gz"
        meta.write_bytes(sidecar.to_bytes())
        if not config.key_path.is_file():
            raise ArchiverError(f"no archive key at {config.key_path}: a WACZ is signed by the "
                                "key that signed its manifests, and this one is missing")
        key = load_or_create_key(config.key_path)
        build_wacz(out, [*warcs, meta], pages, key, title=f"Embed archiver: {ref}",
                   description=f"{len(rows)} capture(s): " + ", ".join(r.id for r in rows))


def _bundle(config: Config, rows: list[CaptureRow], out: Path) -> None:
    data_dir = config.storage.data_dir
    pub = public_key_path(config.key_path)
    tsa_ca = Path(config.evidence.tsa_ca_bundle) if config.evidence.tsa_ca_bundle else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for row in rows:
            root = inside(data_dir, row.directory)
            for path in sorted(p for p in root.rglob("*")
                               if p.is_file() and not p.is_symlink()):
                zf.write(path, f"{row.directory}/{path.relative_to(root).as_posix()}")
            late = late_token_path(data_dir, row.id)
            if late.is_file():
                zf.write(late, f"stamps/{late.name}")
        if pub.is_file():
            zf.write(pub, PUBLIC_KEY)
        if tsa_ca is not None and tsa_ca.is_file():
            zf.write(tsa_ca, "tsa-ca.pem")
        if (data_dir / ledger.LEDGER).is_file():
            zf.write(data_dir / ledger.LEDGER, ledger.LEDGER)
        zf.writestr("README.txt", auditor_readme(rows, data_dir, tsa_ca is not None))
    tmp.replace(out)


def auditor_readme(rows: list[CaptureRow], data_dir: Path, has_tsa_ca: bool) -> str:
    """Instructions an auditor can follow with sha256sum and openssl alone.

    Every line starting with "$ " is a command to run from the bundle's top directory.
    """
    parts = [f"""Evidence bundle made by embed-archiver {__version__}
{'=' * 50}

This bundle holds {len(rows)} capture(s) of social-media posts, each in its own directory
under captures/, exactly as stored, plus:

  {PUBLIC_KEY}   the public key of the archive that signed the manifests
  {ledger.LEDGER}        the archive's append-only ledger (one line per capture)
  tsa-ca.pem            the certificate of the timestamp authority's CA (when one was used)
  stamps/               timestamp tokens obtained after a capture was stored

You need only sha256sum (coreutils) and openssl. Run each command that starts with "$ "
from this directory; each must print OK (or Verified OK / Verification: OK).

1. The archive's key. Compare this fingerprint with the one the archive publishes, and
   with "key_fingerprint" in each manifest.json:
$ openssl pkey -pubin -in {PUBLIC_KEY} -outform DER | sha256sum
"""]
    for row in rows:
        d = row.directory
        manifest = read_manifest(data_dir / (d or ""))
        parts.append(f"""
Capture {row.id}: {row.post.platform} post {row.post.post_id} ({row.post.url})
  captured {row.started_at}, status: {row.status}
2. Every file is as stored (hashes listed in SHA256SUMS, manifest.json among them):
$ (cd {d} && sha256sum -c SHA256SUMS)
3. manifest.json was signed by the archive's key:
$ openssl dgst -sha256 -verify {PUBLIC_KEY} -signature {d}/{SIGNATURE} {d}/{MANIFEST}
""")
        if (data_dir / (d or "") / TIMESTAMP).is_file() and has_tsa_ca:
            parts.append(f"""4. manifest.json existed when the authority's token says (RFC 3161):
$ openssl ts -verify -in {d}/{TIMESTAMP} -data {d}/{MANIFEST} -CAfile tsa-ca.pem
   To read the time: openssl ts -reply -in {d}/{TIMESTAMP} -text
""")
        if late_token_path(data_dir, row.id).is_file() and has_tsa_ca:
            parts.append(f"""4. (token obtained later) manifest.json existed at the token's time:
$ openssl ts -verify -in stamps/{row.id}.tsr -data {d}/{MANIFEST} -CAfile tsa-ca.pem
""")
        prev = (manifest.get("chain") or {}).get("previous_manifest_sha256")
        if prev:
            parts.append(f"""5. This capture names the manifest of the previous capture by its
   SHA-256, {prev};
   if that capture is in this bundle, sha256sum of its manifest.json must match.
""")
    parts.append(f"""
6. The ledger: each line's "prev_sha256" is the SHA-256 of the line before it (the first
   names 64 zeros); a removed, inserted, reordered or altered line breaks the chain. This
   prints OK when the chain is whole:
$ {LEDGER_CHECK}
   Each capture above has a line naming its manifest's SHA-256:
""")
    for row in rows:
        parts.append(f"$ grep -c '\"manifest_sha256\":\"{row.manifest_sha256}\"' "
                     f"{ledger.LEDGER}\n")
    parts.append("\nFurther reading: each manifest.json says what was asked (the article and "
                 "the embed markup), what was got (URLs, HTTP status and headers, addresses), "
                 "how (software and browser versions, settings) and when.\n")
    return "".join(parts)


def summary(exported: Exported) -> dict[str, object]:
    return {"path": str(exported.path), "format": exported.format,
            "captures": list(exported.captures), "bytes": exported.path.stat().st_size}


__all__ = ["FORMATS", "Exported", "auditor_readme", "export", "summary"]
