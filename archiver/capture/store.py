"""Write one capture's evidence: artifacts, manifest, seals, ledger entry.

Runs in a worker thread (file writes, hashing and the timestamp authority's round trip
must not stall the browser's event loop). Order: artifacts; manifest.json; the seals
derived from it (signature, public key, RFC 3161 token); SHA256SUMS; one rename into
place; then the ledger line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archiver import __version__
from archiver.capture.pages import PageResult
from archiver.capture.warc import WarcWriter
from archiver.errors import FetchError, StoreError
from archiver.evidence import ledger
from archiver.evidence.checks import quote_integrity, snowflake_check
from archiver.evidence.keys import signature_seal
from archiver.evidence.manifest import exchange_record, post_manifest, tool_environment
from archiver.evidence.timestamp import stamp_first
from archiver.models import (
    CaptureResult,
    CaptureStatus,
    EmbedRef,
    HttpExchange,
    PostData,
    PostRef,
)
from archiver.net import utc_now
from archiver.platforms.base import DataRequest, PageSpec, Platform
from archiver.store.files import TIMESTAMP, EvidenceDir, withdraw

if TYPE_CHECKING:
    from archiver.capture.post import CaptureEnv


@dataclass(frozen=True)
class Gathered:
    """What the network and the browser brought back for one capture."""

    requests: Sequence[DataRequest]
    fetched: Sequence[HttpExchange | FetchError]
    pages: Sequence[PageResult]
    specs: Sequence[PageSpec]
    t0: float
    har: dict[str, Any] | None = None
    refused: tuple[str, ...] = ()  # browser requests the address guard aborted
    #: refused addresses the browser reached anyway (a followed redirect, rebinding)
    breaches: tuple[str, ...] = ()


def _address_guard(upstream: str) -> str:
    """For the manifest: what checked the browser's addresses (never proxy credentials)."""
    if not upstream:
        return "guarded proxy"
    parts = urlsplit(upstream)
    return f"off: upstream proxy {parts.hostname}:{parts.port or 'default port'}"


def store_capture(env: CaptureEnv, platform: Platform, post: PostRef,
                  embeds: Sequence[tuple[EmbedRef, str | None]], capture_id: str,
                  started: str, relpath: Path, got: Gathered) -> CaptureResult:
    from archiver.capture.post import decide

    stamp_state: dict[str, str] = {}
    with EvidenceDir(env.data_dir, relpath, capture_id) as ev:
        responses: dict[str, HttpExchange] = {}
        request_log: list[dict[str, Any]] = []
        for req, answer in zip(got.requests, got.fetched, strict=True):
            if isinstance(answer, FetchError):
                failed: dict[str, Any] = {"url": req.url, "error": str(answer), "artifact": None}
                if answer.retried:  # 429 / 503 answers waited out before the retry failed
                    failed["retried"] = [e.describe() for e in answer.retried]
                request_log.append(failed)
                continue
            responses[req.name] = answer
            name = f"data/{req.name}"
            ev.write(name, answer.body, answer.content_type or req.media_type, "data")
            request_log.append(exchange_record(answer, name))
        for page in got.pages:
            _write_page(ev, page)
        ev.write(TRAFFIC, _traffic_warc(capture_id, got), "application/warc", "traffic")
        data = _interpret(platform, post, responses)
        errors = [r["error"] for r in request_log if r.get("error")]
        status, reason = decide(data, got.pages, got.specs, errors, platform)
        finished = utc_now()
        environment = {**tool_environment(env.config.digest()), **env.browser.environment(),
                       "elapsed_s": round(time.monotonic() - got.t0, 4),
                       # what checked the browser's addresses: our guarded proxy, or
                       # nothing (an upstream proxy resolves names where we cannot see)
                       "address_guard": _address_guard(env.config.network.proxy),
                       "refused_requests": list(got.refused),
                       "guard_breaches": list(got.breaches),
                       "browser_traffic": "recorded" if got.har is not None else
                       "missing: the browser did not write its HAR (traffic.warc.gz holds "
                       "the requests side only)"}
        manifest = post_manifest(
            capture_id=capture_id, post=post, status=str(status), reason=reason, data=data,
            requested=env.requested, embeds=embeds, requests=request_log,
            pages=[p.describe() | {"artifacts": _page_names(p)} for p in got.pages],
            environment=environment, started=started, finished=finished,
            artifacts=ev.artifacts, checks=run_checks(post, data, embeds),
            previous=env.index.previous_capture(post, capture_id),
            key_fingerprint=env.key.fingerprint if env.key else None)
        directory, manifest_sha = ev.commit(manifest, seal=_sealer(env, stamp_state))
    try:
        ledger.append(env.data_dir, capture_id=capture_id, platform=post.platform,
                      post_id=post.post_id, directory=directory, manifest_sha256=manifest_sha,
                      recorded_at=utc_now(),
                      on_head=lambda head: env.index.entered_in_ledger(
                          head, (capture_id, ledger.seq_of(head))))
    except StoreError:
        # not in the ledger (a full disk: the append took its part-line back), so not
        # stored: the directory goes too, and the capture fails with the ledger's reason
        withdraw(env.data_dir, directory)
        raise
    return CaptureResult(capture_id, post, status, reason, started, finished, directory,
                         manifest_sha, tuple(ev.artifacts), data, tuple(e for e, _ in embeds),
                         timestamp=stamp_state.get("state"),
                         notes=tuple(stamp_state.get("errors", "").splitlines()))


