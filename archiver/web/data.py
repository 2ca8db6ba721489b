"""Read the index and the capture directories into the web view's models. Read only:
nothing here writes to the index or the data directory."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from archiver.config import Config
from archiver.errors import ArchiverError
from archiver.net import utc_now
from archiver.platforms import match_url
from archiver.retrieval import verify_selection
from archiver.store.files import inside, read_manifest
from archiver.store.index import Index, captures_where, handle_key
from archiver.store.schema import ArticleFetchRow, ArticleRow, CaptureRow, EmbedRow, PostRow
from archiver.web.models import (
    ArticleDetail,
    ArticleEmbed,
    ArticleFetch,
    ArticleList,
    ArticleSummary,
    ArtifactInfo,
    CaptureDetail,
    CaptureDiff,
    CaptureList,
    CaptureSummary,
    DiffPiece,
    EmbedInfo,
    FieldChange,
    Paging,
    PostDetail,
    PostList,
    PostSummary,
    Problem,
    SearchResult,
    TimelineEntry,
    VerificationResult,
)

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
#: files of a capture directory besides its artifacts
SEAL_FILES = {"manifest.json": "application/json", "manifest.sig": "application/octet-stream",
              "manifest.tsr": "application/timestamp-reply", "SHA256SUMS": "text/plain",
              "archive-key.pub.pem": "application/x-pem-file"}
CAPTURES_PER_PAGE = 10
#: filtered lists count their matches up to this many (Paging.total_is_lower_bound)
COUNT_CAP = 1000
STATUSES = ("live", "edited", "deleted", "unavailable", "restored", "failed")
#: a capture's own statuses (a post's state adds edited and restored)
CAPTURE_STATUSES = ("live", "deleted", "unavailable", "failed", "abandoned", "in_progress")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
VERIFY_CHECKS = ["every file's SHA-256 against SHA256SUMS and the manifest",
                 "the manifest's SHA-256 against the index",
                 "the manifest's signature by the archive key",
                 "RFC 3161 timestamp tokens against the configured authority CAs",
                 "the link to the post's previous capture (hash chain)",
                 "the index's status and text against the signed manifest"]


class NotFound(ArchiverError):
    """Nothing with that id or URL is archived (HTTP 404)."""


@dataclass(frozen=True)
class Filters:
    """Search filters; empty strings mean "any"."""

    q: str = ""
    platform: str = ""
    status: str = ""
    author: str = ""
    date_from: str = ""
    date_to: str = ""

    def checked(self) -> Filters:
        for label, value in (("q", self.q), ("platform", self.platform),
                             ("author", self.author)):
            if "\x00" in value:  # PostgreSQL refuses NUL in text: a 400, not a 500
                raise ValueError(f"{label} must not contain a NUL character")
        for label, value in (("from", self.date_from), ("to", self.date_to)):
            if value and not _real_date(value):
                raise ValueError(f"{label} must be a date like 2026-11-24")
        if self.status and self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        return self


def _real_date(value: str) -> bool:
    """YYYY-MM-DD and a day of the calendar (2026-02-30 is not)."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def post_href(platform: str, post_id: str) -> str:
    return f"/posts/{quote(platform, safe='')}/{quote(post_id, safe='/')}"


def capture_href(capture_id: str) -> str:
    return f"/captures/{quote(capture_id, safe='')}"


def file_href(capture_id: str, name: str) -> str:
    return f"{capture_href(capture_id)}/files/{quote(name, safe='/')}"


