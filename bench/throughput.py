"""Capture throughput and per-embed latency at 1-8 concurrent captures, against the bare
Playwright floor measured in the same run at the same concurrency.

    .venv/bin/python bench/throughput.py [--embeds 16] [--levels 1,2,4,8] [--latency-ms 0]

One Chromium, the loopback fake platform in a process of its own, `--embeds` distinct posts
per batch.
- floor: N workers, each taking the next post: a fresh context, goto its embed page, wait
  until the post is rendered, screenshot the post's box from the page, close (the least a
  correct snapshot does);
- archiver, embed only: `archive_async` on the post URLs with capture.concurrency = N and
  post_page = false (the same page work as the floor, plus data endpoints, HAR -> WARC,
  TLS chains, manifest, signature, ledger, index);
- archiver, default: the same with the post's own page too (two pages per post).
Each level runs the three batches in turn, twice, and keeps the faster of each pair.
Figures: embeds per second, median per-embed latency, ratios to the floor, scaling
against one stream, and the busy CPU seconds of the whole machine per embed with the share
of all cores that were busy (run it on a quiet machine). The machine's speed cancels out of
the ratios. On loopback a capture is CPU work, nearly all in Chromium, so throughput stops
growing once the cores are busy: "cores allow" is how far it could grow with every core
busy at the CPU per embed measured at that N (cores / CPU s per embed / one stream's rate).
`--latency-ms` makes the fake platform wait that long before each answer, as a real
network and server do: the waiting concurrency overlaps.
Targets (PASS/FAIL lines): per-embed p50 <= 1.3x the floor at every N; throughput at N=4
>= 3x one stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver import pipeline
from archiver.capture.browser import BrowserSession
from archiver.capture.post import capture_post
from archiver.config import CaptureConfig, Config
from archiver.models import CaptureResult
from archiver.pipeline import archive_async
from tests.fakeplatform import FakePlatform
from tests.harness import make_config

ROOT = Path(__file__).resolve().parent.parent
BASE_ID = 1870000000000000000


def tweet_records(offset: int, n: int) -> list[dict[str, Any]]:
    """n distinct posts for one batch (ids from BASE_ID + offset)."""
    return [{"id": str(BASE_ID + offset + i),
             "text": f"Bench post {offset + i}: the bridge at Hadrut is closed to traffic.",
             "user": {"screen_name": f"Bench{i % 7}", "name": "Bench"}} for i in range(n)]


def make_posts(fake: FakePlatform, n: int, offset: int) -> list[str]:
    """Put n posts on an in-process fake platform (bench/soak.py and ad-hoc profiling)."""
    records = tweet_records(offset, n)
    for record in records:
        fake.tweets.put(record)
    return [r["id"] for r in records]


@contextlib.contextmanager
def fake_server(workdir: Path, records: list[dict[str, Any]], latency_ms: float
                ) -> Iterator[tuple[dict[str, str], Path, psutil.Process]]:
    """The fake platform in a process of its own, serving `records` besides its fixtures:
    (host map, CA file, its process). In this process its TLS and handlers would compete
    with the archiver and the floor for the GIL, which a real server never does."""
    tweets = workdir / "tweets.json"
    tweets.write_text(json.dumps(records))
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakeplatform", "--dir",
                             str(workdir / "net"), "--tweets", str(tweets), "--latency-ms",
                             str(latency_ms)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        yield info["host_map"], Path(info["ca_pem"]), psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def process_cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all processes, all cores): on a quiet machine,
    what a batch really cost, exited renderers included."""
    t = psutil.cpu_times()
    return float(sum(getattr(t, f) for f in ("user", "nice", "system", "irq", "softirq",
                                              "steal") if hasattr(t, f)))


async def floor_batch(browser: BrowserSession, ids: list[str], workers: int
                      ) -> tuple[float, list[float]]:
    queue = list(ids)
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            tweet_id = queue.pop()
            t0 = time.perf_counter()
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto("https://platform.twitter.com/embed/Tweet.html?id="
                            f"{tweet_id}&dnt=true&lang=en", wait_until="domcontentloaded")
            article = page.locator('article[data-testid="tweet"]')
            await article.wait_for(state="visible")
            # the post's box clipped from the page, cheaper than Playwright's element
            # screenshot: what the archiver does for a still post in view, less its checks
            # (pages.CLIP_BOX, a second measure) and rounding, so the floor is a little low
            box = await article.bounding_box()
            assert box is not None, "the post left the page"
            await page.screenshot(type="png", clip=box)
            await context.close()
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - t0, latencies


