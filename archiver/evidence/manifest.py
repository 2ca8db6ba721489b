"""The manifest: what was asked, what was got, how, and when, for one evidence directory.

Field order is fixed so the same capture always serialises to the same bytes. Version 1.
"""

from __future__ import annotations

import platform as pyplatform
import sys
from collections.abc import Sequence
from typing import Any

from archiver import __version__
from archiver.models import Artifact, EmbedRef, HttpExchange, PostData, PostRef

MANIFEST_VERSION = 1


def embed_record(embed: EmbedRef, article_url: str | None) -> dict[str, Any]:
    return {
        "article_url": article_url,
        "position": embed.position,
        "found_in": str(embed.found_in),
        "element": embed.element,
        "raw_url": embed.raw_url,
        "author": embed.author,
        "author_name": embed.author_name,
        "quoted_text": embed.quoted_text,
        "date_text": embed.date_text,
        "date": embed.date,
        "markup": embed.markup,
    }


def tool_environment(config_digest: str) -> dict[str, Any]:
    return {
        "archiver": __version__,
        "python": sys.version.split()[0],
        "os": f"{pyplatform.system()} {pyplatform.release()} {pyplatform.machine()}",
        "config_sha256": config_digest,
    }


def exchange_record(exchange: HttpExchange, artifact: str | None) -> dict[str, Any]:
    record = exchange.describe()
    record["artifact"] = artifact
    if exchange.retried:  # answers 429 / 503 that were waited out and asked again
        record["retried"] = [e.describe() for e in exchange.retried]
    return record


def post_manifest(*, capture_id: str, post: PostRef, status: str, reason: str | None,
                  data: PostData | None, requested: Sequence[str],
                  embeds: Sequence[tuple[EmbedRef, str | None]],
                  requests: Sequence[dict[str, Any]], pages: Sequence[dict[str, Any]],
                  environment: dict[str, Any], started: str, finished: str,
                  artifacts: Sequence[Artifact], checks: dict[str, Any] | None = None,
                  previous: tuple[str, str] | None = None,
                  key_fingerprint: str | None = None) -> dict[str, Any]:
    """The manifest of a post capture.

    `previous` is (capture id, manifest SHA-256) of the post's capture before this one: the
    hash chain. `key_fingerprint` names the key that signs manifest.json (manifest.sig).
    """
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": "post-capture",
        "capture_id": capture_id,
        "post": {"platform": post.platform, "post_id": post.post_id, "url": post.url,
                 "author": post.author},
        "status": {"status": status, "reason": reason},
        "post_data": None if data is None else {
            "text": data.text, "author": data.author, "author_name": data.author_name,
            "created_at": data.created_at, "media": list(data.media),
        },
        "asked": {
            "requested": list(requested),
            "embeds": [embed_record(e, url) for e, url in embeds],
        },
        "got": {"requests": list(requests), "pages": list(pages)},
        "checks": checks or {},
        "chain": {"previous_capture_id": previous[0] if previous else None,
                  "previous_manifest_sha256": previous[1] if previous else None},
        "signing": {"algorithm": "ECDSA-P384-SHA256", "key_fingerprint": key_fingerprint,
                    "signature_file": "manifest.sig"} if key_fingerprint else None,
        "how": environment,
        "when": {"started": started, "finished": finished},
        "artifacts": [artifact_record(a) for a in artifacts],
    }


def article_manifest(*, fetch_id: str, url: str, exchange: HttpExchange | None,
                     body_artifact: str | None, error: str | None, status: str,
                     lookups: Sequence[HttpExchange] = (),
                     pages: Sequence[dict[str, Any]] = (),
                     key_fingerprint: str | None = None,
                     notes: Sequence[str] = (),
                     embeds: Sequence[EmbedRef],
                     environment: dict[str, Any], started: str, finished: str,
                     artifacts: Sequence[Artifact]) -> dict[str, Any]:
    """The manifest of an article fetch: the raw response and the embeds found in it."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": "article-fetch",
        "fetch_id": fetch_id,
        "article": {"url": url},
        "status": {"status": status, "reason": error},
        "got": {"requests": ([exchange_record(exchange, body_artifact)] if exchange else [])
                + [exchange_record(x, None) for x in lookups],
                "pages": list(pages)},
        "embeds": [e.to_json() for e in embeds],
        "notes": list(notes),
        "signing": {"algorithm": "ECDSA-P384-SHA256", "key_fingerprint": key_fingerprint,
                    "signature_file": "manifest.sig"} if key_fingerprint else None,
        "how": environment,
        "when": {"started": started, "finished": finished},
        "artifacts": [artifact_record(a) for a in artifacts],
    }


def artifact_record(a: Artifact) -> dict[str, Any]:
    return {"name": a.name, "sha256": a.sha256, "size": a.size, "media_type": a.media_type,
            "role": a.role}
