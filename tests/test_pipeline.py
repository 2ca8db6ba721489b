"""End to end through the library: the fake platform on loopback, the session's Chromium."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.config import Config
from archiver.evidence.verify import verify_directory
from archiver.models import CaptureStatus
from archiver.platforms.twitter import syndication_token
from archiver.store.index import Index
from archiver.store.schema import ArticleRow, CaptureRow, EmbedRow, PostRow
from tests.fakeplatform import FakePlatform
from tests.harness import SEED_IDS, SEED_URL, LoopThread
from tests.harness import archive_run as run

pytestmark = pytest.mark.browser
SITE = "https://news.example.org/site/"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def rows(config: Config, table: type) -> list:
    index = Index(config.storage.effective_database_url)
    try:
        with index.session() as s:
            return list(s.query(table).all())
    finally:
        index.close()


def test_seed_article_end_to_end(browser_loop: LoopThread, config: Config,
                                 fake_platform: FakePlatform) -> None:
    report = run(browser_loop, config, SEED_URL)
    assert report.ok
    assert [a.status for a in report.articles] == ["ok"]
    assert sorted(c.post.post_id for c in report.captures) == sorted(SEED_IDS)
    for capture in report.captures:
        assert capture.status is CaptureStatus.LIVE
        root = config.storage.data_dir / capture.directory
        assert root.parts[-4:-1] == ("captures", "twitter", capture.post.post_id)
        names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        assert names == {"manifest.json", "manifest.sig", "archive-key.pub.pem", "SHA256SUMS",
                         "traffic.warc.gz", "data/tweet-result.json",
                         "data/oembed.json", "embed.png", "embed.html", "embed.txt",
                         "post-page.png", "post-page.html", "post-page.txt"}
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, check=True)
        subprocess.run([str(Path(sys.executable).with_name("warcio")), "check",
                        "traffic.warc.gz"], cwd=root, check=True)
        with (root / "traffic.warc.gz").open("rb") as fh:
            targets = {(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
                       for r in ArchiveIterator(fh)}
        assert ("response", f"https://cdn.syndication.twimg.com/tweet-result?id="
                f"{capture.post.post_id}&lang=en&token="
                f"{syndication_token(capture.post.post_id)}") in targets  # requests' side
        assert any(t == "response" and u.startswith("https://platform.twitter.com/embed/")
                   for t, u in targets)  # the browser's side
        assert ("resource", f"urn:embed-archiver:{capture.capture_id}/embed.png") in targets
        assert verify_directory(config.storage.data_dir, capture.directory, capture.capture_id,
                                capture.manifest_sha256).ok
        manifest = json.loads((root / "manifest.json").read_text())
        assert manifest["status"] == {"status": "live", "reason": None}
        assert manifest["asked"]["requested"] == [SEED_URL]
        assert manifest["asked"]["embeds"][0]["article_url"] == SEED_URL
        assert manifest["how"]["browser"].startswith("Chromium ")
        assert "HeadlessChrome" not in manifest["how"]["user_agent"]
        assert manifest["how"]["config_sha256"] == config.digest()
        assert {p["signal"] for p in manifest["got"]["pages"]} == {"rendered"}
        for page in manifest["got"]["pages"]:  # the chain Chromium verified, server first
            chain = page["tls"]["chain"]
            assert len(chain) == 2 and chain[0]["issuer"] == chain[1]["subject"], chain
            assert chain[1]["subject"].startswith("CN=Embed Archiver Test CA"), chain
        assert all(r["peer_ip"] == "127.0.0.1" for r in manifest["got"]["requests"])
        # the element screenshot is the post card, not the page
        width, height = png_size((root / "embed.png").read_bytes())
        assert 300 <= width <= 560 and 150 <= height <= 900
        text = (root / "embed.txt").read_text()
        assert f"@{capture.data.author}" in text
    pashinyan = next(c for c in report.captures if c.post.post_id == SEED_IDS[0])
    assert "loi martiale" in pashinyan.data.text
    assert pashinyan.post.url == f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"
    # the article response is evidence too
    article_dir = config.storage.data_dir / report.articles[0].directory
    assert "NikolPashinyan" in (article_dir / "body.html").read_text()
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=article_dir, check=True)
    # index: one article, two posts, two embeds in article order, two captures
    assert [a.last_status for a in rows(config, ArticleRow)] == ["ok"]
    embeds = sorted(rows(config, EmbedRow), key=lambda e: e.position)
    assert [e.found_in for e in embeds] == ["blockquote", "blockquote"]
    assert "Pour la patrie" in embeds[0].quoted_text
    assert {p.post_id: p.last_status for p in rows(config, PostRow)} == {
        SEED_IDS[0]: "live", SEED_IDS[1]: "live"}
    assert len(rows(config, CaptureRow)) == 2


def test_a_post_in_two_articles_is_one_post_captured_once(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    fake_platform.reset_log()
    report = run(browser_loop, config, SITE + "shared-a.html", SITE + "shared-b.html")
    assert report.ok
    ids = [c.post.post_id for c in report.captures]
    assert sorted(ids) == sorted(SEED_IDS)  # Pashinyan once, though both articles embed it
    assert fake_platform.count("cdn.syndication.twimg.com",
                               f"/tweet-result?id={SEED_IDS[0]}") == 1
    posts = {p.post_id: p for p in rows(config, PostRow)}
    embeds = [e for e in rows(config, EmbedRow) if e.post_row_id == posts[SEED_IDS[0]].id]
    assert len(embeds) == 2
    pashinyan = next(c for c in report.captures if c.post.post_id == SEED_IDS[0])
    manifest = json.loads((config.storage.data_dir / pashinyan.directory / "manifest.json")
                          .read_text())
    assert {e["article_url"] for e in manifest["asked"]["embeds"]} == {
        SITE + "shared-a.html", SITE + "shared-b.html"}


def test_deleted_post_is_recorded_as_deleted_with_its_evidence(
        browser_loop: LoopThread, config: Config) -> None:
    report = run(browser_loop, config, SITE + "deleted-post.html")
    by_id = {c.post.post_id: c for c in report.captures}
    gone = by_id["1310300000000000000"]
    assert gone.status is CaptureStatus.DELETED
    assert "no such post" in gone.reason
    root = config.storage.data_dir / gone.directory
    assert "unavailable" in (root / "embed.txt").read_text().lower()
    assert json.loads((root / "manifest.json").read_text())["got"]["pages"][0]["signal"] == "gone"
    assert by_id[SEED_IDS[0]].status is CaptureStatus.LIVE
    assert report.ok  # establishing that a post is deleted is a completed capture


def test_protected_and_suspended_posts_are_unavailable(browser_loop: LoopThread,
                                                       config: Config) -> None:
    report = run(browser_loop, config, SITE + "unavailable.html")
    reasons = {c.post.post_id: (c.status, c.reason) for c in report.captures}
    assert reasons["1310400000000000000"][0] is CaptureStatus.UNAVAILABLE
    assert reasons["1310500000000000000"] == (CaptureStatus.UNAVAILABLE,
                                              "This Post is from a suspended account. Learn more")


def test_rate_limit_is_a_failure_with_a_reason_never_an_empty_success(
        browser_loop: LoopThread, config: Config) -> None:
    report = run(browser_loop, config, SITE + "ratelimited.html")
    (capture,) = report.captures
    assert capture.status is CaptureStatus.FAILED
    assert "429" in capture.reason
    assert not report.ok
    manifest = json.loads((config.storage.data_dir / capture.directory / "manifest.json")
                          .read_text())
    assert manifest["status"]["status"] == "failed"
    assert manifest["got"]["requests"][0]["status"] == 429


def test_a_login_wall_is_recorded_as_such_never_as_the_post(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    fake_platform.post_page_mode = "login_wall"
    report = run(browser_loop, config, f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}")
    (capture,) = report.captures
    assert capture.status is CaptureStatus.LIVE  # the embed render and the data showed it
    manifest = json.loads((config.storage.data_dir / capture.directory / "manifest.json")
                          .read_text())
    post_page = next(p for p in manifest["got"]["pages"] if p["role"] == "post-page")
    assert post_page["signal"] == "gone"
    assert "Log in" in post_page["detail"]
    assert post_page["screenshot"] == "full" and post_page["clip"] is None
    # the embed's post was still and in view: clipped from the page, at a recorded box
    embed = next(p for p in manifest["got"]["pages"] if p["role"] == "embed")
    png = (config.storage.data_dir / capture.directory / "embed.png").read_bytes()
    scale = config.browser.device_scale_factor
    assert embed["screenshot"] == "element"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (
        round(embed["clip"]["width"] * scale), round(embed["clip"]["height"] * scale))


def test_a_post_url_is_captured_directly(browser_loop: LoopThread, config: Config,
                                         fake_platform: FakePlatform) -> None:
    fake_platform.reset_log()
    url = f"https://mobile.twitter.com/LaurenceBroers/status/{SEED_IDS[1]}?s=20&t=abc"
    report = run(browser_loop, config, url)
    assert report.articles == ()
    (capture,) = report.captures
    assert capture.status is CaptureStatus.LIVE
    assert capture.post.url == f"https://x.com/LaurenceBroers/status/{SEED_IDS[1]}"
    assert fake_platform.count("news.example.org") == 0


def test_a_rerun_adds_captures_and_never_touches_earlier_ones(
        browser_loop: LoopThread, config: Config) -> None:
    first = run(browser_loop, config, SEED_URL)
    before = {c.directory: (config.storage.data_dir / c.directory / "manifest.json").read_bytes()
              for c in first.captures}
    second = run(browser_loop, config, SEED_URL)
    assert {c.directory for c in second.captures}.isdisjoint(before)
    for directory, manifest in before.items():
        assert (config.storage.data_dir / directory / "manifest.json").read_bytes() == manifest
    assert len(rows(config, CaptureRow)) == 4
    assert len(rows(config, ArticleRow)) == 1


def test_article_failures_are_recorded_and_the_batch_goes_on(
        browser_loop: LoopThread, config: Config) -> None:
    report = run(browser_loop, config, "https://news.example.org/missing",
                 "https://news.example.org/report.pdf", SITE + "no-embeds.html", SEED_URL)
    status = {a.url.rsplit("/", 1)[-1] or "seed": (a.status, a.error) for a in report.articles}
    assert status["missing"][0] == "failed" and "HTTP 404" in status["missing"][1]
    assert status["report.pdf"][0] == "failed" and "application/pdf" in status["report.pdf"][1]
    assert status["no-embeds.html"] == ("no_embeds", None)
    assert len(report.captures) == 2 and all(c.status.completed for c in report.captures)
    assert not report.ok
    recorded = {a.url: a.last_status for a in rows(config, ArticleRow)}
    assert recorded["https://news.example.org/missing"] == "failed"


def test_without_the_loopback_allowance_nothing_is_fetched(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    from dataclasses import replace

    guarded = replace(config, network=replace(config.network, allow_networks=()))
    fake_platform.reset_log()
    report = run(browser_loop, guarded, SEED_URL,
                 f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}")
    assert report.articles[0].status == "failed"
    assert "non-public" in report.articles[0].error
    (capture,) = report.captures
    assert capture.status is CaptureStatus.FAILED
    assert "non-public" in capture.reason
    assert fake_platform.log == []  # refused before any byte was sent, browser included


def test_short_links_are_resolved_by_one_recorded_lookup(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    fake_platform.reset_log()
    report = run(browser_loop, config, SITE + "shortlinks.html")
    (article,) = report.articles
    assert [(e.raw_url, e.post.post_id if e.post else None) for e in article.embeds] == [
        ("https://t.co/AbC123xyz", SEED_IDS[0]), ("https://t.co/dead404", None),
        ("https://vm.tiktok.com/ZMhvqK7aB/", "7312345678901234567"),
        ("https://fb.watch/nQ2x7Lz9Ab/", "1234567890123456")]
    assert fake_platform.count("t.co") == 2  # one lookup each; the link in prose: none
    assert fake_platform.count("vm.tiktok.com") == fake_platform.count("fb.watch") == 1
    assert sorted(c.post.platform for c in report.captures) == ["facebook", "tiktok",
                                                                "twitter"]
    assert all(c.status is CaptureStatus.LIVE for c in report.captures)
    manifest = json.loads((config.storage.data_dir / article.directory / "manifest.json")
                          .read_text())
    lookups = {r["url"]: r for r in manifest["got"]["requests"][1:]}
    assert lookups["https://t.co/AbC123xyz"]["status"] == 301
    assert ["Location", f"https://twitter.com/NikolPashinyan/status/{SEED_IDS[0]}"] in \
        lookups["https://t.co/AbC123xyz"]["headers"]
    assert lookups["https://t.co/dead404"]["status"] == 404


def test_a_short_link_answered_429_is_looked_up_again_after_the_wait(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    """t.co asks for a second (429, Retry-After: 1): the lookup waits it out, as data
    endpoints do, and resolves; the article's manifest keeps the 429 with the answer."""
    fake_platform.set_post_state("t.co", "AbC123xyz", "ratelimited_once")
    fake_platform.reset_log()
    report = run(browser_loop, config, SITE + "shortlinks.html")
    (article,) = report.articles
    resolved = {e.raw_url: e.post.post_id if e.post else None for e in article.embeds}
    assert resolved["https://t.co/AbC123xyz"] == SEED_IDS[0]
    assert fake_platform.count("t.co", "/AbC123xyz") == 2
    manifest = json.loads((config.storage.data_dir / article.directory / "manifest.json")
                          .read_text())
    lookup = next(r for r in manifest["got"]["requests"][1:]
                  if r["url"] == "https://t.co/AbC123xyz")
    assert lookup["status"] == 301
    assert [r["status"] for r in lookup["retried"]] == [429]