def _interpret(platform: Platform, post: PostRef, responses: dict[str, HttpExchange]
               ) -> PostData | None:
    """The platform's reading of its answers. They come from outside and may be anything:
    an answer its parser cannot read is a failed capture with the reason, not a crash of
    the whole batch (the answer itself is kept as evidence)."""
    try:
        return platform.interpret(post, responses)
    except Exception as exc:
        return PostData(CaptureStatus.FAILED, f"unreadable answer from {post.platform}: "
                                              f"{type(exc).__name__}: {exc}"[:500])


def _sealer(env: CaptureEnv, state: dict[str, str]) -> Callable[[bytes], dict[str, bytes]]:
    """What is derived from manifest.json: the archive's signature and public key, and a
    token from the first timestamp authority that answers."""
    key, tsa_urls = env.key, env.config.evidence.tsa_urls

    def seal(manifest: bytes) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        if key is not None:
            files |= {name: make(manifest) for name, make in signature_seal(key).items()}
        # without a token the capture is "untimestamped", and a later run stamps it (once
        # an authority is configured and answers)
        state["state"] = "untimestamped"
        if tsa_urls:
            stamp, failures = stamp_first(env.http.get(), tsa_urls, manifest)
            if stamp is not None:
                files[TIMESTAMP] = stamp.response
                state["state"] = "stamped"
            if failures:
                state["errors"] = "\n".join(f"timestamp authority {f}" for f in failures)
        return files

    return seal


TRAFFIC = "traffic.warc.gz"


def _traffic_warc(capture_id: str, got: Gathered) -> bytes:
    """Every request and response of the capture (requests and browser alike) and the
    screenshots, as a WARC/1.1 file."""
    warc = WarcWriter(capture_id, f"embed-archiver/{__version__}")
    for answer in got.fetched:
        for earlier in answer.retried:  # also those before a retry that failed
            warc.add_exchange(earlier)
        if isinstance(answer, HttpExchange):
            warc.add_exchange(answer)
    if got.har is not None:
        warc.add_har(got.har)
    for page in got.pages:
        if page.screenshot is not None:
            warc.add_resource(f"{page.role}.png", page.screenshot, "image/png")
    return warc.to_bytes()


def run_checks(post: PostRef, data: PostData | None,
               embeds: Sequence[tuple[EmbedRef, str | None]]) -> dict[str, Any]:
    """Quote integrity per embed, and the snowflake-time check, for the manifest."""
    text = data.text if data else None
    shown = next((e.date for e, _ in embeds if e.date), None)
    return {
        "quotes": [{"article_url": url, "position": e.position,
                    **quote_integrity(e.quoted_text, text)} for e, url in embeds],
        "id_time": snowflake_check(post.platform, post.post_id, shown,
                                   data.created_at if data else None),
    }


def _page_names(page: PageResult) -> list[str]:
    names = []
    if page.screenshot is not None:
        names.append(f"{page.role}.png")
    if page.html is not None:
        names.append(f"{page.role}.html")
    if page.text is not None:
        names.append(f"{page.role}.txt")
    return names


def _write_page(ev: EvidenceDir, page: PageResult) -> None:
    if page.screenshot is not None:
        ev.write(f"{page.role}.png", page.screenshot, "image/png", "screenshot")
    if page.html is not None:
        ev.write(f"{page.role}.html", page.html.encode(), "text/html; charset=utf-8", "dom")
    if page.text is not None:
        ev.write(f"{page.role}.txt", page.text.encode(), "text/plain; charset=utf-8", "text")
