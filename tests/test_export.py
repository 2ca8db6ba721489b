"""Exports an outsider can use: a WACZ that `wacz validate` accepts, and a bundle whose
README commands (sha256sum and openssl only) pass when run as written."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import Config
from archiver.errors import UsageError
from archiver.evidence.wacz import verify_wacz_signature
from archiver.export import export
from archiver.pipeline import archive_async
from tests.harness import SEED_IDS, LoopThread
from tests.tsa import LocalTSA

pytestmark = pytest.mark.browser
POST_URL = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"


@pytest.fixture()
def stamped(config: Config, tsa: LocalTSA) -> Config:
    return replace(config, evidence=replace(config.evidence, tsa_urls=(tsa.url,),
                                            tsa_ca_bundle=str(tsa.ca_pem)))


def test_wacz_export_validates_and_is_signed_by_the_archive(
        browser_loop: LoopThread, stamped: Config, tmp_path: Path) -> None:
    for _ in range(2):  # two captures of the post: the export holds both
        browser_loop.run(archive_async([POST_URL], stamped, browser=browser_loop.browser))
    out = tmp_path / "post.wacz"
    done = export(stamped, POST_URL, "wacz", out)
    assert len(done.captures) == 2
    wacz = Path(sys.executable).with_name("wacz")
    check = subprocess.run([str(wacz), "validate", "-f", str(out)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(out) as zf:
        pages = zf.read("pages/pages.jsonl").decode().splitlines()[1:]
        urls = {json.loads(p)["url"] for p in pages}
        assert any(u.startswith("https://platform.twitter.com/embed/Tweet.html") for u in urls)
        index = zf.read("indexes/index.cdxj").decode()
        assert "urn:embed-archiver:export/" in index  # manifests ride along as urn: records
        key_pem = (stamped.key_path.with_name("archive-key.pub.pem")).read_bytes()
        assert b"PRIVATE" not in b"".join(zf.read(n) for n in zf.namelist())
    ok, message = verify_wacz_signature(out)
    assert ok, message
    assert key_pem  # the signing key is the archive's (fingerprint checked by the verifier)


def test_auditor_bundle_readme_commands_pass_as_written(
        browser_loop: LoopThread, stamped: Config, tmp_path: Path) -> None:
    browser_loop.run(archive_async([POST_URL], stamped, browser=browser_loop.browser))
    browser_loop.run(archive_async([POST_URL], stamped, browser=browser_loop.browser))
    out = tmp_path / "bundle.zip"
    export(stamped, POST_URL, "zip", out)
    unpacked = tmp_path / "bundle"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(unpacked)
        assert not any("PRIVATE" in zf.read(n).decode("latin-1") for n in zf.namelist())
    readme = (unpacked / "README.txt").read_text()
    commands = [line[2:] for line in readme.splitlines() if line.startswith("$ ")]
    assert len(commands) >= 8
    for command in commands:
        out_ = subprocess.run(["bash", "-c", command], cwd=unpacked, capture_output=True,
                              text=True)
        assert out_.returncode == 0, (command, out_.stdout, out_.stderr)
        assert "BROKEN" not in out_.stdout and "FAILED" not in out_.stdout
    # and they catch tampering: one byte of a screenshot
    shot = next(unpacked.rglob("embed.png"))
    data = bytearray(shot.read_bytes())
    data[50] ^= 1
    shot.write_bytes(bytes(data))
    failed = [c for c in commands if subprocess.run(["bash", "-c", c], cwd=unpacked,
                                                    capture_output=True).returncode != 0]
    assert any("sha256sum -c" in c for c in failed)


def test_unknown_format_and_unknown_capture(config: Config, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown export format"):
        export(config, "abcd1234", "tar", tmp_path / "x")
