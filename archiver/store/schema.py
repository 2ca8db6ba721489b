"""The index tables. Portable SQL: SQLite by default, PostgreSQL by URL.

articles 1-n article_fetches        every fetch of an article, with its stored response
articles n-m posts through embeds   an embed is one occurrence of a post in an article
posts    1-n captures 1-n artifacts each capture directory and its files
runs                                every run of a scheduled job (sources, re-captures)
tokens                              hashed reading tokens of the web view and API
scheduler_jobs                      APScheduler's job store (created by APScheduler)
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: 2: captures.author. 3: captures.ledger_seq. An archiver refuses an index of a newer
#: schema (see Index._check_version); an older index is migrated in place and marked with
#: this one.
SCHEMA_VERSION = 3


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ArticleRow(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[str] = mapped_column(String(32))
    last_fetched: Mapped[str | None] = mapped_column(String(32))
    #: ok | no_embeds | failed
    last_status: Mapped[str] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: when a fetch first succeeded: the article is "seen" and not fetched again unless
    #: its source says it was updated (or the source is a single page)
    archived_at: Mapped[str | None] = mapped_column(String(32))
    #: the source that listed it, and the source's update marker (lastmod, <updated>)
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    source_updated: Mapped[str | None] = mapped_column(String(32))

    fetches: Mapped[list[ArticleFetchRow]] = relationship(back_populates="article",
                                                          order_by="ArticleFetchRow.id")
    embeds: Mapped[list[EmbedRow]] = relationship(back_populates="article",
                                                  order_by="EmbedRow.position")


class ArticleFetchRow(Base):
    __tablename__ = "article_fetches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    fetched_at: Mapped[str] = mapped_column(String(32))
    final_url: Mapped[str | None] = mapped_column(String(2048))
    http_status: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    #: stored response directory, relative to the data directory
    directory: Mapped[str | None] = mapped_column(String(1024))
    embed_count: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON: {"kind": "first" | "unchanged" | "changed", "added": [...], "removed": [...]}
    #: (posts as "platform/post_id") against the previous successful fetch
    change: Mapped[str | None] = mapped_column(Text)

    article: Mapped[ArticleRow] = relationship(back_populates="fetches")


class PostRow(Base):
    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("platform", "post_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    post_id: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(2048), index=True)
    author: Mapped[str | None] = mapped_column(String(256), index=True)
    first_seen: Mapped[str] = mapped_column(String(32))
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_captured: Mapped[str | None] = mapped_column(String(32))
    #: live | edited | deleted | unavailable | restored (archiver.recapture)
    state: Mapped[str | None] = mapped_column(String(16))
    #: when the post is due to be captured (again); null = never
    next_check: Mapped[str | None] = mapped_column(String(32), index=True)
    #: consecutive failed attempts since the last completed capture
    failures: Mapped[int | None] = mapped_column(Integer)

    embeds: Mapped[list[EmbedRow]] = relationship(back_populates="post")
    captures: Mapped[list[CaptureRow]] = relationship(back_populates="post",
                                                      order_by="CaptureRow.started_at")


#: Authors are matched in any letter case (`lower(author) = ?`, the web view's author
#: filter), which ix_posts_author cannot serve: without this index a search by author walks
#: every capture in the date range (bench/index_lookup.py: p99 0.7 s at 1M captures, 3 ms
#: with it). With last_captured second, a page of an author's posts, newest first, is read
#: in index order and stops after the page. Index._add_missing_columns creates it on older
#: indexes with CREATE INDEX IF NOT EXISTS (SQLAlchemy cannot reflect an expression index
#: on SQLite, so `checkfirst` would not do).
Index("ix_posts_author_lower_captured", func.lower(PostRow.author), PostRow.last_captured)


class EmbedRow(Base):
    __tablename__ = "embeds"
    __table_args__ = (UniqueConstraint("article_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    #: null for an embed that survived only as text
    post_row_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    found_in: Mapped[str] = mapped_column(String(16))
    element: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(256))
    author_name: Mapped[str | None] = mapped_column(Text)
    quoted_text: Mapped[str | None] = mapped_column(Text)
    date_text: Mapped[str | None] = mapped_column(String(128))
    date: Mapped[str | None] = mapped_column(String(32))
    raw_url: Mapped[str | None] = mapped_column(String(2048))
    markup: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[str] = mapped_column(String(32))

    article: Mapped[ArticleRow] = relationship(back_populates="embeds")
    post: Mapped[PostRow | None] = relationship(back_populates="embeds")


class CaptureRow(Base):
    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_post_started", "post_row_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    post_row_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    #: "host:pid" of the process capturing, while in progress
    owner: Mapped[str | None] = mapped_column(String(300))
    #: in_progress | live | deleted | unavailable | failed | abandoned
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[str] = mapped_column(String(32), index=True)
    finished_at: Mapped[str | None] = mapped_column(String(32))
    directory: Mapped[str | None] = mapped_column(String(1024))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    #: stamped | untimestamped | stamped_later | null (no authority configured)
    timestamp: Mapped[str | None] = mapped_column(String(16), index=True)
    #: against the post's previous completed capture: first | unchanged | edited | deleted
    #: | unavailable | restored (null for failed or abandoned captures)
    change: Mapped[str | None] = mapped_column(String(16), index=True)
    #: when a noteworthy change was announced (webhook / command); null = not yet
    notified_at: Mapped[str | None] = mapped_column(String(32))
    #: the post's author (posts.author), copied so that captures are found by handle and
    #: date on one index (ix_captures_author_started_post); set, on every capture of the post,
    #: once the post's author is known
    author: Mapped[str | None] = mapped_column(String(256))
    #: the line of ledger.jsonl that entered this capture (its `seq`): the order in which
    #: captures were stored, which no clock changes; a post's chain follows it (null for
    #: captures not stored, and for those stored before schema 3, which came first)
    ledger_seq: Mapped[int | None] = mapped_column(Integer)

    post: Mapped[PostRow] = relationship(back_populates="captures")
    artifacts: Mapped[list[ArtifactRow]] = relationship(back_populates="capture",
                                                        order_by="ArtifactRow.name")


#: A page of one author's captures in a date range, newest first (`archiver list --author`,
#: the web view's captures by author), read in index order: without it the query joined
#: posts and sorted every capture of the author in the range (bench/index_lookup.py: p99
#: 42 ms at 1M captures for prolific authors). Any letter case, as ix_posts_author_lower...
#: post_row_id last: the web view's posts by author and dates lists the posts of those
#: captures from the index alone (fetching each capture's row for it cost 2 ms per 1,000).
#: PostgreSQL reads an index alone only when it holds every column the query names, and
#: lower(author) names author: hence INCLUDE (author) there (at 1M captures, a prolific
#: author's year: 24,000 captures read in 3.5 ms instead of 19 ms).
Index("ix_captures_author_started_post", func.lower(CaptureRow.author),
      CaptureRow.started_at, CaptureRow.id, CaptureRow.post_row_id,
      postgresql_include=["author"])

#: index -> the index of an older schema it replaces, dropped in the migration that builds
#: the new one. An older archiver opening the index later builds its own again; the two
#: then stay side by side (the same answers; dropping it again on every newer open would
#: have the versions rebuild it in turn, and a read-only copy would not open)
REPLACED_INDEXES = {"ix_captures_author_started_post": "ix_captures_author_started"}


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))

    capture: Mapped[CaptureRow] = relationship(back_populates="artifacts")


class RunRow(Base):
    """One run of a scheduled job: a source read and archived, or a batch of re-captures."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job: Mapped[str] = mapped_column(String(128), index=True)
    started_at: Mapped[str] = mapped_column(String(32), index=True)
    finished_at: Mapped[str | None] = mapped_column(String(32))
    #: queued | running | ok | failed | stopped | interrupted
    status: Mapped[str] = mapped_column(String(16))
    #: "host:pid" while running
    owner: Mapped[str | None] = mapped_column(String(300))
    #: JSON counts: articles listed, new, changed, failed, captures, completed, ...
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class TokenRow(Base):
    """A reading token for the web view and API; only its SHA-256 is stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32))
