import os
import subprocess
from pathlib import Path

import pytest

from archiver.errors import StoreError
from archiver.store.files import STAGING, EvidenceDir, clean_staging, safe_segments


def test_commit_moves_a_complete_directory_into_place(tmp_path: Path) -> None:
    rel = Path("captures/twitter/1/20260101T000000Z-abc")
    with EvidenceDir(tmp_path, rel, "abc") as ev:
        ev.write("data/a.json", b'{"a": 1}', "application/json", "data")
        ev.write("b.png", b"\x89PNG", "image/png", "screenshot")
        assert not (tmp_path / rel).exists()  # nothing visible until complete
        directory, _ = ev.commit({"artifacts": []})
    final = tmp_path / directory
    assert sorted(p.name for p in final.iterdir()) == ["SHA256SUMS", "b.png", "data",
                                                        "manifest.json"]
    assert not any((tmp_path / STAGING).iterdir())
    # the standard tool agrees with what we wrote
    out = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=final, capture_output=True,
                         text=True, check=True)
    assert out.stdout.count(": OK") == 3


def test_failure_before_commit_leaves_nothing(tmp_path: Path) -> None:
    rel = Path("captures/x/1/stamp-id")
    with pytest.raises(RuntimeError), EvidenceDir(tmp_path, rel, "id") as ev:
        ev.write("a.txt", b"partial", "text/plain", "text")
        raise RuntimeError("crash mid-capture")
    assert not (tmp_path / rel).exists()
    assert not any((tmp_path / STAGING).iterdir())


def test_existing_evidence_is_never_overwritten(tmp_path: Path) -> None:
    rel = Path("captures/x/1/stamp-id")
    (tmp_path / rel).mkdir(parents=True)
    (tmp_path / rel / "manifest.json").write_text("earlier")
    with pytest.raises(StoreError, match="refusing to overwrite"), \
            EvidenceDir(tmp_path, rel, "id2") as ev:
        ev.commit({})
    assert (tmp_path / rel / "manifest.json").read_text() == "earlier"


@pytest.mark.parametrize("name", ["../escape", "/abs", "manifest.json", "SHA256SUMS"])
def test_artifact_names_cannot_escape_or_clobber(tmp_path: Path, name: str) -> None:
    with EvidenceDir(tmp_path, Path("c"), "i") as ev, pytest.raises(StoreError):
        ev.write(name, b"x", "text/plain", "text")


def test_staging_of_dead_processes_is_cleaned(tmp_path: Path) -> None:
    staging = tmp_path / STAGING
    dead = staging / "deadbeef.999999999"
    mine = staging / f"cafe.{os.getpid()}"
    dead.mkdir(parents=True)
    mine.mkdir()
    assert clean_staging(tmp_path) == ["deadbeef.999999999"]
    assert mine.exists() and not dead.exists()


def test_safe_segments() -> None:
    assert safe_segments("channel/123") == ["channel", "123"]
    assert safe_segments("../../etc") == ["_", "_", "etc"]
    assert safe_segments("a b?c") == ["a_b_c"]
