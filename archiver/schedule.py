"""Scheduled runs: watch sources, archive new articles, re-capture posts on a schedule.

    archiver run          APScheduler (asyncio) with its job store in the index database:
                          one job per enabled source ("source:<name>", its interval or cron)
                          and one "recapture" job (every `schedule.recapture_check`)
    archiver run --once   every due job once, then exit (for cron and systemd timers)

Both call the library functions the CLI calls (`pipeline.archive_async`,
`pipeline.recapture_async`) and share one Chromium between runs. Guarantees:

- **No overlap.** One run lock per data directory (archiver.store.lock): `run` holds it
  while it lives, `--once` skips when it is taken. Inside `run`, jobs have
  max_instances=1 and coalesce=True, and their work is serialised, so one browser's
  captures never compete.
- **Restarts lose nothing, duplicate nothing.** Job state (next run times) lives in the
  index (`scheduler_jobs`); a run cut short (kill -9, power loss) is found in `runs` at
  the next start and its job is run at once. Articles are "seen" once fetched; posts
  found but not captured are due in the re-capture queue (their `next_check` is set when
  they are first indexed), and posts already captured are never captured again by a
  source run, only by the re-capture schedule.
- **Stopping.** SIGTERM or SIGINT: no new article or capture starts, captures in flight get
  `schedule.stop_grace` seconds to finish, then are cancelled (recorded as interrupted,
  nothing incomplete stored); the process exits 0.
- **Changes are loud.** A re-capture that finds a post edited, deleted, unavailable or
  restored is logged at WARNING, and sent to `schedule.webhook_url` (JSON POST) and to
  `schedule.on_change_command` (JSON on stdin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import inspect, text

from archiver.capture.browser import BrowserSession
from archiver.config import DEFAULT_CONFIG_FILE, Config, ScheduleConfig, parse_duration
from archiver.errors import ArchiverError, ConfigError, UsageError
from archiver.models import CaptureResult
from archiver.net import Http, utc_now
from archiver.pipeline import ArchiveReport, archive_async, recapture_async, validate_url
from archiver.recapture import NOTEWORTHY, Policy, describe_series
from archiver.sources import (
    SourceConfig,
    SourceEntry,
    list_entries,
    load_sources,
    newest_first,
)
from archiver.store.index import ArticleState, Index, iso, new_id, parse_iso
from archiver.store.lock import RunLock
from archiver.store.schema import CaptureRow

RECAPTURE_JOB = "recapture"
SOURCE_PREFIX = "source:"
JOB_TABLE = "scheduler_jobs"
JOB_FUNC = "archiver.schedule:scheduled_job"

log = logging.getLogger("archiver.run")


def job_id(source: SourceConfig) -> str:
    return f"{SOURCE_PREFIX}{source.name}"


def configured_sources(schedule: ScheduleConfig) -> tuple[SourceConfig, ...]:
    """The sources file's sources; none when the default file does not exist."""
    path = Path(schedule.sources_file)
    if not path.is_file() and path == DEFAULT_CONFIG_FILE.parent / "sources.toml":
        return ()
    return load_sources(path)


def trigger_for(source: SourceConfig) -> BaseTrigger:
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=UTC)
    return IntervalTrigger(seconds=parse_duration(source.every).total_seconds(), timezone=UTC)


