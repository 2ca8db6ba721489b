"""Finding stored captures again: by capture id, by any URL of a post, or all of them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from archiver.config import Config
from archiver.errors import ArchiverError, UsageError
from archiver.evidence import ledger
from archiver.evidence.keys import public_key_path
from archiver.evidence.timestamp import LATE_DIR, late_token_path, verify_stamp
from archiver.evidence.verify import Problem, Verification, verify_directory
from archiver.platforms import match_url
from archiver.store.files import MANIFEST, TIMESTAMP, inside, read_manifest, sha256_file
from archiver.store.index import Index
from archiver.store.schema import CaptureRow, PostRow


def capture_json(row: CaptureRow, config: Config, *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "capture_id": row.id,
        "status": row.status,
        "reason": row.reason,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "platform": row.post.platform,
        "post_id": row.post.post_id,
        "url": row.post.url,
        "author": row.post.author,
        "text": row.text,
        "directory": str(config.storage.data_dir / row.directory) if row.directory else None,
        "manifest_sha256": row.manifest_sha256,
        "timestamp": row.timestamp,
        "change": row.change,
    }
    if detail:
        out["artifacts"] = [{"name": a.name, "sha256": a.sha256, "size": a.size,
                             "media_type": a.media_type, "role": a.role} for a in row.artifacts]
        if row.directory and row.manifest_sha256:
            try:
                manifest = read_manifest(config.storage.data_dir / row.directory)
            except ArchiverError as exc:
                out["manifest_error"] = str(exc)
            else:
                out["post_data"] = manifest.get("post_data")
                out["checks"] = manifest.get("checks")
                out["chain"] = manifest.get("chain")
                out["signing"] = manifest.get("signing")
                out["environment"] = manifest.get("how")
                out["pages"] = [{k: p.get(k) for k in ("role", "final_url", "http_status",
                                                       "signal", "detail")}
                                for p in manifest.get("got", {}).get("pages", [])]
    return out


def post_json(row: PostRow, config: Config) -> dict[str, Any]:
    return {
        "post": {"platform": row.platform, "post_id": row.post_id, "url": row.url,
                 "author": row.author, "first_seen": row.first_seen,
                 "last_status": row.last_status, "last_captured": row.last_captured,
                 "state": row.state, "next_check": row.next_check},
        "history": [{"at": c.started_at, "status": c.status, "change": c.change,
                     "capture_id": c.id} for c in row.captures
                    if c.change not in (None, "unchanged")],
        "embedded_in": [{"article": e.article.url, "position": e.position,
                         "found_in": e.found_in, "quoted_text": e.quoted_text,
                         "date_text": e.date_text} for e in row.embeds],
        "captures": [capture_json(c, config) for c in row.captures],
    }


def _post_row(index: Index, ref: str) -> PostRow:
    post = match_url(ref)
    if post is None:
        raise UsageError(f"not a post URL of any platform we know: {ref}")
    row = index.post(post.platform, post.post_id)
    if row is None:
        raise ArchiverError(f"nothing archived for {post.platform} post {post.post_id}")
    return row


def _capture_row(index: Index, ref: str) -> CaptureRow:
    if len(ref) < 4:
        raise UsageError("give at least 4 characters of a capture id")
    rows = index.captures_by_prefix(ref)
    if not rows:
        raise ArchiverError(f"no capture with id {ref}")
    if len(rows) > 1:
        raise UsageError(f"capture id prefix {ref} is ambiguous; give more characters")
    return rows[0]


def lookup(config: Config, ref: str) -> dict[str, Any]:
    """A capture (by id or id prefix) or a post with its history (by a URL of the post)."""
    index = Index(config.storage.effective_database_url)
    try:
        if "/" in ref:
            return post_json(_post_row(index, ref), config)
        return capture_json(_capture_row(index, ref), config, detail=True)
    finally:
        index.close()


def select_captures(config: Config, ref: str) -> list[CaptureRow]:
    """The captures a reference names: a capture id (or unique prefix), or a post URL."""
    index = Index(config.storage.effective_database_url)
    try:
        if "/" in ref:
            return list(_post_row(index, ref).captures)
        return [_capture_row(index, ref)]
    finally:
        index.close()


def verify_selection(config: Config, ref: str | None) -> list[Verification]:
    """Verify one capture, every capture of a post (ref is a URL), or everything (None):
    files, signatures, tokens, chain links, and what the index says against the manifest;
    with None also the article fetches and the ledger."""
    index = Index(config.storage.effective_database_url)
    data_dir = config.storage.data_dir
    try:
        head = index.get_meta("ledger_head")
        if ref is None:
            rows = index.completed_captures()
            fetches = index.article_fetch_dirs()
        elif "/" in ref:
            rows = [c for c in _post_row(index, ref).captures if c.directory]
            fetches = []
        else:
            rows = [_capture_row(index, ref)]
            fetches = []
        everything = {r.id: r for r in rows
                      if r.manifest_sha256 and r.status not in ("in_progress", "abandoned")}
        if ref is None:
            known = everything
        else:  # only the links the selection names, not the whole archive
            known = dict(everything)
            for r in rows:
                prev = _previous_id(data_dir, r)
                if prev and prev not in known:
                    found = index.capture(prev)
                    if found is not None:
                        known[prev] = found
    finally:
        index.close()
    roots_file = Path(config.evidence.tsa_ca_bundle) if config.evidence.tsa_ca_bundle else None
    tsa_roots = roots_file.read_bytes() if roots_file and roots_file.is_file() else None
    archive_pub = public_key_path(config.key_path)
    trusted = archive_pub.read_bytes() if archive_pub.is_file() else None
    results = []
    for r in rows:
        if not r.directory or r.status in ("in_progress", "abandoned"):
            continue
        v = verify_directory(data_dir, r.directory, r.id, r.manifest_sha256, trusted)
        more = _chain_problems(data_dir, r, known) + _stamp_problems(
            data_dir, r, tsa_roots, stamped=r.timestamp in ("stamped", "stamped_later")) \
            + _index_problems(data_dir, r)
        results.append(replace(v, problems=v.problems + tuple(more)) if more else v)
    results += [verify_directory(data_dir, d, f"article {d.rsplit('-', 1)[-1]}", sha, trusted)
                for d, sha in fetches]
    if ref is None:
        results.append(verify_ledger(data_dir, list(everything.values()), head))
    if ref is not None and not results:
        raise ArchiverError(f"{ref}: no stored capture directory to verify")
    return results


def _manifest(data_dir: Path, row: CaptureRow) -> dict[str, Any] | None:
    try:
        return read_manifest(inside(data_dir, row.directory))
    except ArchiverError:
        return None  # reported by the file checks


def _previous_id(data_dir: Path, row: CaptureRow) -> str | None:
    if not row.directory:
        return None
    chain = (_manifest(data_dir, row) or {}).get("chain")
    prev = chain.get("previous_capture_id") if isinstance(chain, dict) else None
    return str(prev) if prev else None


def _index_problems(data_dir: Path, row: CaptureRow) -> list[Problem]:
    """What the index shows (status, text) must be what the signed manifest says."""
    manifest = _manifest(data_dir, row)
    if manifest is None:
        return []
    status = manifest.get("status") if isinstance(manifest.get("status"), dict) else {}
    data = manifest.get("post_data") if isinstance(manifest.get("post_data"), dict) else {}
    problems = []
    if (status or {}).get("status") != row.status:
        problems.append(Problem(MANIFEST, f"the index records status {row.status!r} but the "
                                          f"manifest says {(status or {}).get('status')!r}"))
    if (data or {}).get("text") != row.text:
        problems.append(Problem(MANIFEST, "the index records a text the manifest does not "
                                          "hold (the index was changed)"))
    return problems


def _stamp_problems(data_dir: Path, row: CaptureRow, roots: bytes | None,
                    stamped: bool) -> list[Problem]:
    """Each RFC 3161 token must cover this manifest (and chain to the configured CAs)."""
    directory = data_dir / (row.directory or "")
    found = [(directory / TIMESTAMP, TIMESTAMP),
             (late_token_path(data_dir, row.id), f"{LATE_DIR}/{row.id}.tsr (data directory)")]
    manifest = directory / MANIFEST
    problems, seen = [], 0
    for path, label in found:
        if not path.is_file() or not manifest.is_file():
            continue
        seen += 1
        check = verify_stamp(path.read_bytes(), manifest.read_bytes(), roots)
        if not check.ok:
            problems.append(Problem(label, f"timestamp token: {check.detail}"))
    if stamped and not seen:
        problems.append(Problem(TIMESTAMP, "missing (the index records the capture as "
                                           "timestamped)"))
    return problems


def _chain_problems(data_dir: Path, row: CaptureRow,
                    everything: dict[str, CaptureRow]) -> list[Problem]:
    """The manifest's link to the post's previous capture must name that manifest's hash."""
    try:
        chain = read_manifest(inside(data_dir, row.directory)).get("chain") or {}
    except ArchiverError:
        return []  # reported by the file checks
    if not isinstance(chain, dict):
        return [Problem(MANIFEST, "its chain section is not an object")]
    prev_id, prev_sha = chain.get("previous_capture_id"), chain.get("previous_manifest_sha256")
    if not prev_id:
        return []
    prev = everything.get(str(prev_id))
    if prev is None or not prev.directory:
        return [Problem(MANIFEST, f"links to previous capture {prev_id}, which the index "
                                  "does not hold")]
    path = data_dir / prev.directory / MANIFEST
    if not path.is_file() or sha256_file(path) != prev_sha:
        return [Problem(MANIFEST, f"links to previous capture {prev_id} by a manifest hash "
                                  "that capture no longer has (history was rewritten)")]
    return []


