import json
import socket
from pathlib import Path

from archiver.errors import StoreError
from archiver.models import CaptureResult, CaptureStatus, EmbedRef, FoundIn, PostRef
from archiver.store.index import Index, owner_alive, run_owner
from archiver.store.schema import CaptureRow, PostRow

POST = PostRef("twitter", "20", "https://x.com/jack/status/20", "jack")


def make_index(tmp_path: Path) -> Index:
    return Index(f"sqlite:///{tmp_path / 'index.sqlite3'}")


#: A manifest's status and end, as reconcile reads them; the tests add to it.
LIVE = {"status": {"status": "live", "reason": None},
        "when": {"finished": "2026-01-01T00:00:05.000Z"}}
SCREENSHOT = {"name": "embed.png", "sha256": "a" * 64, "size": 10, "media_type": "image/png",
              "role": "screenshot"}


def stored_orphan(index: Index, data_dir: Path, capture_id: str, relpath: str,
                  manifest: dict[str, object]) -> Path:
    """A capture begun, its directory in place with `manifest`, its process gone."""
    index.begin_capture(capture_id, POST, "run", "2026-01-01T00:00:00.000Z", relpath)
    root = data_dir / relpath
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps(manifest))
    with index.session() as s:
        row = s.get(CaptureRow, capture_id)
        assert row is not None
        row.owner = f"{socket.gethostname()}:999999999:1"
    return root


def test_sqlite_runs_in_wal_mode_and_syncs_every_commit(tmp_path: Path) -> None:
    """WAL, and synchronous=FULL: a commit is on disk when it returns, as the ledger line
    written before it is (NORMAL could lose it in a power cut, the ledger line not)."""
    index = make_index(tmp_path)
    with index.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    index.close()


