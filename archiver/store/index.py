"""The index: where every article, post, embed and capture is found again.

SQLAlchemy over SQLite (WAL mode, busy timeout) by default; any SQLAlchemy URL works.
Writes are short transactions, so concurrent readers (`list`, `show`, the web view) never
wait on a capture.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.schema import CreateIndex

from archiver.errors import StoreError
from archiver.models import CaptureResult, EmbedRef, FoundIn, HttpExchange, PostRef
from archiver.net import utc_now
from archiver.recapture import Policy, classify, next_state
from archiver.store.files import (
    MANIFEST,
    TIMESTAMP,
    inside,
    read_manifest,
    sha256_file,
)
from archiver.store.liveness import owner_alive, run_owner
from archiver.store.schema import (
    REPLACED_INDEXES,
    SCHEMA_VERSION,
    ArticleFetchRow,
    ArticleRow,
    ArtifactRow,
    Base,
    CaptureRow,
    EmbedRow,
    Meta,
    PostRow,
    RunRow,
)

COMPLETED = ("live", "deleted", "unavailable")
#: the tables the capture loop writes with plain statements
CAPTURES = cast(Table, CaptureRow.__table__)
POSTS = cast(Table, PostRow.__table__)
ARTIFACTS = cast(Table, ArtifactRow.__table__)
#: the PostgreSQL advisory lock that migrations of the index hold (released at commit)
MIGRATION_LOCK_KEY = 7373001
#: (table, column) -> SQL run once when a migration adds the column (parameter :now)
BACKFILL = {
    # posts indexed before re-captures existed are due for one at the next run
    ("posts", "next_check"): "UPDATE posts SET next_check = :now WHERE next_check IS NULL",
    # articles fetched before "seen" existed are seen
    ("articles", "archived_at"): "UPDATE articles SET archived_at = COALESCE(last_fetched, "
                                 ":now) WHERE last_status != 'failed'",
    # captures made before they carried their post's author
    ("captures", "author"): "UPDATE captures SET author = (SELECT posts.author FROM posts "
                            "WHERE posts.id = captures.post_row_id) WHERE author IS NULL",
}


@dataclass(frozen=True)
class Change:
    """What a completed capture showed against the post's previous completed capture."""

    change: str  # archiver.recapture.classify
    state: str  # the post's state after it
    previous_id: str | None = None
    previous_status: str | None = None
    previous_text: str | None = None


@dataclass(frozen=True)
class ArticleState:
    """What the index knows of an article a source lists."""

    url: str
    archived_at: str | None
    source_updated: str | None
    failed_fetches: int
    last_fetched: str | None = None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_id() -> str:
    """A short random id for captures and runs (unique without coordination)."""
    return uuid.uuid4().hex[:16]


