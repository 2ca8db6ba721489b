"""Scheduled runs in process: sources on the loopback fake platform, the session's Chromium,
`run_once` as cron calls it. (Whole `archiver run` processes: tests/test_schedule_process.py.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archiver.config import CaptureConfig, Config, ScheduleConfig
from archiver.models import CaptureResult, CaptureStatus, PostRef
from archiver.retrieval import lookup, verify_selection
from archiver.schedule import (
    RECAPTURE_JOB,
    JsonFormatter,
    Notifier,
    ProgressBar,
    RunSummary,
    TextFormatter,
    make_scheduler,
    run_once,
    select_articles,
    status,
    sync_jobs,
)
from archiver.sources import SourceConfig, SourceEntry, parse_sources
from archiver.store.index import Index, iso, parse_iso
from archiver.store.schema import ArticleFetchRow, CaptureRow, PostRow, RunRow
from tests.fakeplatform import FakePlatform
from tests.fakeplatform.feeds import Item, rss, sitemap, sitemap_index
from tests.harness import LoopThread

pytestmark = pytest.mark.browser
NEWS = "https://news.example.org"
FEED = f"{NEWS}/feeds/world.xml"


# -- helpers ------------------------------------------------------------------------------------
def add_tweet(fake: FakePlatform, n: int, text: str) -> str:
    tweet_id = str(1860000000000000000 + n)
    fake.tweets.put({"id": tweet_id, "text": text,
                     "user": {"screen_name": f"Reporter{n}", "name": f"Reporter {n}"}})
    return tweet_id


def article(title: str, tweet_ids: list[str]) -> str:
    quotes = "\n".join(
        f'<blockquote class="twitter-tweet"><p lang="en">post {i}</p>&mdash; Reporter '
        f'(@Reporter) <a href="https://twitter.com/Reporter/status/{i}">November 24, 2026</a>'
        "</blockquote>" for i in tweet_ids)
    return (f"<!doctype html><html><head><title>{title}</title></head><body><article>"
            f"<h1>{title}</h1><p>Text.</p>{quotes}"
            '<script async src="https://platform.twitter.com/widgets.js"></script>'
            "</article></body></html>")


def publish(fake: FakePlatform, articles: dict[str, list[str]], *, updated: datetime | None = None
            ) -> list[str]:
    """Serve each article (path -> tweet ids) and a feed listing them."""
    items = []
    when = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    for n, (path, ids) in enumerate(articles.items()):
        fake.serve(f"{NEWS}{path}", article(f"Story {n}", ids))
        items.append(Item(f"{NEWS}{path}", f"Story {n}", when + timedelta(minutes=n),
                          updated))
    fake.serve(FEED, rss(items), "application/rss+xml; charset=utf-8")
    return [f"{NEWS}{p}" for p in articles]


def sched_config(config: Config, tmp_path: Path, **schedule: Any) -> Config:
    return replace(config, capture=replace(CaptureConfig(), render_article=False),
                   schedule=replace(ScheduleConfig(sources_file=str(tmp_path / "none.toml")),
                                    **schedule))


def feed_source(kind: str = "feed", url: str = FEED, every: str = "15m") -> SourceConfig:
    return parse_sources(f'[[source]]\nname = "world"\nkind = "{kind}"\nurl = "{url}"\n'
                         f'every = "{every}"\n')[0]


def once(loop: LoopThread, config: Config, sources: list[SourceConfig]
         ) -> dict[str, RunSummary]:
    done = loop.run(run_once(config, sources, browser=loop.browser))
    assert done is not None, "the run lock was free"
    return {s.job: s for s in done}


def time_passes(loop: LoopThread, config: Config, delta: timedelta) -> None:
    """Move every due time (jobs and posts) `delta` earlier: as if `delta` had passed."""
    index = Index(config.storage.effective_database_url)
    try:
        with index.session() as s:
            for post in s.query(PostRow).filter(PostRow.next_check.is_not(None)):
                post.next_check = iso(parse_iso(post.next_check) - delta)

        async def shift() -> None:
            scheduler = make_scheduler(index, config.schedule)
            scheduler.start(paused=True)
            for job in scheduler.get_jobs():
                if job.next_run_time is not None:
                    scheduler.modify_job(job.id, next_run_time=job.next_run_time - delta)
            scheduler.shutdown(wait=False)

        loop.run(shift())
    finally:
        index.close()


def table(config: Config, model: type) -> list[Any]:
    index = Index(config.storage.effective_database_url)
    try:
        with index.session() as s:
            return list(s.query(model).all())
    finally:
        index.close()


def completed_by_post(config: Config) -> dict[str, list[CaptureRow]]:
    out: dict[str, list[CaptureRow]] = {}
    index = Index(config.storage.effective_database_url)
    try:
        with index.session() as s:
            for row in s.query(CaptureRow).order_by(CaptureRow.started_at):
                if row.status in ("live", "deleted", "unavailable"):
                    out.setdefault(row.post.post_id, []).append(row)
    finally:
        index.close()
    return out


class Hook:
    """A loopback webhook receiver."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


