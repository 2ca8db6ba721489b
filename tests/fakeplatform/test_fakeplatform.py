"""Tests of the offline harness itself: TLS, routing, tweet states, and a real Chromium render."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from archiver.capture.browser import NO_LOOKUP_RULES
from archiver.platforms.twitter import syndication_token
from tests.fakeplatform import FakePlatform

NIKOL = "1310100737619791965"
BROERS = "1310218169743183965"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def fake(fake_platform: FakePlatform) -> Iterator[FakePlatform]:
    """The session fake, put back in its start state after the test."""
    fake_platform.reset()
    yield fake_platform
    fake_platform.reset()


def syndication(tweet_id: str) -> str:
    return (f"https://cdn.syndication.twimg.com/tweet-result?id={tweet_id}&lang=en"
            f"&token={syndication_token(tweet_id)}")


def test_tls_verifies_against_test_ca(fake: FakePlatform) -> None:
    context = ssl.create_default_context(cafile=str(fake.ca_pem))
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="x.com") as tls:
        cert = tls.getpeercert() or {}
        names = {str(entry[1]) for entry in cert.get("subjectAltName", ()) if entry[0] == "DNS"}
        assert set(fake.hosts) <= names
        tls.sendall(b"GET /NikolPashinyan/status/" + NIKOL.encode()
                    + b" HTTP/1.1\r\nHost: x.com\r\nConnection: close\r\n\r\n")
        assert tls.recv(12) == b"HTTP/1.1 200"
    # a client that does not trust the test CA refuses the server
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(
            raw, server_hostname="x.com")


def test_syndication_checks_token_and_answers_json(fake: FakePlatform) -> None:
    wrong = fake.fetch(f"https://cdn.syndication.twimg.com/tweet-result?id={NIKOL}&token=abc")
    assert wrong.status == 400
    missing = fake.fetch(f"https://cdn.syndication.twimg.com/tweet-result?id={NIKOL}")
    assert missing.status == 400
    ok = fake.fetch(syndication(BROERS))
    assert ok.status == 200
    assert ok.headers["content-type"] == "application/json;charset=utf-8"
    assert ok.headers["access-control-allow-origin"] == "*"
    data = json.loads(ok.body)
    assert data["__typename"] == "Tweet" and data["id_str"] == BROERS
    assert data["user"]["screen_name"] == "LaurenceBroers"
    assert data["created_at"] == "2020-09-27T14:02:09.000Z"
    assert data["mediaDetails"][0]["media_url_https"].startswith("https://pbs.twimg.com/media/")
    visible = data["text"][: data["display_text_range"][1]]
    assert visible.endswith("mercenaires syriens. 6/9")
    nikol = json.loads(fake.fetch(syndication(NIKOL)).body)
    assert "Pour la patrie, pour la victoire." in nikol["text"]
    assert nikol["entities"]["hashtags"][0]["text"] == "Arménie"
    assert fake.count("cdn.syndication.twimg.com", "/tweet-result?id=" + BROERS) == 1


def test_delete_and_edit_at_run_time(fake: FakePlatform) -> None:
    fake.tweets.delete(NIKOL)
    assert fake.fetch(syndication(NIKOL)).status == 404
    page = fake.fetch(f"https://x.com/NikolPashinyan/status/{NIKOL}")
    assert page.status == 200 and b'data-testid="error-detail"' in page.body
    fake.tweets.set_state(NIKOL, "live")
    fake.tweets.edit(NIKOL, "Texte modifié.")
    data = json.loads(fake.fetch(syndication(NIKOL)).body)
    assert data["text"] == "Texte modifié." and data["isEdited"] is True


def test_latency_delays_every_answer(fake: FakePlatform) -> None:
    """The benchmarks' simulated round trip: a lower bound only, so it cannot flake."""
    import time

    fake.latency = 0.3
    t0 = time.monotonic()
    assert fake.fetch(syndication(BROERS)).status == 200
    assert time.monotonic() - t0 >= 0.3
    fake.reset()
    assert fake.latency == 0.0


@pytest.mark.parametrize(("tweet_id", "result", "oembed", "page_marker"), [
    ("1310300000000000000", 404, 404, b'data-testid="error-detail"'),
    ("1310400000000000000", 404, 403, b"These posts are protected"),
    ("1310500000000000000", 200, 403, b"Account suspended"),
    ("1310600000000000000", 429, 429, b"Something went wrong"),
    ("1999999999999999999", 404, 404, b'data-testid="error-detail"'),
])
def test_unavailable_states(fake: FakePlatform, tweet_id: str, result: int, oembed: int,
                            page_marker: bytes) -> None:
    answer = fake.fetch(syndication(tweet_id))
    assert answer.status == result
    if result == 200:
        assert json.loads(answer.body)["__typename"] == "TweetTombstone"
    if result == 429:
        assert answer.headers["retry-after"] == "60"
    target = quote(f"https://twitter.com/i/status/{tweet_id}", safe="")
    assert fake.fetch(f"https://publish.twitter.com/oembed?url={target}").status == oembed
    page = fake.fetch(f"https://x.com/i/status/{tweet_id}")
    assert page.status == 200 and page_marker in page.body
    assert b'data-testid="tweet"' not in page.body


