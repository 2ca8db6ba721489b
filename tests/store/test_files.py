import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from archiver.errors import StoreError
from archiver.store.files import (
    STAGING,
    EvidenceDir,
    clean_staging,
    safe_segments,
)
from archiver.store.liveness import FOREIGN_STALE_S, process_tag
from tests.harness import dead_process_tag


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


def test_commit_syncs_every_directory_it_made(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A capture that `commit` returned survives a power cut: the entries of its own
    directories (data/ included) and of each directory made on the way to it reach the
    disk, not only the files' contents."""
    import archiver.store.files as files

    synced: list[Path] = []
    real = files.fsync_dir
    monkeypatch.setattr(files, "fsync_dir", lambda p: (synced.append(Path(p)), real(p)))
    (tmp_path / "captures").mkdir()
    rel = Path("captures/twitter/1/20260101T000000Z-abc")
    with EvidenceDir(tmp_path, rel, "abc") as ev:
        ev.write("data/a.json", b"{}", "application/json", "data")
        staging = ev.staging
        ev.commit({"artifacts": []})
    assert synced[:2] == [staging / "data", staging]  # before the move
    assert set(synced[2:]) == {tmp_path / "captures/twitter/1", tmp_path / "captures/twitter",
                               tmp_path / "captures"}  # the move, and the new directories


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


def _dead_pid() -> str:
    return dead_process_tag().rpartition(".")[2]


def test_staging_of_dead_processes_is_cleaned(tmp_path: Path) -> None:
    staging = tmp_path / STAGING
    dead = staging / f"deadbeef{dead_process_tag()}"
    dead_old_name = staging / f"0ld.{_dead_pid()}"  # named before names held the host
    mine = staging / f"cafe{process_tag()}"
    for d in (dead, dead_old_name, mine):
        d.mkdir(parents=True)
    assert sorted(clean_staging(tmp_path)) == sorted([dead.name, dead_old_name.name])
    assert mine.exists() and not dead.exists() and not dead_old_name.exists()


def test_staging_of_another_host_is_left_until_stale(tmp_path: Path) -> None:
    """A data directory shared by machines: their process numbers mean nothing here."""
    staging = tmp_path / STAGING
    busy = staging / f"a1@other-host.example.{_dead_pid()}"
    stale = staging / f"b2@other-host.example.{_dead_pid()}"
    busy.mkdir(parents=True)
    stale.mkdir()
    then = time.time() - FOREIGN_STALE_S - 60
    os.utime(stale, (then, then))
    assert clean_staging(tmp_path) == [stale.name]
    assert busy.exists()


def test_safe_segments() -> None:
    assert safe_segments("channel/123") == ["channel", "123"]
    assert safe_segments("../../etc") == ["_", "_", "etc"]
    assert safe_segments("a b?c") == ["a_b_c"]


def test_a_host_name_that_cannot_stand_in_a_file_name_is_made_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "lab/box@2")
    ns = os.stat("/proc/self/ns/pid").st_ino
    start = Path("/proc/self/stat").read_text().rpartition(")")[2].split()[19]
    assert process_tag() == f"@lab_box_2+{ns}.{start}.{os.getpid()}"
    staging = tmp_path / STAGING
    dead = staging / f"x@lab_box_2.{_dead_pid()}"  # ours, older name: judged by its pid
    dead.mkdir(parents=True)
    assert clean_staging(tmp_path) == [dead.name]