# -- tests --------------------------------------------------------------------------------------
def test_feed_archived_once_then_nothing_new(browser_loop: LoopThread, config: Config,
                                             fake_platform: FakePlatform, tmp_path: Path) -> None:
    ids = [add_tweet(fake_platform, n, f"Dispatch number {n} from the front.") for n in (1, 2, 3)]
    urls = publish(fake_platform, {"/world/a": [ids[0]], "/world/b": [ids[1], ids[0]],
                                   "/world/c": [ids[2]]})
    cfg = sched_config(config, tmp_path)
    src = feed_source()

    first = once(browser_loop, cfg, [src])
    run = first["source:world"]
    assert run.status == "ok", run.error
    assert run.counts["articles_listed"] == 3 and run.counts["articles_new"] == 3
    assert run.counts["captures"] == 3 and run.counts["completed"] == 3  # ids[0] once
    assert first[RECAPTURE_JOB].counts["captures"] == 0  # nothing due yet: 1 h after
    assert sorted(completed_by_post(cfg)) == sorted(ids)
    assert all(len(c) == 1 for c in completed_by_post(cfg).values())

    # at once again: no job is due, nothing is fetched
    fake_platform.reset_log()
    assert once(browser_loop, cfg, [src]) == {}
    assert fake_platform.count("news.example.org") == 0

    # when the source is due again (15 min later), the feed is read, no article refetched
    time_passes(browser_loop, cfg, timedelta(minutes=16))
    fake_platform.reset_log()
    again = once(browser_loop, cfg, [src])["source:world"]
    assert again.status == "ok"
    assert again.counts["articles_seen"] == 3 and again.counts["articles_new"] == 0
    assert again.counts.get("captures", 0) == 0
    assert fake_platform.count("news.example.org", "/feeds/world.xml") == 1
    assert sum(fake_platform.count("news.example.org", u.removeprefix(NEWS)) for u in urls) == 0
    assert fake_platform.count("cdn.syndication.twimg.com") == 0
    assert len(table(cfg, ArticleFetchRow)) == 3
    assert all(len(c) == 1 for c in completed_by_post(cfg).values())