def test_oembed_redirects_and_login_wall(fake: FakePlatform) -> None:
    target = quote(f"https://twitter.com/NikolPashinyan/status/{NIKOL}", safe="")
    data = json.loads(fake.fetch(f"https://publish.x.com/oembed?url={target}&omit_script=1").body)
    assert data["author_name"] == "Nikol Pashinyan" and data["type"] == "rich"
    assert "&mdash; Nikol Pashinyan (@NikolPashinyan)" in data["html"]
    assert "September 27, 2020</a>" in data["html"] and "<script" not in data["html"]
    moved = fake.fetch(f"https://mobile.twitter.com/NikolPashinyan/status/{NIKOL}?s=20")
    assert moved.status == 301
    assert moved.headers["location"] == f"https://x.com/NikolPashinyan/status/{NIKOL}?s=20"
    assert b'<article data-testid="tweet"' in fake.fetch(f"https://x.com/nikolpashinyan/status/"
                                                         f"{NIKOL}").body
    fake.post_page_mode = "login_wall"
    wall = fake.fetch(f"https://x.com/NikolPashinyan/status/{NIKOL}").body
    assert b'data-testid="login-wall"' in wall and b"<article" not in wall


def test_unknown_host_is_misdirected(fake: FakePlatform) -> None:
    assert fake.fetch("https://api.twitter.com/1.1/statuses/show.json").status == 421
    assert fake.fetch("https://x.com/", headers={"Host": "example.com"}).status == 421


def test_news_site_routes(fake: FakePlatform) -> None:
    seed = fake.fetch("https://news.example.org/2020/09/28/violents-combats-azerbaidjan-armenie/")
    assert seed.status == 200 and b"blockquote class=\"twitter-tweet\"" in seed.body
    assert fake.fetch("https://news.example.org/site/shared-b.html").status == 200
    assert fake.fetch("https://news.example.org/site/../seed/article.html").status == 404
    assert fake.fetch("https://news.example.org/missing").status == 404
    assert fake.fetch("https://news.example.org/loop").headers["location"] == "/loop2"
    pdf = fake.fetch("https://news.example.org/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body.startswith(b"%PDF-")
    latin = fake.fetch("https://news.example.org/latin1")
    assert latin.headers["content-type"] == "text/html; charset=iso-8859-1"
    assert "République".encode("iso-8859-1") in latin.body
    meta = fake.fetch("https://news.example.org/meta-charset")
    assert meta.headers["content-type"] == "text/html" and b"d\x92appelle" not in meta.body
    assert b"J\x92appelle" in meta.body
    huge = fake.fetch("https://news.example.org/huge", method="HEAD")
    assert huge.headers["content-length"] == str(30 * 1024 * 1024)


def test_command_line_entry_point(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakeplatform", "--dir", str(tmp_path)],
                            cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["host_map"]["x.com"] == f"127.0.0.1:{info['port']}"
        assert Path(info["ca_pem"]).is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@pytest.mark.browser
def test_chromium_renders_embeds(fake: FakePlatform) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        # Every platform host is mapped to this loopback server by --host-resolver-rules, any
        # other name fails inside Chromium (no DNS query leaves), and only the test CA's key
        # is trusted: the goto calls below cannot leave 127.0.0.1.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync",
            f"--host-resolver-rules={', '.join([fake.host_resolver_rules(), *NO_LOOKUP_RULES])}",
            f"--ignore-certificate-errors-spki-list={fake.pki.spki_sha256}"])
        try:
            page = browser.new_context(viewport={"width": 600, "height": 900}).new_page()
            page.goto(f"https://platform.twitter.com/embed/Tweet.html?id={BROERS}&lang=en")
            article = page.wait_for_selector('article[data-testid="tweet"]', timeout=10_000)
            images = page.eval_on_selector_all(
                'article[data-testid="tweet"] img', "els => els.map(e => e.naturalWidth)")
            assert len(images) == 2 and all(width > 0 for width in images)
            assert "@LaurenceBroers" in article.inner_text()
            assert page.inner_text('[data-testid="tweetText"]').endswith("syriens. 6/9")
            article.screenshot(path="/tmp/fake-tweet.png")
            tokens = page.evaluate(
                "ids => ids.map(id => ((Number(id) / 1e15) * Math.PI).toString(36)"
                ".replace(/(0+|\\.)/g, ''))", fake.tweets.ids())
            assert tokens == [syndication_token(i) for i in fake.tweets.ids()]

            page.goto("https://platform.twitter.com/embed/Tweet.html?id=1310300000000000000")
            page.wait_for_selector('[data-testid="tweet-unavailable"]', timeout=5_000)
            page.goto("https://platform.twitter.com/embed/Tweet.html?id=1310500000000000000")
            page.wait_for_selector('[data-testid="tombstone"]', timeout=5_000)

            page.goto("https://news.example.org/2020/09/28/violents-combats-azerbaidjan-armenie/")
            page.wait_for_selector("iframe.twitter-tweet-rendered >> nth=1", timeout=5_000)
            ids = page.eval_on_selector_all("iframe.twitter-tweet-rendered",
                                            "els => els.map(e => e.dataset.tweetId)")
            assert ids == [NIKOL, BROERS]
            frame = page.frame_locator("iframe.twitter-tweet-rendered >> nth=0")
            frame.locator('article[data-testid="tweet"]').wait_for(timeout=5_000)
        finally:
            browser.close()