def test_the_rendered_dom_pass_finds_injected_embeds_and_keeps_the_rendering(
        browser_loop: LoopThread, config: Config) -> None:
    report = run(browser_loop, config, SITE + "injected.html")
    (article,) = report.articles
    seen = [(e.post.post_id, e.found_in, e.found_by) for e in article.embeds if e.post]
    assert seen == [(SEED_IDS[0], "blockquote", ("static", "rendered")),
                    (SEED_IDS[1], "iframe", ("rendered",))]
    assert article.embeds[0].quoted_text.startswith("Sur décision")  # the served text wins
    assert {c.post.post_id for c in report.captures} == set(SEED_IDS)
    root = config.storage.data_dir / article.directory
    assert {"body.html", "response.json", "rendered.html", "article.png"} <= {
        p.name for p in root.iterdir()}
    assert "twitter-tweet-rendered" in (root / "rendered.html").read_text()  # widgets.js ran
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["got"]["pages"][0]["signal"] == "rendered"
    assert verify_directory(config.storage.data_dir, article.directory, "a").ok


def test_the_rendered_pass_can_be_switched_off(browser_loop: LoopThread, config: Config) -> None:
    from dataclasses import replace

    static_only = replace(config, capture=replace(config.capture, render_article=False))
    report = run(browser_loop, static_only, SITE + "injected.html")
    assert [e.post.post_id for e in report.articles[0].embeds] == [SEED_IDS[0]]


