"""Finding stored captures again: by capture id, by any URL of a post, or all of them."""

from __future__ import annotations

from typing import Any

from archiver.config import Config
from archiver.errors import ArchiverError, UsageError
from archiver.evidence.verify import Verification, verify_directory
from archiver.platforms import match_url
from archiver.store.files import read_manifest
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
                out["environment"] = manifest.get("how")
                out["pages"] = [{k: p.get(k) for k in ("role", "final_url", "http_status",
                                                       "signal", "detail")}
                                for p in manifest.get("got", {}).get("pages", [])]
    return out


def post_json(row: PostRow, config: Config) -> dict[str, Any]:
    return {
        "post": {"platform": row.platform, "post_id": row.post_id, "url": row.url,
                 "author": row.author, "first_seen": row.first_seen,
                 "last_status": row.last_status, "last_captured": row.last_captured},
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


def verify_selection(config: Config, ref: str | None) -> list[Verification]:
    """Verify one capture, every capture of a post (ref is a URL), or everything (None)."""
    index = Index(config.storage.effective_database_url)
    data_dir = config.storage.data_dir
    try:
        if ref is None:
            rows = index.completed_captures()
            fetches = index.article_fetch_dirs()
        elif "/" in ref:
            rows = [c for c in _post_row(index, ref).captures if c.directory]
            fetches = []
        else:
            rows = [_capture_row(index, ref)]
            fetches = []
    finally:
        index.close()
    results = [verify_directory(data_dir, r.directory, r.id, r.manifest_sha256)
               for r in rows if r.directory and r.status not in ("in_progress", "abandoned")]
    results += [verify_directory(data_dir, d, f"article {d.rsplit('-', 1)[-1]}")
                for d in fetches]
    if ref is not None and not results:
        raise ArchiverError(f"{ref}: no stored capture directory to verify")
    return results
