"""Offline verification of evidence directories: every byte against its recorded hash.

The checks mirror what an auditor does by hand: `sha256sum -c SHA256SUMS` inside the
directory, the manifest's own list of artifacts, and the manifest's hash as the index
recorded it when the capture finished. Every failing file is named.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.errors import StoreError
from archiver.evidence.keys import public_fingerprint, verify_signature
from archiver.store.files import (
    MANIFEST,
    PUBLIC_KEY,
    SEALS,
    SIGNATURE,
    SUMS,
    inside,
    sha256_file,
)

_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


@dataclass(frozen=True)
class Problem:
    file: str
    issue: str

    def __str__(self) -> str:
        return f"{self.file}: {self.issue}"


@dataclass(frozen=True)
class Verification:
    label: str  # capture id or article fetch directory
    directory: str
    problems: tuple[Problem, ...]
    files_checked: int
    #: what was seen and is not a problem (the ledger: captures still being stored)
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"id": self.label, "directory": self.directory, "ok": self.ok,
                "files_checked": self.files_checked,
                "problems": [{"file": p.file, "issue": p.issue} for p in self.problems],
                "notes": list(self.notes)}


def verify_directory(data_dir: Path, relpath: str, label: str,
                     manifest_sha256: str | None = None,
                     archive_public_pem: bytes | None = None) -> Verification:
    """Check one evidence directory; `manifest_sha256` is what the index recorded and
    `archive_public_pem` the archive's own public key, if known."""
    try:
        root = inside(data_dir, relpath)
    except StoreError as exc:
        return Verification(label, relpath, (Problem(relpath, str(exc)),), 0)
    problems: list[Problem] = []
    if not root.is_dir():
        return Verification(label, relpath, (Problem(relpath, "directory is missing"),), 0)
    checked: dict[str, str] = {}  # name -> actual sha256

    def actual(name: str) -> str | None:
        if name not in checked:
            path = root / name
            try:  # a name may be anything: too long, a loop of links, a NUL
                if path.is_symlink() or not path.is_file() \
                        or not path.resolve().is_relative_to(root.resolve()):
                    return None
            except (OSError, RuntimeError, ValueError):
                return None
            checked[name] = sha256_file(path)
        return checked[name]

    # 1. the manifest, against the index
    manifest: dict[str, Any] = {}
    manifest_actual = actual(MANIFEST)
    if manifest_actual is None:
        problems.append(Problem(MANIFEST, "missing"))
    else:
        if manifest_sha256 and manifest_actual != manifest_sha256:
            problems.append(Problem(MANIFEST, f"changed: sha256 {manifest_actual[:16]}…, the "
                                              f"index recorded {manifest_sha256[:16]}…"))
        try:
            loaded = json.loads((root / MANIFEST).read_bytes())
            manifest = loaded if isinstance(loaded, dict) else {}
            if not manifest:
                problems.append(Problem(MANIFEST, "not a JSON object"))
        except (ValueError, RecursionError):
            problems.append(Problem(MANIFEST, "not valid JSON"))

    # 2. SHA256SUMS, as `sha256sum -c` reads it
    listed: dict[str, str] = {}
    sums = root / SUMS
    if not sums.is_file():
        problems.append(Problem(SUMS, "missing"))
    else:
        for n, line in enumerate(sums.read_bytes().decode("utf-8", "replace").splitlines(), 1):
            m = _SUM_LINE.match(line)
            if not m:
                problems.append(Problem(SUMS, f"line {n} is malformed"))
                continue
            if m.group(2) in listed:  # sha256sum -c checks every line; one of them fails
                problems.append(Problem(SUMS, f"line {n} lists {m.group(2)} again"))
                continue
            listed[m.group(2)] = m.group(1)
        anchored = manifest_actual is not None and manifest_actual == manifest_sha256
        entries = manifest.get("artifacts")
        in_manifest = {str(a.get("name")): a.get("sha256") for a in
                       (entries if isinstance(entries, list) else []) if isinstance(a, dict)}
        for name, expected in listed.items():
            got = actual(name)
            if got is None:
                problems.append(Problem(name, "listed in SHA256SUMS but missing"))
            elif got != expected:
                # with the manifest vouched for by the index, a file that matches what the
                # manifest says is intact: the wrong line is SHA256SUMS's
                intact = anchored and (name == MANIFEST or in_manifest.get(name) == got)
                problems.append(Problem(SUMS, f"lists a wrong hash for {name}") if intact
                                else Problem(name, "content does not match SHA256SUMS"))
        if MANIFEST not in listed and manifest_actual is not None:
            problems.append(Problem(SUMS, "does not list manifest.json"))
        manifest_changed = any(p.file == MANIFEST and p.issue.startswith("changed")
                                for p in problems)
        if manifest and manifest_actual is not None and not manifest_changed:
            entries = manifest.get("artifacts", [])
            should = sorted((str(a.get("name")), str(a.get("sha256")))
                            for a in (entries if isinstance(entries, list) else [])
                            if isinstance(a, dict))
            should.append((MANIFEST, manifest_actual))
            unsealed = [(n, h) for n, h in listed.items() if n not in SEALS]
            if sorted(unsealed) != sorted(should):
                problems.append(Problem(SUMS, "disagrees with manifest.json"))

    # 3. the manifest's own artifact list
    listed_artifacts = manifest.get("artifacts", [])
    if not isinstance(listed_artifacts, list):
        problems.append(Problem(MANIFEST, "its artifact list is not a list"))
        listed_artifacts = []
    recorded: dict[str, dict[str, Any]] = {
        str(a.get("name")): a for a in listed_artifacts if isinstance(a, dict)}
    for name, entry in recorded.items():
        got = actual(name)
        if got is None:
            if name not in listed:
                problems.append(Problem(name, "listed in manifest.json but missing"))
        elif got != entry.get("sha256"):
            problems.append(Problem(name, "content does not match manifest.json"))
        if listed and name not in listed:
            problems.append(Problem(name, "in manifest.json but not in SHA256SUMS"))
    for name in listed:
        if name != MANIFEST and name not in SEALS and manifest and name not in recorded:
            problems.append(Problem(name, "in SHA256SUMS but not in manifest.json"))

    # 4. nothing else may sit in the directory unaccounted for: a capture holds regular
    # files and the directories they are in, nothing else
    names = {*listed, *recorded, SUMS}
    folders = {p for n in names for p in Path(n).parents if p != Path(".")}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            problems.append(Problem(rel, "a symbolic link, not a file of the capture"))
        elif path.is_dir():
            if Path(rel) not in folders:
                problems.append(Problem(rel, "a directory holding no file of the capture"))
        elif not path.is_file():
            problems.append(Problem(rel, "not a regular file"))
        elif rel not in names:
            problems.append(Problem(rel, "not listed in SHA256SUMS or manifest.json"))

    # 5. the signature over manifest.json, by the key the manifest names
    if manifest and manifest_actual is not None and not any(p.file == MANIFEST
                                                            for p in problems):
        problems.extend(_signature_problems(root, manifest, archive_public_pem))

    unique = tuple(dict.fromkeys(problems))  # the same fault seen by two checks is one
    return Verification(label, relpath, unique, len(checked))


