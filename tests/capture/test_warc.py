"""WARC recording: `requests` exchanges and a real Chromium HAR become WARC/1.1 records
that `warcio check` accepts and pywb, on loopback, replays as the page that was served."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.pages import render_page
from archiver.capture.warc import URN_PREFIX, WarcWriter, page_records, stored_headers
from archiver.config import NetworkConfig
from archiver.models import HttpExchange, PostRef
from archiver.net import Http
from archiver.platforms import by_name
from tests.fakeplatform import FakePlatform
from tests.harness import SEED_IDS, LoopThread

BIN = Path(sys.executable).parent  # the venv's bin: warcio, wayback
POST = PostRef("twitter", SEED_IDS[0], f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}",
               "NikolPashinyan")
EMBED_URL = f"https://platform.twitter.com/embed/Tweet.html?id={SEED_IDS[0]}&dnt=true&lang=en"
TWEET = 'article[data-testid="tweet"]'


def records(path: Path) -> list[dict[str, Any]]:
    """Every record as headers (name -> value, plus 'version' and 'http') and payload."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            fields = dict(rec.rec_headers.headers)
            fields["version"] = rec.rec_headers.protocol
            fields["http"] = rec.http_headers
            fields["payload"] = rec.content_stream().read()
            out.append(fields)
    return out


