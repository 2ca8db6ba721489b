from pathlib import Path

import pytest

from archiver.evidence.keys import ArchiveKey, load_or_create_key, signature_seal
from archiver.evidence.manifest import artifact_record
from archiver.evidence.verify import verify_directory
from archiver.store.files import EvidenceDir


def make_capture(data_dir: Path, key: ArchiveKey | None) -> tuple[str, str]:
    rel = Path("captures/twitter/1/stamp-id")
    with EvidenceDir(data_dir, rel, "id") as ev:
        ev.write("data/tweet-result.json", b'{"text": "hello"}', "application/json", "data")
        ev.write("embed.png", b"\x89PNG fake", "image/png", "screenshot")
        ev.write("embed.txt", b"hello", "text/plain", "text")
        manifest: dict[str, object] = {
            "artifacts": [artifact_record(a) for a in ev.artifacts]}
        if key is not None:
            manifest["signing"] = {"key_fingerprint": key.fingerprint}
        return ev.commit(manifest, seal=(lambda m: {n: f(m) for n, f in
                                                    signature_seal(key).items()})
                         if key is not None else None)


@pytest.fixture()
def capture(tmp_path: Path) -> tuple[Path, str, str]:
    key = load_or_create_key(tmp_path / "keys" / "k.pem")
    directory, sha = make_capture(tmp_path / "data", key)
    return tmp_path / "data", directory, sha


def test_intact_capture_verifies(capture: tuple[Path, str, str]) -> None:
    data_dir, directory, sha = capture
    result = verify_directory(data_dir, directory, "id", sha)
    assert result.ok, result.problems
    assert result.files_checked == 6


def test_an_unsigned_manifest_is_flagged(tmp_path: Path) -> None:
    directory, sha = make_capture(tmp_path, None)
    problems = verify_directory(tmp_path, directory, "id", sha).problems
    assert [(p.file, p.issue) for p in problems] == [
        ("manifest.json", "is not signed (no signing section)")]


def test_a_manifest_signed_by_another_key_is_flagged(capture: tuple[Path, str, str],
                                                     tmp_path: Path) -> None:
    data_dir, directory, sha = capture
    other = load_or_create_key(tmp_path / "other.pem")
    problems = verify_directory(data_dir, directory, "id", sha, other.public_pem).problems
    assert [p.file for p in problems] == ["manifest.sig"]
    assert "not this archive's" in problems[0].issue


def test_a_directory_outside_the_data_directory_is_refused(tmp_path: Path) -> None:
    for rel in ("../elsewhere", "/etc", "captures/../../x"):
        result = verify_directory(tmp_path / "data", rel, "x")
        assert not result.ok and "outside the data directory" in result.problems[0].issue


@pytest.mark.parametrize("name", ["data/tweet-result.json", "embed.png", "embed.txt",
                                  "manifest.json", "SHA256SUMS", "manifest.sig",
                                  "archive-key.pub.pem"])
def test_one_flipped_byte_in_any_file_is_caught_and_named(capture: tuple[Path, str, str],
                                                          name: str) -> None:
    data_dir, directory, sha = capture
    path = data_dir / directory / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify_directory(data_dir, directory, "id", sha)
    assert not result.ok
    assert name in {p.file for p in result.problems}


def test_missing_and_extra_files_are_named(capture: tuple[Path, str, str]) -> None:
    data_dir, directory, sha = capture
    (data_dir / directory / "embed.txt").unlink()
    (data_dir / directory / "planted.js").write_text("alert(1)")
    problems = {p.file: p.issue for p in verify_directory(data_dir, directory, "id", sha).problems}
    assert "missing" in problems["embed.txt"]
    assert "not listed" in problems["planted.js"]


def test_a_consistent_rewrite_is_caught_by_the_index_hash(capture: tuple[Path, str, str]) -> None:
    """Rewriting an artifact AND its manifest and SHA256SUMS entries still fails: the index
    holds the manifest's original hash."""
    import hashlib
    import json

    data_dir, directory, sha = capture
    root = data_dir / directory
    (root / "embed.txt").write_bytes(b"forged")
    forged = hashlib.sha256(b"forged").hexdigest()
    manifest = json.loads((root / "manifest.json").read_text())
    for a in manifest["artifacts"]:
        if a["name"] == "embed.txt":
            a["sha256"] = forged
    body = json.dumps(manifest).encode()
    (root / "manifest.json").write_bytes(body)
    lines = []
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        if name == "embed.txt":
            digest = forged
        if name == "manifest.json":
            digest = hashlib.sha256(body).hexdigest()
        lines.append(f"{digest}  {name}")
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    result = verify_directory(data_dir, directory, "id", sha)
    assert [p.file for p in result.problems] == ["manifest.json"]


def test_missing_directory(tmp_path: Path) -> None:
    result = verify_directory(tmp_path, "captures/none", "x", None)
    assert not result.ok and "missing" in result.problems[0].issue
