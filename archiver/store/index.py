"""The index: where every article, post, embed and capture is found again.

SQLAlchemy over SQLite (WAL mode, busy timeout) by default; any SQLAlchemy URL works.
Writes are short transactions, so concurrent readers (`list`, `show`, the web view) never
wait on a capture.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, inspect, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archiver.errors import StoreError
from archiver.models import CaptureResult, EmbedRef, HttpExchange, PostRef
from archiver.net import utc_now
from archiver.store.files import MANIFEST, inside, read_manifest, sha256_file
from archiver.store.schema import (
    SCHEMA_VERSION,
    ArticleFetchRow,
    ArticleRow,
    ArtifactRow,
    Base,
    CaptureRow,
    EmbedRow,
    Meta,
    PostRow,
)


def new_id() -> str:
    """A short random id for captures and runs (unique without coordination)."""
    return uuid.uuid4().hex[:16]


def run_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Index:
    """Typed access to the index database."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, future=True)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            Base.metadata.create_all(self.engine)
            self._add_missing_columns()
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
            self._check_version()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the index at {url}: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def _add_missing_columns(self) -> None:
        """Additive migrations: a nullable column a newer schema added is added in place."""
        inspector = inspect(self.engine)
        with self.engine.begin() as conn:
            for table in Base.metadata.sorted_tables:
                have = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in have and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        conn.exec_driver_sql(
                            f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise StoreError(f"index write failed: {str(exc).splitlines()[0]}") from exc

    def _check_version(self) -> None:
        with self.session() as s:
            row = s.get(Meta, "schema_version")
            if row is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(row.value) > SCHEMA_VERSION:
                raise StoreError(f"the index was written by a newer archiver "
                                 f"(schema {row.value}, this one knows {SCHEMA_VERSION})")

    # -- articles ------------------------------------------------------------------------
    def record_article(self, url: str, *, exchange: HttpExchange | None, status: str,
                       error: str | None, directory: str | None, body_sha256: str | None,
                       embeds: Sequence[EmbedRef] = (), title: str | None = None,
                       manifest_sha256: str | None = None) -> int:
        """Record one fetch of an article and its current embeds; returns the article id."""
        now = utc_now()
        with self.session() as s:
            article = s.scalar(select(ArticleRow).where(ArticleRow.url == url))
            if article is None:
                article = ArticleRow(url=url, first_seen=now, last_status=status)
                s.add(article)
                s.flush()
            article.last_fetched = now
            article.last_status = status
            article.last_error = error
            if title:
                article.title = title
            s.add(ArticleFetchRow(
                article_id=article.id, fetched_at=now,
                final_url=exchange.final_url if exchange else None,
                http_status=exchange.status if exchange else None,
                status=status, error=error, body_sha256=body_sha256, directory=directory,
                manifest_sha256=manifest_sha256,
                embed_count=len(embeds)))
            if status != "failed":
                self._replace_embeds(s, article.id, embeds, now)
            return article.id

    def _replace_embeds(self, s: Session, article_id: int, embeds: Sequence[EmbedRef],
                        now: str) -> None:
        existing = {e.position: e for e in s.scalars(
            select(EmbedRow).where(EmbedRow.article_id == article_id))}
        for embed in embeds:
            post_row = self._upsert_post(s, embed.post, now) if embed.post else None
            row = existing.pop(embed.position, None)
            if row is None:
                row = EmbedRow(article_id=article_id, position=embed.position, first_seen=now,
                               platform=embed.platform, found_in=str(embed.found_in))
                s.add(row)
            row.post_row_id = post_row.id if post_row else None
            row.platform = embed.platform
            row.found_in = str(embed.found_in)
            row.element = embed.element
            row.author = embed.author
            row.author_name = embed.author_name
            row.quoted_text = embed.quoted_text
            row.date_text = embed.date_text
            row.date = embed.date
            row.raw_url = embed.raw_url
            row.markup = embed.markup
        for stale in existing.values():
            s.delete(stale)

    # -- posts ---------------------------------------------------------------------------
    def _upsert_post(self, s: Session, ref: PostRef, now: str) -> PostRow:
        row = s.scalar(select(PostRow).where(PostRow.platform == ref.platform,
                                             PostRow.post_id == ref.post_id))
        if row is None:
            row = PostRow(platform=ref.platform, post_id=ref.post_id, url=ref.url,
                          author=ref.author, first_seen=now)
            s.add(row)
            s.flush()
        elif ref.author and not row.author:
            row.author, row.url = ref.author, ref.url
        return row

    def upsert_post(self, ref: PostRef) -> int:
        with self.session() as s:
            return self._upsert_post(s, ref, utc_now()).id

    # -- captures ------------------------------------------------------------------------
    def begin_capture(self, capture_id: str, ref: PostRef, run_id: str, started_at: str,
                      directory: str) -> None:
        """Note a capture in flight and where its directory will be; `finish_capture` or
        `reconcile` closes it."""
        with self.session() as s:
            post = self._upsert_post(s, ref, started_at)
            s.add(CaptureRow(id=capture_id, post_row_id=post.id, run_id=run_id,
                             status="in_progress", started_at=started_at, directory=directory,
                             owner=run_owner()))

    def finish_capture(self, result: CaptureResult, run_id: str | None = None) -> None:
        with self.session() as s:
            row = s.get(CaptureRow, result.capture_id)
            if row is None:
                post = self._upsert_post(s, result.post, result.started_at)
                row = CaptureRow(id=result.capture_id, post_row_id=post.id, run_id=run_id,
                                 started_at=result.started_at, status="in_progress")
                s.add(row)
            row.status = str(result.status)
            row.owner = None
            row.reason = result.reason
            row.finished_at = result.finished_at
            row.directory = result.directory
            row.manifest_sha256 = result.manifest_sha256
            row.text = result.data.text if result.data else None
            row.timestamp = result.timestamp
            for a in result.artifacts:
                s.add(ArtifactRow(capture_id=row.id, name=a.name, sha256=a.sha256, size=a.size,
                                  media_type=a.media_type, role=a.role))
            owner_post = s.get(PostRow, row.post_row_id)
            assert owner_post is not None
            post = owner_post
            if result.status.completed or post.last_status is None:
                post.last_status = str(result.status)
            post.last_captured = result.finished_at
            if result.data and result.data.author and not post.author:
                post.author = result.data.author
                post.url = result.post.url

    def previous_capture(self, ref: PostRef, exclude: str) -> tuple[str, str] | None:
        """(id, manifest SHA-256) of the post's latest stored capture: the chain's last link."""
        with self.session() as s:
            q = (select(CaptureRow.id, CaptureRow.manifest_sha256)
                 .join(PostRow, CaptureRow.post_row_id == PostRow.id)
                 .where(PostRow.platform == ref.platform, PostRow.post_id == ref.post_id,
                        CaptureRow.manifest_sha256.is_not(None), CaptureRow.id != exclude)
                 .order_by(CaptureRow.started_at.desc(), CaptureRow.id.desc()).limit(1))
            row = s.execute(q).first()
            return (row[0], str(row[1])) if row and row[1] else None

    def captures_to_stamp(self, limit: int = 500) -> list[CaptureRow]:
        """Stored captures that no timestamp authority has stamped yet."""
        with self.session() as s:
            q = (select(CaptureRow).where(CaptureRow.timestamp == "untimestamped",
                                          CaptureRow.directory.is_not(None))
                 .options(selectinload(CaptureRow.post))
                 .order_by(CaptureRow.started_at).limit(limit))
            return list(s.scalars(q))

    def set_timestamp(self, capture_id: str, state: str) -> None:
        with self.session() as s:
            row = s.get(CaptureRow, capture_id)
            if row is not None:
                row.timestamp = state

    def set_meta(self, key: str, value: str) -> None:
        with self.session() as s:
            row = s.get(Meta, key)
            if row is None:
                s.add(Meta(key=key, value=value))
            else:
                row.value = value

    def get_meta(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(Meta, key)
            return row.value if row else None

    def reconcile(self, data_dir: Path, stale_after: timedelta = timedelta(hours=6)
                  ) -> list[tuple[str, bool]]:
        """Close captures left in flight by a process that is gone.

        On this host a process is gone when its pid is; a capture owned by another host
        (a shared index) is only closed once older than `stale_after`. A capture whose
        directory made it into place is completed from its manifest; any other is marked
        abandoned. Returns (id, completed) of each capture touched.
        """
        me = run_owner()
        cutoff = (datetime.now(UTC) - stale_after).isoformat(timespec="milliseconds")
        touched: list[tuple[str, bool]] = []
        with self.session() as s:
            for row in s.scalars(select(CaptureRow).where(CaptureRow.status == "in_progress")):
                owner = row.owner or ""
                host, _, pid = owner.rpartition(":")
                if owner == me:
                    continue
                if host == socket.gethostname():
                    if pid.isdigit() and _pid_alive(int(pid)):
                        continue
                elif row.started_at.replace("Z", "+00:00") > cutoff:
                    continue
                touched.append((row.id, self._close_orphan(row, data_dir)))
        return touched

    def _close_orphan(self, row: CaptureRow, data_dir: Path) -> bool:
        row.owner = None
        try:
            root = inside(data_dir, row.directory)
            manifest = read_manifest(root) if (root / MANIFEST).is_file() else None
            status = manifest.get("status") if manifest else None
            when = manifest.get("when") if manifest else None
            if manifest and isinstance(status, dict) and isinstance(when, dict):
                row.status = str(status.get("status", "failed"))[:16]
                row.reason = status.get("reason")
                row.finished_at = when.get("finished")
                row.manifest_sha256 = sha256_file(root / MANIFEST)
                return True
        except StoreError as exc:
            row.status, row.reason = "abandoned", f"left in progress, unreadable: {exc}"
            row.finished_at, row.directory = utc_now(), None
            return False
        row.status = "abandoned"
        row.reason = "the process capturing this post stopped before it finished"
        row.finished_at = utc_now()
        row.directory = None
        return False

    # -- queries -------------------------------------------------------------------------
    def captures(self, limit: int = 50, offset: int = 0) -> list[CaptureRow]:
        with self.session() as s:
            q = (select(CaptureRow).options(selectinload(CaptureRow.post))
                 .order_by(CaptureRow.started_at.desc(), CaptureRow.id).limit(limit).offset(offset))
            return list(s.scalars(q))

    def count_captures(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(CaptureRow)) or 0)

    def capture(self, capture_id: str) -> CaptureRow | None:
        with self.session() as s:
            q = (select(CaptureRow).where(CaptureRow.id == capture_id)
                 .options(selectinload(CaptureRow.post), selectinload(CaptureRow.artifacts)))
            return s.scalar(q)

    def captures_by_prefix(self, prefix: str) -> list[CaptureRow]:
        with self.session() as s:
            q = (select(CaptureRow).where(CaptureRow.id.startswith(prefix, autoescape=True))
                 .options(selectinload(CaptureRow.post), selectinload(CaptureRow.artifacts))
                 .limit(2))
            return list(s.scalars(q))

    def post(self, platform: str, post_id: str) -> PostRow | None:
        with self.session() as s:
            q = (select(PostRow).where(PostRow.platform == platform, PostRow.post_id == post_id)
                 .options(selectinload(PostRow.captures).options(
                              selectinload(CaptureRow.artifacts), selectinload(CaptureRow.post)),
                          selectinload(PostRow.embeds).selectinload(EmbedRow.article)))
            return s.scalar(q)

    def completed_captures(self) -> list[CaptureRow]:
        """Every capture that stored a directory, oldest first (what `verify --all` checks)."""
        with self.session() as s:
            q = (select(CaptureRow).where(CaptureRow.directory.is_not(None))
                 .options(selectinload(CaptureRow.post), selectinload(CaptureRow.artifacts))
                 .order_by(CaptureRow.started_at))
            return list(s.scalars(q))

    def article_fetch_dirs(self) -> list[tuple[str, str | None]]:
        """(directory, manifest SHA-256) of every stored article response, oldest first."""
        with self.session() as s:
            q = (select(ArticleFetchRow.directory, ArticleFetchRow.manifest_sha256)
                 .where(ArticleFetchRow.directory.is_not(None)).order_by(ArticleFetchRow.id))
            return [(d, sha) for d, sha in s.execute(q) if d]

    def search_posts(self, text: str) -> list[PostRow]:
        with self.session() as s:
            like = f"%{text}%"
            q = select(PostRow).where(or_(PostRow.url.like(like), PostRow.author.like(like)))
            return list(s.scalars(q.limit(100)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