def test_deleted_post_recorded_at_next_recapture(browser_loop: LoopThread, config: Config,
                                                 fake_platform: FakePlatform, tmp_path: Path,
                                                 hook: Hook) -> None:
    tweet = add_tweet(fake_platform, 4, "The ministry denies the strike happened.")
    publish(fake_platform, {"/world/denial": [tweet]})
    out = tmp_path / "changes.jsonl"
    cfg = sched_config(config, tmp_path, webhook_url=hook.url, on_change_command=(
        sys.executable, "-c",
        f"import sys; open({str(out)!r}, 'a').write(sys.stdin.read() + '\\n')"))
    src = feed_source()
    assert once(browser_loop, cfg, [src])["source:world"].counts["completed"] == 1
    [first] = completed_by_post(cfg)[tweet]
    assert first.status == "live" and first.change == "first"

    # 30 minutes later nothing is due; 61 minutes later the 1 h re-capture is
    fake_platform.tweets.delete(tweet)
    time_passes(browser_loop, cfg, timedelta(minutes=30))
    once(browser_loop, cfg, [src])
    assert len(completed_by_post(cfg)[tweet]) == 1
    time_passes(browser_loop, cfg, timedelta(minutes=31))
    runs = once(browser_loop, cfg, [src])
    assert runs[RECAPTURE_JOB].counts["captures"] == 1
    assert runs[RECAPTURE_JOB].counts["changes"] == 1
    history = completed_by_post(cfg)[tweet]
    assert [(c.status, c.change) for c in history] == [("live", "first"),
                                                        ("deleted", "deleted")]
    [post] = [p for p in table(cfg, PostRow) if p.post_id == tweet]
    assert post.state == "deleted"
    assert post.next_check is not None and parse_iso(post.next_check) > datetime.now(UTC)

    # the earlier capture is intact and verifiable, with its text
    assert (cfg.storage.data_dir / history[0].directory / "embed.txt").read_text().count(
        "ministry denies") == 1
    results = verify_selection(cfg, None)
    assert results and all(v.ok for v in results), [v.problems for v in results if not v.ok]

    # the change was announced: webhook and command got the same JSON
    [event] = hook.bodies
    assert event["change"] == "deleted" and event["post_id"] == tweet
    assert event["previous"]["status"] == "live"
    assert event["previous"]["text"].startswith("The ministry denies")
    assert event["previous"]["capture_id"] == history[0].id
    assert json.loads(out.read_text().strip()) == event


def test_edited_then_restored_post_keeps_both_texts(browser_loop: LoopThread, config: Config,
                                                    fake_platform: FakePlatform,
                                                    tmp_path: Path) -> None:
    tweet = add_tweet(fake_platform, 5, "Casualty figures: 12 confirmed.")
    publish(fake_platform, {"/world/figures": [tweet]})
    cfg = sched_config(config, tmp_path)
    src = feed_source()
    once(browser_loop, cfg, [src])

    fake_platform.tweets.edit(tweet, "Casualty figures: 40 confirmed.")
    time_passes(browser_loop, cfg, timedelta(hours=1, minutes=1))
    assert once(browser_loop, cfg, [src])[RECAPTURE_JOB].counts["changes"] == 1
    history = completed_by_post(cfg)[tweet]
    assert [c.change for c in history] == ["first", "edited"]
    assert "12 confirmed" in (history[0].text or "")
    assert "40 confirmed" in (history[1].text or "")
    for row, wanted in zip(history, ("12 confirmed", "40 confirmed"), strict=True):
        assert wanted in (cfg.storage.data_dir / row.directory / "embed.txt").read_text()

    # deleted, then back: deleted, restored; a quiet re-capture changes nothing
    fake_platform.tweets.delete(tweet)
    time_passes(browser_loop, cfg, timedelta(hours=24))
    once(browser_loop, cfg, [src])
    fake_platform.tweets.set_state(tweet, "live")
    time_passes(browser_loop, cfg, timedelta(days=7))
    once(browser_loop, cfg, [src])
    time_passes(browser_loop, cfg, timedelta(days=30))
    once(browser_loop, cfg, [src])
    history = completed_by_post(cfg)[tweet]
    assert [c.change for c in history] == ["first", "edited", "deleted", "restored",
                                           "unchanged"]
    [post] = [p for p in table(cfg, PostRow) if p.post_id == tweet]
    assert post.state == "restored"
    found = status(cfg, [src])
    assert [c["change"] for c in found["recent_changes"]] == ["restored", "deleted", "edited"]
    shown = lookup(cfg, f"https://mobile.twitter.com/Reporter5/status/{tweet}?s=20")
    assert shown["post"]["state"] == "restored"
    assert [h["change"] for h in shown["history"]] == ["first", "edited", "deleted",
                                                        "restored"]
    assert found["queue"]["scheduled"] >= 1


