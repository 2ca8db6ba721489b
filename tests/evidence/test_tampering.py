"""What `verify` must catch that earlier versions let through, and the malformed input it
must answer with a problem rather than a traceback: real captures of the fake platform,
then one change each (the SHA256SUMS line fixed up to match, where that is possible)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import Config
from archiver.errors import ArchiverError, ConfigError
from archiver.evidence.keys import load_or_create_key
from archiver.models import CaptureResult
from archiver.retrieval import lookup, verify_selection
from tests.harness import SEED_IDS, SEED_URL, LoopThread
from tests.harness import archive_run as run
from tests.tsa import LocalTSA

pytestmark = pytest.mark.browser
POST_URL = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"


def one(browser_loop: LoopThread, config: Config) -> tuple[CaptureResult, Path]:
    (capture,) = run(browser_loop, config, POST_URL).captures
    assert capture.directory is not None
    return capture, config.storage.data_dir / capture.directory


def resum(root: Path, name: str, *, drop: bool = False) -> None:
    """Rewrite `name`'s line of SHA256SUMS to its current content (or drop it)."""
    lines = []
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, listed = line.split("  ", 1)
        if listed == name:
            if drop:
                continue
            digest = hashlib.sha256((root / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {listed}")
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def problems(config: Config, ref: str | None) -> list[str]:
    return [f"{p.file}: {p.issue}" for v in verify_selection(config, ref) for p in v.problems]


def sql(config: Config, statement: str, *args: object) -> None:
    db = sqlite3.connect(config.storage.data_dir / "index.sqlite3")
    try:
        db.execute(statement, args)
        db.commit()
    finally:
        db.close()


def test_the_capture_s_own_copy_of_the_key_is_checked(browser_loop: LoopThread,
                                                      config: Config, tmp_path: Path) -> None:
    """An auditor checks the signature with the capture's archive-key.pub.pem (README):
    swapped for another key, or removed, verify fails even though it knows the archive's
    own key."""
    capture, root = one(browser_loop, config)
    key = root / "archive-key.pub.pem"
    genuine = key.read_bytes()
    key.write_bytes(load_or_create_key(tmp_path / "mallory.pem").public_pem)
    resum(root, key.name)
    assert any("is not the key manifest.json names" in p
               for p in problems(config, capture.capture_id))
    key.unlink()
    resum(root, key.name, drop=True)
    assert any("archive-key.pub.pem: missing" in p for p in problems(config, capture.capture_id))
    key.write_bytes(genuine)
    (root / "SHA256SUMS").write_text((root / "SHA256SUMS").read_text() +
                                     f"{hashlib.sha256(genuine).hexdigest()}  {key.name}\n")
    assert problems(config, capture.capture_id) == []


def test_a_file_listed_twice_in_sha256sums_fails(browser_loop: LoopThread,
                                                 config: Config) -> None:
    capture, root = one(browser_loop, config)
    sums = (root / "SHA256SUMS").read_text()
    (root / "SHA256SUMS").write_text("0" * 64 + "  embed.png\n" + sums)  # sha256sum -c fails
    assert any("lists embed.png again" in p for p in problems(config, capture.capture_id))


@pytest.mark.parametrize("what", ["link to a directory", "dangling link", "fifo",
                                  "empty directory"])
def test_anything_but_the_capture_s_files_fails(what: str, browser_loop: LoopThread,
                                                config: Config, tmp_path: Path) -> None:
    capture, root = one(browser_loop, config)
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "evil.html").write_text("<script>alert(1)</script>")
    {"link to a directory": lambda: os.symlink(planted, root / "data" / "extra"),
     "dangling link": lambda: os.symlink("/nonexistent", root / "dangling"),
     "fifo": lambda: os.mkfifo(root / "fifo"),
     "empty directory": lambda: (root / "empty").mkdir()}[what]()
    assert len(problems(config, capture.capture_id)) == 1


def test_the_index_row_must_be_the_manifest_s_capture(browser_loop: LoopThread,
                                                      config: Config) -> None:
    """`show` and the web read the index: a row moved to another post, another time or
    another capture's directory is caught against the signed manifest."""
    report = run(browser_loop, config, SEED_URL)
    first, second = report.captures
    assert problems(config, None) == []
    db = sqlite3.connect(config.storage.data_dir / "index.sqlite3")
    post_b = db.execute("SELECT post_row_id FROM captures WHERE id = ?",
                        (second.capture_id,)).fetchone()[0]
    db.close()
    for statement, args in (
            ("UPDATE captures SET post_row_id = ? WHERE id = ?", (post_b, first.capture_id)),
            ("UPDATE captures SET started_at = '2020-09-28T06:00:00Z' WHERE id = ?",
             (first.capture_id,)),
            ("UPDATE captures SET directory = ?, manifest_sha256 = ? WHERE id = ?",
             (second.directory, second.manifest_sha256, first.capture_id))):
        db = sqlite3.connect(config.storage.data_dir / "index.sqlite3")
        saved = db.execute("SELECT post_row_id, started_at, directory, manifest_sha256 "
                           "FROM captures WHERE id = ?", (first.capture_id,)).fetchone()
        db.execute(statement, args)
        db.commit()
        db.close()
        assert any("the index records another" in p
                   for p in problems(config, first.capture_id)), statement
        sql(config, "UPDATE captures SET post_row_id = ?, started_at = ?, directory = ?, "
                    "manifest_sha256 = ? WHERE id = ?", *saved, first.capture_id)
    assert problems(config, None) == []


@pytest.mark.parametrize("status", ["abandoned", "in_progress"])
def test_a_status_that_would_skip_a_capture_does_not_hide_a_change(
        status: str, browser_loop: LoopThread, config: Config) -> None:
    capture, root = one(browser_loop, config)
    (root / "embed.txt").write_text("something else")
    sql(config, "UPDATE captures SET status = ? WHERE id = ?", status, capture.capture_id)
    assert any(p.startswith("embed.txt") for p in problems(config, POST_URL))
    assert any(p.startswith("embed.txt") for p in problems(config, None))


def test_without_a_tsa_ca_the_token_is_noted_and_a_missing_bundle_is_an_error(
        browser_loop: LoopThread, config: Config, tsa: LocalTSA, tmp_path: Path) -> None:
    stamped = replace(config, evidence=replace(config.evidence, tsa_urls=(tsa.url,)))
    capture, _ = one(browser_loop, stamped)
    (result,) = verify_selection(stamped, capture.capture_id)
    assert result.ok and any("chain not checked" in n for n in result.notes), result
    typo = replace(stamped, evidence=replace(stamped.evidence,
                                             tsa_ca_bundle=str(tmp_path / "typo-ca.pem")))
    with pytest.raises(ConfigError, match="tsa_ca_bundle"):
        verify_selection(typo, capture.capture_id)
    checked = replace(stamped, evidence=replace(stamped.evidence,
                                                tsa_ca_bundle=str(tsa.ca_pem)))
    (result,) = verify_selection(checked, capture.capture_id)
    assert result.ok and not result.notes


def test_malformed_files_are_problems_not_tracebacks(browser_loop: LoopThread,
                                                     config: Config, config_file: Path) -> None:
    capture, root = one(browser_loop, config)
    manifest = (root / "manifest.json").read_bytes()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "archiver.cli", *args, "--config",
                               str(config_file)], capture_output=True, text=True, timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    (root / "manifest.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert cli("verify", capture.capture_id).returncode == 1
    (root / "manifest.json").write_bytes(manifest)
    sums = (root / "SHA256SUMS").read_text()
    (root / "SHA256SUMS").write_text(sums + "0" * 64 + "  " + "n" * 300 + "\n")
    assert cli("verify", capture.capture_id).returncode == 1
    (root / "SHA256SUMS").write_text(sums)
    assert cli("verify", capture.capture_id).returncode == 0
    (root / "manifest.json").write_text(json.dumps({"got": []}))
    assert lookup(config, capture.capture_id)["capture_id"] == capture.capture_id
    (root / "manifest.json").write_bytes(manifest)
    ledger = config.storage.data_dir / "ledger.jsonl"
    line = json.loads(ledger.read_bytes())
    ledger.write_text(json.dumps({**line, "capture_id": [line["capture_id"]]}) + "\n")
    assert cli("verify", "--all").returncode == 1
    moved = root.with_name(root.name + "-real")
    root.rename(moved)
    root.symlink_to(root)  # a loop
    out = cli("verify", capture.capture_id)
    assert out.returncode == 1 and "cannot be followed" in out.stdout


def test_verify_of_a_data_directory_without_an_index_is_an_error(config: Config,
                                                                  tmp_path: Path) -> None:
    """An auditor's mistyped data directory: an error, not "verified", and no index made."""
    typo = replace(config, storage=replace(config.storage, data_dir=tmp_path / "typo"))
    with pytest.raises(ArchiverError, match="no index at"):
        verify_selection(typo, None)
    assert not (tmp_path / "typo").exists()


def test_a_directory_no_index_row_names_is_said(browser_loop: LoopThread,
                                                config: Config) -> None:
    capture, root = one(browser_loop, config)
    planted = root.with_name("20200101T000000Z-planted")
    planted.mkdir()
    (planted / "manifest.json").write_text("{}")
    results = verify_selection(config, None)
    assert all(v.ok for v in results)
    (said,) = [v for v in results if v.label == "unindexed"]
    assert planted.relative_to(config.storage.data_dir).as_posix() in said.notes[0]
    assert capture.directory not in said.notes[0]


def test_a_changed_manifest_is_not_blamed_on_the_index(browser_loop: LoopThread,
                                                       config: Config) -> None:
    capture, root = one(browser_loop, config)
    manifest = root / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"live"', b'"deleted"', 1))
    found = problems(config, capture.capture_id)
    assert any(p.startswith("manifest.json: changed") for p in found), found
    assert not any("the index records" in p for p in found), found