def test_an_embed_on_a_private_address_is_refused_with_a_clear_record(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    """The intranet host resolves to a loopback address outside the one allowed: the guard
    refuses it before any byte is sent, and the rest of the article is archived."""
    from dataclasses import replace

    network = replace(config.network, allow_networks=("127.0.0.1/32",),
                      host_map=config.network.host_map | {
                          "social.intranet.example": "127.0.0.2:443"})
    guarded = replace(config, network=network)
    report = run(browser_loop, guarded, SITE + "private-embed.html")
    by_platform = {c.post.platform: c for c in report.captures}
    refused = by_platform["mastodon"]
    assert refused.status is CaptureStatus.FAILED
    assert "social.intranet.example" in refused.reason and "non-public" in refused.reason
    assert by_platform["twitter"].status is CaptureStatus.LIVE
    assert not any(host == "social.intranet.example" for _, host, _ in fake_platform.log)
    recorded = {p.platform: p.last_status for p in rows(guarded, PostRow)}
    assert recorded["mastodon"] == "failed"


def test_the_browser_never_fetches_from_a_refused_address(
        browser_loop: LoopThread, config: Config) -> None:
    from dataclasses import replace

    guarded = replace(config, network=replace(config.network,
                                              allow_networks=("127.0.0.1/32",)))
    report = run(browser_loop, guarded, SITE + "subresources.html")
    (article,) = report.articles
    manifest = json.loads((config.storage.data_dir / article.directory / "manifest.json")
                          .read_text())
    (page,) = manifest["got"]["pages"]
    refused = " ".join(n for n in page["notes"] if n.startswith("refused: "))
    for target in ("127.0.0.2:8443/internal.css", "127.0.0.2:8443/internal.png",
                   "[::1]:8443/admin", "127.0.0.3:8443/metadata"):
        assert target in refused, (target, page["notes"])
    assert "non-public" in refused
    (capture,) = report.captures  # the page's real embed is still archived
    assert capture.status is CaptureStatus.LIVE