#: A post's captures, the last stored first: in ledger order, which no clock changes (a
#: clock set back, or forward and then corrected, would otherwise link the next capture to
#: the wrong one and fork the chain); captures stored before the index had the order
#: (schema 3) came before all others, and among themselves go by their start.
LATEST_STORED_FIRST = (CaptureRow.ledger_seq.is_(None), CaptureRow.ledger_seq.desc(),
                       CaptureRow.started_at.desc(), CaptureRow.id.desc())


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: each commit reaches the disk before it returns (as PostgreSQL's default does).
    # With NORMAL a power cut could take back the last commits while the ledger's lines,
    # synced, stay: an entry naming a capture the index no longer knows fails verify for
    # good. It costs about 0.3 ms per commit here, a few commits per capture.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Index:
    """Typed access to the index database."""

    def __init__(self, url: str, policy: Policy | None = None) -> None:
        self.url = url
        self.policy = policy or Policy()
        try:
            path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
            if path and not path.startswith("file:") and "?" not in path:  # not a URI form
                Path(path).parent.mkdir(parents=True, exist_ok=True)
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
        """Additive migrations: a nullable column a newer schema added is added in place,
        and filled where older rows imply a value (BACKFILL); a missing index is built,
        and the one it replaces (REPLACED_INDEXES) dropped with it.

        Only an index with something missing is written to (a read-only copy opens). Then
        the migration holds the database's write lock (SQLite) or an advisory lock
        (PostgreSQL) and looks again: a second process opening the index at the same time
        waits, and finds nothing left to do. Each column, its backfill and the indexes
        commit together, so an interrupted migration leaves no column unfilled."""
        with self.engine.begin() as conn:
            # reflection on the migrating connection: on PostgreSQL another connection
            # would wait for the locks this transaction's ALTER TABLE holds (forever)
            if not self._missing(conn):
                return
            if conn.dialect.name == "sqlite":
                # pysqlite runs DDL outside any transaction of its own: without this the
                # ALTER TABLE would commit at once and the backfill separately
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":  # any fixed key: this migration's lock
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": MIGRATION_LOCK_KEY})
            for table, columns, indexes in self._missing(conn):
                for column in columns:
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                    fill = BACKFILL.get((table.name, column.name))
                    if fill:  # text(): the driver's own parameter style (? or %s)
                        conn.execute(text(fill), {"now": utc_now()} if ":now" in fill
                                     else {})
                for index in indexes:
                    conn.execute(CreateIndex(index, if_not_exists=True))
                    replaced = REPLACED_INDEXES.get(str(index.name))
                    if replaced:  # a plain name from REPLACED_INDEXES
                        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {replaced}")
                if indexes and conn.dialect.name == "postgresql":
                    # statistics for a new expression index now, not at autovacuum's next
                    # ANALYZE (after a tenth of the table changes): without them the
                    # planner misjudges it (bench/README.md, PostgreSQL)
                    conn.exec_driver_sql(f"ANALYZE {table.name}")

    @staticmethod
    def _missing(conn: Any) -> list[tuple[Any, list[Any], list[Any]]]:
        """(table, its missing nullable columns, its missing indexes) where any is missing.
        SQLite's indexes are read from sqlite_master: SQLAlchemy does not reflect
        expression indexes there."""
        inspector = inspect(conn)
        sqlite_indexes = ({name for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
            if conn.dialect.name == "sqlite" else None)
        out = []
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            columns = [c for c in table.columns if c.name not in have and c.nullable]
            indexes_there = (sqlite_indexes if sqlite_indexes is not None else
                             {i["name"] for i in inspector.get_indexes(table.name)})
            indexes = [i for i in table.indexes if i.name not in indexes_there]
            if columns or indexes:
                out.append((table, columns, indexes))
        return out

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
        """Refuse an index of a newer schema; mark an older one (now migrated) as this
        schema, so that older archivers refuse it in turn (they would write rows without
        the columns they do not know)."""
        with self.session() as s:
            row = s.get(Meta, "schema_version")
            if row is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(row.value) > SCHEMA_VERSION:
                raise StoreError(f"the index was written by a newer archiver "
                                 f"(schema {row.value}, this one knows {SCHEMA_VERSION})")
            elif int(row.value) < SCHEMA_VERSION:
                row.value = str(SCHEMA_VERSION)

    # -- articles ------------------------------------------------------------------------
    def record_article(self, url: str, *, exchange: HttpExchange | None, status: str,
                       error: str | None, directory: str | None, body_sha256: str | None,
                       embeds: Sequence[EmbedRef] = (), title: str | None = None,
                       manifest_sha256: str | None = None) -> dict[str, Any] | None:
        """Record one fetch of an article and its current embeds. Returns, for a successful
        fetch, how its posts differ from the previous successful fetch:
        {"kind": "first" | "unchanged" | "changed", "added": [...], "removed": [...]}."""
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
            change = None
            if status != "failed":
                change = self._embed_change(s, article.id, embeds, article.archived_at is None)
                article.archived_at = article.archived_at or now
            s.add(ArticleFetchRow(
                article_id=article.id, fetched_at=now,
                final_url=exchange.final_url if exchange else None,
                http_status=exchange.status if exchange else None,
                status=status, error=error, body_sha256=body_sha256, directory=directory,
                manifest_sha256=manifest_sha256,
                embed_count=len(embeds), change=json.dumps(change) if change else None))
            if status != "failed":
                self._replace_embeds(s, article.id, embeds, now)
            return change

    @staticmethod
    def _embed_change(s: Session, article_id: int, embeds: Sequence[EmbedRef], first: bool
                      ) -> dict[str, Any]:
        def key(platform: str, post_id: str) -> str:
            return f"{platform}/{post_id}"

        old = {key(p.platform, p.post_id) for p in s.scalars(
            select(PostRow).join(EmbedRow, EmbedRow.post_row_id == PostRow.id)
            .where(EmbedRow.article_id == article_id))}
        new = {key(e.post.platform, e.post.post_id) for e in embeds if e.post is not None}
        added, removed = sorted(new - old), sorted(old - new)
        kind = "first" if first else ("changed" if added or removed else "unchanged")
        return {"kind": kind, "added": added if not first else sorted(new),
                "removed": removed if not first else []}

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
        if row is None:  # due for its first capture at once
            row = PostRow(platform=ref.platform, post_id=ref.post_id, url=ref.url,
                          author=ref.author, first_seen=now, next_check=now, failures=0)
            s.add(row)
            s.flush()
        elif ref.author and not row.author:
            self._learn_author(s, row, ref.author, ref.url)
        return row

    @staticmethod
    def _learn_author(s: Session, post: PostRow, author: str, url: str) -> None:
        """The post's author, first known now: on the post and on its captures so far."""
        post.author, post.url = author, url
        Index._author_on_captures(s, post.id, author)

    @staticmethod
    def _author_on_captures(s: Session, post_row_id: int, author: str) -> None:
        s.execute(update(CaptureRow).where(CaptureRow.post_row_id == post_row_id,
                                           CaptureRow.author.is_(None))
                  .values(author=author).execution_options(synchronize_session=False))

    def _post_for_capture(self, s: Session, ref: PostRef, now: str) -> tuple[int, str | None]:
        """(row id, author) of the post a capture is of: one indexed read when the post is
        known and has nothing to learn; made, or its author learned, otherwise."""
        known = s.execute(select(PostRow.id, PostRow.author).where(
            PostRow.platform == ref.platform, PostRow.post_id == ref.post_id)).first()
        if known is not None and (known.author or not ref.author):
            return known.id, known.author
        post = self._upsert_post(s, ref, now)
        return post.id, post.author

    def upsert_post(self, ref: PostRef) -> int:
        with self.session() as s:
            return self._upsert_post(s, ref, utc_now()).id

    # -- captures ------------------------------------------------------------------------
    # Captures begin and finish once per post of every run, on the capture loop: plain
    # statements, not ORM objects (a third less CPU; bench/throughput.py's python s/emb).
    # They pass by the session's objects: read no PostRow or CaptureRow through the ORM
    # after them in the same session.
    def begin_capture(self, capture_id: str, ref: PostRef, run_id: str, started_at: str,
                      directory: str) -> None:
        """Note a capture in flight and where its directory will be; `finish_capture` or
        `reconcile` closes it."""
        with self.session() as s:
            post_row_id, author = self._post_for_capture(s, ref, started_at)
            s.execute(insert(CAPTURES).values(
                id=capture_id, post_row_id=post_row_id, run_id=run_id, status="in_progress",
                started_at=started_at, directory=directory, owner=run_owner(),
                author=author))

    def finish_capture(self, result: CaptureResult, run_id: str | None = None,
                       interrupted: bool = False) -> Change | None:
        """Close a capture: its row, its artifacts, and the post's state and next check.
        Returns the comparison with the previous completed capture (None unless completed)."""
        with self.session() as s:
            begun = s.execute(select(CaptureRow.post_row_id, CaptureRow.started_at)
                              .where(CaptureRow.id == result.capture_id)).first()
            if begun is None:  # closed without having begun (interrupted at its start)
                post_row_id, _ = self._post_for_capture(s, result.post, result.started_at)
                started_at = result.started_at
                s.execute(insert(CAPTURES).values(
                    id=result.capture_id, post_row_id=post_row_id, run_id=run_id,
                    started_at=started_at, status="in_progress"))
            else:
                post_row_id, started_at = begun
            post = s.execute(select(PostRow.author, PostRow.last_status, PostRow.state,
                                    PostRow.failures).where(PostRow.id == post_row_id)).one()
            author = post.author
            if result.data and result.data.author and not author:
                author = result.data.author
                s.execute(update(POSTS).where(POSTS.c.id == post_row_id)
                          .values(author=author, url=result.post.url))
                self._author_on_captures(s, post_row_id, author)
            status = str(result.status)
            text_ = result.data.text if result.data else None
            values: dict[str, Any] = {"last_captured": result.finished_at}
            if result.status.completed or post.last_status is None:
                values["last_status"] = status
            change: Change | None = None
            if interrupted:  # not the site's fault: due again at once
                values["next_check"] = utc_now()
            else:
                scheduled, change = self._next_check(s, post_row_id, post.state,
                                                     post.failures, result.capture_id,
                                                     status, started_at, text_)
                values.update(scheduled)
            s.execute(update(CAPTURES).where(CAPTURES.c.id == result.capture_id).values(
                status=status, owner=None, reason=result.reason,
                finished_at=result.finished_at, directory=result.directory,
                manifest_sha256=result.manifest_sha256, text=text_,
                timestamp=result.timestamp, author=author,
                change=change.change if change else None))
            if result.artifacts:
                s.execute(insert(ARTIFACTS), [
                    {"capture_id": result.capture_id, "name": a.name, "sha256": a.sha256,
                     "size": a.size, "media_type": a.media_type, "role": a.role}
                    for a in result.artifacts])
            s.execute(update(POSTS).where(POSTS.c.id == post_row_id).values(**values))
            return change

    def _next_check(self, s: Session, post_row_id: int, state: str | None,
                    failures: int | None, capture_id: str, status: str, started_at: str,
                    text_: str | None) -> tuple[dict[str, Any], Change | None]:
        """After capture `capture_id` (its status, start and text) closed: the post's new
        state, failure count and next check (column values), and the comparison with the
        previous completed capture (None unless this one completed)."""
        now = datetime.now(UTC)
        if status not in COMPLETED:
            failed = (failures or 0) + 1
            return {"failures": failed,
                    "next_check": iso(self.policy.next_after_failure(failed, now))}, None
        completed = (select(CaptureRow.id, CaptureRow.status, CaptureRow.text,
                            CaptureRow.started_at)
                     .where(CaptureRow.post_row_id == post_row_id,
                            CaptureRow.status.in_(COMPLETED), CaptureRow.id != capture_id))
        previous = s.execute(completed.order_by(*LATEST_STORED_FIRST).limit(1)).first()
        first = s.execute(completed.order_by(CaptureRow.started_at).limit(1)).first()
        change = classify((previous.status, previous.text) if previous else None, status,
                          text_)
        new_state = next_state(state, status, change)
        first_at = parse_iso(first.started_at) if first is not None and \
            first.started_at < started_at else parse_iso(started_at)
        due = self.policy.next_after_success(first_at, max(now, parse_iso(started_at)))
        return ({"state": new_state, "failures": 0, "next_check": iso(due) if due else None},
                Change(change, new_state, previous.id if previous else None,
                       previous.status if previous else None,
                       previous.text if previous else None))

    def previous_capture(self, ref: PostRef, exclude: str) -> tuple[str, str] | None:
        """(id, manifest SHA-256) of the post's latest stored capture: the chain's last link
        (the last stored, in ledger order: see `LATEST_STORED_FIRST`)."""
        with self.session() as s:
            q = (select(CaptureRow.id, CaptureRow.manifest_sha256)
                 .join(PostRow, CaptureRow.post_row_id == PostRow.id)
                 .where(PostRow.platform == ref.platform, PostRow.post_id == ref.post_id,
                        CaptureRow.manifest_sha256.is_not(None), CaptureRow.id != exclude)
                 .order_by(*LATEST_STORED_FIRST).limit(1))
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

    def entered_in_ledger(self, head: str, *entries: tuple[str, int]) -> None:
        """The ledger's new head ("<seq>:<sha256>") and, for each (capture id, seq), the
        line that entered the capture: one commit."""
        with self.session() as s:
            row = s.get(Meta, "ledger_head")
            if row is None:
                s.add(Meta(key="ledger_head", value=head))
            else:
                row.value = head
            for capture_id, seq in entries:
                s.execute(update(CAPTURES).where(CAPTURES.c.id == capture_id)
                          .values(ledger_seq=seq))

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

        On this host a process is gone when its pid is (in another PID namespace: when
        nobody holds its file under `data_dir`, see `liveness`); a capture owned by another
        host (a shared index) is only closed once older than `stale_after`. A capture whose
        directory made it into place is completed from its manifest; any other is marked
        abandoned. Returns (id, completed) of each capture touched.
        """
        me = run_owner()
        touched: list[tuple[str, bool]] = []
        with self.session() as s:
            orphans = [(row.id, row.owner) for row in s.execute(
                select(CaptureRow.id, CaptureRow.owner, CaptureRow.started_at)
                .where(CaptureRow.status == "in_progress"))
                if row.owner != me and not owner_alive(row.owner or "", row.started_at,
                                                       stale_after, data_dir)]
        for capture_id, owner in orphans:
            with self.session() as s:
                # claimed first, by a write: of two processes starting at once, one closes
                # it (the other's claim changes no row)
                claimed = cast(CursorResult[Any], s.execute(update(CaptureRow).where(
                    CaptureRow.id == capture_id, CaptureRow.status == "in_progress",
                    CaptureRow.owner.is_(None) if owner is None else CaptureRow.owner == owner)
                    .values(owner=f"closing:{me}")))
                row = s.get(CaptureRow, capture_id) if claimed.rowcount == 1 else None
                if row is not None:
                    touched.append((row.id, self._close_orphan(s, row, data_dir)))
        return touched

    def _close_orphan(self, session: Session, row: CaptureRow, data_dir: Path) -> bool:
        row.owner = None
        owner_post = session.get(PostRow, row.post_row_id)
        if owner_post is not None and owner_post.author and not row.author:
            row.author = owner_post.author  # learned (by another process) meanwhile
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
                # as finish_capture would have: a capture without a token is stamped later
                row.timestamp = "stamped" if (root / TIMESTAMP).is_file() else "untimestamped"
                data = manifest.get("post_data")
                row.text = data.get("text") if isinstance(data, dict) else None
                listed = manifest.get("artifacts")
                for a in listed if isinstance(listed, list) else []:
                    if isinstance(a, dict) and a.get("name") and a.get("sha256"):
                        session.add(ArtifactRow(
                            capture_id=row.id, name=str(a["name"]), sha256=str(a["sha256"]),
                            size=int(a.get("size") or 0),
                            media_type=str(a.get("media_type") or "application/octet-stream"),
                            role=str(a.get("role") or "")))
                post = session.get(PostRow, row.post_row_id)
                if post is not None:
                    if row.status in COMPLETED or post.last_status is None:
                        post.last_status = row.status
                    post.last_captured = row.finished_at
                    session.flush()
                    values, change = self._next_check(
                        session, post.id, post.state, post.failures, row.id, row.status,
                        row.started_at, row.text)
                    for key, value in values.items():
                        setattr(post, key, value)
                    row.change = change.change if change else None
                return True
        except StoreError as exc:
            row.status, row.reason = "abandoned", f"left in progress, unreadable: {exc}"
            row.finished_at, row.directory = utc_now(), None
            return False
        row.status = "abandoned"
        row.reason = "the process capturing this post stopped before it finished"
        row.finished_at = utc_now()
        row.directory = None
        post = session.get(PostRow, row.post_row_id)
        if post is not None:  # due again at once, without counting as a failure
            post.next_check = utc_now()
        return False

    # -- queries -------------------------------------------------------------------------
    def captures(self, limit: int = 50, offset: int = 0, *, author: str | None = None,
                 since: str | None = None, until: str | None = None) -> list[CaptureRow]:
        """Captures, newest first: all, or those of one author (any letter case, with or
        without "@") started between `since` and `until` (`time_bound`: a date, or an
        ISO 8601 date-time; an `until` date takes in its whole day)."""
        with self.session() as s:
            q = captures_where(select(CaptureRow), author=author, since=since, until=until)
            q = (q.options(selectinload(CaptureRow.post))
                 .order_by(CaptureRow.started_at.desc(), CaptureRow.id.desc())
                 .limit(limit).offset(offset))
            return list(s.scalars(q))

    def count_captures(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(CaptureRow)) or 0)

    def count_posts(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(PostRow)) or 0)

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

    def names_directory(self, relpath: str) -> bool:
        """Whether a capture or an article fetch row names this directory."""
        with self.session() as s:
            return s.scalar(select(CaptureRow.id).where(CaptureRow.directory == relpath)
                            .limit(1)) is not None or s.scalar(
                select(ArticleFetchRow.id).where(ArticleFetchRow.directory == relpath)
                .limit(1)) is not None

    def article_fetch_dirs(self) -> list[tuple[str, str | None]]:
        """(directory, manifest SHA-256) of every stored article response, oldest first."""
        with self.session() as s:
            q = (select(ArticleFetchRow.directory, ArticleFetchRow.manifest_sha256)
                 .where(ArticleFetchRow.directory.is_not(None)).order_by(ArticleFetchRow.id))
            return [(d, sha) for d, sha in s.execute(q) if d]

    # -- scheduled runs: seen articles, the re-capture queue, run records ------------------
    def article_states(self, urls: Sequence[str]) -> dict[str, ArticleState]:
        """What is known of each of `urls` (absent: never seen)."""
        out: dict[str, ArticleState] = {}
        with self.session() as s:
            for chunk in _chunks(list(dict.fromkeys(urls)), 500):
                failed = (select(func.count()).select_from(ArticleFetchRow)
                          .where(ArticleFetchRow.article_id == ArticleRow.id,
                                 ArticleFetchRow.status == "failed")
                          .scalar_subquery())
                q = select(ArticleRow.url, ArticleRow.archived_at, ArticleRow.source_updated,
                           failed, ArticleRow.last_fetched).where(ArticleRow.url.in_(chunk))
                for url, archived, updated, n, fetched in s.execute(q):
                    out[url] = ArticleState(url, archived, updated, int(n or 0), fetched)
        return out

    def note_article_source(self, url: str, source: str, updated: str | None) -> None:
        with self.session() as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.url == url))
            if row is not None:
                row.source = row.source or source
                if updated is not None:
                    row.source_updated = updated

    def captured_keys(self, refs: Iterable[PostRef]) -> set[tuple[str, str]]:
        """The (platform, post_id) of those posts that have a completed capture."""
        wanted = {r.key for r in refs}
        found: set[tuple[str, str]] = set()
        with self.session() as s:
            for chunk in _chunks(sorted(wanted), 300):
                ids = [post_id for _, post_id in chunk]
                q = (select(PostRow.platform, PostRow.post_id)
                     .join(CaptureRow, CaptureRow.post_row_id == PostRow.id)
                     .where(PostRow.post_id.in_(ids), CaptureRow.status.in_(COMPLETED))
                     .distinct())
                found.update((p, i) for p, i in s.execute(q) if (p, i) in wanted)
        return found

    def due_posts(self, now: str, limit: int
                  ) -> list[tuple[PostRef, list[tuple[EmbedRef, str | None]]]]:
        """Posts whose next check is due, most overdue first, each with the embeds that
        put it in the index (for the manifest and the quote check)."""
        # plain rows, not ORM objects: the scheduler asks for hundreds of posts at a time
        with self.session() as s:
            posts = s.execute(
                select(PostRow.id, PostRow.platform, PostRow.post_id, PostRow.url,
                       PostRow.author)
                .where(PostRow.next_check.is_not(None), PostRow.next_check <= now)
                .order_by(PostRow.next_check, PostRow.id).limit(limit)).all()
            refs = {p.id: PostRef(p.platform, p.post_id, p.url, p.author) for p in posts}
            embeds: dict[int, list[tuple[EmbedRef, str | None]]] = {i: [] for i in refs}
            for chunk in _chunks(list(refs), 500):
                q = (select(EmbedRow.post_row_id, EmbedRow.platform, EmbedRow.found_in,
                            EmbedRow.position, EmbedRow.element, EmbedRow.author,
                            EmbedRow.author_name, EmbedRow.quoted_text, EmbedRow.date_text,
                            EmbedRow.date, EmbedRow.raw_url, EmbedRow.markup, ArticleRow.url)
                     .join(ArticleRow, EmbedRow.article_id == ArticleRow.id)
                     .where(EmbedRow.post_row_id.in_(chunk)).order_by(EmbedRow.id))
                for (post_row_id, platform, found_in, position, element, author, author_name,
                     quoted_text, date_text, date, raw_url, markup, article_url) in s.execute(q):
                    assert post_row_id is not None  # the query selects by it
                    embeds[post_row_id].append((_embed_ref_of(
                        refs[post_row_id], platform, found_in, position, element, author,
                        author_name, quoted_text, date_text, date, raw_url, markup),
                        article_url))
            return [(refs[p.id], embeds[p.id]) for p in posts]

    def queue(self, now: str, limit: int = 10) -> tuple[int, int, list[PostRow]]:
        """(due now, scheduled in all, the next `limit` posts by due time)."""
        with self.session() as s:
            due = s.scalar(select(func.count()).select_from(PostRow)
                           .where(PostRow.next_check <= now)) or 0
            scheduled = s.scalar(select(func.count()).select_from(PostRow)
                                 .where(PostRow.next_check.is_not(None))) or 0
            rows = list(s.scalars(select(PostRow).where(PostRow.next_check.is_not(None))
                                  .order_by(PostRow.next_check, PostRow.id).limit(limit)))
            return int(due), int(scheduled), rows

    def recent_changes(self, limit: int = 10) -> list[CaptureRow]:
        """The latest captures that changed their post's status (edited, deleted ...)."""
        with self.session() as s:
            q = (select(CaptureRow)
                 .where(CaptureRow.change.in_(("edited", "deleted", "unavailable", "restored")))
                 .options(selectinload(CaptureRow.post))
                 .order_by(CaptureRow.started_at.desc()).limit(limit))
            return list(s.scalars(q))

    def unannounced_changes(self, limit: int = 100) -> list[CaptureRow]:
        """Captures that changed their post's status and were not announced yet, oldest
        first (the notification outbox: survives crashes and failed webhooks)."""
        with self.session() as s:
            q = (select(CaptureRow)
                 .where(CaptureRow.change.in_(("edited", "deleted", "unavailable", "restored")),
                        CaptureRow.notified_at.is_(None))
                 .options(selectinload(CaptureRow.post))
                 .order_by(CaptureRow.started_at).limit(limit))
            return list(s.scalars(q))

    def previous_completed(self, row: CaptureRow) -> CaptureRow | None:
        """The post's completed capture before `row`."""
        with self.session() as s:
            return s.scalar(select(CaptureRow).where(
                CaptureRow.post_row_id == row.post_row_id, CaptureRow.status.in_(COMPLETED),
                CaptureRow.started_at < row.started_at)
                .order_by(CaptureRow.started_at.desc()).limit(1))

    def mark_announced(self, capture_id: str) -> None:
        with self.session() as s:
            row = s.get(CaptureRow, capture_id)
            if row is not None:
                row.notified_at = utc_now()

    def begin_run(self, run_id: str, job: str, status: str = "running") -> None:
        with self.session() as s:
            s.add(RunRow(id=run_id, job=job, started_at=utc_now(), status=status,
                         owner=run_owner()))

    def set_run_status(self, run_id: str, status: str) -> None:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is not None:
                row.status = status

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any],
                   error: str | None = None) -> None:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is not None:
                row.status, row.error, row.owner = status, error, None
                row.summary = json.dumps(summary, sort_keys=True)
                row.finished_at = utc_now()

    def reconcile_runs(self, data_dir: Path | None = None) -> list[str]:
        """Mark runs (queued or running) whose process is gone as interrupted; returns the
        jobs to run again: those, and those whose latest run was stopped by a signal.
        `data_dir`: where processes of other PID namespaces say they run."""
        jobs: list[str] = []
        with self.session() as s:
            for row in s.scalars(select(RunRow).where(RunRow.status.in_(("queued",
                                                                           "running")))):
                if owner_alive(row.owner or "", row.started_at, timedelta(hours=6), data_dir):
                    continue
                row.status, row.owner, row.finished_at = "interrupted", None, utc_now()
                row.error = "the process running it stopped before it finished"
                jobs.append(row.job)
        jobs += [job for job, run in self.last_runs().items()
                 if run.status == "stopped" and job not in jobs]
        return jobs

    def last_runs(self) -> dict[str, RunRow]:
        """The latest run of every job."""
        with self.session() as s:
            latest = (select(RunRow.job, func.max(RunRow.started_at).label("at"))
                      .group_by(RunRow.job).subquery())
            q = select(RunRow).join(latest, (RunRow.job == latest.c.job)
                                    & (RunRow.started_at == latest.c.at))
            return {r.job: r for r in s.scalars(q)}

    def search_posts(self, text: str) -> list[PostRow]:
        with self.session() as s:
            like = f"%{text}%"
            q = select(PostRow).where(or_(PostRow.url.like(like), PostRow.author.like(like)))
            return list(s.scalars(q.limit(100)))