def test_page_source_records_added_embeds(browser_loop: LoopThread, config: Config,
                                          fake_platform: FakePlatform, tmp_path: Path) -> None:
    one = add_tweet(fake_platform, 6, "Polls close at 8 pm.")
    two = add_tweet(fake_platform, 7, "First results are in.")
    url = f"{NEWS}/live/election"
    fake_platform.serve(url, article("Live", [one]))
    cfg = sched_config(config, tmp_path)
    src = feed_source("page", url, "10m")
    assert once(browser_loop, cfg, [src])["source:world"].counts["completed"] == 1

    fake_platform.serve(url, article("Live", [two, one]))
    time_passes(browser_loop, cfg, timedelta(minutes=11))
    run = once(browser_loop, cfg, [src])["source:world"]
    assert run.counts["articles_rechecked"] == 1 and run.counts["articles_changed"] == 1
    assert run.counts["captures"] == 1 and run.counts["posts_already_captured"] == 1
    changes = [json.loads(f.change) for f in table(cfg, ArticleFetchRow)]
    assert changes == [{"kind": "first", "added": [f"twitter/{one}"], "removed": []},
                       {"kind": "changed", "added": [f"twitter/{two}"], "removed": []}]

    # unchanged next time: recorded as such, nothing captured
    time_passes(browser_loop, cfg, timedelta(minutes=11))
    run = once(browser_loop, cfg, [src])["source:world"]
    assert run.counts["articles_changed"] == 0 and run.counts.get("captures", 0) == 0
    assert json.loads(table(cfg, ArticleFetchRow)[-1].change)["kind"] == "unchanged"


def test_sitemap_index_newest_first_and_lastmod_rechecks(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform,
        tmp_path: Path) -> None:
    ids = [add_tweet(fake_platform, 30 + n, f"Bulletin {n}.") for n in range(5)]
    base = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    items = []
    for n in range(4):
        fake_platform.serve(f"{NEWS}/s/{n}", article(f"S{n}", [ids[n]]))
        items.append(Item(f"{NEWS}/s/{n}", f"S{n}", base + timedelta(days=n),
                          base + timedelta(days=n)))
    parts = [f"{NEWS}/sitemaps/a.xml", f"{NEWS}/sitemaps/b.xml"]
    fake_platform.serve(parts[0], sitemap(items[:2], news=True), "application/xml")
    fake_platform.serve(parts[1], sitemap(items[2:], news=True), "application/xml")
    fake_platform.serve(f"{NEWS}/sitemap.xml", sitemap_index(parts), "application/xml")
    src = parse_sources(f'[[source]]\nname = "world"\nkind = "sitemap"\n'
                        f'url = "{NEWS}/sitemap.xml"\ncron = "*/30 * * * *"\n'
                        'max_articles = 2\nsince = "2026-11-21"\n')[0]
    cfg = sched_config(config, tmp_path)
    run = once(browser_loop, cfg, [src])["source:world"]
    assert run.counts["articles_listed"] == 3  # S0 is older than `since`
    assert run.counts["articles_new"] == 2 and run.counts["articles_left_for_later"] == 1
    assert run.counts["completed"] == 2
    assert sorted(completed_by_post(cfg)) == sorted(ids[2:4])  # the newest two

    # S3 gains an embed and its <lastmod> moves: S3 is fetched again, and S1, left for
    # later by the limit, is fetched now
    fake_platform.serve(f"{NEWS}/s/3", article("S3", [ids[3], ids[4]]))
    items[3] = replace(items[3], updated=base + timedelta(days=4))
    fake_platform.serve(parts[1], sitemap(items[2:], news=True), "application/xml")
    time_passes(browser_loop, cfg, timedelta(minutes=31))
    fake_platform.reset_log()
    run = once(browser_loop, cfg, [src])["source:world"]
    assert run.counts["articles_rechecked"] == 1 and run.counts["articles_changed"] == 1
    assert run.counts["articles_new"] == 1 and run.counts["articles_left_for_later"] == 0
    assert run.counts["captures"] == 2 and run.counts["posts_already_captured"] == 1
    assert fake_platform.count("news.example.org", "/s/") == 2
    assert fake_platform.count("news.example.org", "/s/2") == 0
    assert sorted(completed_by_post(cfg)) == sorted(ids[1:5])


