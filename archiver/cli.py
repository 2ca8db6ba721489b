"""Command line: thin verbs, each calling one library function.

Exit status: 0 everything requested succeeded; 1 something failed (a capture, an article
fetch, a verification); 2 usage or configuration error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.config import Config, load_config
from archiver.errors import ArchiverError, ConfigError, UsageError
from archiver.evidence.verify import Verification
from archiver.export import FORMATS, export, summary
from archiver.pipeline import archive, detect
from archiver.retrieval import lookup, verify_selection

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                   help="config file (default: $ARCHIVER_CONFIG, else config/archiver.toml)")
    g.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                   help="where captures and the index live (default: snapshots)")
    g.add_argument("--database-url", default=argparse.SUPPRESS,
                   help="SQLAlchemy URL of the index (default: SQLite in the data dir)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print machine-readable JSON")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="archiver", parents=[common],
        description="Find the social-media posts an article embeds, capture each with a real "
                    "browser, and keep verifiable evidence.",
        epilog="exit status: 0 all done, 1 something failed, 2 usage error, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"archiver {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("detect", parents=[common], help="list an article's embeds, capture "
                         "nothing", description="Fetch (or read) an article and list the posts "
                         "it embeds, without capturing anything.")
    p.add_argument("target", metavar="URL_OR_FILE")
    p.add_argument("--render", action="store_true",
                   help="also load the page in Chromium and add the embeds its scripts inject")

    p = verbs.add_parser("archive", parents=[common], help="capture every embedded post",
                         description="Fetch each article, find its embeds, and capture every "
                         "post once (a post URL is captured directly). Exit 0 only when every "
                         "capture completed (live, deleted or unavailable established).")
    p.add_argument("urls", nargs="+", metavar="URL")

    p = verbs.add_parser("list", parents=[common], help="list captures, newest first",
                         description="List captures, newest first: all, or one author's "
                         "in a time range.")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--author", metavar="HANDLE",
                   help="only the captures of this author's posts (any letter case, '@' "
                        "optional)")
    p.add_argument("--since", metavar="WHEN", type=_when,
                   help="only captures started at or after WHEN: YYYY-MM-DD or an ISO 8601 "
                        "date-time (UTC unless it says)")
    p.add_argument("--until", metavar="WHEN", type=_when,
                   help="only captures started at or before WHEN (a date takes in its "
                        "whole day)")

    p = verbs.add_parser("show", parents=[common], help="show a capture or a post's history",
                         description="Show one capture (by id or unique id prefix) or a post "
                         "and its captures (by any URL of the post).")
    p.add_argument("ref", metavar="ID_OR_POST_URL")

    p = verbs.add_parser("verify", parents=[common], help="check stored evidence offline",
                         description="Recompute every hash of the selected captures and "
                         "compare with SHA256SUMS, manifest.json and the index. Exit 1 and "
                         "name each file on any mismatch.")
    sel = p.add_mutually_exclusive_group(required=True)
    sel.add_argument("ref", nargs="?", metavar="ID_OR_POST_URL")
    sel.add_argument("--all", action="store_true", help="every capture and article fetch")

    p = verbs.add_parser("export", parents=[common], help="write a WACZ or an auditor bundle",
                         description="Export a capture (by id) or every capture of a post (by "
                         "URL): --format wacz writes a signed WACZ 1.1.1 for ReplayWeb.page or "
                         "pywb; --format zip writes the capture directories, the archive's "
                         "public key and a README to check them with sha256sum and openssl.")
    p.add_argument("ref", metavar="ID_OR_POST_URL")
    p.add_argument("--format", choices=FORMATS, default="wacz")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")

    p = verbs.add_parser(
        "run", parents=[common], help="watch the configured sources (the scheduler)",
        description="Watch the sources in [schedule] sources_file (feeds, sitemaps, URL lists, "
        "pages): archive every embed of every new or changed article, and re-capture posts "
        "on the [schedule] re-capture policy, recording edits and deletions. Runs until "
        "SIGTERM or Ctrl-C (captures in flight get [schedule] stop_grace seconds to finish). "
        "Job state lives in the index, so a restart neither skips nor repeats runs.",
        epilog="With --once: run every due job once and exit (for cron and systemd timers; "
        "see cron/). A --once that finds another run holding the lock does nothing and exits "
        "0. Exit 1 when a job failed.")
    p.add_argument("--once", action="store_true", help="run the due jobs once, then exit")
    p.add_argument("--sources", type=Path, metavar="FILE",
                   help="sources file (default: [schedule] sources_file)")
    p.add_argument("--log-format", choices=("text", "json"),
                   help="log lines as text or one JSON object a line (default: [schedule] "
                   "log_format)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also log each capture and each note")

    p = verbs.add_parser(
        "status", parents=[common], help="jobs, next runs, last results, re-capture queue",
        description="Show the scheduled jobs with their next run time and last result, "
        "whether a run holds the lock, the queue of due re-captures, and recent changes "
        "(posts edited, deleted, unavailable or restored).")
    p.add_argument("--sources", type=Path, metavar="FILE",
                   help="sources file (default: [schedule] sources_file)")
    p.add_argument("--limit", type=int, default=10, help="queue and change rows shown")

    p = verbs.add_parser(
        "serve", parents=[common], help="the read-only web view and JSON API",
        description="Serve a read-only web view and JSON API over the archive: search, post "
        "histories, captures with their verification computed on view, diffs, downloads. "
        "Reading needs a token (archiver token create) unless [web] open_access is true. "
        "The OpenAPI description is at /api/openapi.json.")
    p.add_argument("--host", help="address to listen on (default: [web] host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: [web] port, 8080)")

    p = verbs.add_parser("token", parents=[common], help="reading tokens of the web view",
                         description="Create, list or revoke the tokens that give read access "
                         "to `archiver serve`. Only a token's SHA-256 is stored; the token "
                         "itself is printed once, when created.")
    tverbs = p.add_subparsers(dest="token_verb", required=True, metavar="ACTION")
    t = tverbs.add_parser("create", parents=[common], help="create a token and print it once")
    t.add_argument("--name", required=True, help="who or what uses it")
    tverbs.add_parser("list", parents=[common], help="list tokens (never the tokens)")
    t = tverbs.add_parser("revoke", parents=[common], help="revoke a token by id or name")
    t.add_argument("ref", metavar="ID_OR_NAME")
    return parser


def _when(text: str) -> str:
    from archiver.store.index import time_bound

    try:
        time_bound(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _config(args: argparse.Namespace) -> Config:
    overrides = {"storage": {"data_dir": getattr(args, "data_dir", None),
                             "database_url": getattr(args, "database_url", None)}}
    return load_config(getattr(args, "config", None), overrides)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_detect(args: argparse.Namespace, config: Config) -> int:
    found = detect(args.target, config, render=args.render)
    if getattr(args, "json", False):
        _print_json(found.to_json())
        return EXIT_OK
    print(f"article: {found.article}")
    print(f"{len(found.embeds)} embed(s)")
    for e in found.embeds:
        who = f"@{e.author}" if e.author else "(author not shown)"
        if e.author_name:
            who = f"{e.author_name} ({who})"
        ident = f"{e.platform}/{e.post.post_id}" if e.post else f"{e.platform} (unresolved)"
        where = str(e.found_in) if e.element in ("", str(e.found_in)) else \
            f"{e.found_in}: {e.element}"
        print(f"  {e.position + 1}. {ident} {who} [{where}]" + (f" {e.date}" if e.date else ""))
        if e.post:
            print(f"     {e.post.url}")
        if e.quoted_text:
            print(f"     \u201c{_clip(e.quoted_text, 100)}\u201d")
    return EXIT_OK


def cmd_archive(args: argparse.Namespace, config: Config) -> int:
    as_json = getattr(args, "json", False)
    report = archive(args.urls, config, progress=_progress)
    if as_json:
        _print_json(report.to_json())
    else:
        for a in report.articles:
            if a.status == "failed":
                print(f"article FAILED  {a.url}: {a.error}")
            elif a.status == "no_embeds":
                print(f"article         {a.url}: no embedded posts found")
        for c in report.captures:
            where = f"{config.storage.data_dir / c.directory}" if c.directory else "(not stored)"
            print(f"{c.status:<11} {c.post.url}  {c.capture_id}  {where}"
                  + (f"\n            reason: {c.reason}" if c.reason else "")
                  + (f"\n            {c.change.upper()} since capture {c.previous[0]}"
                     if c.change not in (None, "first", "unchanged") and c.previous else ""))
        for note in report.notes:
            print(f"note: {note}")
        done = sum(1 for c in report.captures if c.status.completed)
        print(f"{done} of {len(report.captures)} capture(s) completed")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    from archiver.store.index import Index

    index = Index(config.storage.effective_database_url)
    try:
        rows = index.captures(limit=args.limit, author=args.author, since=args.since,
                              until=args.until)
    finally:
        index.close()
    items = [{"capture_id": r.id, "started_at": r.started_at, "status": r.status,
              "platform": r.post.platform, "post_id": r.post.post_id, "url": r.post.url,
              "author": r.post.author, "directory": r.directory, "reason": r.reason}
             for r in rows]
    if getattr(args, "json", False):
        _print_json(items)
        return EXIT_OK
    if not items:
        print("no captures match" if args.author or args.since or args.until
              else "no captures yet")
    for i in items:
        print(f"{i['capture_id']}  {i['started_at']}  {i['status']:<11} "
              f"{i['platform']}/{i['post_id']}  @{i['author'] or '?'}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, config: Config) -> int:
    found = lookup(config, args.ref)
    if getattr(args, "json", False):
        _print_json(found)
        return EXIT_OK
    _print_tree(found)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, config: Config) -> int:
    results = verify_selection(config, None if args.all else args.ref)
    failed = [v for v in results if not v.ok]
    if getattr(args, "json", False):
        _print_json({"ok": not failed, "checked": len(results),
                     "results": [v.to_json() for v in results]})
    else:
        for v in results:
            _print_verification(v)
        print(f"{len(results) - len(failed)} of {len(results)} verified"
              + (f", {len(failed)} FAILED" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    done = summary(export(config, args.ref, args.format, args.output))
    if getattr(args, "json", False):
        _print_json(done)
    else:
        print(f"wrote {done['path']} ({done['format']}, {len(done['captures'])} capture(s), "  # type: ignore[arg-type]
              f"{done['bytes']:,} bytes)")
    return EXIT_OK


def _sources(args: argparse.Namespace, config: Config) -> Any:
    from archiver.schedule import configured_sources
    from archiver.sources import load_sources

    return load_sources(args.sources) if args.sources else configured_sources(config.schedule)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    import asyncio
    import signal

    from archiver import schedule

    sources = _sources(args, config)
    fmt = args.log_format or config.schedule.log_format
    schedule.setup_logging(fmt, args.verbose)
    interactive = args.once and fmt == "text" and sys.stderr.isatty()

    async def main() -> list[schedule.RunSummary] | None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_signal() -> None:
            if stop.is_set() and task is not None:  # asked twice: stop now
                task.cancel()
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        if args.once:
            return await schedule.run_once(config, sources, interactive=interactive, stop=stop)
        await schedule.serve(config, sources, stop)
        return []

    try:
        summaries = asyncio.run(main())
    except asyncio.CancelledError:
        print("archiver: stopped at once (asked twice); unfinished captures were not stored",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if getattr(args, "json", False):
        _print_json({"skipped": summaries is None, "runs": [
            {"job": r.job, "run_id": r.run_id, "status": r.status, "seconds": r.seconds,
             "error": r.error, **r.counts} for r in summaries or []]})
    failed = [r for r in summaries or [] if r.status == "failed"]
    return EXIT_FAILED if failed else EXIT_OK


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    from archiver.schedule import status

    found = status(config, _sources(args, config), args.limit)
    if getattr(args, "json", False):
        _print_json(found)
        return EXIT_OK
    lock = found["lock"]
    print(f"archive: {found['archive']['captures']} capture(s) of "
          f"{found['archive']['posts']} post(s)")
    print("lock: " + (f"held by {lock.get('owner', '?')} ({lock.get('purpose', '?')}) since "
                      f"{lock.get('since', '?')}" if lock else "free (no run in progress)"))
    print("jobs:")
    for job in found["jobs"]:
        last = job["last_run"]
        state = "" if job["enabled"] else " (disabled)"
        print(f"  {job['job']}{state}: {job['what']}, {job['when'] or '-'}")
        print(f"      next run: {job['next_run'] or 'not scheduled (run archiver run)'}")
        if last:
            counts = " ".join(f"{k}={v}" for k, v in sorted(last["counts"].items()) if v)
            print(f"      last run: {last['status']} {last['started']}"
                  + (f" ({counts})" if counts else "")
                  + (f": {last['error']}" if last["error"] else ""))
        else:
            print("      last run: never")
    print("re-capture policy: " + ", ".join(found["recapture_policy"]))
    queue = found["queue"]
    print(f"re-capture queue: {queue['due_now']} due now, {queue['scheduled']} scheduled")
    for item in queue["next"]:
        fails = f", {item['failures']} failed attempt(s)" if item["failures"] else ""
        print(f"  {item['due']}  {item['platform']}/{item['post_id']}  "
              f"{item['state'] or 'not captured yet'}{fails}")
    if found["recent_changes"]:
        print("recent changes:")
        for c in found["recent_changes"]:
            print(f"  {c['at']}  {c['change'].upper():<11} {c['url']}  (capture {c['capture_id']})")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from archiver.web.app import is_loopback, serve

    host = args.host or config.web.host
    port = config.web.port if args.port is None else args.port
    if not is_loopback(host):
        print(f"archiver: note: listening on {host}, not loopback: put a TLS reverse proxy in "
              "front" + ("; and [web] open_access is true, so anyone who reaches it can read"
                         if config.web.open_access else ""), file=sys.stderr)
    if config.web.open_access:
        print("archiver: note: [web] open_access = true: no token is needed to read",
              file=sys.stderr)
    serve(config, host, port)
    return EXIT_OK


def cmd_token(args: argparse.Namespace, config: Config) -> int:
    from archiver.store.index import Index
    from archiver.web.tokens import create_token, list_tokens, revoke_token

    index = Index(config.storage.effective_database_url)
    try:
        if args.token_verb == "create":
            info, token = create_token(index, args.name)
            if getattr(args, "json", False):
                _print_json({"id": info.id, "name": info.name, "created_at": info.created_at,
                             "token": token})
            else:
                print(token)
                print(f"token {info.id} for {info.name!r}: shown once, only its hash is kept",
                      file=sys.stderr)
            return EXIT_OK
        rows = list_tokens(index) if args.token_verb == "list" else revoke_token(index, args.ref)
    finally:
        index.close()
    if getattr(args, "json", False):
        _print_json([{"id": r.id, "name": r.name, "created_at": r.created_at,
                      "revoked_at": r.revoked_at} for r in rows])
    else:
        for r in rows:
            print(f"{r.id:>4}  {r.name}  created {r.created_at}"
                  + (f"  REVOKED {r.revoked_at}" if r.revoked_at else ""))
        if not rows:
            print("no tokens")
    return EXIT_OK


def _print_verification(v: Verification) -> None:
    unit = "entries" if v.label == "ledger" else "files"
    print(f"{'OK  ' if v.ok else 'FAIL'}  {v.label}  {v.directory}  ({v.files_checked} {unit})")
    for p in v.problems:
        where = p.file if p.file.startswith(v.directory) else f"{v.directory}/{p.file}"
        print(f"      {where}: {p.issue}")
    for note in v.notes:
        print(f"      note: {note}")


def _print_tree(obj: Any, indent: int = 0) -> None:
    pad = "  " * indent
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, dict | list) and value:
                print(f"{pad}{key}:")
                _print_tree(value, indent + 1)
            else:
                print(f"{pad}{key}: {_clip(str(value), 160) if value not in (None, []) else '-'}")
    elif isinstance(obj, list):
        for n, item in enumerate(obj, 1):
            if isinstance(item, dict | list):
                print(f"{pad}[{n}]")
                _print_tree(item, indent + 1)
            else:
                print(f"{pad}- {item}")


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "\u2026"


COMMANDS = {"detect": cmd_detect, "archive": cmd_archive, "list": cmd_list, "show": cmd_show,
            "verify": cmd_verify, "export": cmd_export, "run": cmd_run, "status": cmd_status,
            "serve": cmd_serve, "token": cmd_token}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
        return COMMANDS[args.verb](args, config)
    except (UsageError, ConfigError) as exc:
        print(f"archiver: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ArchiverError as exc:
        print(f"archiver: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("archiver: interrupted; unfinished captures were not stored", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> None:
    """The `archiver` command: `main`, then exit with its status. Once the work is done a
    Ctrl-C can no longer change the outcome, so it is ignored while the interpreter shuts
    down (0.2 s, in which Python would otherwise die of the signal and exit -2)."""
    import signal

    status = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":
    entry()
