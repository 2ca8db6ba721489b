"""Capture directories on disk, written so that none can claim completeness it lacks.

A directory is assembled under `<data_dir>/.staging/<id>@<host>.<start>.<pid>/` (the owning
process's tag, see `liveness`), every file fsynced, then `manifest.json` and `SHA256SUMS`
are written last and the whole directory is renamed into its final place in one step. A
crash leaves only a staging directory, which the next run removes once its owning process
is gone. Scratch space a capture needs on its way (the browser's HAR) lives there too,
named the same way, so a killed run leaves nothing behind for long, outside the data
directory or in it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from archiver.errors import StoreError
from archiver.models import Artifact
from archiver.store.liveness import hold, left_by_dead_process, process_tag, sweep

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "archive-key.pub.pem"
TIMESTAMP = "manifest.tsr"
#: files derived from manifest.json after it is written; listed in SHA256SUMS, not in it
SEALS = frozenset({SIGNATURE, PUBLIC_KEY, TIMESTAMP})
STAGING = ".staging"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_segments(value: str) -> list[str]:
    """Path segments for an id such as 'channel/123': safe characters only, never '..'."""
    segments = []
    for part in value.split("/"):
        cleaned = re.sub(r"[^A-Za-z0-9._@-]", "_", part).strip(".") or "_"
        segments.append(cleaned[:120])
    return segments


def canonical_json(obj: Any) -> bytes:
    """The bytes we write for JSON evidence: stable key order, UTF-8, trailing newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


#: errors of the machine, not of our code: a full disk, a quota, a file-size limit, a
#: read-only filesystem. They fail the capture with a clear reason; the batch goes on.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def storage_error(what: str, exc: OSError) -> StoreError:
    """A StoreError for a failed write; `expected` when the machine is at fault."""
    return StoreError(f"{what}: {exc.strerror or exc}",
                      expected=exc.errno in _ENVIRONMENT_ERRNOS)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (names created, renamed, removed) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """`mkdir -p`, and each directory it made durable (its name synced in its parent)."""
    made, up = [], path
    while not up.exists():
        made.append(up)
        up = up.parent
    path.mkdir(parents=True, exist_ok=True)
    for parent in dict.fromkeys(d.parent for d in made):
        fsync_dir(parent)


def staging_dir(data_dir: Path, ident: str) -> Path:
    """This process's staging directory for `ident`, which `clean_staging` removes once the
    process is gone (other PID namespaces sharing the directory see it running: `hold`)."""
    hold(data_dir)
    return data_dir / STAGING / f"{ident}{process_tag()}"


@contextmanager
def scratch(data_dir: Path, ident: str) -> Iterator[Path]:
    """A private directory under `<data_dir>/.staging/` for files on their way into a
    capture, removed on the way out; one a killed process left goes with `clean_staging`."""
    path = staging_dir(data_dir, ident)
    try:
        path.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise storage_error(f"cannot create {path}", exc) from exc
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class EvidenceDir:
    """Assemble one evidence directory atomically. Use as a context manager."""

    def __init__(self, data_dir: Path, final_relpath: Path, ident: str) -> None:
        self.data_dir = data_dir
        self.final_relpath = final_relpath
        self.staging = staging_dir(data_dir, ident)
        self.artifacts: list[Artifact] = []
        self.committed = False

    def __enter__(self) -> EvidenceDir:
        try:
            self.staging.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise storage_error(f"cannot create {self.staging}", exc) from exc
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.committed:
            shutil.rmtree(self.staging, ignore_errors=True)

    def write(self, name: str, data: bytes, media_type: str, role: str) -> Artifact:
        """Store one artifact file (name relative to the directory) and return its record."""
        if name in (MANIFEST, SUMS) or name in SEALS or name.startswith("/") \
                or ".." in Path(name).parts:
            raise StoreError(f"invalid artifact name {name!r}")
        path = self.staging / name
        self._write_file(path, data)
        artifact = Artifact(name, sha256_bytes(data), len(data), media_type, role)
        self.artifacts.append(artifact)
        return artifact

    def _write_file(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise storage_error(f"cannot write {path.name}", exc) from exc

    def commit(self, manifest: dict[str, Any],
               seal: Callable[[bytes], dict[str, bytes]] | None = None) -> tuple[str, str]:
        """Write manifest.json, the files `seal` derives from it (signature, timestamp
        token ...), and SHA256SUMS over everything; then move into place.

        Returns (directory relative to the data dir, SHA-256 of manifest.json).
        """
        manifest_bytes = canonical_json(manifest)
        self._write_file(self.staging / MANIFEST, manifest_bytes)
        manifest_sha = sha256_bytes(manifest_bytes)
        lines = [f"{a.sha256}  {a.name}" for a in sorted(self.artifacts, key=lambda a: a.name)]
        lines.append(f"{manifest_sha}  {MANIFEST}")
        for name, data in sorted((seal(manifest_bytes) if seal else {}).items()):
            if name not in SEALS:
                raise StoreError(f"unexpected seal file {name!r}")
            self._write_file(self.staging / name, data)
            lines.append(f"{sha256_bytes(data)}  {name}")
        self._write_file(self.staging / SUMS, ("\n".join(lines) + "\n").encode())
        final = self.data_dir / self.final_relpath
        try:
            # every directory's entries reach the disk (the files' own data already did),
            # the new directories of the path to the capture too, before and after the move
            for below, dirs, _ in os.walk(self.staging):
                for name in dirs:
                    fsync_dir(Path(below) / name)
            fsync_dir(self.staging)
            make_dirs(final.parent)
            if final.exists():
                raise StoreError(f"refusing to overwrite existing evidence at {final}")
            os.rename(self.staging, final)
            fsync_dir(final.parent)
        except OSError as exc:
            raise storage_error(f"cannot move evidence into {final}", exc) from exc
        self.committed = True
        return self.final_relpath.as_posix(), manifest_sha


def withdraw(data_dir: Path, relpath: str) -> None:
    """Take a committed directory back out of place (its capture could not be recorded):
    renamed into staging first, so that no half-removed capture is ever in place."""
    final = inside(data_dir, relpath)
    aside = staging_dir(data_dir, f"withdrawn-{final.name}")
    try:
        os.rename(final, aside)
    except OSError:
        return  # left in place, named by neither the index nor the ledger
    shutil.rmtree(aside, ignore_errors=True)


def clean_staging(data_dir: Path) -> list[str]:
    """Remove staging directories that no running process owns; return their names."""
    removed: list[str] = []
    root = data_dir / STAGING
    sweep(data_dir)
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        if entry.name.rpartition(".")[2].isdigit() and \
                not left_by_dead_process(entry, data_dir=data_dir):
            continue  # a live process's (names without a process tag are nobody's)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / MANIFEST).read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise StoreError(f"cannot read {directory / MANIFEST}: "
                         f"{exc if not isinstance(exc, RecursionError) else 'nested too deep'}"
                         ) from exc
    if not isinstance(data, dict):
        raise StoreError(f"{directory / MANIFEST} is not a JSON object")
    return data


def inside(data_dir: Path, relpath: str | None) -> Path:
    """`data_dir / relpath`, refusing anything that would leave the data directory (an
    index row is data too: a shared index must not point us at other files)."""
    if not relpath:
        raise StoreError("no directory recorded")
    try:
        root = data_dir.resolve()
        path = (data_dir / relpath).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a loop of links, a NUL, too long
        raise StoreError(f"{relpath[:200]!r} cannot be followed: {exc}") from exc
    if path != root and not path.is_relative_to(root):
        raise StoreError(f"{relpath!r} points outside the data directory")
    return data_dir / relpath