def test_failing_feed_is_a_failed_run_and_articles_are_given_up(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform,
        tmp_path: Path) -> None:
    cfg = sched_config(config, tmp_path, article_attempts=2)
    fake_platform.serve(FEED, "<html>not a feed</html>", "text/html", status=500)
    run = once(browser_loop, cfg, [feed_source()])["source:world"]
    assert run.status == "failed" and run.error and "500" in run.error
    [row] = [r for r in table(cfg, RunRow) if r.job == "source:world"]
    assert row.status == "failed" and row.finished_at and row.owner is None

    # an article that 404s is tried `article_attempts` times, then left alone
    fake_platform.serve(FEED, rss([Item(f"{NEWS}/gone", "Gone")]), "application/rss+xml")
    for attempt in (1, 2, 3):
        time_passes(browser_loop, cfg, timedelta(minutes=16))
        run = once(browser_loop, cfg, [feed_source()])["source:world"]
        if attempt < 3:
            assert run.counts["articles_new"] == 1 and run.counts["articles_failed"] == 1
        else:
            assert run.counts["articles_given_up"] == 1 and run.counts["articles_new"] == 0


def test_select_articles_rechecks_updated_entries(tmp_path: Path) -> None:
    index = Index(f"sqlite:///{tmp_path / 'i.sqlite3'}")
    src = feed_source()
    old = SourceEntry("https://n.example/a", updated="2026-11-01T00:00:00Z")
    index.record_article(old.url, exchange=None, status="ok", error=None, directory=None,
                         body_sha256=None)
    index.note_article_source(old.url, "world", old.updated)
    todo, counts = select_articles(index, src, [old, SourceEntry("https://n.example/b")], 3)
    assert [e.url for e in todo] == ["https://n.example/b"] and counts["articles_seen"] == 1
    newer = replace(old, updated="2026-11-02T00:00:00Z")
    todo, counts = select_articles(index, src, [newer], 3)
    assert todo == [newer] and counts["articles_rechecked"] == 1

    # an article that failed `attempts` times waits a day, or until its entry is updated
    bad = SourceEntry("https://n.example/down", updated="2026-11-01T00:00:00Z")
    for _ in range(2):
        index.record_article(bad.url, exchange=None, status="failed", error="HTTP 503",
                             directory=None, body_sha256=None)
    index.note_article_source(bad.url, "world", bad.updated)
    todo, counts = select_articles(index, src, [bad], 2)
    assert todo == [] and counts["articles_given_up"] == 1
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert select_articles(index, src, [bad], 2, now=tomorrow)[0] == [bad]
    moved = replace(bad, updated="2026-11-03T00:00:00Z")
    assert select_articles(index, src, [moved], 2)[0] == [moved]
    index.close()


def test_job_store_survives_restarts(tmp_path: Path, config: Config) -> None:
    """Unchanged jobs keep their next run time across restarts; changed ones move; removed
    ones go."""
    cfg = sched_config(config, tmp_path)
    index = Index(cfg.storage.effective_database_url)

    async def sync(sources: list[SourceConfig]) -> dict[str, datetime | None]:
        scheduler = make_scheduler(index, cfg.schedule)
        scheduler.start(paused=True)
        sync_jobs(scheduler, cfg, sources)
        jobs = {j.id: j.next_run_time for j in scheduler.get_jobs()}
        scheduler.shutdown(wait=False)
        return jobs

    src = feed_source(every="1h")
    first = asyncio.run(sync([src]))
    assert set(first) == {"source:world", RECAPTURE_JOB}
    assert first["source:world"] is not None
    assert first["source:world"] <= datetime.now(UTC)  # new: runs at once
    assert asyncio.run(sync([src])) == first  # a restart changes nothing

    async def ran(at: datetime) -> None:  # as after a run: next time in an hour
        scheduler = make_scheduler(index, cfg.schedule)
        scheduler.start(paused=True)
        scheduler.modify_job("source:world", next_run_time=at)
        scheduler.shutdown(wait=False)

    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    asyncio.run(ran(in_an_hour))
    assert asyncio.run(sync([src]))["source:world"] == in_an_hour
    # a longer interval never pushes a due run later; a shorter one brings it forward
    assert asyncio.run(sync([feed_source(every="2h")]))["source:world"] == in_an_hour
    sooner = asyncio.run(sync([feed_source(every="10m")]))["source:world"]
    assert sooner is not None and sooner < datetime.now(UTC) + timedelta(minutes=11)
    assert set(asyncio.run(sync([]))) == {RECAPTURE_JOB}
    index.close()