def captures_where(q: Select[Any], *, author: str | None = None, since: str | None = None,
                   until: str | None = None) -> Select[Any]:
    """`q` (over captures) narrowed to an author's captures in a time range, in the form
    ix_captures_author_started_post serves (bounds: `time_bound`)."""
    if author is not None:
        q = q.where(func.lower(CaptureRow.author) == handle_key(author))
    if since:
        q = q.where(CaptureRow.started_at >= time_bound(since))
    if until:
        q = q.where(CaptureRow.started_at <= time_bound(until, end=True))
    return q


def time_bound(text: str, end: bool = False) -> str:
    """A date or date-time (ISO 8601; without a zone, UTC) as the index stores times. A
    date alone is the start of its day, or with `end` its last millisecond. ValueError
    for anything else."""
    text = text.strip()
    try:
        try:
            day = date.fromisoformat(text)  # 2026-01-02, 20260102, 2026-W01-5
        except ValueError:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return iso(start + timedelta(days=1, milliseconds=-1) if end else start)
    except (ValueError, OverflowError):
        raise ValueError(f"not a date (YYYY-MM-DD) or ISO 8601 date-time: {text!r}") from None


def handle_key(author: str) -> str:
    """How authors are matched: any letter case, with or without a leading "@"."""
    return author.strip().lstrip("@").lower()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _embed_ref(row: EmbedRow, post: PostRow) -> EmbedRef:
    return _embed_ref_of(PostRef(post.platform, post.post_id, post.url, post.author),
                         row.platform, row.found_in, row.position, row.element, row.author,
                         row.author_name, row.quoted_text, row.date_text, row.date,
                         row.raw_url, row.markup)


def _embed_ref_of(post: PostRef, platform: str, found_in: str, position: int,
                  element: str | None, author: str | None, author_name: str | None,
                  quoted_text: str | None, date_text: str | None, date: str | None,
                  raw_url: str | None, markup: str | None) -> EmbedRef:
    try:
        found = FoundIn(found_in)
    except ValueError:
        found = FoundIn.LINK
    return EmbedRef(platform, found, position, post, element=element or "", author=author,
                    author_name=author_name, quoted_text=quoted_text, date_text=date_text,
                    date=date, raw_url=raw_url, markup=markup)