def warcio_check(path: Path) -> None:
    done = subprocess.run([str(BIN / "warcio"), "check", "-v", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digest pass" in done.stdout


def fetch_exchanges(net_config: NetworkConfig) -> list[HttpExchange]:
    """What a capture fetches with requests, plus a redirecting URL."""
    http = Http(net_config)
    try:
        urls = [r.url for r in by_name("twitter").data_requests(POST)]
        return [http.get(u) for u in [*urls, f"https://twitter.com/NikolPashinyan/status/"
                                             f"{SEED_IDS[0]}"]]
    finally:
        http.close()


# -- requests exchanges and sidecar records (no browser) ------------------------------------
def test_exchanges_and_sidecars(net_config: NetworkConfig, tmp_path: Path) -> None:
    exchanges = fetch_exchanges(net_config)
    writer = WarcWriter("cap1", "embed-archiver/test", filename="cap1.warc.gz")
    for exchange in exchanges:
        writer.add_exchange(exchange)
    writer.add_resource("embed.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")
    writer.add_metadata("manifest.json", b'{"capture_id": "cap1"}\n', "application/json")
    path = tmp_path / "cap1.warc.gz"
    path.write_bytes(writer.to_bytes())
    warcio_check(path)

    recs = records(path)
    assert all(r["version"] == "WARC/1.1" for r in recs)
    assert recs[0]["WARC-Type"] == "warcinfo" and recs[0]["WARC-Filename"] == "cap1.warc.gz"
    assert b"capture-id: cap1" in recs[0]["payload"]
    assert [r["WARC-Type"] for r in recs[1:]] == ["response", "request"] * 3 + [
        "metadata", "resource", "metadata"]
    by_id = {r["WARC-Record-ID"]: r for r in recs}
    for response, request in zip(recs[1:7:2], recs[2:7:2], strict=True):
        assert response["WARC-IP-Address"] == "127.0.0.1"
        assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"]
        assert request["WARC-Target-URI"] == response["WARC-Target-URI"]
        assert request["http"].protocol == "GET"
        assert any(k == "Host" for k, _ in request["http"].headers)
        assert int(response["http"].get_header("Content-Length")) == len(response["payload"])
    assert [r["WARC-Target-URI"] for r in recs[1:7:2]] == [e.final_url for e in exchanges]
    assert recs[1]["payload"] == exchanges[0].body
    assert recs[1]["WARC-Date"].startswith(exchanges[0].started[:19])

    redirect, resource, manifest = recs[7:]
    assert by_id[redirect["WARC-Refers-To"]]["WARC-Target-URI"] == POST.url
    chain = json.loads(redirect["payload"])
    assert chain["redirected_from"] == [f"https://twitter.com/NikolPashinyan/status/{POST.post_id}"]
    assert resource["WARC-Target-URI"] == "urn:embed-archiver:cap1/embed.png"
    assert resource["Content-Type"] == "image/png"
    assert manifest["WARC-Target-URI"] == "urn:embed-archiver:cap1/manifest.json"
    assert all(r["WARC-Warcinfo-ID"] == recs[0]["WARC-Record-ID"] for r in recs[1:])
    assert all(r["WARC-Target-URI"].startswith(URN_PREFIX) for r in recs
               if r["WARC-Type"] in ("resource", "metadata"))
    assert page_records(path.read_bytes()) == [(POST.url, recs[5]["WARC-Date"])]


def test_decoded_bodies_are_stored_with_matching_headers(tmp_path: Path) -> None:
    body = b'{"text": "d\xc3\xa9cod\xc3\xa9"}'
    exchange = HttpExchange(
        "GET", "https://cdn.example/x.json", "https://cdn.example/x.json", 200,
        (("Content-Type", "application/json"), ("Content-Encoding", "br"),
         ("Transfer-Encoding", "chunked"), ("Content-Length", "17")), body,
        peer_ip="203.0.113.7", started="2024-05-01T10:00:00.123Z",
        request_headers=(("Accept-Encoding", "gzip, br"),))
    writer = WarcWriter("cap2", "embed-archiver/test")
    writer.add_exchange(exchange)
    path = tmp_path / "x.warc.gz"
    path.write_bytes(writer.to_bytes())
    warcio_check(path)
    response = records(path)[1]
    assert response["payload"] == body
    assert response["WARC-Date"] == "2024-05-01T10:00:00.123000Z"
    assert response["WARC-IP-Address"] == "203.0.113.7"
    assert response["http"].headers == [
        ("Content-Type", "application/json"),
        ("X-Archiver-Original-Content-Encoding", "br"),
        ("X-Archiver-Original-Transfer-Encoding", "chunked"),
        ("X-Archiver-Original-Content-Length", "17"),
        ("Content-Length", str(len(body)))]
    # a POST's body is held only when given; without it the request claims none
    post = HttpExchange("POST", "https://a.example/q", "https://a.example/q", 200, (), b"",
                        request_headers=(("Content-Length", "7"),))
    writer = WarcWriter("cap2", "embed-archiver/test")
    writer.add_exchange(post, request_body=b"q=embed")
    writer.add_exchange(post)
    path.write_bytes(writer.to_bytes())
    warcio_check(path)
    with_body, without = (r for r in records(path) if r["WARC-Type"] == "request")
    assert with_body["payload"] == b"q=embed"
    assert with_body["http"].headers == [("Host", "a.example"), ("Content-Length", "7")]
    assert without["payload"] == b""
    assert without["http"].headers == [("Host", "a.example"),
                                       ("X-Archiver-Original-Content-Length", "7"),
                                       ("Content-Length", "0")]
    # HTTP/2: pseudo-headers dropped, :authority becomes Host, the protocol kept aside
    protocol, headers = stored_headers(
        [(":authority", "x.com"), (":path", "/"), ("accept", "*/*")], 0, "HTTP/2.0")
    assert protocol == "HTTP/1.1"
    assert headers == [("Host", "x.com"), ("accept", "*/*"),
                       ("X-Archiver-Original-Protocol", "HTTP/2.0")]
    # a matching length stays where it was; nothing is added to a bodiless request
    assert stored_headers([("Content-Length", "3")], 3)[1] == [("Content-Length", "3")]
    assert stored_headers([("Accept", "*/*")], 0)[1] == [("Accept", "*/*")]


def _har_entry(url: str, status: int, **extra: Any) -> dict[str, Any]:
    content = {"size": 5, "mimeType": "image/png", "encoding": "base64",
               "text": base64.b64encode(b"\x89PNG\x00").decode()}
    return {"startedDateTime": "2024-05-01T10:00:01.000Z", "serverIPAddress": "[::1]",
            "request": {"method": "GET", "url": url, "httpVersion": "h3",
                        "headers": [{"name": ":authority", "value": "pbs.twimg.com"}]},
            "response": {"status": status, "statusText": "", "httpVersion": "h3",
                         "headers": [{"name": "content-type", "value": "image/png"}],
                         "content": content}, **extra}


def test_har_entries_without_response_are_noted(tmp_path: Path) -> None:
    har = {"log": {"entries": [
        _har_entry("https://pbs.twimg.com/a.png", 200),
        _har_entry("https://pbs.twimg.com/b.png", -1, _wasAborted=True),
        _har_entry("wss://x.com/live", 101, _resourceType="websocket"),
        _har_entry("data:image/png;base64,AAAA", 200),
    ]}}
    writer = WarcWriter("cap3", "embed-archiver/test")
    assert writer.add_har(har) == 1
    path = tmp_path / "har.warc.gz"
    path.write_bytes(writer.to_bytes())
    warcio_check(path)
    _, response, request, notes = records(path)
    assert response["payload"] == b"\x89PNG\x00"
    assert response["WARC-IP-Address"] == "::1"
    assert response["http"].statusline == "200 OK"
    assert response["http"].get_header("X-Archiver-Original-Protocol") == "h3"
    assert request["http"].get_header("Host") == "pbs.twimg.com"
    assert notes["WARC-Type"] == "metadata"
    assert notes["WARC-Target-URI"] == "urn:embed-archiver:cap3/har/1/notes.json"
    skipped = {n["url"]: n["skipped"] for n in json.loads(notes["payload"])}
    assert skipped == {"https://pbs.twimg.com/b.png": "no response: aborted",
                       "wss://x.com/live": "not an http(s) URL (wss)",
                       "data:image/png;base64,AAAA": "not an http(s) URL (data)"}


# -- a real Chromium capture, then replay in pywb --------------------------------------------
@dataclass(frozen=True)
class Recorded:
    path: Path
    har_entries: int
    screenshot: bytes


async def _record(loop: LoopThread, har_path: Path) -> bytes:
    """Render the embed page as a capture does, in a context that records a HAR."""
    session = loop.browser
    assert session._browser is not None and session.info is not None
    context = await session._browser.new_context(
        record_har_path=str(har_path), record_har_content="embed",
        user_agent=session.info.user_agent, service_workers="block",
        viewport={"width": session.config.viewport_width,
                  "height": session.config.viewport_height})
    try:
        spec = by_name("twitter").pages(POST)[0]
        result = await render_page(context, spec, 20)
    finally:
        await context.close()  # the HAR is written now
    assert result.signal == "rendered", result.detail
    assert result.screenshot is not None
    return result.screenshot


@pytest.fixture(scope="module")
def recorded(browser_loop: LoopThread, net_config: NetworkConfig,
             tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    root = tmp_path_factory.mktemp("warc")
    shot = browser_loop.run(_record(browser_loop, root / "embed.har"))
    writer = WarcWriter("cap4", "embed-archiver/test")
    for exchange in fetch_exchanges(net_config):
        writer.add_exchange(exchange)
    count = writer.add_har(json.loads((root / "embed.har").read_text()))
    writer.add_resource("embed.png", shot, "image/png")
    writer.add_metadata("manifest.json", b'{"capture_id": "cap4"}\n', "application/json")
    path = root / "cap4.warc.gz"
    path.write_bytes(writer.to_bytes())
    return Recorded(path, count, shot)


@pytest.mark.browser
def test_browser_traffic_as_records(recorded: Recorded) -> None:
    warcio_check(recorded.path)
    recs = records(recorded.path)
    assert all(r["version"] == "WARC/1.1" for r in recs)
    responses = [r for r in recs if r["WARC-Type"] == "response"]
    assert len(responses) == 3 + recorded.har_entries
    assert all(r["WARC-IP-Address"] == "127.0.0.1" for r in responses)
    urls = [r["WARC-Target-URI"] for r in responses]
    assert EMBED_URL in urls
    assert any(u.startswith("https://cdn.syndication.twimg.com/tweet-result") for u in urls[3:])
    assert any(u.startswith("https://pbs.twimg.com/profile_images/") for u in urls)
    embed = next(r for r in responses if r["WARC-Target-URI"] == EMBED_URL)
    assert embed["http"].get_header("Content-Type").startswith("text/html")
    assert b"<!DOCTYPE html>" in embed["payload"]
    request = next(r for r in recs if r.get("WARC-Concurrent-To") == embed["WARC-Record-ID"])
    assert request["http"].get_header("Host") == "platform.twitter.com"
    assert "HeadlessChrome" not in request["http"].get_header("User-Agent")
    sidecars = [r for r in recs if r["WARC-Type"] in ("resource", "metadata")]
    assert {r["WARC-Target-URI"] for r in sidecars} >= {
        "urn:embed-archiver:cap4/embed.png", "urn:embed-archiver:cap4/manifest.json"}
    assert all(r["WARC-Target-URI"].startswith(URN_PREFIX) for r in sidecars)
    assert any(url == EMBED_URL for url, _ in page_records(recorded.path.read_bytes()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def pywb(recorded: Recorded, tmp_path: Path) -> Iterator[str]:
    """pywb on 127.0.0.1 serving one collection, `cap`, that holds the WARC; its base URL.

    The collection is the directory layout `wb-manager init` makes; `--autoindex` indexes
    it at start (one process instead of `wb-manager add` and then `wayback`)."""
    archive = tmp_path / "collections" / "cap" / "archive"
    archive.mkdir(parents=True)
    shutil.copy(recorded.path, archive / recorded.path.name)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "wayback.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "wayback"), "--bind", "127.0.0.1", "--port", str(port), "--autoindex",
             "-d", str(tmp_path)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        query = f"{base}/cap/cdx?output=json&url={quote(EMBED_URL, safe='')}"
        deadline = time.monotonic() + 30
        while True:  # ready once pywb has indexed the WARC and answers for the page
            try:
                with urllib.request.urlopen(query, timeout=2) as answer:
                    if EMBED_URL.encode() in answer.read():
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"pywb not ready:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


async def _replay(loop: LoopThread, url: str, base: str, shot_path: Path
                  ) -> tuple[str, list[str]]:
    """Open `url` in a fresh context; only pywb may answer. (article text, refused URLs)"""
    refused: list[str] = []
    context = await loop.browser.new_context()
    try:
        async def only_pywb(route: Any) -> None:
            if route.request.url.startswith(base):
                await route.continue_()
            else:
                refused.append(route.request.url)
                await route.abort()

        await context.route("**/*", only_pywb)
        page = await context.new_page()
        await page.goto(url, wait_until="domcontentloaded")
        article = page.frame_locator("iframe#wb_iframe, iframe").first.locator(TWEET)
        await article.wait_for(timeout=15_000)
        await article.locator("img").first.wait_for()
        await page.wait_for_load_state("load")
        with contextlib.suppress(PlaywrightTimeout):  # cosmetic: pywb's banner spinner
            await page.locator('[data-loading-spinner="circle1"]').wait_for(
                state="hidden", timeout=3_000)
        await page.screenshot(path=str(shot_path))
        return await article.inner_text(), refused
    finally:
        await context.close()


@pytest.mark.browser
def test_pywb_replays_the_embed(recorded: Recorded, pywb: str, browser_loop: LoopThread,
                                fake_platform: FakePlatform, tmp_path: Path) -> None:
    (_, date), = [p for p in page_records(recorded.path.read_bytes()) if p[0] == EMBED_URL]
    stamp = re.sub(r"\D", "", date)[:14]
    served_before = len(fake_platform.log)
    shot = tmp_path / "replay.png"
    text, refused = browser_loop.run(_replay(browser_loop, f"{pywb}/cap/{stamp}/{EMBED_URL}",
                                             pywb, shot))
    assert "loi martiale" in text
    assert "@NikolPashinyan" in text
    assert refused == []  # everything came out of the WARC, through pywb
    assert len(fake_platform.log) == served_before
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_records_reads_only_html_responses() -> None:
    writer = WarcWriter("cap5", "embed-archiver/test")
    writer.add_resource("embed.html", b"<html></html>", "text/html")
    assert page_records(writer.to_bytes()) == []
    assert page_records(io.BytesIO(b"").getvalue()) == []