# -- logging ------------------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, event, message, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "message"),
            "message": record.getMessage()}
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL message key=value ...`, one line a record."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = getattr(record, "fields", {}) or {}
        extra = " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        line = f"{when} {record.levelname:<7} {record.getMessage()}" + (f"  {extra}"
                                                                        if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text_ = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return json.dumps(text_, ensure_ascii=False) if " " in text_ or not text_ else text_


def setup_logging(fmt: str, verbose: bool = False, stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("archiver")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    library = logging.getLogger("apscheduler")  # its warnings, in the same format
    library.handlers[:] = [handler]
    library.setLevel(logging.WARNING)
    library.propagate = False


def _event(level: int, event: str, message: str, **fields: Any) -> None:
    log.log(level, message, extra={"event": event, "fields": fields})


# -- notifications ------------------------------------------------------------------------------
def change_event(row: CaptureRow, previous: CaptureRow | None) -> dict[str, Any]:
    """The JSON a webhook or command receives when a post's status changes."""
    return {
        "event": "post_status_changed", "change": row.change, "state": row.post.state,
        "platform": row.post.platform, "post_id": row.post.post_id, "url": row.post.url,
        "author": row.post.author, "capture_id": row.id, "captured_at": row.started_at,
        "status": row.status, "reason": row.reason, "directory": row.directory,
        "text": row.text,
        "previous": None if previous is None else {
            "capture_id": previous.id, "status": previous.status, "text": previous.text,
            "captured_at": previous.started_at},
    }


class Notifier:
    """Sends a change to the configured webhook (JSON POST) and command (JSON on stdin)."""

    def __init__(self, schedule: ScheduleConfig, ca_bundle: str = "") -> None:
        self.schedule = schedule
        self.verify: bool | str = ca_bundle or True

    def send(self, event: dict[str, Any]) -> bool:
        """True when every configured target took it (nothing configured: True)."""
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        timeout = self.schedule.on_change_timeout
        ok = True
        if self.schedule.webhook_url:
            try:
                answer = requests.post(self.schedule.webhook_url, data=body, timeout=timeout,
                                       headers={"Content-Type": "application/json"},
                                       verify=self.verify, allow_redirects=False)
                if answer.status_code >= 300:
                    ok = False
                    _event(logging.ERROR, "webhook_failed", f"webhook answered HTTP "
                           f"{answer.status_code}; will try again at the next run",
                           url=self.schedule.webhook_url, capture=event.get("capture_id"))
            except requests.RequestException as exc:
                ok = False
                _event(logging.ERROR, "webhook_failed", f"webhook failed: {exc}; will try "
                       "again at the next run", url=self.schedule.webhook_url,
                       capture=event.get("capture_id"))
        if self.schedule.on_change_command:
            argv = list(self.schedule.on_change_command)
            try:
                done = subprocess.run(argv, input=body, capture_output=True, timeout=timeout,
                                      check=False)
                if done.returncode != 0:
                    ok = False
                    _event(logging.ERROR, "command_failed", f"on_change_command exited "
                           f"{done.returncode}: {done.stderr.decode(errors='replace')[-300:]}",
                           command=argv[0], capture=event.get("capture_id"))
            except (OSError, subprocess.SubprocessError) as exc:
                ok = False
                _event(logging.ERROR, "command_failed", f"on_change_command failed: {exc}",
                       command=argv[0], capture=event.get("capture_id"))
        return ok


# -- progress -----------------------------------------------------------------------------------
class ProgressBar:
    """A tqdm bar over a run's captures, for interactive `archiver run --once`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=self.label, unit="post", file=sys.stderr,
                        leave=False, dynamic_ncols=True)

    def advance(self, result: CaptureResult) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{result.status} {result.post.platform}/"
                                     f"{result.post.post_id}"[:60])
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _RunTracker:
    """What a run's captures report to: the progress bar, and the change announcer."""

    def __init__(self, runner: Runner, bar: ProgressBar | None) -> None:
        self.runner, self.bar = runner, bar

    def start(self, total: int) -> None:
        if self.bar is not None:
            self.bar.start(total)

    def advance(self, result: CaptureResult) -> None:
        if self.bar is not None:
            self.bar.advance(result)
        self.runner.changed(result)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- the runner: what a job does ----------------------------------------------------------------
@dataclass
class RunSummary:
    job: str
    run_id: str
    status: str  # ok | failed | stopped
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


class Runner:
    """Runs jobs by name, one at a time, on one shared (lazily started) browser."""

    def __init__(self, config: Config, sources: Sequence[SourceConfig], *,
                 interactive: bool = False, browser: BrowserSession | None = None) -> None:
        self.config = config
        self.sources = {job_id(s): s for s in sources if s.enabled}
        self.interactive = interactive
        self.stop = asyncio.Event()
        self.notifier = Notifier(config.schedule, config.network.ca_bundle)
        #: one index for every job of this runner (opening one checks the schema)
        self.index = Index(config.storage.effective_database_url,
                           Policy.from_config(config.schedule))
        self._browser = browser
        self._own_browser = browser is None
        self._work = asyncio.Lock()
        self._announcing = asyncio.Lock()
        self._sending: set[asyncio.Task[Any]] = set()
        self.active: set[asyncio.Task[Any]] = set()

    async def browser(self) -> BrowserSession:
        """The shared browser, (re)started when it is missing or has died."""
        if self._browser is not None and self._browser.alive:
            return self._browser
        if self._browser is not None and not self._own_browser:
            raise ArchiverError("the browser shared with the scheduler has died")
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
            _event(logging.WARNING, "browser_restarted", "the browser had died; starting "
                   "a new one")
        self._browser = BrowserSession(self.config.browser, self.config.network)
        await self._browser.start()
        return self._browser

    async def close(self) -> None:
        if self._browser is not None and self._own_browser:
            with contextlib.suppress(Exception):
                await self._browser.close()
            self._browser = None
        self.index.close()

    async def run_job(self, job: str) -> RunSummary:
        """Run a job: recorded as queued at once (so a crash while it waits for the work
        lock is seen at the next start), then run when no other job is working."""
        task = asyncio.current_task()
        if task is not None:
            self.active.add(task)
        run_id = new_id()
        try:
            self.index.begin_run(run_id, job, "queued")
            async with self._work:
                return await self._run(job, run_id)
        finally:
            if task is not None:
                self.active.discard(task)

    async def _run(self, job: str, run_id: str) -> RunSummary:
        t0 = time.monotonic()
        summary = RunSummary(job, run_id, "ok")
        self.index.set_run_status(run_id, "running")
        try:
            if self.stop.is_set():  # asked to stop while it waited: start nothing
                summary.status = "stopped"
            elif job == RECAPTURE_JOB:
                await self._recapture(summary)
            elif job in self.sources:
                await self._source(self.sources[job], summary)
            else:
                raise ConfigError(f"no enabled source for job {job!r}")
            if self.stop.is_set() and summary.status == "ok":
                summary.status = "stopped"
        except asyncio.CancelledError:
            summary.status, summary.error = "stopped", "cancelled while stopping"
            raise
        except ArchiverError as exc:
            summary.status, summary.error = "failed", str(exc)
        except Exception as exc:  # a bug: keep the scheduler alive, say it loudly
            log.exception("job %s crashed", job, extra={"event": "job_crashed",
                                                        "fields": {"job": job}})
            summary.status, summary.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            summary.seconds = round(time.monotonic() - t0, 3)
            self.index.finish_run(run_id, summary.status, summary.counts, summary.error)
        level = logging.INFO if summary.status in ("ok", "stopped") else logging.ERROR
        _event(level, "run", f"{job} {summary.status}" + (f": {summary.error}"
                                                           if summary.error else ""),
               job=job, run=run_id, status=summary.status, seconds=summary.seconds,
               **summary.counts)
        for note in summary.notes:
            _event(logging.DEBUG, "note", note, job=job, run=run_id)
        return summary

    # -- announcing changes: logged at once, sent through the outbox ----------------------
    def changed(self, result: CaptureResult) -> None:
        """A capture finished: a noteworthy change is logged now and sent in the
        background (the index is the outbox, so nothing is lost if sending fails)."""
        if result.change not in NOTEWORTHY:
            return
        previous = result.previous
        _event(logging.WARNING, "post_status_changed",
               f"POST {str(result.change).upper()}: {result.post.platform}/"
               f"{result.post.post_id}", url=result.post.url, capture=result.capture_id,
               previous_status=previous[1] if previous else None, status=str(result.status))
        self._sending.add(asyncio.get_running_loop().create_task(self.announce()))

    async def announce(self) -> int:
        """Send every change not sent yet (webhook and/or command); returns how many."""
        async with self._announcing:
            sent = await asyncio.to_thread(self._send_pending)
        return sent

    def _send_pending(self) -> int:
        sent = 0
        for row in self.index.unannounced_changes():
            event = change_event(row, self.index.previous_completed(row))
            if self.notifier.send(event):
                self.index.mark_announced(row.id)
                sent += 1
        return sent

    async def settle(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for the announcements under way."""
        pending = [t for t in self._sending if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        self._sending = {t for t in self._sending if not t.done()}

    def _tracker(self, label: str) -> _RunTracker:
        return _RunTracker(self, ProgressBar(label) if self.interactive else None)

    def _progress(self, message: str) -> None:
        _event(logging.DEBUG, "progress", message)

    async def _source(self, source: SourceConfig, summary: RunSummary) -> None:
        http = Http(self.config.network)
        try:  # the limit applies to what is new, after seen articles are left out
            listing = await asyncio.to_thread(list_entries, replace(source, max_articles=0),
                                              http)
        finally:
            http.close()
        summary.notes.extend(listing.notes)
        entries = _valid(listing.entries, summary.notes)
        if source.max_articles:
            entries = newest_first(entries)
        todo, counts = select_articles(self.index, source, entries,
                                       self.config.schedule.article_attempts)
        summary.counts.update(counts)
        if self.stop.is_set() or not todo:
            return
        tracker = self._tracker(source.name)
        try:
            report = await archive_async([e.url for e in todo], self.config, self._progress,
                                         await self.browser(), skip_captured=True,
                                         stop=self.stop, tracker=tracker)
        finally:
            tracker.close()
        by_url = {e.url: e for e in todo}
        for outcome in report.articles:
            entry = by_url.get(outcome.url)
            self.index.note_article_source(outcome.url, source.name,
                                           entry.updated if entry else None)
        await self.settle(self.config.schedule.on_change_timeout * 2)
        summary.counts.update({
            "articles_fetched": len(report.articles),
            "articles_failed": sum(1 for a in report.articles if a.status == "failed"),
            "articles_changed": sum(1 for a in report.articles
                                    if (a.change or {}).get("kind") == "changed"),
            "posts_already_captured": len(report.skipped)})
        self._account(report, summary)

    async def _recapture(self, summary: RunSummary) -> None:
        tracker = self._tracker("re-captures")
        try:
            report = await recapture_async(self.config, browser=await self.browser(),
                                           progress=self._progress, stop=self.stop,
                                           tracker=tracker) \
                if await asyncio.to_thread(self._anything_due) else None
        finally:
            tracker.close()
        await self.settle(self.config.schedule.on_change_timeout * 2)
        if report is None:
            summary.counts.update({"captures": 0, "completed": 0, "failed": 0, "changes": 0})
            return
        self._account(report, summary)

    def _anything_due(self) -> bool:
        due, _, _ = self.index.queue(utc_now(), 0)
        return due > 0

    def _account(self, report: ArchiveReport, summary: RunSummary) -> None:
        summary.notes.extend(report.notes)
        changes = [c for c in report.captures if c.change in NOTEWORTHY]
        summary.counts.update({
            "captures": len(report.captures),
            "completed": sum(1 for c in report.captures if c.status.completed),
            "failed": sum(1 for c in report.captures if not c.status.completed),
            "changes": len(changes), "left_for_later": len(report.pending)})
        for c in report.captures:
            if not c.status.completed:
                _event(logging.WARNING, "capture_failed", f"capture failed: "
                       f"{c.post.platform}/{c.post.post_id}: {c.reason}", url=c.post.url,
                       capture=c.capture_id)


def _valid(entries: Sequence[SourceEntry], notes: list[str]) -> list[SourceEntry]:
    out = []
    for entry in entries:
        try:
            validate_url(entry.url)
        except UsageError as exc:
            notes.append(f"skipped {exc}")
            continue
        out.append(entry)
    return out


def select_articles(index: Index, source: SourceConfig, entries: Sequence[SourceEntry],
                    attempts: int, now: datetime | None = None
                    ) -> tuple[list[SourceEntry], dict[str, int]]:
    """Which listed articles to fetch, at most `source.max_articles` (newest first): new
    ones; seen ones whose source says they were updated since (every time, for a single
    page, to see its embeds change). An article whose fetch failed `attempts` times waits
    a day before the next try, doubling each time (up to 30 days), unless its source says
    it was updated."""
    moment = now or datetime.now(UTC)
    states = index.article_states([e.url for e in entries])
    todo: list[SourceEntry] = []
    counts = {"articles_listed": len(entries), "articles_new": 0, "articles_rechecked": 0,
              "articles_seen": 0, "articles_given_up": 0, "articles_left_for_later": 0}
    for entry in entries:
        state = states.get(entry.url)
        newer = bool(entry.updated and state and state.source_updated
                     and entry.updated > state.source_updated)
        if state is None or state.archived_at is None:
            if state is not None and state.failed_fetches >= attempts and not newer \
                    and not _retry_due(state, attempts, moment):
                counts["articles_given_up"] += 1
                continue
            kind = "articles_new"
        elif newer or source.kind == "page":
            kind = "articles_rechecked"
        else:
            counts["articles_seen"] += 1
            if entry.updated and not state.source_updated:
                index.note_article_source(entry.url, source.name, entry.updated)
            continue
        if source.max_articles and len(todo) >= source.max_articles:
            counts["articles_left_for_later"] += 1
            continue
        counts[kind] += 1
        todo.append(entry)
    return todo, counts


def _retry_due(state: ArticleState, attempts: int, now: datetime) -> bool:
    if not state.last_fetched:
        return True
    wait = timedelta(days=1) * (1 << min(state.failed_fetches - attempts, 5))
    return parse_iso(state.last_fetched) + min(wait, timedelta(days=30)) <= now


# -- the job store ------------------------------------------------------------------------------
_RUNNER: Runner | None = None


async def scheduled_job(job: str, digest: str = "") -> None:
    """What APScheduler calls (by this module path, so the job store can name it)."""
    if _RUNNER is None:
        log.error("job %s fired with no runner", job)
        return
    await _RUNNER.run_job(job)


def make_scheduler(index: Index, schedule: ScheduleConfig) -> AsyncIOScheduler:
    grace = int(parse_duration(schedule.misfire_grace).total_seconds()) \
        if schedule.misfire_grace else None
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=index.engine, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=UTC)


def wanted_jobs(config: Config, sources: Sequence[SourceConfig]
                ) -> dict[str, tuple[BaseTrigger, str]]:
    """job id -> (trigger, digest of what defines it)."""
    jobs = {job_id(s): (trigger_for(s), s.digest()) for s in sources if s.enabled}
    every = parse_duration(config.schedule.recapture_check)
    jobs[RECAPTURE_JOB] = (IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
                           f"every {every.total_seconds():.0f}s")
    return jobs


def sync_jobs(scheduler: AsyncIOScheduler, config: Config, sources: Sequence[SourceConfig]
              ) -> list[str]:
    """Make the job store match the configuration: new jobs run at once, changed ones are
    rescheduled (never later than they were due), removed or disabled ones dropped.
    Unchanged jobs keep their next run time, so restarts neither skip nor repeat runs."""
    notes: list[str] = []
    now = datetime.now(UTC)
    existing = {job.id: job for job in scheduler.get_jobs()}
    for jid, (trigger, digest) in wanted_jobs(config, sources).items():
        job = existing.pop(jid, None)
        if job is not None and job.kwargs.get("digest") == digest:
            continue
        if job is None:
            first = now
            notes.append(f"new job {jid}: runs now")
        else:
            natural = trigger.get_next_fire_time(None, now) or now
            first = min(job.next_run_time or natural, natural)
            notes.append(f"job {jid} changed: next run {iso(first)}")
        scheduler.add_job(JOB_FUNC, trigger=trigger, id=jid, name=jid,
                          kwargs={"job": jid, "digest": digest}, replace_existing=True,
                          next_run_time=first)
    for jid in existing:
        scheduler.remove_job(jid)
        notes.append(f"job {jid} removed (no longer configured or enabled)")
    return notes


def resume_interrupted(scheduler: AsyncIOScheduler, index: Index, data_dir: Path
                       ) -> list[str]:
    """Runs a dead process left unfinished: their jobs run again at once."""
    notes = []
    for job in sorted(set(index.reconcile_runs(data_dir))):
        if scheduler.get_job(job) is not None:
            scheduler.modify_job(job, next_run_time=datetime.now(UTC))
            notes.append(f"job {job} was interrupted by a stopped process: runs again now")
    return notes


def _job_order(jid: str) -> tuple[int, str]:
    return (1 if jid == RECAPTURE_JOB else 0, jid)


async def run_once(config: Config, sources: Sequence[SourceConfig], *,
                   interactive: bool = False, stop: asyncio.Event | None = None,
                   browser: BrowserSession | None = None) -> list[RunSummary] | None:
    """Run every due job once (sources first, then re-captures). None when another run
    holds the lock (nothing was done)."""
    global _RUNNER
    lock = RunLock(config.storage.data_dir, "archiver run --once")
    if not lock.try_acquire():
        holder = lock.holder() or {}
        _event(logging.INFO, "skipped", "another run holds the lock; nothing to do",
               holder=holder.get("owner"), purpose=holder.get("purpose"))
        return None
    runner = Runner(config, sources, interactive=interactive, browser=browser)
    if stop is not None:
        runner.stop = stop
    index = runner.index
    scheduler = make_scheduler(index, config.schedule)
    summaries: list[RunSummary] = []
    try:
        scheduler.start(paused=True)
        for note in sync_jobs(scheduler, config, sources) + \
                resume_interrupted(scheduler, index, config.storage.data_dir):
            _event(logging.INFO, "job", note)
        now = datetime.now(UTC)
        posts_due = index.queue(utc_now(), 0)[0] > 0
        due = sorted((j for j in scheduler.get_jobs()
                      if (j.next_run_time is not None and j.next_run_time <= now)
                      or (j.id == RECAPTURE_JOB and posts_due)),
                     key=lambda j: _job_order(j.id))
        _RUNNER = runner
        if await runner.announce():
            _event(logging.INFO, "announced", "sent changes an earlier run had not sent")
        if not due:
            upcoming = [j.next_run_time for j in scheduler.get_jobs() if j.next_run_time]
            _event(logging.INFO, "idle", "no job is due" + (
                f"; the next is due at {iso(min(upcoming))}" if upcoming else ""))
        grace = parse_duration(config.schedule.misfire_grace) \
            if config.schedule.misfire_grace else None
        watcher = asyncio.get_running_loop().create_task(
            _abandon_after_grace(runner, config.schedule.stop_grace))
        try:
            for job in due:
                if runner.stop.is_set():
                    break
                scheduler.modify_job(job.id, next_run_time=_next_fire(job.trigger, now))
                if grace is not None and job.next_run_time is not None \
                        and job.next_run_time + grace < now and job.id != RECAPTURE_JOB:
                    _event(logging.WARNING, "missed", f"{job.id} was due at "
                           f"{iso(job.next_run_time)}, later than schedule.misfire_grace "
                           "allows: skipped until its next time", job=job.id)
                    continue
                task = asyncio.get_running_loop().create_task(runner.run_job(job.id))
                try:
                    summaries.append(await task)
                except asyncio.CancelledError:
                    if not task.cancelled():
                        raise
                    summaries.append(RunSummary(job.id, "", "stopped", error="abandoned "
                                                "after the stop grace period"))
                    break
        finally:
            watcher.cancel()
        return summaries
    finally:
        _RUNNER = None
        scheduler.shutdown(wait=False)
        await runner.close()  # closes the index too
        lock.release()


async def _abandon_after_grace(runner: Runner, grace: float) -> None:
    """Once asked to stop, give the work in flight `grace` seconds, then cancel it."""
    await runner.stop.wait()
    await asyncio.sleep(grace)
    late = list(runner.active)
    for task in late:
        task.cancel()
    if late:
        _event(logging.WARNING, "abandoned", f"abandoned {len(late)} run(s) still working "
               "after the grace period (recorded as interrupted)")


def _next_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    when: datetime | None = trigger.get_next_fire_time(None, now)
    while when is not None and when <= now:
        when = trigger.get_next_fire_time(when, now + timedelta(seconds=1))
    return when


async def serve(config: Config, sources: Sequence[SourceConfig], stop: asyncio.Event,
                *, browser: BrowserSession | None = None) -> None:
    """`archiver run`: schedule the jobs and run them until `stop` is set."""
    global _RUNNER
    lock = RunLock(config.storage.data_dir, "archiver run")
    waiting_said = False
    while not lock.try_acquire():
        if not waiting_said:
            holder = lock.holder() or {}
            _event(logging.INFO, "waiting", "another run holds the lock; waiting for it",
                   holder=holder.get("owner"), purpose=holder.get("purpose"))
            waiting_said = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
        if stop.is_set():
            return
    runner = Runner(config, sources, browser=browser)
    index = runner.index
    scheduler = make_scheduler(index, config.schedule)
    _RUNNER = runner
    try:
        scheduler.start(paused=True)
        for note in sync_jobs(scheduler, config, sources) + \
                resume_interrupted(scheduler, index, config.storage.data_dir):
            _event(logging.INFO, "job", note)
        due, _, _ = index.queue(utc_now(), 0)
        if due:  # posts an earlier process found but did not capture: do not make them wait
            scheduler.modify_job(RECAPTURE_JOB, next_run_time=datetime.now(UTC))
            _event(logging.INFO, "job", f"{due} post(s) due for capture: re-captures run now")
        scheduler.resume()
        _event(logging.INFO, "started", f"scheduler running {len(scheduler.get_jobs())} "
               "job(s)", jobs=[j.id for j in scheduler.get_jobs()])
        if await runner.announce():
            _event(logging.INFO, "announced", "sent changes an earlier run had not sent")
        await stop.wait()
        _event(logging.INFO, "stopping", "stopping: no new work starts; waiting for the "
               "captures in flight", grace_s=config.schedule.stop_grace)
        scheduler.pause()
        runner.stop.set()
        active = list(runner.active)
        if active:
            _, late = await asyncio.wait(active, timeout=config.schedule.stop_grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=30)
                _event(logging.WARNING, "abandoned", f"abandoned {len(late)} run(s) still "
                       "working after the grace period (recorded as interrupted)")
    finally:
        _RUNNER = None
        scheduler.shutdown(wait=False)
        await runner.close()  # closes the index too
        lock.release()
        _event(logging.INFO, "stopped", "scheduler stopped")


# -- status -------------------------------------------------------------------------------------
def status(config: Config, sources: Sequence[SourceConfig], limit: int = 10) -> dict[str, Any]:
    """Jobs, next run times, last results, the re-capture queue and recent changes."""
    index = Index(config.storage.effective_database_url)
    try:
        now = utc_now()
        stored = _stored_jobs(index)
        last = index.last_runs()
        jobs = []
        described = {job_id(s): s for s in sources}
        names = list(dict.fromkeys([*described, RECAPTURE_JOB, *stored]))
        for jid in names:
            src = described.get(jid)
            run = last.get(jid)
            jobs.append({
                "job": jid,
                "what": (f"{src.kind} {src.location}" if src else
                         "re-capture due posts" if jid == RECAPTURE_JOB else "(not configured)"),
                "when": (f"cron {src.cron}" if src and src.cron else
                         f"every {src.every}" if src else
                         f"every {config.schedule.recapture_check}"
                         if jid == RECAPTURE_JOB else None),
                "enabled": src.enabled if src else jid == RECAPTURE_JOB,
                "next_run": stored.get(jid),
                "last_run": None if run is None else {
                    "run_id": run.id, "started": run.started_at, "finished": run.finished_at,
                    "status": run.status, "error": run.error,
                    "counts": json.loads(run.summary) if run.summary else {}},
            })
        due, scheduled, upcoming = index.queue(now, limit)
        changes = index.recent_changes(limit)
        return {
            "now": now,
            "archive": {"captures": index.count_captures(), "posts": index.count_posts()},
            "lock": RunLock(config.storage.data_dir, "status").holder(),
            "jobs": jobs,
            "recapture_policy": list(describe_series(Policy.from_config(config.schedule))),
            "queue": {"due_now": due, "scheduled": scheduled, "next": [
                {"url": p.url, "platform": p.platform, "post_id": p.post_id,
                 "due": p.next_check, "state": p.state or p.last_status,
                 "failures": p.failures or 0} for p in upcoming]},
            "recent_changes": [
                {"at": c.started_at, "change": c.change, "url": c.post.url,
                 "capture_id": c.id, "status": c.status} for c in changes],
        }
    finally:
        index.close()


def _stored_jobs(index: Index) -> dict[str, str | None]:
    """job id -> next run time, read from APScheduler's table (without unpickling)."""
    if not inspect(index.engine).has_table(JOB_TABLE):
        return {}
    with index.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOB_TABLE}"))
        return {str(jid): (iso(datetime.fromtimestamp(float(at), UTC)) if at is not None
                           else None) for jid, at in rows}
