"""Evidence an auditor can check without trusting us: signatures, RFC 3161 tokens, the
hash chain and the ledger, end to end through real captures of the fake platform."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import Config
from archiver.evidence.ledger import LEDGER
from archiver.evidence.timestamp import late_token_path
from archiver.retrieval import verify_selection
from tests.harness import SEED_IDS, SEED_URL, LoopThread
from tests.harness import archive_run as run
from tests.tsa import LocalTSA, start_tsa

pytestmark = pytest.mark.browser
POST_URL = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"


def with_tsa(config: Config, tsa: LocalTSA) -> Config:
    return replace(config, evidence=replace(config.evidence, tsa_urls=(tsa.url,),
                                            tsa_ca_bundle=str(tsa.ca_pem)))


def failing(config: Config) -> dict[str, list[str]]:
    return {v.label: [p.file for p in v.problems] for v in verify_selection(config, None)
            if not v.ok}


def test_manifest_is_signed_and_timestamped_and_openssl_agrees(
        browser_loop: LoopThread, config: Config, tsa: LocalTSA) -> None:
    config = with_tsa(config, tsa)
    (capture,) = run(browser_loop, config, POST_URL).captures
    assert capture.timestamp == "stamped"
    root = config.storage.data_dir / capture.directory
    for args in (["dgst", "-sha256", "-verify", "archive-key.pub.pem", "-signature",
                  "manifest.sig", "manifest.json"],
                 ["ts", "-verify", "-in", "manifest.tsr", "-data", "manifest.json",
                  "-CAfile", str(tsa.ca_pem)]):
        out = subprocess.run(["openssl", *args], cwd=root, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "OK" in out.stdout
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["signing"]["key_fingerprint"].startswith("sha256:")
    assert failing(config) == {}


def test_untimestamped_captures_are_stored_and_stamped_on_a_later_run(
        browser_loop: LoopThread, config: Config, tmp_path: Path) -> None:
    with start_tsa(tmp_path / "tsa") as tsa:
        config = with_tsa(config, tsa)
        tsa.fail = True
        first = run(browser_loop, config, POST_URL)
        (capture,) = first.captures
        assert capture.status.completed and capture.timestamp == "untimestamped"
        assert any("503" in n for n in capture.notes)
        assert not (config.storage.data_dir / capture.directory / "manifest.tsr").exists()
        assert failing(config) == {}
        tsa.fail = False
        second = run(browser_loop, config, POST_URL)
        assert any("timestamped 1 earlier capture" in n for n in second.notes)
        token = late_token_path(config.storage.data_dir, capture.capture_id)
        out = subprocess.run(["openssl", "ts", "-verify", "-in", str(token), "-data",
                              str(config.storage.data_dir / capture.directory /
                                  "manifest.json"), "-CAfile", str(tsa.ca_pem)],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert failing(config) == {}


def test_every_file_of_a_capture_is_protected(browser_loop: LoopThread, config: Config,
                                              tsa: LocalTSA) -> None:
    """Flip one byte in each file in turn: verify fails and names that file; restored, it
    passes again."""
    config = with_tsa(config, tsa)
    (capture,) = run(browser_loop, config, POST_URL).captures
    root = config.storage.data_dir / capture.directory
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"manifest.json", "manifest.sig", "manifest.tsr",
                                       "archive-key.pub.pem", "SHA256SUMS", "embed.png"}
    for path in files:
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        try:
            named = failing(config).get(capture.capture_id, [])
            assert path.relative_to(root).as_posix() in named, (path.name, named)
        finally:
            path.write_bytes(original)
    assert failing(config) == {}


def ledger_lines(config: Config) -> list[bytes]:
    return (config.storage.data_dir / LEDGER).read_bytes().splitlines(keepends=True)


def test_the_ledger_catches_a_changed_removed_or_reordered_line(
        browser_loop: LoopThread, config: Config) -> None:
    run(browser_loop, config, SEED_URL)
    run(browser_loop, config, POST_URL)
    path = config.storage.data_dir / LEDGER
    lines = ledger_lines(config)
    assert len(lines) == 3
    tampered = {
        "changed": [lines[0].replace(b'"seq":1', b'"seq":7'), *lines[1:]],
        "first removed": lines[1:],
        "middle removed": [lines[0], lines[2]],
        "last removed": lines[:2],
        "reordered": [lines[1], lines[0], lines[2]],
    }
    for how, content in tampered.items():
        path.write_bytes(b"".join(content))
        assert "ledger" in failing(config), how
    path.write_bytes(b"".join(lines))
    assert failing(config) == {}


def test_the_hash_chain_links_each_capture_to_the_one_before(
        browser_loop: LoopThread, config: Config) -> None:
    (first,) = run(browser_loop, config, POST_URL).captures
    (second,) = run(browser_loop, config, POST_URL).captures
    data = config.storage.data_dir
    chain = json.loads((data / second.directory / "manifest.json").read_text())["chain"]
    assert chain == {"previous_capture_id": first.capture_id,
                     "previous_manifest_sha256": first.manifest_sha256}
    # rewriting the earlier manifest is caught from the later capture, even if the earlier
    # directory's own SHA256SUMS were rewritten to match
    old = data / first.directory / "manifest.json"
    old.write_bytes(old.read_bytes().replace(b'"live"', b'"deleted"', 1))
    problems = failing(config)
    assert "manifest.json" in problems[second.capture_id]


def test_late_stamping_never_certifies_a_changed_manifest(
        browser_loop: LoopThread, config: Config, tmp_path: Path) -> None:
    with start_tsa(tmp_path / "tsa") as tsa:
        config = with_tsa(config, tsa)
        tsa.fail = True
        (capture,) = run(browser_loop, config, POST_URL).captures
        manifest = config.storage.data_dir / capture.directory / "manifest.json"
        manifest.write_bytes(manifest.read_bytes().replace(b'"live"', b'"deleted"', 1))
        tsa.fail = False
        later = run(browser_loop, config, POST_URL)
        assert any("changed since it was stored; not stamped" in n for n in later.notes)
        assert not late_token_path(config.storage.data_dir, capture.capture_id).exists()