def verify_ledger(data_dir: Path, captures: list[CaptureRow], head: str | None
                  ) -> Verification:
    """The ledger chain, its head against the index, and ledger vs index, both ways."""
    entries, problems, last = ledger.read_entries(data_dir)
    if head is not None:
        seq, _, digest = head.partition(":")
        if not entries or last != digest or str(entries[-1].seq) != seq:
            problems.append(Problem(ledger.LEDGER, f"ends at a different line than the index "
                                                   f"recorded (entry {seq}): lines were cut "
                                                   "off or the last line was changed"))
    by_id = {e.capture_id: e for e in entries}
    for row in captures:
        entry = by_id.get(row.id)
        if entry is None:
            problems.append(Problem(ledger.LEDGER, f"has no entry for capture {row.id}"))
        elif entry.manifest_sha256 != row.manifest_sha256:
            problems.append(Problem(ledger.LEDGER, f"entry {entry.seq} records another "
                                                   f"manifest hash for capture {row.id}"))
    known = {r.id for r in captures}
    for entry in entries:
        if entry.capture_id not in known:
            problems.append(Problem(ledger.LEDGER, f"entry {entry.seq} names capture "
                                                   f"{entry.capture_id}, unknown to the index"))
    return Verification("ledger", ledger.LEDGER, tuple(problems), len(entries))