def _paging(page: int, size: int, total: int, lower_bound: bool = False) -> Paging:
    return Paging(page=page, size=size, total=total, pages=max(1, -(-total // size)),
                  total_is_lower_bound=lower_bound)


def _capture_counts(s: Session, post_row_ids: list[int]) -> dict[int, int]:
    """How many captures each of these posts has (one grouped read, for one page: as a
    column of the list, it was counted for every match that a sort then dropped)."""
    if not post_row_ids:
        return {}
    counted = s.execute(select(CaptureRow.post_row_id, func.count())
                        .where(CaptureRow.post_row_id.in_(post_row_ids))
                        .group_by(CaptureRow.post_row_id))
    return {int(k): int(n) for k, n in counted}


def _post_summary(row: PostRow, captures: int) -> PostSummary:
    return PostSummary(platform=row.platform, post_id=row.post_id, url=row.url,
                       author=row.author, state=row.state or row.last_status,
                       last_status=row.last_status, first_seen=row.first_seen,
                       last_captured=row.last_captured, next_check=row.next_check,
                       captures=captures, href=post_href(row.platform, row.post_id))


def capture_summary(row: CaptureRow) -> CaptureSummary:
    return CaptureSummary(capture_id=row.id, platform=row.post.platform,
                          post_id=row.post.post_id, url=row.post.url, author=row.post.author,
                          status=row.status, change=row.change, reason=row.reason,
                          started_at=row.started_at, finished_at=row.finished_at,
                          timestamp=row.timestamp, text=row.text, href=capture_href(row.id))


def _article_summary(row: ArticleRow, embeds: int) -> ArticleSummary:
    return ArticleSummary(id=row.id, url=row.url, title=row.title, first_seen=row.first_seen,
                          last_fetched=row.last_fetched, last_status=row.last_status,
                          embeds=embeds, href=f"/articles/{row.id}")


class WebData:
    """The read side of the archive, for one configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.index = Index(config.storage.effective_database_url)

    def close(self) -> None:
        self.index.close()

    # -- lists ---------------------------------------------------------------------------
    def _page(self, s: Session, q: Select[Any], page: int, size: int, *, capped: bool = False,
              matches: int | None = None) -> tuple[list[Any], Paging]:
        """One page of `q`, and how many rows match. With `capped` (filtered lists), the
        count stops at COUNT_CAP rows, or just past this page: counting every match of a
        broad filter (a prolific author: thousands of posts, each checked against the
        dates) would cost more than the page itself. `matches`: how many rows match, where
        the caller knows (more than COUNT_CAP: at least that many; counted again only for
        a page beyond COUNT_CAP)."""
        cap = max(COUNT_CAP, page * size + 1) if capped else None
        if matches is not None and (matches <= COUNT_CAP or cap == COUNT_CAP):
            total = matches
        else:  # the first column (the row's id) is enough to count: no per-row subqueries
            counted = q.with_only_columns(q.selected_columns[0]).order_by(None)
            if cap is not None:
                counted = counted.limit(cap + 1)
            total = int(s.scalar(select(func.count()).select_from(counted.subquery())) or 0)
        rows = list(s.execute(q.limit(size).offset((page - 1) * size)))
        if cap is not None and total > cap:
            return rows, _paging(page, size, cap, lower_bound=True)
        return rows, _paging(page, size, total)

    def posts(self, filters: Filters, page: int, size: int) -> PostList:
        f = filters.checked()
        with self.index.session() as s:
            q = select(PostRow)
            if f.platform:
                q = q.where(PostRow.platform == f.platform)
            if f.status:
                q = q.where(or_(PostRow.state == f.status, PostRow.last_status == f.status))
            if f.q:
                like = f"%{_escape_like(f.q.strip().lstrip('@'))}%"
                texts = select(CaptureRow.post_row_id).where(
                    CaptureRow.text.ilike(like, escape="\\"))
                q = q.where(or_(PostRow.url.ilike(like, escape="\\"),
                                PostRow.author.ilike(like, escape="\\"),
                                PostRow.id.in_(texts)))
            named, found = self._author_posts_in_range(s, f)
            if named is not None and found <= COUNT_CAP:
                q = q.where(PostRow.id.in_(named))  # the author's and the dates' condition
            else:
                if f.author:
                    q = q.where(func.lower(PostRow.author) == handle_key(f.author))
                if f.date_from or f.date_to:
                    # EXISTS, per post, on ix_captures_post_started: an IN over every
                    # capture in the range would list them all first (1 s at 1M captures)
                    when = captures_where(
                        select(CaptureRow.id).where(CaptureRow.post_row_id == PostRow.id),
                        since=f.date_from or None, until=f.date_to or None)
                    q = q.where(when.correlate(PostRow).exists())
            q = q.order_by(PostRow.last_captured.desc(), PostRow.id.desc())
            narrowed = bool(f.platform or f.status or f.q)
            filtered = narrowed or bool(f.author or f.date_from or f.date_to)
            # nothing else narrows them: reading the author's captures counted them
            known = found if named is not None and not narrowed else None
            rows, paging = self._page(s, q, page, size, capped=filtered, matches=known)
            counts = _capture_counts(s, [p.id for (p,) in rows])
            return PostList(items=[_post_summary(p, counts.get(p.id, 0)) for (p,) in rows],
                            paging=paging)

    @staticmethod
    def _author_posts_in_range(s: Session, f: Filters) -> tuple[Select[Any] | None, int]:
        """With an author and dates: (the query of the rows of the author's posts captured
        in the range, up to COUNT_CAP + 1 of them, and how many it finds: more than
        COUNT_CAP, there are more); else (None, 0). The query, not its rows, goes into the
        list's: a thousand ids as parameters cost PostgreSQL more than reading them again.

        Without it the posts list tries EXISTS on each of the author's posts, newest
        first, until its page and capped count are full: all of a prolific author's
        thousands of posts when few were captured in the range (bench/index_lookup.py:
        p99 12 ms at 1M captures). The author's captures in the range name those posts
        from one index (ix_captures_author_started_post; a capture carries its post's
        author), read until COUNT_CAP + 1 distinct posts."""
        if not f.author or not (f.date_from or f.date_to):
            return None, 0
        named = (captures_where(select(CaptureRow.post_row_id), author=f.author,
                                since=f.date_from or None, until=f.date_to or None)
                 .distinct().limit(COUNT_CAP + 1))
        return named, int(s.scalar(select(func.count()).select_from(named.subquery())) or 0)

    def captures(self, page: int, size: int, filters: Filters | None = None) -> CaptureList:
        """A page of captures, newest first; `filters`: a capture status, and one author's
        posts in a date range (from, to)."""
        status = filters.status if filters else ""
        f = replace(filters or Filters(), status="").checked()  # a capture's own statuses:
        if status and status not in CAPTURE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CAPTURE_STATUSES)}")
        with self.index.session() as s:
            q = captures_where(select(CaptureRow).options(selectinload(CaptureRow.post)),
                               author=f.author or None, since=f.date_from or None,
                               until=f.date_to or None)
            if status:
                q = q.where(CaptureRow.status == status)
            q = q.order_by(CaptureRow.started_at.desc(), CaptureRow.id.desc())
            # counted up to COUNT_CAP, filtered or not: count(*) of a million captures costs
            # twice the page (bench/index_lookup.py); `archiver status` has the exact total
            rows, paging = self._page(s, q, page, size, capped=True)
            return CaptureList(items=[capture_summary(r) for (r,) in rows], paging=paging)

    def exportable(self, capture_id: str) -> None:
        """NotFound unless the capture stored a directory (a failed one has nothing)."""
        row = self._capture_row(capture_id)
        if not row.directory or row.status in ("in_progress", "abandoned", "failed"):
            raise NotFound(f"capture {capture_id} stored nothing to export ({row.status})")

    def changes(self, limit: int) -> list[CaptureSummary]:
        """The latest captures that changed their post's status (edited, deleted ...)."""
        return [capture_summary(r) for r in self.index.recent_changes(limit)]

    def articles(self, page: int, size: int, q_text: str = "") -> ArticleList:
        with self.index.session() as s:
            count = (select(func.count()).select_from(EmbedRow)
                     .where(EmbedRow.article_id == ArticleRow.id).correlate(ArticleRow)
                     .scalar_subquery())
            q = select(ArticleRow, count.label("n"))
            if q_text:
                like = f"%{_escape_like(q_text)}%"
                q = q.where(or_(ArticleRow.url.ilike(like, escape="\\"),
                                ArticleRow.title.ilike(like, escape="\\")))
            q = q.order_by(ArticleRow.last_fetched.desc(), ArticleRow.id.desc())
            rows, paging = self._page(s, q, page, size)
            return ArticleList(items=[_article_summary(a, n) for a, n in rows], paging=paging)

    def search(self, filters: Filters, page: int, size: int) -> SearchResult:
        """Posts matching the filters; a query that is a post or article URL (any form a
        user might paste) names that page directly (`redirect`, or `message` when it is not
        in the archive) and lists no posts."""
        text = filters.q.strip()
        redirect = message = None
        if re.match(r"^(https?://|www\.|[a-z0-9-]+(\.[a-z0-9-]+)+/)", text, re.I):
            url = text if "://" in text else f"https://{text}"
            ref = match_url(url)
            if ref is not None:
                if self._post_row(ref.platform, ref.post_id) is not None:
                    redirect = post_href(ref.platform, ref.post_id)
                else:
                    message = (f"{ref.platform} post {ref.post_id} is not in the archive")
            else:
                article = self._article_by_url(url)
                if article is not None:
                    redirect = f"/articles/{article}"
                else:
                    message = "no archived article or post has this URL"
            # a URL names one page, or nothing: no list of posts (building the archive's
            # first page of posts here cost 90 % of a lookup's time)
            return SearchResult(query=text, redirect=redirect, message=message,
                                posts=PostList(items=[], paging=_paging(1, size, 0)))
        return SearchResult(query=text, redirect=None, message=None,
                            posts=self.posts(filters, page, size))

    def _post_row(self, platform: str, post_id: str) -> PostRow | None:
        with self.index.session() as s:
            return s.scalar(select(PostRow).where(PostRow.platform == platform,
                                                  PostRow.post_id == post_id))

    def _article_by_url(self, url: str) -> int | None:
        parts = urlsplit(url)
        bare = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        forms = {url, bare, bare.rstrip("/"), bare.rstrip("/") + "/",
                 urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))}
        with self.index.session() as s:
            found = s.scalar(select(ArticleRow.id).where(ArticleRow.url.in_(forms)).limit(1))
            if found is None:
                found = s.scalar(select(ArticleFetchRow.article_id)
                                 .where(ArticleFetchRow.final_url.in_(forms)).limit(1))
            return int(found) if found is not None else None

    # -- one post ------------------------------------------------------------------------
    def post(self, platform: str, post_id: str, verify: bool = True, page: int = 1
             ) -> PostDetail:
        """A post, its whole timeline, and one page of its captures (newest first), each
        verified now (only the captures shown: a page view costs a bounded amount)."""
        row = self.index.post(platform, post_id)
        if row is None:
            raise NotFound(f"no archived {platform} post {post_id}")
        ordered = sorted(row.captures, key=lambda c: (c.started_at, c.id), reverse=True)
        size = CAPTURES_PER_PAGE
        shown = ordered[(page - 1) * size: page * size]
        return PostDetail(
            post=_post_summary(row, len(row.captures)),
            embedded_in=[EmbedInfo(article_id=e.article.id, article_url=e.article.url,
                                   article_title=e.article.title, position=e.position,
                                   found_in=e.found_in, quoted_text=e.quoted_text,
                                   date_text=e.date_text) for e in row.embeds],
            timeline=[TimelineEntry(at=c.started_at, status=c.status, change=c.change,
                                    capture_id=c.id, href=capture_href(c.id))
                      for c in reversed(ordered)],
            captures=[self._detail(c, self._verify(c) if verify else None) for c in shown],
            captures_paging=_paging(page, size, len(ordered)))

    def capture(self, capture_id: str, verify: bool = True) -> CaptureDetail:
        row = self._capture_row(capture_id)
        return self._detail(row, self._verify(row) if verify else None)

    def _capture_row(self, capture_id: str) -> CaptureRow:
        row = self.index.capture(capture_id) if re.fullmatch(r"[0-9a-f]{4,32}", capture_id) \
            else None
        if row is None:
            raise NotFound(f"no capture {capture_id}")
        return row

    def _verify(self, row: CaptureRow) -> VerificationResult | None:
        """Verification computed now (hashes, signature, tokens, chain link, index against
        manifest). None when nothing was stored; a failure when it cannot even run."""
        if not row.directory or row.status in ("in_progress", "abandoned"):
            return None
        now = utc_now()
        try:
            [found] = [v for v in verify_selection(self.config, row.id) if v.label == row.id]
        except (ArchiverError, ValueError) as exc:
            return VerificationResult(ok=False, checked_at=now, files_checked=0,
                                      problems=[Problem(file=row.directory,
                                                        issue=f"could not be verified: {exc}")],
                                      checks=VERIFY_CHECKS)
        return VerificationResult(
            ok=found.ok, checked_at=now, files_checked=found.files_checked,
            problems=[Problem(file=p.file, issue=p.issue) for p in found.problems],
            checks=VERIFY_CHECKS)

    def _detail(self, row: CaptureRow, verification: VerificationResult | None
                ) -> CaptureDetail:
        manifest: dict[str, Any] = {}
        if row.directory and row.manifest_sha256:
            try:
                manifest = read_manifest(inside(self.config.storage.data_dir, row.directory))
            except ArchiverError:
                manifest = {}
        got = manifest.get("got") if isinstance(manifest.get("got"), dict) else {}
        pages = [{k: p.get(k) for k in ("role", "url", "final_url", "http_status", "signal",
                                        "detail", "started", "elapsed_s")}
                 for p in (got or {}).get("pages", []) if isinstance(p, dict)]
        asked = manifest.get("asked") if isinstance(manifest.get("asked"), dict) else {}
        embeds = [{k: e.get(k) for k in ("article_url", "position", "found_in", "quoted_text",
                                         "date_text")}
                  for e in (asked or {}).get("embeds", []) if isinstance(e, dict)]
        base = capture_summary(row)
        downloads = {} if not row.directory else {
            "wacz": f"{base.href}/export.wacz", "bundle": f"{base.href}/bundle.zip"}
        return CaptureDetail(
            **base.model_dump(), directory=row.directory, manifest_sha256=row.manifest_sha256,
            artifacts=[ArtifactInfo(name=a.name, sha256=a.sha256, size=a.size,
                                    media_type=a.media_type, role=a.role,
                                    href=file_href(row.id, a.name),
                                    image=a.media_type in IMAGE_TYPES)
                       for a in row.artifacts],
            post_data=_dict(manifest.get("post_data")), environment=_dict(manifest.get("how")),
            checks=_dict(manifest.get("checks")), chain=_dict(manifest.get("chain")),
            signing=_dict(manifest.get("signing")), pages=pages, asked=embeds,
            verification=verification, downloads=downloads)

    def artifact_path(self, capture_id: str, name: str) -> tuple[Path, str]:
        """(path, media type) of a file of this capture: a name the index lists for it (or
        one of its seal files), inside that capture's own directory under captures/ once
        symlinks are resolved. NotFound for anything else: the index alone can never point
        the app at another file (the key, the index, another capture)."""
        parts = name.split("/")
        if not name or "\\" in name or "\x00" in name or any(
                p in ("", ".", "..") for p in parts):
            raise NotFound(f"capture {capture_id} has no file {name!r}")
        row = self._capture_row(capture_id)
        names = {a.name: a.media_type for a in row.artifacts}
        media = names.get(name) or SEAL_FILES.get(name)
        if media is None or not row.directory:
            raise NotFound(f"capture {capture_id} has no file {name!r}")
        captures = (self.config.storage.data_dir / "captures").resolve()
        try:
            root = (self.config.storage.data_dir / row.directory).resolve(strict=True)
            path = (root / name).resolve(strict=True)
            root.relative_to(captures)
            path.relative_to(root)
        except (OSError, ValueError) as exc:
            raise NotFound(f"capture {capture_id} has no file {name!r}") from exc
        if root == captures or not path.is_file():
            raise NotFound(f"capture {capture_id} has no file {name!r}")
        return path, media

    # -- articles ------------------------------------------------------------------------
    def article(self, article_id: int) -> ArticleDetail:
        with self.index.session() as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.id == article_id).options(
                selectinload(ArticleRow.embeds).selectinload(EmbedRow.post),
                selectinload(ArticleRow.fetches)))
            if row is None:
                raise NotFound(f"no article {article_id}")
            counts = _capture_counts(s, [e.post_row_id for e in row.embeds if e.post_row_id])
            return ArticleDetail(
                article=_article_summary(row, len(row.embeds)),
                embeds=[ArticleEmbed(position=e.position, platform=e.platform,
                                     found_in=e.found_in, author=e.author,
                                     quoted_text=e.quoted_text, date_text=e.date_text,
                                     raw_url=e.raw_url,
                                     post=_post_summary(e.post, counts.get(e.post.id, 0))
                                     if e.post else None)
                        for e in sorted(row.embeds, key=lambda e: e.position)],
                fetches=[ArticleFetch(fetched_at=f.fetched_at, status=f.status,
                                      http_status=f.http_status, final_url=f.final_url,
                                      error=f.error, embed_count=f.embed_count,
                                      change=json.loads(f.change) if f.change else None,
                                      directory=f.directory)
                         for f in sorted(row.fetches, key=lambda f: f.id, reverse=True)])

    # -- diff ----------------------------------------------------------------------------
    def diff(self, a_id: str, b_id: str) -> CaptureDiff:
        a, b = self.capture(a_id, verify=False), self.capture(b_id, verify=False)
        if (a.platform, a.post_id) != (b.platform, b.post_id):
            raise ValueError("both captures must be of the same post")
        keep = set(CaptureSummary.model_fields)
        return CaptureDiff(a=CaptureSummary(**a.model_dump(include=keep)),
                           b=CaptureSummary(**b.model_dump(include=keep)),
                           text=word_diff(a.text or "", b.text or ""),
                           fields=field_changes(a, b))


def word_diff(a: str, b: str) -> list[DiffPiece]:
    """Word-level differences between two texts (whitespace kept with each word)."""
    wa, wb = re.findall(r"\S+\s*", a), re.findall(r"\S+\s*", b)
    out: list[DiffPiece] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(DiffPiece(op="equal", text="".join(wa[i1:i2])))
            continue
        if i2 > i1:
            out.append(DiffPiece(op="delete", text="".join(wa[i1:i2])))
        if j2 > j1:
            out.append(DiffPiece(op="insert", text="".join(wb[j1:j2])))
    return out


def field_changes(a: CaptureDetail, b: CaptureDetail) -> list[FieldChange]:
    fa = {"status": a.status, "reason": a.reason, **_flat("post_data", a.post_data or {})}
    fb = {"status": b.status, "reason": b.reason, **_flat("post_data", b.post_data or {})}
    return [FieldChange(field=k, a=fa.get(k), b=fb.get(k))
            for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k) and k != "post_data.text"]


def _flat(prefix: str, value: Any) -> dict[str, str | None]:
    if isinstance(value, dict):
        out: dict[str, str | None] = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}", v))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value, ensure_ascii=False, sort_keys=True)}
    return {prefix: None if value is None else str(value)}


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
