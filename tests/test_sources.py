"""Source readers: the sources file, feed / sitemap / list parsing, hostile input, and
listings end to end through the loopback fake platform."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver import sources
from archiver.config import Config, NetworkConfig
from archiver.errors import ConfigError, FetchError
from archiver.net import Http
from archiver.sources import (
    SourceConfig,
    SourceEntry,
    SourceError,
    list_entries,
    load_sources,
    parse_feed,
    parse_sitemap,
    parse_sources,
    parse_url_list,
)
from tests.fakeplatform.feeds import Item, atom, rss, sitemap, sitemap_index

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
NEWS = "https://news.example.org"
T0 = datetime(2026, 11, 24, 3, 10, tzinfo=UTC)
PASSWD_MARKER = "root:"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def urls(entries: list[SourceEntry] | tuple[SourceEntry, ...]) -> list[str]:
    return [e.url for e in entries]


# -- feeds -------------------------------------------------------------------------------------
def test_wordpress_rss2_feed() -> None:
    entries, notes = parse_feed(fixture("wordpress-rss2.xml"), f"{NEWS}/feed/")
    assert notes == []
    assert urls(entries) == [
        f"{NEWS}/2026/11/24/ministers-post-martial-law/",
        f"{NEWS}/2026/11/23/floods-day-in-pictures/",
        f"{NEWS}/2026/11/20/election-night-live/",  # fragment dropped
        f"{NEWS}/2026/11/18/why-embeds-break/",
    ]
    first, second, third, _ = entries
    assert first.title == "Minister’s post on martial law draws “outrage”"
    assert first.published == "2026-11-24T03:10:00Z"
    assert first.updated is None  # no fallback from updated to published
    assert second.title == "Floods: the day in pictures & video"
    assert second.published == "2026-11-24T03:45:00Z"  # -0500 converted to UTC
    assert third.published == "2026-11-20T18:00:00Z"  # +0100


def test_rdf_rss1_feed_in_latin1() -> None:
    entries, notes = parse_feed(fixture("rdf-rss1.xml"), "https://regional.example.de/rss.rdf")
    assert notes == []
    assert [(e.url, e.title, e.published, e.updated) for e in entries] == [
        ("https://regional.example.de/artikel/strassenbahn-1234.html",
         "Straßenbahn: Bürger protestieren", None, "2026-11-24T06:15:00Z"),
        ("https://regional.example.de/artikel/wahl-1233.html", "Wahl im Kreistag", None,
         "2026-11-23T00:00:00Z"),
    ]


def test_atom_feed_with_xml_base_and_relative_links() -> None:
    entries, notes = parse_feed(fixture("atom-blog.xml"), "https://blog.example.com/atom")
    assert urls(entries) == [
        "https://blog.example.com/journal/2026/convoy-video",  # feed-level xml:base
        "https://mirror.example.net/archive/ep12.html",  # entry xml:base, alternate link
        "https://blog.example.com/journal/2026/notes-only",  # an http(s) id
    ]
    assert entries[0].published == "2026-11-24T08:00:00Z"
    assert entries[0].updated == "2026-11-24T08:30:00Z"
    assert entries[2].updated == "2026-11-20T16:00:00Z"
    assert len(notes) == 1 and "Draft that only has a tag id" in notes[0]


def test_relative_links_resolve_against_the_document_url() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title>'
            b"<item><link>/2026/a</link></item><item><link>b?x=1</link></item>"
            b"</channel></rss>")
    entries, _ = parse_feed(body, f"{NEWS}/section/feed.xml")
    assert urls(entries) == [f"{NEWS}/2026/a", f"{NEWS}/section/b?x=1"]


@pytest.mark.parametrize("build", [rss, atom])
def test_feed_builders_round_trip(build) -> None:
    items = [Item(f"{NEWS}/a?x=1&y=<2>", "A & <B> \"q\"", T0, T0 + timedelta(hours=1)),
             Item(f"{NEWS}/b", "B", published=T0 - timedelta(days=1))]
    entries, notes = parse_feed(build(items), f"{NEWS}/feed")
    assert notes == []
    assert entries == [
        SourceEntry(f"{NEWS}/a?x=1&y=<2>", "2026-11-24T03:10:00Z", "2026-11-24T04:10:00Z",
                    'A & <B> "q"'),
        SourceEntry(f"{NEWS}/b", "2026-11-23T03:10:00Z", None, "B"),
    ]


def test_guid_permalink_false_url_is_a_fallback_link() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
            b'<guid isPermaLink="false">https://news.example.org/?p=1</guid></item>'
            b"</channel></rss>")
    entries, _ = parse_feed(body, f"{NEWS}/feed")
    assert urls(entries) == [f"{NEWS}/?p=1"]


def test_bozo_feed_with_entries_gives_a_note() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>one <b></title><link>https://news.example.org/1</link></item>"
            b"<item><link>https://news.example.org/2</link></channel></rss>")
    entries, notes = parse_feed(body, f"{NEWS}/feed")
    assert urls(entries) == [f"{NEWS}/1", f"{NEWS}/2"]
    assert len(notes) == 1 and "not well-formed" in notes[0] and "2 entries" in notes[0]


def test_valid_feed_without_items_is_empty_not_an_error() -> None:
    body = b'<rss version="2.0"><channel><title>quiet</title></channel></rss>'
    assert parse_feed(body, f"{NEWS}/feed") == ([], [])


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty document"),
    (b"  \n\t ", "empty document"),
    (b"<?xml version='1.0'?><rss version='2.0'><channel><title>x", "not a readable feed"),
    (bytes(range(256)) * 40, "not a readable feed"),
    (b"\x1f\x8b\x08\x00garbage", "not a readable feed"),
    (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>', "not an RSS or Atom"),
    (b"/etc/passwd", "not a readable feed"),  # bytes naming a file are never opened
])
def test_unreadable_feeds_are_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed(body, f"{NEWS}/feed.xml")
    assert message in str(caught.value) and f"{NEWS}/feed.xml" in str(caught.value)
    assert PASSWD_MARKER not in str(caught.value)


def test_html_served_instead_of_a_feed() -> None:
    with pytest.raises(SourceError, match="is an HTML page, not a feed"):
        parse_feed(fixture("html-not-a-feed.html"), f"{NEWS}/feed/")


def test_feed_xxe_is_refused_and_nothing_leaks(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a")
    for body in (fixture("xxe-feed.xml"),
                 fixture("xxe-feed.xml").replace(b"file:///etc/passwd", secret.as_uri().encode()),
                 # on one line, where feedparser's own DOCTYPE regex would not strip it
                 b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY s SYSTEM "' +
                 secret.as_uri().encode() + b'">]><rss version="2.0"><channel><item>'
                 b"<title>&s;</title><link>https://news.example.org/1</link></item>"
                 b"</channel></rss>"):
        with pytest.raises(SourceError, match="declares the XML entity") as caught:
            parse_feed(body, f"{NEWS}/feed")
        assert "TOP-SECRET" not in str(caught.value) and PASSWD_MARKER not in str(caught.value)


def test_feed_parameter_entity_and_billion_laughs_are_refused() -> None:
    started = time.process_time()  # CPU time: a bomb defused costs little of it
    with pytest.raises(SourceError, match="declares the XML entity 'lol'"):
        parse_feed(fixture("billion-laughs.xml"), f"{NEWS}/feed")
    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM '
            b'"https://evil.example/x.dtd"> %p;]><rss version="2.0"><channel/></rss>')
    with pytest.raises(SourceError, match="declares the XML entity 'p'"):
        parse_feed(body, f"{NEWS}/feed")
    assert time.process_time() - started < 5


@pytest.mark.parametrize(("encoding", "title"), [
    ("windows-1252", "Café “quoted”"), ("shift_jis", "東京のニュース"), ("gb2312", "新闻"),
    ("iso-8859-15", "Prix en €"),
])
def test_feed_encodings_declared_in_the_prolog(encoding: str, title: str) -> None:
    text = (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
            f"<title>t</title><item><title>{title}</title><link>{NEWS}/1</link></item>"
            "</channel></rss>")
    entries, _ = parse_feed(text.encode(encoding), f"{NEWS}/feed")
    assert [e.title for e in entries] == [title]


# -- sitemaps ----------------------------------------------------------------------------------
def test_news_sitemap() -> None:
    kind, entries, children, notes = parse_sitemap(fixture("news-sitemap.xml"),
                                                   f"{NEWS}/news-sitemap.xml")
    assert (kind, children, notes) == ("urlset", [], [])
    assert entries == [
        SourceEntry(f"{NEWS}/2026/11/24/ministers-post-martial-law/", "2026-11-24T03:10:00Z",
                    "2026-11-24T04:02:11Z", "Minister’s post on martial law draws “outrage”"),
        SourceEntry(f"{NEWS}/2026/11/23/floods-day-in-pictures/", "2026-11-23T00:00:00Z",
                    None, "Floods: the day in pictures & video"),
        SourceEntry(f"{NEWS}/2026/11/22/budget-explained/", None, "2026-11-22T10:00:00Z"),
    ]  # the image:loc is not an article


def test_sitemap_builders_round_trip() -> None:
    items = [Item(f"{NEWS}/a?b=1&c=2", "A & B", T0, T0 + timedelta(minutes=5)),
             Item(f"{NEWS}/b", "B")]
    _, entries, _, _ = parse_sitemap(sitemap(items, news=True), f"{NEWS}/s.xml")
    assert entries == [SourceEntry(f"{NEWS}/a?b=1&c=2", "2026-11-24T03:10:00Z",
                                   "2026-11-24T03:15:00Z", "A & B"),
                       SourceEntry(f"{NEWS}/b", title="B")]
    _, plain, _, _ = parse_sitemap(sitemap(items), f"{NEWS}/s.xml")
    assert plain == [SourceEntry(f"{NEWS}/a?b=1&c=2", updated="2026-11-24T03:15:00Z"),
                     SourceEntry(f"{NEWS}/b")]


def test_sitemap_without_namespace_relative_locs_and_bad_ones() -> None:
    body = (b"<urlset><url><loc>/2026/a#top</loc><lastmod>2026-11</lastmod></url>"
            b"<url><loc>mailto:desk@news.example.org</loc></url><url><lastmod>2026</lastmod>"
            b"</url><url><loc>https://news.example.org/b</loc><lastmod>soon</lastmod></url>"
            b"</urlset>")
    kind, entries, _, notes = parse_sitemap(body, f"{NEWS}/sitemap.xml")
    assert kind == "urlset"
    assert entries == [SourceEntry(f"{NEWS}/2026/a", updated="2026-11-01T00:00:00Z"),
                       SourceEntry(f"{NEWS}/b")]
    assert len(notes) == 3 and "mailto:" in notes[0] and "1 unreadable <lastmod>" in notes[2]


@pytest.mark.parametrize(("lastmod", "iso"), [
    ("2026-11-24", "2026-11-24T00:00:00Z"),
    ("2026-11-24T05:10+02:00", "2026-11-24T03:10:00Z"),
    ("2026-11-24T03:10:00.123456Z", "2026-11-24T03:10:00Z"),
    ("2026-11-24T03:10:00", "2026-11-24T03:10:00Z"),  # no zone: taken as UTC
    ("yesterday", None),
])
def test_lastmod_formats(lastmod: str, iso: str | None) -> None:
    body = f"<urlset><url><loc>{NEWS}/a</loc><lastmod>{lastmod}</lastmod></url></urlset>"
    assert parse_sitemap(body.encode(), NEWS)[1][0].updated == iso


def test_sitemap_index() -> None:
    body = sitemap_index([f"{NEWS}/s1.xml", "/s2.xml.gz", "ftp://x.example/s3"], T0)
    kind, entries, children, notes = parse_sitemap(body, f"{NEWS}/sitemap_index.xml")
    assert (kind, entries) == ("sitemapindex", [])
    assert children == [f"{NEWS}/s1.xml", f"{NEWS}/s2.xml.gz"]
    assert len(notes) == 1 and "ftp://" in notes[0]


def test_gzip_sitemap_and_gzip_bomb() -> None:
    body = gzip.compress(sitemap([Item(f"{NEWS}/a")]))
    assert urls(parse_sitemap(body, NEWS)[1]) == [f"{NEWS}/a"]
    bomb = gzip.compress(b"<urlset>" + b" " * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    started = time.process_time()  # CPU time: a bomb defused costs little of it
    with pytest.raises(SourceError, match="inflates past the 1,000,000-byte cap"):
        parse_sitemap(bomb, NEWS, max_bytes=1_000_000)
    assert time.process_time() - started < 5
    with pytest.raises(SourceError, match="truncated gzip"):
        parse_sitemap(body[:-12], NEWS)
    with pytest.raises(SourceError, match="corrupt gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00" + b"\xff" * 40, NEWS)


def test_sitemap_billion_laughs_and_xxe_are_refused() -> None:
    started = time.process_time()  # CPU time: a bomb defused costs little of it
    with pytest.raises(SourceError, match="declares the XML entity 'lol'"):
        parse_sitemap(fixture("billion-laughs.xml"), NEWS)
    body = (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<urlset><url><loc>https://news.example.org/&x;</loc></url></urlset>")
    with pytest.raises(SourceError, match="declares the XML entity 'x'") as caught:
        parse_sitemap(body, NEWS)
    assert PASSWD_MARKER not in str(caught.value)
    assert time.process_time() - started < 5


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty document"),
    (fixture("html-not-a-feed.html"), "is an HTML page, not a sitemap"),
    (fixture("wordpress-rss2.xml"), "root element is <rss>"),
    (b"<urlset><url><loc>https://a.example/</loc></urlset>", "not well-formed XML"),
    (bytes(range(256)) * 40, "not well-formed XML"),
    (b'<?xml version="1.0" encoding="no-such-charset"?><urlset/>', "unknown encoding"),
    (b'<?xml version="1.0" encoding="base64"?><urlset/>', "not a text encoding"),
])
def test_unreadable_sitemaps_are_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_sitemap(body, f"{NEWS}/sitemap.xml")


def test_sitemap_in_shift_jis() -> None:
    text = ('<?xml version="1.0" encoding="Shift_JIS"?>\n<urlset xmlns="http://www.sitemaps.org/'
            'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{NEWS}/jp/1</loc><news:news><news:title>地震速報</news:title>"
            "</news:news></url></urlset>")
    entries = parse_sitemap(text.encode("shift_jis"), NEWS)[1]
    assert [(e.url, e.title) for e in entries] == [(f"{NEWS}/jp/1", "地震速報")]


def test_fifty_thousand_urls_all_read() -> None:
    """The sitemap maximum (50,000 URLs) is read whole and in order. (Its speed, about
    0.6 s, is a benchmark figure, not a test: wall-clock limits flake on a busy machine.)"""
    items = [Item(f"{NEWS}/a/{i}", updated=T0) for i in range(50_000)]
    _, entries, _, _ = parse_sitemap(sitemap(items), NEWS)
    assert len(entries) == 50_000 and entries[-1].url == f"{NEWS}/a/49999"
    assert entries[0].updated is not None


# -- URL lists ---------------------------------------------------------------------------------
def test_url_list_fixture() -> None:
    entries, notes = parse_url_list((FIXTURES / "urls.txt").read_text())
    assert urls(entries) == [
        f"{NEWS}/2026/11/24/ministers-post-martial-law/",
        f"{NEWS}/2026/11/23/floods-day-in-pictures/",
        "https://blog.example.com/journal/2026/convoy-video",
        f"{NEWS}/2026/11/23/floods-day-in-pictures/",  # deduplicated later, by list_entries
    ]
    assert [n.split(":")[0] for n in notes] == ["line 8", "line 9", "line 10"]


def test_url_list_relative_lines_need_a_base_and_notes_are_capped() -> None:
    entries, notes = parse_url_list("/a\n//cdn.example.org/b\n", f"{NEWS}/lists/urls.txt")
    assert urls(entries) == [f"{NEWS}/a", "https://cdn.example.org/b"]
    assert notes == []
    entries, notes = parse_url_list("\ufeff/a\n" + "junk\n" * 5000)
    assert entries == [] and len(notes) == 11 and "4991 more" in notes[-1]
    assert notes[0].startswith("line 1:")


# -- the sources file --------------------------------------------------------------------------
FULL = """
[[source]]
name = "example-news"
kind = "feed"
url = "https://news.example.org/feed.xml"
every = "15m"
enabled = true
max_articles = 50
since = "2026-01-01"