#: capture id -> seconds `capture_post` took, call to return (see `_timed_capture_post`)
_CAPTURE_S: dict[str, float] = {}


async def _timed_capture_post(env: Any, ref: Any, embeds: Any = ()) -> CaptureResult:
    """`capture_post` as the pipeline calls it, timed from call to return: the whole
    capture, its storing (manifest, signature, fsyncs, ledger) and its index rows
    included. The result's own `finished_at` is stamped before all of that, so
    finished_at - started_at left out ~10 % of a capture's time."""
    t0 = time.perf_counter()
    result = await capture_post(env, ref, embeds)
    _CAPTURE_S[result.capture_id] = time.perf_counter() - t0
    return result


async def archiver_batch(browser: BrowserSession, config: Config, ids: list[str]
                         ) -> tuple[float, list[float]]:
    _CAPTURE_S.clear()
    t0 = time.perf_counter()
    report = await archive_async([f"https://x.com/Bench/status/{i}" for i in ids], config,
                                 browser=browser)
    wall = time.perf_counter() - t0
    # every post captured and live: a post the fake platform did not serve is a completed
    # capture too ("deleted"), which report.ok accepts and which must not count as an embed
    statuses = Counter(str(c.status) for c in report.captures)
    if not report.ok or len(report.captures) != len(ids) or statuses["live"] != len(ids):
        raise SystemExit(f"archiver batch not all live: {dict(statuses)} of {len(ids)} posts; "
                         + "; ".join(f"{c.post.post_id}: {c.reason}" for c in report.captures
                                     if c.reason)[:2000])
    return wall, [_CAPTURE_S[c.capture_id] for c in report.captures]