def test_one_post_two_articles(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    embed = EmbedRef("twitter", FoundIn.BLOCKQUOTE, 0, POST, quoted_text="just setting up")
    for url in ("https://a.example/1", "https://b.example/2"):
        index.record_article(url, exchange=None, status="ok", error=None, directory=None,
                             body_sha256=None, embeds=[embed])
    row = index.post("twitter", "20")
    assert row is not None
    assert sorted(e.article.url for e in row.embeds) == ["https://a.example/1",
                                                         "https://b.example/2"]
    index.close()


def test_refetch_replaces_embeds_keeps_articles(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    two = [EmbedRef("twitter", FoundIn.BLOCKQUOTE, i, POST) for i in range(2)]
    index.record_article("https://a.example/1", exchange=None, status="ok", error=None,
                         directory=None, body_sha256=None, embeds=two)
    index.record_article("https://a.example/1", exchange=None, status="ok", error=None,
                         directory=None, body_sha256=None, embeds=two[:1])
    row = index.post("twitter", "20")
    assert row is not None and len(row.embeds) == 1
    # a failed fetch keeps the embeds we knew
    index.record_article("https://a.example/1", exchange=None, status="failed",
                         error="HTTP 500", directory=None, body_sha256=None)
    row = index.post("twitter", "20")
    assert row is not None and len(row.embeds) == 1
    index.close()


def test_reconcile_closes_captures_of_dead_processes(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    data_dir = tmp_path / "data"
    index.begin_capture("done", POST, "run", "2026-01-01T00:00:00Z", "captures/t/20/a-done")
    index.begin_capture("lost", POST, "run", "2026-01-01T00:00:01Z", "captures/t/20/a-lost")
    index.begin_capture("mine", POST, "run", "2026-01-01T00:00:02Z", "captures/t/20/a-mine")
    index.begin_capture("away", POST, "run", "2999-01-01T00:00:00Z", "captures/t/20/a-away")
    # the first made it into place before its process died; the second did not
    done = data_dir / "captures/t/20/a-done"
    done.mkdir(parents=True)
    (done / "manifest.json").write_text(json.dumps(
        {"status": {"status": "deleted", "reason": "gone"},
         "when": {"finished": "2026-01-01T00:00:09Z"}}))
    with index.session() as s:
        for cid, owner in (("done", f"{socket.gethostname()}:999999999"),
                           ("lost", f"{socket.gethostname()}:999999998"),
                           ("away", "another-worker:1")):
            row = s.get(CaptureRow, cid)
            assert row is not None
            row.owner = owner
    touched = index.reconcile(data_dir)
    # "mine" belongs to this live process; "away" to another host, and is recent
    assert sorted(touched) == [("done", True), ("lost", False)]
    assert index.capture("away").status == "in_progress"
    assert index.capture("done").status == "deleted"
    assert index.capture("lost").status == "abandoned"
    assert index.capture("mine").status == "in_progress"
    index.finish_capture(CaptureResult("mine", POST, CaptureStatus.LIVE, None, "s", "f",
                                       "captures/t/20/a-mine", "0" * 64))
    assert index.capture("mine").status == "live"
    assert index.post("twitter", "20").last_status == "live"
    index.close()


def test_reconcile_completes_the_bookkeeping_of_a_stored_capture(tmp_path: Path) -> None:
    """A capture that reached its place before its process was killed gets everything a
    normal finish records: text, artifacts, change, state and next check."""
    index = make_index(tmp_path)
    data_dir = tmp_path / "data"
    stored_orphan(index, data_dir, "kept", "captures/t/20/a",
                  {**LIVE, "post_data": {"text": "just setting up my twttr"},
                   "artifacts": [SCREENSHOT]})
    assert index.reconcile(data_dir) == [("kept", True)]
    row = index.capture("kept")
    assert row is not None and row.status == "live" and row.change == "first"
    assert row.text == "just setting up my twttr"
    assert [a.name for a in row.artifacts] == ["embed.png"]
    post = index.post("twitter", "20")
    assert post is not None and post.state == "live" and post.last_status == "live"
    assert post.next_check is not None and post.next_check > "2026-01-01T00:59"  # 1 h on
    index.close()


def test_a_reconciled_capture_without_a_token_is_stamped_later(tmp_path: Path) -> None:
    """A capture closed by reconcile gets the timestamp state a normal finish gives it: its
    own token, or "untimestamped", which a later run with an authority stamps."""
    index = make_index(tmp_path)
    data_dir = tmp_path / "data"
    stored_orphan(index, data_dir, "bare", "captures/t/bare", LIVE)
    sealed = stored_orphan(index, data_dir, "sealed", "captures/t/sealed", LIVE)
    (sealed / "manifest.tsr").write_bytes(b"token")
    assert sorted(index.reconcile(data_dir)) == [("bare", True), ("sealed", True)]
    assert [r.id for r in index.captures_to_stamp()] == ["bare"]
    assert index.capture("sealed").timestamp == "stamped"
    index.close()


def test_two_processes_reconciling_at_once_close_an_orphan_once(tmp_path: Path,
                                                               monkeypatch) -> None:
    """Two runs starting together (the scheduler and a manual archive) both see the same
    capture left in progress: one closes it, the other leaves it be, so its artifacts are
    recorded once."""
    import threading

    import archiver.store.index as index_module

    first = make_index(tmp_path)
    data_dir = tmp_path / "data"
    stored_orphan(first, data_dir, "orphan", "captures/t/o", {**LIVE, "artifacts": [SCREENSHOT]})
    both_looked = threading.Barrier(2, timeout=10)

    def dead_after_both_looked(owner: str, *args: object) -> bool:
        both_looked.wait()  # each has read the capture as in progress, its owner dead
        return False

    monkeypatch.setattr(index_module, "owner_alive", dead_after_both_looked)
    second = make_index(tmp_path)
    touched: list[list[tuple[str, bool]]] = []
    threads = [threading.Thread(target=lambda i=i: touched.append(i.reconcile(data_dir)))
               for i in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(touched) == [[], [("orphan", True)]]
    assert [a.name for a in first.capture("orphan").artifacts] == ["embed.png"]
    first.close()
    second.close()


def test_an_owner_is_one_process_even_when_its_pid_is_reused(tmp_path: Path) -> None:
    me = run_owner()
    host, pid, start = me.rsplit(":", 2)
    assert owner_alive(me)
    assert not owner_alive(f"{host}:{pid}:{start}1")  # same pid, another process
    assert owner_alive(f"{host}:{pid}")  # an older owner without a start time
    assert not owner_alive(f"{host}:999999999:1")


def test_due_posts_come_with_every_embed_and_its_article(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    other = PostRef("twitter", "21", "https://x.com/jack/status/21", "jack")
    for url, quote in (("https://a.example/1", "first quote"), ("https://b.example/2", None)):
        index.record_article(url, exchange=None, status="ok", error=None, directory=None,
                             body_sha256=None, embeds=[
                                 EmbedRef("twitter", FoundIn.BLOCKQUOTE, 0, POST,
                                          quoted_text=quote, markup="<blockquote>"),
                                 EmbedRef("twitter", FoundIn.LINK, 1, other)])
    with index.session() as s:  # post 21 is not due for a day
        row = s.get(PostRow, index.post("twitter", "21").id)  # type: ignore[union-attr]
        assert row is not None
        row.next_check = "2999-01-01T00:00:00Z"
    due = index.due_posts("2100-01-01T00:00:00Z", 10)
    assert [ref for ref, _ in due] == [POST]
    embeds = due[0][1]
    assert [article for _, article in embeds] == ["https://a.example/1", "https://b.example/2"]
    first = embeds[0][0]
    assert (first.found_in, first.position, first.quoted_text, first.markup, first.post) == (
        FoundIn.BLOCKQUOTE, 0, "first quote", "<blockquote>", POST)
    assert index.due_posts("2000-01-01T00:00:00Z", 10) == []  # nothing due yet then
    index.close()


def test_an_older_index_gets_the_new_indexes_on_open(tmp_path: Path) -> None:
    make_index(tmp_path).close()
    import sqlite3

    db = sqlite3.connect(tmp_path / "index.sqlite3")
    db.execute("DROP INDEX ix_posts_author_lower_captured")
    db.execute("DROP INDEX ix_captures_post_started")
    db.commit()
    for _ in range(2):  # created once, then found
        make_index(tmp_path).close()
        names = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"ix_posts_author_lower_captured", "ix_captures_post_started"} <= names
    db.close()


def capture(index: Index, capture_id: str, post: PostRef, started: str,
            author: str | None = None) -> None:
    """A live capture of `post`, begun and finished (with the author the platform's data
    gave, if any); stored at captures/<id>."""
    from archiver.models import PostData

    index.begin_capture(capture_id, post, "run", started, f"captures/{capture_id}")
    data = PostData(CaptureStatus.LIVE, text="t", author=author) if author else None
    index.finish_capture(CaptureResult(capture_id, post, CaptureStatus.LIVE, None, started,
                                       started, f"captures/{capture_id}", "0" * 64,
                                       data=data))


def test_captures_are_found_by_author_and_time_in_any_case(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    other = PostRef("twitter", "99", "https://x.com/i/status/99", None)  # author unknown
    for n, (post, day) in enumerate([(POST, "2026-01-01"), (POST, "2026-01-02"),
                                     (other, "2026-01-02"), (POST, "2026-01-03")]):
        started = f"{day}T12:00:0{n}.000Z"
        capture(index, f"c{n}", post, started)

    def ids(**kw: str) -> list[str]:
        return [r.id for r in index.captures(author=kw.pop("author", "@JACK"), **kw)]

    assert ids() == ["c3", "c1", "c0"]  # newest first, "@JACK" is jack
    assert ids(since="2026-01-02", until="2026-01-02") == ["c1"]  # a date is its whole day
    assert ids(since="2026-01-02T12:00:02+00:00") == ["c3"]
    assert ids(until="2026-01-02T13:00:01+01:00") == ["c1", "c0"]  # 12:00:01 UTC
    assert ids(author="nobody") == []
    assert [r.id for r in index.captures()] == ["c3", "c2", "c1", "c0"]
    # the author of post 99 is learned at its next capture: its earlier capture has it too
    capture(index, "c4", other, "2026-01-04T00:00:00.000Z", author="Dorsey")
    assert ids(author="dorsey") == ["c4", "c2"]
    # ... and as a post reference that names it (an article's embed)
    third = PostRef("twitter", "7", "https://x.com/i/status/7", None)
    index.begin_capture("c5", third, "run", "2026-01-05T00:00:00.000Z", "captures/c5")
    assert ids(author="ev") == []
    index.upsert_post(PostRef("twitter", "7", "https://x.com/ev/status/7", "ev"))
    assert ids(author="ev") == ["c5"]
    index.close()


def test_the_author_query_reads_the_author_index(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    seen: list[tuple[str, object]] = []
    from sqlalchemy import event

    def grab(conn: object, cursor: object, statement: str, params: object, *_: object) -> None:
        if "FROM captures" in statement and "lower(captures.author)" in statement:
            seen.append((statement, params))

    event.listen(index.engine, "before_cursor_execute", grab)
    index.captures(author="jack", since="2026-01-01", until="2026-02-01")
    event.remove(index.engine, "before_cursor_execute", grab)
    (statement, params), = seen
    with index.engine.connect() as conn:
        plan = " ".join(str(r[3]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, params))  # type: ignore[arg-type]
    assert "ix_captures_author_started_post" in plan
    assert "TEMP B-TREE" not in plan  # read in index order, no sort
    index.close()


def test_an_older_index_gets_the_captures_author_column_filled(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    unknown = PostRef("twitter", "99", "https://x.com/i/status/99", None)
    for cid, post in (("a", POST), ("b", unknown)):
        capture(index, cid, post, "2026-01-01T00:00:00.000Z")
    index.close()
    import sqlite3

    db = sqlite3.connect(tmp_path / "index.sqlite3")  # as an index made before the column
    db.execute("DROP INDEX ix_captures_author_started_post")
    db.execute("ALTER TABLE captures DROP COLUMN author")
    db.commit()
    db.close()
    index = make_index(tmp_path)
    assert [(r.id, r.author) for r in index.captures()] in (
        [("a", "jack"), ("b", None)], [("b", None), ("a", "jack")])
    assert [r.id for r in index.captures(author="Jack")] == ["a"]
    index.close()


def test_an_index_an_older_schema_had_is_replaced(tmp_path: Path) -> None:
    """ix_captures_author_started (before post_row_id was added to it) is dropped in the
    migration that builds its replacement. Built again beside it (by an older archiver),
    it stays: a newer open writes nothing for it, and a read-only copy opens."""
    import sqlite3

    path = tmp_path / "index.sqlite3"

    def indexes() -> set[str]:
        db = sqlite3.connect(path)
        try:
            return {n for (n,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE "
                "'ix_captures_author%'")}
        finally:
            db.close()

    def older_archiver(drop_new: bool) -> None:
        db = sqlite3.connect(path)
        if drop_new:
            db.execute("DROP INDEX ix_captures_author_started_post")
        db.execute("CREATE INDEX ix_captures_author_started ON captures "
                   "(lower(author), started_at, id)")
        db.commit()
        db.close()

    index = make_index(tmp_path)
    capture(index, "a", POST, "2026-01-01T00:00:00.000Z")
    index.close()
    older_archiver(drop_new=True)  # as the older schema left it
    index = make_index(tmp_path)
    assert indexes() == {"ix_captures_author_started_post"}
    index.close()
    older_archiver(drop_new=False)  # an older archiver opened it since
    both = {"ix_captures_author_started", "ix_captures_author_started_post"}
    before = path.stat().st_mtime_ns
    index = make_index(tmp_path)
    assert indexes() == both
    assert [r.id for r in index.captures(author="JACK", since="2026-01-01")] == ["a"]
    index.close()
    path.chmod(0o444)  # and a read-only copy opens
    try:
        index = Index(f"sqlite:///file:{path}?mode=ro&uri=true")
        assert [r.id for r in index.captures(author="jack")] == ["a"]
        index.close()
    finally:
        path.chmod(0o644)
    assert path.stat().st_mtime_ns == before


def test_a_migration_commits_as_one_and_marks_the_schema(tmp_path: Path) -> None:
    """The column, its backfill and the index commit together (an interrupted migration
    is redone whole on the next open), and the index is marked with this schema so that
    an older archiver refuses it."""
    import sqlite3

    from archiver.store.schema import SCHEMA_VERSION

    index = make_index(tmp_path)
    capture(index, "a", POST, "2026-01-01T00:00:00.000Z")
    index.close()
    db = sqlite3.connect(tmp_path / "index.sqlite3")
    db.execute("DROP INDEX ix_captures_author_started_post")
    db.execute("ALTER TABLE captures DROP COLUMN author")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    # the backfill fails midway (a trigger stands in for a kill or a full disk)
    db.execute("CREATE TRIGGER stop BEFORE UPDATE ON captures BEGIN "
               "SELECT RAISE(ABORT, 'interrupted'); END")
    db.commit()
    try:
        make_index(tmp_path)
    except StoreError:
        pass
    else:
        raise AssertionError("the migration should have failed")
    columns = {row[1] for row in db.execute("PRAGMA table_info(captures)")}
    assert "author" not in columns  # the ALTER TABLE was rolled back with the backfill
    db.execute("DROP TRIGGER stop")
    db.commit()
    index = make_index(tmp_path)
    assert [(r.id, r.author) for r in index.captures()] == [("a", "jack")]
    index.close()
    (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == str(SCHEMA_VERSION)
    # an index of a newer schema is refused, not written to
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
               (str(SCHEMA_VERSION + 1),))
    db.commit()
    try:
        make_index(tmp_path)
    except StoreError as exc:
        assert "newer archiver" in str(exc)
    else:
        raise AssertionError("a newer index should be refused")
    db.close()


def test_a_read_only_copy_with_nothing_to_migrate_opens(tmp_path: Path) -> None:
    import os
    import stat

    index = make_index(tmp_path)
    capture(index, "a", POST, "2026-01-01T00:00:00.000Z")
    index.close()
    if os.geteuid() == 0:  # root writes anyway: SQLite's own read-only mode stands in
        index = Index(f"sqlite:///file:{tmp_path / 'index.sqlite3'}?mode=ro&uri=true")
    else:
        for p in tmp_path.iterdir():
            p.chmod(stat.S_IRUSR)
        tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
        index = make_index(tmp_path)
    assert [r.id for r in index.captures(author="Jack")] == ["a"]
    index.close()
    tmp_path.chmod(stat.S_IRWXU)


def test_time_bounds_of_the_author_query() -> None:
    from archiver.store.index import time_bound

    assert time_bound("2026-01-02") == "2026-01-02T00:00:00.000Z"
    assert time_bound("2026-01-02", end=True) == "2026-01-02T23:59:59.999Z"
    assert time_bound("20260102", end=True) == "2026-01-02T23:59:59.999Z"  # a date too
    assert time_bound("2026-01-02T12:00+02:00") == "2026-01-02T10:00:00.000Z"
    assert time_bound("2026-01-02T12:00:00.5Z") == "2026-01-02T12:00:00.500Z"
    for bad in ("yesterday", "2026-02-30", "0001-01-01T00:00+01:00", ""):
        try:
            time_bound(bad)
        except ValueError as exc:
            assert "not a date" in str(exc)
        else:
            raise AssertionError(bad)


def test_finishing_captures_keeps_the_post_and_its_captures_in_step(tmp_path: Path) -> None:
    """Failures back off, an interruption is due again at once, a completed capture resets
    the failures and is compared with the previous completed one, and an author learned
    from the platform's data reaches the post's earlier captures."""
    from datetime import UTC, datetime

    from archiver.models import Artifact, PostData
    from archiver.recapture import Policy, classify
    from archiver.store.index import iso
    from archiver.store.schema import ArtifactRow

    index = make_index(tmp_path)
    anon = PostRef("twitter", "77", "https://x.com/i/status/77", None)

    def finish(cid: str, status: CaptureStatus, text: str | None = None,
               author: str | None = None, artifacts: tuple[Artifact, ...] = (),
               begin: bool = True, interrupted: bool = False) -> object:
        started = f"2026-03-0{cid[-1]}T00:00:00Z"
        if begin:
            index.begin_capture(cid, anon, "run", started, f"captures/{cid}")
        data = PostData(status, text=text, author=author) if text or author else None
        return index.finish_capture(CaptureResult(
            cid, anon, status, None if status.completed else "boom", started, started,
            f"captures/{cid}" if status.completed else None,
            "0" * 64 if status.completed else None, artifacts=artifacts, data=data),
            "run", interrupted=interrupted)

    def post() -> PostRow:
        with index.session() as s:
            row = s.query(PostRow).filter_by(post_id="77").one()
            s.expunge(row)
            return row

    def rows() -> dict[str, CaptureRow]:
        with index.session() as s:
            found = {r.id: r for r in s.query(CaptureRow).all()}
            for r in found.values():
                s.expunge(r)
            return found

    def near(when: str | None, expected: datetime) -> bool:
        return when is not None and abs((datetime.fromisoformat(when.replace("Z", "+00:00"))
                                         - expected).total_seconds()) < 60

    policy = Policy()
    assert finish("c1", CaptureStatus.FAILED) is None
    assert (post().failures, post().last_status) == (1, "failed")
    assert near(post().next_check, policy.next_after_failure(1, datetime.now(UTC)))
    assert finish("c2", CaptureStatus.FAILED) is None
    assert post().failures == 2
    assert near(post().next_check, policy.next_after_failure(2, datetime.now(UTC)))
    assert rows()["c2"].owner is None and rows()["c2"].reason == "boom"

    shots = (Artifact("a.png", "1" * 64, 10, "image/png", "screenshot"),
             Artifact("b.json", "2" * 64, 5, "application/json", "data"))
    first = finish("c3", CaptureStatus.LIVE, text="hello", author="Jack", artifacts=shots)
    assert first is not None and first.previous_id is None
    assert first.change == classify(None, "live", "hello")
    now = post()
    assert (now.failures, now.last_status, now.author, now.state) == (0, "live", "Jack",
                                                                       first.state)
    assert all(r.author == "Jack" for r in rows().values())  # c1 and c2 learned it too
    assert rows()["c3"].change == first.change and rows()["c3"].text == "hello"
    with index.session() as s:
        stored = sorted((a.name, a.size, a.role) for a in
                        s.query(ArtifactRow).filter_by(capture_id="c3"))
    assert stored == [("a.png", 10, "screenshot"), ("b.json", 5, "data")]

    # interrupted at its very start: closed without having begun, due again now
    assert finish("c4", CaptureStatus.FAILED, begin=False, interrupted=True) is None
    assert rows()["c4"].status == "failed" and rows()["c4"].author == "Jack"
    assert (post().failures, post().last_status) == (0, "live")
    assert near(post().next_check, datetime.now(UTC))

    later = finish("c5", CaptureStatus.DELETED)
    assert later is not None
    assert (later.previous_id, later.previous_status, later.previous_text) == ("c3", "live",
                                                                              "hello")
    assert later.change == classify(("live", "hello"), "deleted", None)
    assert rows()["c5"].change == later.change and post().state == later.state
    assert post().last_status == "deleted" and post().last_captured == "2026-03-05T00:00:00Z"
    assert iso(datetime(2026, 3, 5, tzinfo=UTC)) <= (post().next_check or "")
    index.close()


def test_a_posts_chain_follows_the_ledger_not_the_clock(tmp_path: Path) -> None:
    """The clock was ahead, then set right: each capture still links to the one stored
    just before it (not to the one with the latest start), and its change is judged
    against that one. Captures stored before the index kept ledger lines go by start."""
    from archiver.models import PostData

    index = make_index(tmp_path)
    capture(index, "old1", POST, "2026-01-02T00:00:00.000Z")
    capture(index, "old2", POST, "2026-01-01T00:00:00.000Z")  # no ledger line recorded
    links, compared = [], []
    for seq, (cid, started, text_) in enumerate([
            ("a", "2026-06-01T10:00:00.000Z", "one"),  # the clock a month ahead
            ("b", "2026-05-01T09:05:00.000Z", "two"),  # set right
            ("c", "2026-05-01T09:10:00.000Z", "two")], start=1):
        index.begin_capture(cid, POST, "run", started, f"captures/{cid}")
        previous = index.previous_capture(POST, cid)  # as the manifest's chain is made
        links.append(previous[0] if previous else None)
        index.entered_in_ledger(f"{seq}:{'0' * 64}", (cid, seq))
        change = index.finish_capture(CaptureResult(
            cid, POST, CaptureStatus.LIVE, None, started, started, f"captures/{cid}",
            "0" * 64, data=PostData(CaptureStatus.LIVE, text=text_)))
        assert change is not None
        compared.append((change.previous_id, change.change))
    assert links == ["old1", "a", "b"]
    assert compared == [("old1", "edited"), ("a", "edited"), ("b", "unchanged")]
    assert index.get_meta("ledger_head") == f"3:{'0' * 64}"
    index.close()
