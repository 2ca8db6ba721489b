"""The index on PostgreSQL: a throwaway server on loopback for this module, when the
machine has PostgreSQL's server programs (Debian: /usr/lib/postgresql/<v>/bin) and the
driver (psycopg, a dev dependency). What differs from SQLite is tested here: migrations
(parameter style, locks held by ALTER TABLE), expression indexes, and the queries that
read them."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from archiver.config import Config, StorageConfig
from archiver.models import PostRef
from archiver.store.index import Index
from archiver.web.data import Filters, WebData
from tests.store.test_index import capture

pytest.importorskip("psycopg")

LAST_ANALYZE = "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'captures'"
KNOWN = PostRef("twitter", "20", "https://x.com/jack/status/20", "Jack")
UNKNOWN = PostRef("twitter", "21", "https://x.com/i/status/21", None)


def _server_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    bin_dir = _server_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server programs here")
    # not under pytest's tmp dirs: those are private to this user, and the server may run
    # as another (postgres)
    root = Path(tempfile.mkdtemp(prefix="archiver-pg-"))
    root.chmod(0o755)
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server")
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    try:
        for step in ([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                      "postgres", "--no-sync"],
                     [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                      "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                      "start"]):
            done = subprocess.run([*run_as, *step], capture_output=True, text=True)
            assert done.returncode == 0, (step[0], done.stdout, done.stderr)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg(pg_url: str) -> Iterator[str]:
    """An empty database for each test."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield pg_url


def test_an_older_index_is_migrated_in_place(pg: str) -> None:
    index = Index(pg)
    capture(index, "a", KNOWN, "2026-01-01T00:00:00.000Z")
    capture(index, "b", UNKNOWN, "2026-01-02T00:00:00.000Z")
    index.close()
    # as an index written before these columns and this index existed
    engine = create_engine(pg)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_captures_author_started_post"))
        conn.execute(text("ALTER TABLE captures DROP COLUMN author"))
        conn.execute(text("ALTER TABLE posts DROP COLUMN next_check"))
        analysed_before = conn.execute(text(LAST_ANALYZE)).scalar()
    engine.dispose()
    t0 = time.monotonic()
    index = Index(pg)  # two tables to alter: each reflected inside the same transaction
    assert time.monotonic() - t0 < 30
    with index.engine.connect() as conn:
        due = conn.execute(text("SELECT post_id FROM posts WHERE next_check IS NOT NULL "
                                "ORDER BY post_id")).scalars().all()
    assert due == ["20", "21"]  # the backfill's parameter reached the server
    assert [(r.id, r.author) for r in index.captures()] == [("b", None), ("a", "Jack")]
    assert "ix_captures_author_started_post" in {i["name"] for i in inspect(
        index.engine).get_indexes("captures")}
    with index.engine.connect() as conn:
        analysed = conn.execute(text(LAST_ANALYZE)).scalar()
        included = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = "
                                     "'ix_captures_author_started_post'")).scalar()
    # analysed with the index it built: the planner knows the new index at once
    assert analysed is not None and analysed != analysed_before
    assert "INCLUDE (author)" in included  # read from the index alone
    index.close()
    Index(pg).close()  # and nothing is left to migrate


def test_an_index_an_older_schema_had_is_replaced(pg: str) -> None:
    """ix_captures_author_started goes in the migration that builds its replacement; built
    again beside it by an older archiver, it stays (no rebuild by turns)."""
    def names() -> set[str]:
        engine = create_engine(pg)
        try:
            return {i["name"] for i in inspect(engine).get_indexes("captures")
                    if i["name"].startswith("ix_captures_author")}
        finally:
            engine.dispose()

    def older_archiver(drop_new: bool) -> None:
        engine = create_engine(pg)
        with engine.begin() as conn:
            if drop_new:
                conn.execute(text("DROP INDEX ix_captures_author_started_post"))
            conn.execute(text("CREATE INDEX ix_captures_author_started ON captures "
                              "(lower(author), started_at, id)"))
        engine.dispose()

    Index(pg).close()
    older_archiver(drop_new=True)
    Index(pg).close()
    assert names() == {"ix_captures_author_started_post"}
    older_archiver(drop_new=False)
    Index(pg).close()
    assert names() == {"ix_captures_author_started", "ix_captures_author_started_post"}


def test_captures_by_author_and_time(pg: str) -> None:
    index = Index(pg)
    for n, day in enumerate(("2026-01-01", "2026-01-02", "2026-01-03")):
        capture(index, f"k{n}", KNOWN, f"{day}T12:00:00.000Z")
    capture(index, "u0", UNKNOWN, "2026-01-02T00:00:00.000Z")
    assert [r.id for r in index.captures(author="@jack")] == ["k2", "k1", "k0"]
    assert [r.id for r in index.captures(author="JACK", since="2026-01-02",
                                         until="2026-01-02")] == ["k1"]
    capture(index, "u1", UNKNOWN, "2026-01-04T00:00:00.000Z", author="Dorsey")
    assert [r.id for r in index.captures(author="dorsey")] == ["u1", "u0"]
    index.close()
    web = WebData(replace(Config(), storage=replace(StorageConfig(), data_dir=Path("/nonexistent"),
                                                    database_url=pg)))
    try:
        got = web.captures(1, 10, filters=Filters(author="jack", date_from="2026-01-02"))
        assert [c.capture_id for c in got.items] == ["k2", "k1"]
        posts = web.posts(Filters(author="Jack", date_to="2026-01-01"), 1, 10)
        assert [p.post_id for p in posts.items] == ["20"]
        for nul in (Filters(author="ja\x00ck"), Filters(q="\x00")):  # a 400, not a 500
            with pytest.raises(ValueError, match="NUL"):
                web.posts(nul, 1, 10)
        with pytest.raises(ValueError, match="NUL"):
            web.captures(1, 10, filters=Filters(author="\x00"))
    finally:
        web.close()