async def main(embeds: int, levels: list[int], latency_ms: float, rps: float) -> int:
    pipeline.capture_post = _timed_capture_post  # the pipeline's captures, timed
    rows = []
    batches = [tweet_records(0, 2)]  # the warm-up, then one per (level, round, kind)
    batches += [tweet_records(10 + i * embeds, embeds) for i in range(len(levels) * 2 * 3)]
    with tempfile.TemporaryDirectory() as tmp, fake_server(
            Path(tmp), [r for b in batches for r in b], latency_ms) as (host_map, ca, server):
        base = make_config(host_map, ca, Path(tmp) / "data")
        base = replace(base, network=replace(base.network, requests_per_second=rps))
        pending = iter([[r["id"] for r in b] for b in batches])
        async with BrowserSession(base.browser, base.network) as browser:
            assert browser.info is not None
            executable = browser.info.executable
            warm = next(pending)
            await floor_batch(browser, warm, 1)
            await archiver_batch(browser, base, warm)
            for n in levels:
                # kind -> (wall s, latencies, per embed: machine CPU s, own CPU s, the fake
                # platform's CPU s)
                best: dict[str, tuple[float, list[float], float, float, float]] = {}
                for round_ in range(2):
                    for kind in ("floor", "embed-only", "default"):
                        ids = next(pending)
                        all0, own0, srv0 = (machine_cpu(), time.process_time(),
                                            process_cpu(server))
                        if kind == "floor":
                            wall, lat = await floor_batch(browser, ids, n)
                        else:
                            cfg = replace(base, capture=replace(
                                CaptureConfig(), concurrency=n, render_article=False,
                                post_page=kind == "default"),
                                storage=replace(base.storage,
                                                data_dir=Path(tmp) / f"data-{n}-{round_}-{kind}"))
                            wall, lat = await archiver_batch(browser, cfg, ids)
                        every = (machine_cpu() - all0) / embeds
                        own = (time.process_time() - own0) / embeds
                        srv = (process_cpu(server) - srv0) / embeds
                        if kind not in best or wall < best[kind][0]:
                            best[kind] = (wall, lat, every, own, srv)
                rows.append((n, best))
    where = (f"fake platform answering after {latency_ms:g} ms" if latency_ms
             else "loopback fake platform (no added latency)")
    polite = (f"at most {rps:g} requests/s to one host" if rps
              else "off (the floor has none)")
    print(f"embeds per batch: {embeds}; cores: {os.cpu_count()}; one Chromium ({executable}); "
          f"{where}; politeness: {polite}; best of 2 batches per cell; load average at the "
          f"end {os.getloadavg()[0]:.1f}")
    cores = os.cpu_count() or 1
    print(f"{'N':>3} {'floor emb/s':>12} {'arch emb/s':>11} {'ratio':>6} "
          f"{'floor p50 s':>12} {'arch p50 s':>11} {'ratio':>6} {'default emb/s':>14} "
          f"{'default p50 s':>14} {'cpu s/emb floor':>16} {'arch':>5} "
          f"{'cpu busy floor':>15} {'arch':>5} {'python s/emb arch':>18} "
          f"{'server s/emb floor':>19} {'arch':>5}")
    single: dict[str, float] = {}
    verdicts: list[str] = []
    for n, best in rows:
        rate = {k: embeds / v[0] for k, v in best.items()}
        p50 = {k: statistics.median(v[1]) for k, v in best.items()}
        busy = {k: v[2] * embeds / (v[0] * cores) for k, v in best.items()}
        single = single or rate
        ratio = p50["embed-only"] / p50["floor"]
        print(f"{n:>3} {rate['floor']:>12.2f} {rate['embed-only']:>11.2f} "
              f"{rate['floor'] / rate['embed-only']:>6.2f} {p50['floor']:>12.3f} "
              f"{p50['embed-only']:>11.3f} {ratio:>6.2f} "
              f"{rate['default']:>14.2f} {p50['default']:>14.3f} "
              f"{best['floor'][2]:>16.2f} {best['embed-only'][2]:>5.2f} "
              f"{busy['floor']:>14.0%} {busy['embed-only']:>5.0%} "
              f"{best['embed-only'][3]:>18.3f} {best['floor'][4]:>19.3f} "
              f"{best['embed-only'][4]:>5.3f}")
        verdicts.append(f"{'PASS' if ratio <= 1.3 else 'FAIL'} N={n}: per-embed p50 "
                        f"{ratio:.2f}x the floor (target <= 1.3x)")
    base_n = rows[0][0]
    against = "one stream" if base_n == 1 else f"N={base_n} (the first level, not one stream)"
    print(f"scaling of throughput against {against} (embed-only archiver, floor), and the "
          "most the cores allow at the CPU per embed measured at that N (all busy):")
    for n, best in rows:
        scale = embeds / best["embed-only"][0] / single["embed-only"]
        ceiling = {k: cores / best[k][2] / single[k] for k in ("embed-only", "floor")}
        print(f"  N={n}: archiver {scale:.2f}x, floor "
              f"{embeds / best['floor'][0] / single['floor']:.2f}x; cores allow archiver "
              f"{ceiling['embed-only']:.2f}x, floor {ceiling['floor']:.2f}x")
        if n == 4 and levels[0] == 1:
            verdicts.append(f"{'PASS' if scale >= 3 else 'FAIL'} N=4: throughput {scale:.2f}x "
                            "one stream (target >= 3x)")
    print("p50: per embed, the floor's from new context to its close, the archiver's from "
          "the call of capture_post to its return (evidence stored, index rows written); "
          "every archiver capture checked live")
    print("ratios: time per embed, archiver / floor (1.00 = as fast as the bare floor); "
          "cpu s/emb: busy CPU seconds of the whole machine per embed (exited renderers "
          "included; meaningful on a quiet machine); cpu busy: that over wall time x cores; "
          "python s/emb: CPU of this process (archiver, proxy thread) per embed; server "
          "s/emb: CPU of the fake platform's process per embed (part of cpu s/emb; a real "
          "platform spends it on its own machines)")
    for line in verdicts:
        print(line)
    print(f"reproduce: .venv/bin/python bench/throughput.py --embeds {embeds} "
          f"--levels {','.join(map(str, levels))} --latency-ms {latency_ms:g}"
          + (f" --rps {rps:g}" if rps else ""))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeds", type=int, default=16)
    parser.add_argument("--levels", default="1,2,4,8")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="the fake platform waits this long before each answer "
                             "(a network round trip plus server time); default 0")
    parser.add_argument("--rps", type=float, default=0.0,
                        help="politeness: at most this many requests per second to one host "
                             "([network] requests_per_second, 5 by default in the archiver); "
                             "default 0 = off, as the floor, which fetches no data endpoint")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.embeds, [int(x) for x in args.levels.split(",")],
                                      args.latency_ms, args.rps)))