def _result(change: str) -> CaptureResult:
    post = PostRef("twitter", "20", "https://x.com/jack/status/20", "jack")
    return CaptureResult("c1", post, CaptureStatus.DELETED, "deleted by its author",
                         "2026-11-24T00:00:00Z", "2026-11-24T00:00:01Z", "captures/x", "ab",
                         change=change, previous=("c0", "live", "just setting up my twttr"))


def test_notifier_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(ScheduleConfig(webhook_url="http://127.0.0.1:9/hook",
                                       on_change_command=(sys.executable, "-c",
                                                          "import sys; sys.exit(3)"),
                                       on_change_timeout=5.0))
    with caplog.at_level(logging.INFO, logger="archiver"):
        assert notifier.send({"capture_id": "c1", "change": "deleted"}) is False
    events = [(r.levelname, getattr(r, "event", "")) for r in caplog.records]
    assert ("ERROR", "webhook_failed") in events and ("ERROR", "command_failed") in events
    assert Notifier(ScheduleConfig()).send({"capture_id": "c1"}) is True  # nothing to send


def test_changes_wait_in_the_outbox_until_sent(browser_loop: LoopThread, config: Config,
                                                fake_platform: FakePlatform, tmp_path: Path,
                                                hook: Hook,
                                                caplog: pytest.LogCaptureFixture) -> None:
    tweet = add_tweet(fake_platform, 8, "The airport is closed.")
    publish(fake_platform, {"/world/airport": [tweet]})
    down = sched_config(config, tmp_path, webhook_url="http://127.0.0.1:9/hook")
    once(browser_loop, down, [feed_source()])
    fake_platform.tweets.edit(tweet, "The airport has reopened.")
    time_passes(browser_loop, down, timedelta(hours=1, minutes=1))
    with caplog.at_level(logging.INFO, logger="archiver"):
        assert once(browser_loop, down, [feed_source()])[RECAPTURE_JOB].counts["changes"] == 1
    assert "POST EDITED" in caplog.text and "webhook failed" in caplog.text
    index = Index(down.storage.effective_database_url)
    try:
        [pending] = index.unannounced_changes()
        assert pending.change == "edited"
    finally:
        index.close()

    # the webhook is back: the next run (even with no job due) sends it, once
    up = replace(down, schedule=replace(down.schedule, webhook_url=hook.url))
    assert once(browser_loop, up, [feed_source()]) == {}
    assert [(b["change"], b["text"], b["previous"]["text"]) for b in hook.bodies] == [
        ("edited", "The airport has reopened.", "The airport is closed.")]
    once(browser_loop, up, [feed_source()])
    assert len(hook.bodies) == 1


def test_log_formats_and_progress_bar() -> None:
    record = logging.LogRecord("archiver.run", logging.INFO, __file__, 1, "source:x ok", None,
                               None)
    record.event, record.fields = "run", {"job": "source:x", "captures": 3, "seconds": 1.5}
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "run" and line["captures"] == 3 and line["level"] == "info"
    assert line["time"].endswith("Z")
    text = TextFormatter().format(record)
    assert text.endswith("source:x ok  job=source:x captures=3 seconds=1.5")

    bar = ProgressBar("world")
    bar.start(3)
    for _ in range(3):
        bar.advance(_result("unchanged"))
    assert bar.bar is not None and bar.bar.n == 3 and bar.bar.total == 3
    bar.close()
    assert bar.bar is None