def _signature_problems(root: Path, manifest: dict[str, Any],
                        archive_public_pem: bytes | None) -> list[Problem]:
    signing = manifest.get("signing")
    if not isinstance(signing, dict):
        return [Problem(MANIFEST, "is not signed (no signing section)")]
    expected = str(signing.get("key_fingerprint", ""))
    if archive_public_pem is not None and _fingerprint(archive_public_pem) != expected:
        return [Problem(SIGNATURE, f"made by a key that is not this archive's "
                                   f"({expected[:23]}…)")]
    sig_path, pub_path = root / SIGNATURE, root / PUBLIC_KEY
    if not sig_path.is_file():
        return [Problem(SIGNATURE, "missing (the manifest says it is signed)")]
    # the capture's copy of the key is what an auditor checks it with by hand (README):
    # it must be there, and be the key the manifest names, even when the archive's own
    # key is known here
    if not pub_path.is_file():
        return [Problem(PUBLIC_KEY, "missing (the manifest says it is signed)")]
    public_pem = pub_path.read_bytes()
    if _fingerprint(public_pem) != expected:
        return [Problem(PUBLIC_KEY, f"is not the key manifest.json names ({expected[:23]}…)")]
    if not verify_signature(public_pem, (root / MANIFEST).read_bytes(), sig_path.read_bytes()):
        return [Problem(SIGNATURE, "does not verify against manifest.json")]
    return []


def _fingerprint(public_pem: bytes) -> str | None:
    try:
        return public_fingerprint(public_pem)
    except ValueError:
        return None
