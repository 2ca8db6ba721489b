from pathlib import Path

import pytest

from archiver.evidence.manifest import artifact_record
from archiver.evidence.verify import verify_directory
from archiver.store.files import EvidenceDir


@pytest.fixture()
def capture(tmp_path: Path) -> tuple[Path, str, str]:
    rel = Path("captures/twitter/1/stamp-id")
    with EvidenceDir(tmp_path, rel, "id") as ev:
        ev.write("data/tweet-result.json", b'{"text": "hello"}', "application/json", "data")
        ev.write("embed.png", b"\x89PNG fake", "image/png", "screenshot")
        ev.write("embed.txt", b"hello", "text/plain", "text")
        directory, sha = ev.commit({"artifacts": [artifact_record(a) for a in ev.artifacts]})
    return tmp_path, directory, sha


def test_intact_capture_verifies(capture: tuple[Path, str, str]) -> None:
    data_dir, directory, sha = capture
    result = verify_directory(data_dir, directory, "id", sha)
    assert result.ok, result.problems
    assert result.files_checked == 4


@pytest.mark.parametrize("name", ["data/tweet-result.json", "embed.png", "embed.txt",
                                  "manifest.json", "SHA256SUMS"])
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