[[source]]
name = "reading_list.v2"
kind = "list"
path = "lists/urls.txt"
cron = "*/30 6-22 * * mon-fri"

[[source]]
name = "one-page"
kind = "page"
url = "https://news.example.org/2026/11/24/a/"
every = "1h"
enabled = false
since = 2026-11-01T00:00:00Z
"""


def test_parse_sources() -> None:
    feed, reading, page = parse_sources(FULL, "sources.toml")
    assert feed == SourceConfig("example-news", "feed", url=f"{NEWS}/feed.xml", every="15m",
                                max_articles=50, since="2026-01-01")
    assert (reading.kind, reading.path, reading.cron, reading.location) == (
        "list", "lists/urls.txt", "*/30 6-22 * * mon-fri", "lists/urls.txt")
    assert page.enabled is False and page.since == "2026-11-01T00:00:00+00:00"
    assert feed.location == f"{NEWS}/feed.xml"


def test_empty_sources_file_and_load_from_disk(tmp_path: Path) -> None:
    assert parse_sources("") == ()
    assert parse_sources("# nothing yet\n") == ()
    path = tmp_path / "sources.toml"
    path.write_text(FULL)
    assert [s.name for s in load_sources(path)] == ["example-news", "reading_list.v2",
                                                      "one-page"]
    with pytest.raises(ConfigError, match=r"sources file not found: .*missing\.toml"):
        load_sources(tmp_path / "missing.toml")
    path.write_text("[[source]\nname=")
    with pytest.raises(ConfigError, match=f"sources file {path} is not valid TOML"):
        load_sources(path)


def test_digest_is_stable_and_covers_every_field() -> None:
    base = SourceConfig("a", "page", url=f"{NEWS}/x", every="1h")
    assert base.digest() == SourceConfig("a", "page", url=f"{NEWS}/x", every="1h").digest()
    assert len(base.digest()) == 64
    changed = [replace(base, **{key: value}) for key, value in (
        ("name", "b"), ("kind", "feed"), ("url", f"{NEWS}/y"), ("path", "p"), ("every", "2h"),
        ("cron", "0 * * * *"), ("enabled", False), ("max_articles", 1), ("since", "2026"))]
    assert len({base.digest(), *(c.digest() for c in changed)}) == 10


def _one(**fields: object) -> str:
    """A sources file with one source: name/kind/url/every defaults, overridden by `fields`."""
    values: dict[str, object] = {"name": "s1", "kind": "feed", "url": f"{NEWS}/feed",
                                 "every": "15m", **fields}
    lines = ["[[source]]"]
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int) or (isinstance(value, str) and value.startswith("=")):
            lines.append(f"{key} = {str(value).removeprefix('=')}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("text", "message"), [
    (_one(evry="15m"), "source 's1': unknown key\\(s\\) evry"),
    (_one(name=None), "source #1: name is missing"),
    (_one(name="has space"), "source #1: name = 'has space' is not"),
    (_one(name="x" * 65), "source #1: name = 'xxx"),
    (_one(name=".."), "source #1: name = '..' is not"),
    (_one(name="=5"), "source #1: name = 5 is not"),
    (_one() + _one(url=f"{NEWS}/other"), "source 's1': name: duplicate name"),
    (_one(kind="rss"), "source 's1': kind = 'rss' is not one of feed, sitemap, list, page"),
    (_one(kind=None), "source 's1': kind is missing"),
    (_one(every=None), "source 's1': every / cron: give exactly one"),
    (_one(cron="0 * * * *"), "source 's1': every / cron: give exactly one"),
    (_one(every="soon"), "source 's1': every = 'soon' is not a duration"),
    (_one(every="30s"), "source 's1': every = '30s' is shorter than 60 s"),
    (_one(every=None, cron="* * * *"), "source 's1': cron = '\\* \\* \\* \\*' is not a 5-field"),
    (_one(every=None, cron="61 * * * *"), "source 's1': cron = '61 \\* \\* \\* \\*' is not"),
    (_one(every=None, cron="0 6 * * 1-5"), "write the day of week with names"),
    (_one(every=None, cron="0 0 31 2 *"), "never fires"),
    (_one(url=None), "source 's1': url is missing \\(kind = 'feed'"),
    (_one(kind="sitemap", url=None), "source 's1': url is missing \\(kind = 'sitemap'"),
    (_one(kind="page", url=None), "source 's1': url is missing \\(kind = 'page'"),
    (_one(kind="list", url=None), "source 's1': url / path: a list needs exactly one"),
    (_one(kind="list", path="urls.txt"), "source 's1': url / path: a list needs exactly one"),
    (_one(path="urls.txt"), "source 's1': path is only for kind = \"list\""),
    (_one(url="ftp://news.example.org/feed"), "url = 'ftp://news.example.org/feed' is not an"),
    (_one(url="news.example.org/feed"), "is not an absolute http\\(s\\) URL"),
    (_one(kind="list", url="file:///etc/passwd"), "is not an absolute http\\(s\\) URL"),
    (_one(max_articles=-1), "source 's1': max_articles = -1 must be 0"),
    (_one(max_articles="5"), "source 's1': max_articles = '5' must be an integer"),
    (_one(max_articles=True), "source 's1': max_articles = True must be an integer"),
    (_one(enabled="yes"), "source 's1': enabled = 'yes' must be true or false"),
    (_one(enabled="=1"), "source 's1': enabled = 1 must be true or false"),
    (_one(url="=5"), "source 's1': url = 5 must be a string"),
    (_one(since="last tuesday"), "source 's1': since = 'last tuesday' is not an ISO date"),
    (_one(since="2026-13-01"), "source 's1': since = '2026-13-01' is not an ISO date"),
    ("sources = []\n" + _one(), "unknown top-level key\\(s\\) sources"),
    ("[network]\nproxy = ''\n", "unknown top-level key\\(s\\) network"),
    ('source = "x"\n', "source must be an array of tables"),
    ("[source]\nname = 'x'\n", "source must be an array of tables"),
    ("[[source]\n", "is not valid TOML"),
])
def test_invalid_sources_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_sources(text, "conf/sources.toml")
    assert str(caught.value).startswith(("conf/sources.toml", "sources file conf/sources.toml"))


def test_valid_variants_are_accepted() -> None:
    for text in (_one(every="1m"), _one(every=None, cron="0 6 * * sun"),
                 _one(since="2026-01-01T06:00:00+02:00"), _one(since="7d"),
                 _one(kind="list", url=f"{NEWS}/urls.txt"), _one(max_articles=0),
                 _one(since="=2026-01-01")):
        assert len(parse_sources(text)) == 1


# -- listings: since, limit, dedupe, order -----------------------------------------------------
@pytest.fixture()
def http(config: Config) -> Iterator[Http]:
    client = Http(config.network)
    yield client
    client.close()


def _feed_source(**fields: object) -> SourceConfig:
    values: dict = {"url": f"{NEWS}/feed.xml", **fields}
    return SourceConfig("news", "feed", every="15m", **values)


MIXED = [
    Item(f"{NEWS}/old", "old", published=T0 - timedelta(days=30)),
    Item(f"{NEWS}/undated-1", "undated 1"),
    Item(f"{NEWS}/new", "new", published=T0),
    Item(f"{NEWS}/new#comments", "duplicate of new", published=T0 - timedelta(days=40)),
    Item(f"{NEWS}/updated-only", "updated only", updated=T0 - timedelta(days=1)),
    Item(f"{NEWS}/mid", "mid", published=T0 - timedelta(days=2), updated=T0),
    Item(f"{NEWS}/undated-2", "undated 2"),
    Item(f"{NEWS}/same-time", "same time as new", published=T0),
]


def test_listing_keeps_document_order_without_a_limit(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/feed.xml", rss(MIXED), "application/rss+xml")
    listing = list_entries(_feed_source(), http)
    assert listing.source == "news" and listing.documents == 1 and listing.notes == ()
    assert urls(listing.entries) == [f"{NEWS}/old", f"{NEWS}/undated-1", f"{NEWS}/new",
                                     f"{NEWS}/updated-only", f"{NEWS}/mid",
                                     f"{NEWS}/undated-2", f"{NEWS}/same-time"]
    assert listing.entries[2].title == "new"  # the first occurrence wins


def test_listing_sorts_newest_first_and_cuts(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/feed.xml", atom(MIXED), "application/atom+xml")
    listing = list_entries(_feed_source(max_articles=6), http)
    assert urls(listing.entries) == [
        f"{NEWS}/new", f"{NEWS}/same-time",  # equal dates keep document order
        f"{NEWS}/updated-only",  # updated, when there is no published date
        f"{NEWS}/mid",  # published (2 days old) wins over its newer updated date
        f"{NEWS}/old", f"{NEWS}/undated-1"]  # undated after dated, in document order
    assert len(list_entries(_feed_source(max_articles=100), http).entries) == 7


def test_since_drops_older_entries_and_keeps_undated(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/feed.xml", rss(MIXED), "application/rss+xml")
    listing = list_entries(_feed_source(since="2026-11-22T12:00:00Z"), http)
    assert urls(listing.entries) == [f"{NEWS}/undated-1", f"{NEWS}/new",
                                     f"{NEWS}/updated-only", f"{NEWS}/undated-2",
                                     f"{NEWS}/same-time"]  # old and mid were published before
    relative = list_entries(_feed_source(since="40h"), http, now=T0 + timedelta(hours=1))
    assert urls(relative.entries) == urls(listing.entries)
    exact = list_entries(_feed_source(since="2026-11-24T05:10:00+02:00"), http)
    assert f"{NEWS}/new" in urls(exact.entries)  # not before: kept


# -- listings end to end -----------------------------------------------------------------------
def test_wordpress_feed_end_to_end(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/feed/", fixture("wordpress-rss2.xml"),
                        "application/rss+xml; charset=UTF-8")
    listing = list_entries(_feed_source(url=f"{NEWS}/feed/", max_articles=2), http)
    assert urls(listing.entries) == [f"{NEWS}/2026/11/23/floods-day-in-pictures/",
                                     f"{NEWS}/2026/11/24/ministers-post-martial-law/"]
    assert fake_platform.count("news.example.org", "/feed/") == 1


@pytest.mark.parametrize(("kind", "status"), [("feed", 404), ("sitemap", 500),
                                              ("list", 410)])
def test_error_status_is_a_clear_error(fake_platform, http, kind: str, status: int) -> None:
    fake_platform.serve(f"{NEWS}/gone.xml", "<h1>Gone</h1>", status=status)
    source = SourceConfig("s", kind, url=f"{NEWS}/gone.xml", every="1h")
    with pytest.raises(SourceError, match=f"{NEWS}/gone.xml answered HTTP {status}") as caught:
        list_entries(source, http)
    assert caught.value.status == status and caught.value.url == f"{NEWS}/gone.xml"


def test_html_page_instead_of_a_feed_end_to_end(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/feed.xml", fixture("html-not-a-feed.html"))
    with pytest.raises(SourceError, match=f"{NEWS}/feed.xml is an HTML page, not a feed"):
        list_entries(_feed_source(), http)


def test_news_sitemap_gzip_end_to_end(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/news.xml.gz", gzip.compress(fixture("news-sitemap.xml")),
                        "application/octet-stream")
    source = SourceConfig("s", "sitemap", url=f"{NEWS}/news.xml.gz", every="1h",
                          max_articles=2)
    listing = list_entries(source, http)
    assert urls(listing.entries) == [f"{NEWS}/2026/11/24/ministers-post-martial-law/",
                                     f"{NEWS}/2026/11/23/floods-day-in-pictures/"]
    assert listing.documents == 1


def test_gzip_bomb_end_to_end(fake_platform, config) -> None:
    bomb = gzip.compress(b"<urlset>" + b"\n" * 30_000_000)
    fake_platform.serve(f"{NEWS}/bomb.xml.gz", bomb, "application/x-gzip")
    client = Http(replace(config.network, max_bytes=2_000_000))
    try:
        with pytest.raises(SourceError, match="inflates past the 2,000,000-byte cap"):
            list_entries(SourceConfig("s", "sitemap", url=f"{NEWS}/bomb.xml.gz", every="1h"),
                         client)
    finally:
        client.close()


def _index(*children: tuple[str, datetime | None]) -> bytes:
    """A sitemap index whose children each have their own lastmod (or none)."""
    rows = "".join(f"<sitemap><loc>{url}</loc>" + (f"<lastmod>{when:%Y-%m-%dT%H:%M:%SZ}"
                                                   "</lastmod>" if when else "") + "</sitemap>"
                   for url, when in children)
    return (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}'
            "</sitemapindex>").encode()


def test_sitemap_index_end_to_end(fake_platform, http) -> None:
    fresh, stale = T0, T0 - timedelta(days=60)
    fake_platform.serve(f"{NEWS}/s/index.xml", _index(
        (f"{NEWS}/s/a.xml", fresh), ("/s/b.xml.gz", fresh), (f"{NEWS}/s/missing.xml", None),
        (f"{NEWS}/s/nested.xml", None), (f"{NEWS}/s/stale.xml", stale)), "application/xml")
    fake_platform.serve(f"{NEWS}/s/a.xml", sitemap([Item(f"{NEWS}/a1", updated=T0),
                                                    Item(f"{NEWS}/shared")]), "text/xml")
    fake_platform.serve(f"{NEWS}/s/b.xml.gz", gzip.compress(sitemap(
        [Item(f"{NEWS}/shared#x"), Item(f"{NEWS}/b1", updated=stale)])), "application/gzip")
    fake_platform.serve(f"{NEWS}/s/missing.xml", "not here", "text/plain", status=404)
    fake_platform.serve(f"{NEWS}/s/nested.xml", sitemap_index([f"{NEWS}/s/a.xml"]))
    fake_platform.serve(f"{NEWS}/s/stale.xml", sitemap([Item(f"{NEWS}/stale1")]))
    source = SourceConfig("s", "sitemap", url=f"{NEWS}/s/index.xml", every="1h",
                          since="2026-11-01")
    listing = list_entries(source, http)
    assert urls(listing.entries) == [f"{NEWS}/a1", f"{NEWS}/shared"]  # b1 is too old
    assert listing.documents == 4  # index, a, b, nested (missing failed, stale not read)
    notes = "\n".join(listing.notes)
    assert "1 child sitemap(s) last modified before since" in notes
    assert f"child sitemap {NEWS}/s/missing.xml skipped" in notes and "HTTP 404" in notes
    assert f"{NEWS}/s/nested.xml is a sitemap index inside a sitemap index" in notes
    assert fake_platform.count("news.example.org", "/s/stale.xml") == 0


def test_sitemap_index_reads_at_most_the_newest_children(fake_platform, http,
                                                         monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_CHILD_SITEMAPS", 2)
    fake_platform.serve(f"{NEWS}/c/index.xml", _index(
        *((f"{NEWS}/c/{i}.xml", T0 + timedelta(days=i)) for i in range(4))), "application/xml")
    for i in range(4):
        fake_platform.serve(f"{NEWS}/c/{i}.xml", sitemap([Item(f"{NEWS}/article-{i}")]))
    listing = list_entries(SourceConfig("s", "sitemap", url=f"{NEWS}/c/index.xml",
                                        every="1h"), http)
    assert urls(listing.entries) == [f"{NEWS}/article-3", f"{NEWS}/article-2"]
    assert any("lists 4 child sitemaps" in n for n in listing.notes)


def test_sitemap_index_whose_children_all_fail(fake_platform, http) -> None:
    fake_platform.serve(f"{NEWS}/bad/index.xml", sitemap_index([f"{NEWS}/bad/1.xml",
                                                               f"{NEWS}/bad/2.xml"]))
    fake_platform.serve(f"{NEWS}/bad/1.xml", "oops", status=500)
    fake_platform.serve(f"{NEWS}/bad/2.xml", fixture("billion-laughs.xml"), "application/xml")
    with pytest.raises(SourceError, match=r"all 2 child sitemaps failed, the first with: .*500"):
        list_entries(SourceConfig("s", "sitemap", url=f"{NEWS}/bad/index.xml", every="1h"),
                     http)


def test_url_list_over_http_and_from_a_file(fake_platform, http, tmp_path: Path) -> None:
    fake_platform.serve(f"{NEWS}/lists/urls.txt", "# mine\n/a\nhttps://blog.example.com/b\n"
                        "/a#again\nnope\n", "text/plain; charset=utf-8")
    listing = list_entries(SourceConfig("l", "list", url=f"{NEWS}/lists/urls.txt",
                                        every="1h"), http)
    assert urls(listing.entries) == [f"{NEWS}/a", "https://blog.example.com/b"]
    assert listing.documents == 1
    assert listing.notes == (f"{NEWS}/lists/urls.txt: line 5: not an absolute http(s) URL, "
                             "skipped: 'nope'",)
    path = tmp_path / "urls.txt"
    path.write_bytes(fixture("urls.txt"))
    local = list_entries(SourceConfig("l", "list", path=str(path), every="1h",
                                      max_articles=2), http)
    assert urls(local.entries) == [f"{NEWS}/2026/11/24/ministers-post-martial-law/",
                                   f"{NEWS}/2026/11/23/floods-day-in-pictures/"]
    assert len(local.notes) == 3 and local.notes[0].startswith(f"{path}: line 8:")
    with pytest.raises(SourceError, match=r"cannot read list file .*nowhere\.txt"):
        list_entries(SourceConfig("l", "list", path=str(tmp_path / "nowhere.txt"),
                                  every="1h"), http)
    fake_platform.serve(f"{NEWS}/lists/page.html", fixture("html-not-a-feed.html"))
    with pytest.raises(SourceError, match="not a list of URLs"):
        list_entries(SourceConfig("l", "list", url=f"{NEWS}/lists/page.html", every="1h"),
                     http)


def test_page_source_fetches_nothing(fake_platform) -> None:
    client = Http(NetworkConfig())  # not routed anywhere: a fetch would fail
    try:
        listing = list_entries(SourceConfig("p", "page", url=f"{NEWS}/2026/x#frag",
                                            every="1h"), client)
    finally:
        client.close()
    assert listing.entries == (SourceEntry(f"{NEWS}/2026/x"),)
    assert (listing.documents, listing.notes) == (0, ())
    assert fake_platform.count("news.example.org") == 0


def test_network_failure_is_a_fetch_error() -> None:
    client = Http(NetworkConfig())  # loopback refused by the address guard
    try:
        with pytest.raises(FetchError):
            list_entries(SourceConfig("f", "feed", url="https://127.0.0.1:9/feed.xml",
                                      every="1h"), client)
    finally:
        client.close()
