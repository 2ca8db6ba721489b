"""Soak: many captures through the real pipeline on one browser; memory, speed, leftovers.

    .venv/bin/python bench/soak.py [--captures 1000] [--concurrency 0] [--batch 50]

Every capture is of a distinct tweet: the fake platform (loopback HTTPS, in this process)
is given `--captures` tweets up front, and their URLs go through `archive_async` (fetch of
the data endpoints, embed render, the post's own page, WARC, manifest, signature, index) in
runs of `--batch` posts, like the scheduler's runs, all on one shared `BrowserSession`, at
the configured capture concurrency (0: the archiver's default, from the core count).

After each run, psutil samples the resident memory (RSS) of this process (the archiver,
and the fake platform's threads) and of the browser's process tree (Chromium and its
children; PSS too, which counts shared pages once), the number of browser processes, and
this process's open files and threads. Growth is measured from the warm-up sample (after
`--warmup` captures) to the end, in percent (target <= 10 %) and as a least-squares slope.

Samples are taken between runs, when no capture is open: the renderers (one per capture's
context) have exited then, so the browser tree sampled is the browser, its zygotes, GPU and
utility processes; a renderer that outlived its context shows as an extra process.
Growth needs a sample after the warm-up one (`--warmup` below `--captures`), else it says
n/a. Every capture must be `live` (PASS/FAIL line); captures/s counts all of them.

After the browser is closed: no process this run started may be left (children of this
process, any process seen in the browser's tree, any process whose command line names the
browser's own profile directory, and any process started with the session's TMPDIR, the
profile's parent: renderers and the other helpers do not name the profile), and that
profile directory must be gone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from archiver.capture.browser import BrowserSession
from archiver.config import effective_concurrency
from archiver.pipeline import archive_async
from tests.fakeplatform import FakePlatform, start_fake_platform
from tests.harness import make_config

TARGET_GROWTH = 10.0
FIRST_ID = 1_870_000_000_000_000_000
MB = 1024 * 1024


@dataclass
class Sample:
    captures: int
    seconds: float
    py_rss: int
    browser_rss: int
    browser_pss: int
    browser_procs: int
    driver_rss: int
    fds: int
    threads: int


class Tree:
    """This process's children: the Playwright driver, and the browser under it."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.seen: dict[int, float] = {}  # pid -> create time, of every browser process
        self.profile: str | None = None

    def browser_procs(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        """(the browser's processes, this process's own children: the Playwright driver).

        Everything below a child of this process is the browser's (Chromium, its zygotes,
        renderers, GPU and utility processes, crash handler)."""
        direct = self.me.children()
        browser = []
        for child in direct:
            with contextlib.suppress(psutil.Error):
                browser.extend(child.children(recursive=True))
        for proc in browser:
            try:
                self.seen.setdefault(proc.pid, proc.create_time())
                if self.profile is None:
                    for arg in proc.cmdline():
                        if arg.startswith("--user-data-dir="):
                            self.profile = arg.split("=", 1)[1]
            except psutil.Error:
                pass
        return browser, direct

    def sample(self, captures: int, seconds: float) -> Sample:
        browser, other = self.browser_procs()
        rss = pss = 0
        for proc in browser:
            try:
                info = proc.memory_full_info()
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            except psutil.Error:
                pass
        driver = 0
        for proc in other:
            with contextlib.suppress(psutil.Error):
                driver += proc.memory_info().rss
        return Sample(captures, seconds, self.me.memory_info().rss, rss, pss, len(browser),
                      driver, self.me.num_fds(), self.me.num_threads())

    def leftovers(self) -> list[str]:
        """Processes this run started that are still there."""
        found: dict[int, str] = {}
        for proc in self.me.children(recursive=True):
            found[proc.pid] = _describe(proc, "child of this process")
        for pid, created in self.seen.items():
            try:
                proc = psutil.Process(pid)
                if abs(proc.create_time() - created) < 0.01:
                    found.setdefault(pid, _describe(proc, "browser process of this run"))
            except psutil.Error:
                pass
        if self.profile:
            # only the browser's main process names the profile; every process of the
            # session (driver, browser, zygotes, renderers, GPU, utility) was started with
            # the session's own TMPDIR, the profile's parent (archiver/capture/browser.py)
            marker = f"TMPDIR={Path(self.profile).parent}"
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmdline = proc.info.get("cmdline") or []
                if any(self.profile in arg for arg in cmdline):
                    found.setdefault(proc.pid, _describe(proc, "names this run's profile"))
                    continue
                try:
                    with open(f"/proc/{proc.pid}/environ", "rb") as environ:
                        env = environ.read().split(b"\0")
                except OSError:  # gone, or another user's
                    continue
                if os.fsencode(marker) in env and proc.pid != self.me.pid:
                    found.setdefault(proc.pid, _describe(proc, "has this run's TMPDIR"))
        return list(found.values())


def _describe(proc: psutil.Process, why: str) -> str:
    try:
        return f"pid {proc.pid} {proc.name()} [{proc.status()}] ({why})"
    except psutil.Error:
        return f"pid {proc.pid} ({why}, gone meanwhile)"


def add_tweets(fake: FakePlatform, n: int) -> list[str]:
    urls = []
    for i in range(n):
        tweet_id = str(FIRST_ID + i * 4_194_304)  # a millisecond apart in snowflake time
        handle = f"Soak{i % 97}"
        fake.tweets.put({"id": tweet_id, "text": f"Soak dispatch {i}: the river rose again "
                         f"overnight, roads {i % 13} and {i % 7} are closed.",
                         "user": {"screen_name": handle, "name": f"Soak Reporter {i % 97}"}})
        urls.append(f"https://x.com/{handle}/status/{tweet_id}")
    return urls


def slope_per_1000(samples: list[Sample], field: str) -> float:
    """Least-squares growth in MB per 1,000 captures over the samples given."""
    xs = [s.captures for s in samples]
    ys = [getattr(s, field) / MB for s in samples]
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 1000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var \
        else 0.0


def growth(a: int, b: int) -> float:
    return 100.0 * (b - a) / a if a else 0.0


async def soak(args: argparse.Namespace) -> int:
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp, \
            start_fake_platform(Path(tmp) / "net") as fake:
        urls = add_tweets(fake, args.captures)
        config = make_config(fake.host_map(), fake.ca_pem, Path(tmp) / "data",
                             concurrency=args.concurrency)
        concurrency = effective_concurrency(config.capture.concurrency)
        browser = BrowserSession(config.browser, config.network)
        await browser.start()
        assert browser.info is not None
        tree = Tree()
        print(f"{args.captures} captures of distinct tweets, runs of {args.batch}, concurrency "
              f"{concurrency}, {browser.info.executable} (Chromium {browser.info.version}), "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'captures':>8}{'s':>8}{'cap/s':>7}{'py RSS':>9}{'browser RSS':>13}"
              f"{'PSS':>8}{'procs':>6}{'driver':>8}{'fds':>5}{'thr':>5}   (MB)")
        t0 = time.perf_counter()
        done = 0
        samples.append(tree.sample(0, 0.0))
        try:
            for start in range(0, len(urls), args.batch):
                batch = urls[start:start + args.batch]
                report = await archive_async(batch, config, browser=browser)
                if len(report.captures) < len(batch):
                    statuses["not captured"] += len(batch) - len(report.captures)
                for result in report.captures:
                    statuses[str(result.status)] += 1
                    if str(result.status) != "live" and len(failures) < 5:
                        failures.append(f"{result.post.url}: {result.reason}")
                done += len(batch)
                fake.reset_log()  # the fake platform's request log is not the archiver's
                s = tree.sample(done, time.perf_counter() - t0)
                samples.append(s)
                print(f"{s.captures:8}{s.seconds:8.1f}{s.captures / s.seconds:7.2f}"
                      f"{s.py_rss / MB:9.1f}{s.browser_rss / MB:13.1f}{s.browser_pss / MB:8.1f}"
                      f"{s.browser_procs:6}{s.driver_rss / MB:8.1f}{s.fds:5}{s.threads:5}",
                      flush=True)
        finally:
            t_close = time.perf_counter()
            await browser.close()
            t_closed = time.perf_counter()
            close_s = t_closed - t_close
        data_mb = sum(f.stat().st_size for f in (Path(tmp) / "data").rglob("*")
                      if f.is_file()) / MB
        t_teardown = time.perf_counter()
    teardown_s = time.perf_counter() - t_teardown
    # the browser's helpers exit a moment after it; their parent (or init) reaps them
    left = tree.leftovers()
    while left and time.perf_counter() - t_closed < args.grace:
        await asyncio.sleep(0.2)
        left = tree.leftovers()
    gone_s = time.perf_counter() - t_closed
    profile_gone = tree.profile is None or not Path(tree.profile).exists()

    warm = next((s for s in samples if s.captures >= args.warmup), samples[-1])
    end = samples[-1]
    # growth needs a sample after the warm-up one: with --warmup >= --captures the two were
    # the same sample, 0.0 % and PASS
    measured = end.captures > warm.captures
    after = [s for s in samples if s.captures >= warm.captures]
    rate = ((end.captures - warm.captures) / (end.seconds - warm.seconds)
            if end.seconds > warm.seconds else 0.0)
    print()
    print(f"{'':26}{'warm-up':>10}{'end':>10}{'growth':>9}{'slope MB/1000':>15}  target")
    for label, field in (("this process RSS MB", "py_rss"), ("browser tree RSS MB", "browser_rss"),
                         ("browser tree PSS MB", "browser_pss"), ("driver RSS MB", "driver_rss")):
        a, b = getattr(warm, field), getattr(end, field)
        verdict = ("" if field in ("browser_pss", "driver_rss") else
                   "n/a: no sample after the warm-up" if not measured else
                   "PASS" if growth(a, b) <= TARGET_GROWTH else "FAIL")
        print(f"{label:26}{a / MB:10.1f}{b / MB:10.1f}{growth(a, b):8.1f}%"
              f"{slope_per_1000(after, field):15.1f}  {verdict}")
    print(f"{'browser processes':26}{warm.browser_procs:10}{end.browser_procs:10}")
    print(f"{'open files / threads':26}{f'{warm.fds}/{warm.threads}':>10}"
          f"{f'{end.fds}/{end.threads}':>10}")
    print(f"warm-up = after {warm.captures} captures; throughput after it: {rate:.2f} captures/s "
          f"({end.captures / end.seconds:.2f} overall, {end.seconds:.0f} s)")
    live = statuses.get("live", 0)
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
          + f"  {'PASS' if live == done else 'FAIL'}: {live} of {done} captures live (the "
          "captures/s above count every capture, whatever its status)")
    for failure in failures:
        print(f"  not live: {failure}")
    print(f"data dir {data_mb:.0f} MB ({data_mb / max(1, done) * 1024:.0f} KB per capture)")
    print(f"browser closed in {close_s:.2f} s; profile dir {tree.profile or '?'} "
          f"{'removed' if profile_gone else 'STILL THERE'}; {len(tree.seen)} browser processes "
          f"seen at samples; last checked {gone_s:.1f} s after close (an upper bound on when "
          f"they were gone); leftover processes then: {len(left)} "
          f"{'PASS' if not left and profile_gone else 'FAIL'}")
    for line in left:
        print(f"  {line}")
    print(f"processes of the session still running when close had stopped the browser and "
          f"its driver, which close then killed: {browser.killed_at_close} "
          f"{'(an orderly exit)' if not browser.killed_at_close else 'FAIL: not an orderly exit'}")
    print(f"fake platform stopped and temporary files removed in {teardown_s:.1f} s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print("reproduce: .venv/bin/python bench/soak.py " + shlex.join(sys.argv[1:]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=0,
                        help="captures at once (0: the archiver's default for this machine)")
    parser.add_argument("--batch", type=int, default=50,
                        help="posts per archive run; memory is sampled after each")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds the browser's processes have to be gone after close")
    parser.add_argument("--warmup", type=int, default=100,
                        help="captures before the reference sample")
    args = parser.parse_args()
    if args.captures < 1 or args.batch < 1:
        parser.error("--captures and --batch must be positive")
    return asyncio.run(soak(args))


if __name__ == "__main__":
    raise SystemExit(main())
