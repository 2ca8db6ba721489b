"""Embed discovery: the seed article, every fixture page, and broken or hostile input."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import ClassVar

import pytest

from archiver import discover as discover_module
from archiver.discover import build_index, discover, discover_html, discover_text
from archiver.errors import NotHTMLError
from archiver.models import EmbedRef, FoundIn, HttpExchange, PostData, PostRef
from archiver.platforms import REGISTRY
from archiver.platforms.base import LAZY_SRC_ATTRS, DataRequest, EmbedMarkup, PageSpec, Platform
from archiver.textembeds import MARKUP_LIMIT

FIXTURES = Path(__file__).parent / "fixtures"
ARTICLES = sorted((FIXTURES / "articles").glob("*.html"))
SEED_HTML = (FIXTURES / "seed" / "article.html").read_text(encoding="utf-8")
SEED_TEXT = (FIXTURES / "seed" / "article.txt").read_text(encoding="utf-8")

PASHINYAN = ("Sur décision du Gouvernement, la loi martiale et la mobilisation générale sont "
             "déclarées en République d’#Arménie. J’appelle les personnels attachés aux "
             "troupes à se présenter à leurs commissariats de district.\n\n"
             "Pour la patrie, pour la victoire.")
BROERS = ("Le soutien turc à l’Azerbaïdjan n’est pas nouveau mais de plus en plus explicite. "
          "Semble impliquer la drive en dehors de la guerre réelle, ou là où il pourrait y "
          "avoir un déni believable ? Utilisation de la technologie des drones, partage de "
          "renseignements et rapports non confirmés de mobilisation de mercenaires syriens. 6/9")


def summary(embeds: list[EmbedRef]) -> list[dict[str, object]]:
    keys = ("platform", "post_id", "found_in", "author")
    return [{key: embed.to_json()[key] for key in keys} for embed in embeds]


def ids(embeds: list[EmbedRef]) -> list[str | None]:
    return [embed.post.post_id if embed.post else None for embed in embeds]


# -- the seed article ---------------------------------------------------------------------
def test_seed_html_has_exactly_the_two_tweets() -> None:
    embeds = discover_html(SEED_HTML, "https://news.example.org/2020/09/28/violents-combats/")
    assert summary(embeds) == [
        {"platform": "twitter", "post_id": "1310100737619791965", "found_in": "blockquote",
         "author": "NikolPashinyan"},
        {"platform": "twitter", "post_id": "1310218169743183965", "found_in": "blockquote",
         "author": "LaurenceBroers"},
    ]
    first, second = embeds
    assert [e.position for e in embeds] == [0, 1]
    assert first.quoted_text == PASHINYAN
    assert second.quoted_text == BROERS
    assert [e.author_name for e in embeds] == ["Nikol Pashinyan", "Laurence Broers"]
    assert {(e.date_text, e.date) for e in embeds} == {("27 septembre 2020", "2020-09-27")}
    assert first.post is not None
    assert first.post.url == "https://x.com/NikolPashinyan/status/1310100737619791965"
    assert first.raw_url == ("https://twitter.com/NikolPashinyan/status/1310100737619791965"
                             "?ref_src=twsrc%5Etfw")
    assert first.element == "blockquote.twitter-tweet"
    assert first.markup is not None
    assert first.markup.startswith('<blockquote class="twitter-tweet" data-width="550"')
    assert first.markup.endswith("27 septembre 2020</a></blockquote>")


def test_seed_html_never_counts_follow_share_or_hashtag_links() -> None:
    urls = " ".join(str(e.to_json()) for e in discover_html(SEED_HTML))
    for not_an_embed in ("OvertDefense", "intent/tweet", "facebook.com", "hashtag/"):
        assert not_an_embed not in urls


def test_seed_text_has_the_two_flattened_tweets() -> None:
    embeds = discover_text(SEED_TEXT)
    assert [(e.platform, e.found_in, e.post, e.author, e.author_name, e.date_text, e.date)
            for e in embeds] == [
        ("twitter", FoundIn.TEXT, None, "NikolPashinyan", "Nikol Pashinyan",
         "27 septembre 2020", "2020-09-27"),
        ("twitter", FoundIn.TEXT, None, "LaurenceBroers", "Laurence Broers",
         "27 septembre 2020", "2020-09-27"),
    ]
    assert [e.quoted_text for e in embeds] == [PASHINYAN, BROERS]
    assert [e.position for e in embeds] == [0, 1]
    assert discover(SEED_TEXT, content_type="text/plain; charset=utf-8") == embeds


def test_seed_text_and_html_agree_on_what_was_quoted() -> None:
    from_html = [(e.author, e.quoted_text, e.date) for e in discover_html(SEED_HTML)]
    assert [(e.author, e.quoted_text, e.date) for e in discover_text(SEED_TEXT)] == from_html


# -- every fixture page -------------------------------------------------------------------
@pytest.mark.parametrize("page", ARTICLES, ids=[p.stem for p in ARTICLES])
def test_fixture_page_matches_its_expected_list(page: Path) -> None:
    expected = json.loads(page.with_name(page.stem + ".expected.json").read_text())["embeds"]
    embeds = discover_html(page.read_text(encoding="utf-8"))
    assert summary(embeds) == expected
    assert [e.position for e in embeds] == list(range(len(embeds)))


def test_every_fixture_has_an_expected_list() -> None:
    assert len(ARTICLES) >= 12
    for page in ARTICLES:
        assert page.with_name(page.stem + ".expected.json").is_file(), page


def article(name: str) -> list[EmbedRef]:
    return discover_html((FIXTURES / "articles" / name).read_text(encoding="utf-8"))


def test_localized_dates_all_read_as_the_same_day() -> None:
    embeds = article("07-localized-dates.html")
    assert len(embeds) == 12
    assert [e.date for e in embeds] == ["2022-02-24"] * 12
    assert all(e.date_text for e in embeds)


def test_i_web_status_link_takes_the_handle_the_blockquote_shows() -> None:
    embed = article("02-liveblog-same-post-twice.html")[2]
    assert embed.raw_url == "https://x.com/i/web/status/1346938190523736155"
    assert embed.post is not None
    assert embed.post.author == "samokafor_data"
    assert embed.post.url == "https://x.com/samokafor_data/status/1346938190523736155"


def test_same_post_twice_is_two_embeds_of_one_post() -> None:
    first, second, _ = article("02-liveblog-same-post-twice.html")
    assert first.post == second.post
    assert (first.position, second.position) == (0, 1)


def test_rendered_iframe_never_takes_the_articles_author() -> None:
    for embed in article("03-rendered-iframes.html") + article("04-lazy-iframes-noscript.html"):
        assert embed.post is not None
        if embed.found_in is FoundIn.IFRAME and embed.platform == "twitter":
            assert embed.author is None and embed.post.author is None
            assert "/i/status/" in embed.post.url


def test_lazy_iframe_and_its_noscript_copy_count_once() -> None:
    embeds = article("04-lazy-iframes-noscript.html")
    assert [e.element for e in embeds] == ["iframe", "iframe", "blockquote.twitter-tweet"]
    assert embeds[0].raw_url is not None and "Tweet.html" in embeds[0].raw_url


def test_amp_placeholder_gives_author_and_text() -> None:
    first, second = article("05-amp-article.html")
    assert (first.element, first.found_in, first.author) == ("amp-twitter", FoundIn.IFRAME,
                                                             "DisasterAgency")
    assert first.quoted_text is not None and first.quoted_text.startswith("Teams have reached")
    assert first.date == "2023-02-06"
    assert (second.author, second.quoted_text) == (None, None)


def test_quote_post_link_in_the_text_is_not_the_post() -> None:
    embed = article("08-video-and-quote-posts.html")[1]
    assert embed.post is not None and embed.post.post_id == "1426940123456789011"
    assert embed.quoted_text is not None
    assert "/status/1426936720389447803" in embed.quoted_text


def test_unresolved_blockquotes_keep_what_they_show() -> None:
    embeds = article("09-unresolved-blockquotes.html")
    no_link, bad_id = embeds[0], embeds[1]
    assert (no_link.post, no_link.date, no_link.quoted_text) == (
        None, "2017-01-20", "Thousands on Main Street now. Police have closed the bridge.")
    assert bad_id.post is None
    assert bad_id.raw_url == "https://twitter.com/MayorOfficeEx/status/REDACTED"
    assert bad_id.date_text == "January 20, 2017"


def test_text_remnants_in_html() -> None:
    embeds = article("10-text-remnants.html")
    assert [e.quoted_text for e in embeds] == [
        "Nous ne laisserons aucune provocation sans réponse.\n\n"
        "Le dialogue reste possible, mais il ne se fera pas sous la menace.",
        "Le gouvernement doit s’expliquer devant le Parlement.",
        "Calme relatif ce matin au poste frontière. Les files de camions s’allongent.",
    ]
    assert [e.date for e in embeds] == ["2023-10-07", "2023-10-07", "2023-10-08"]
    assert all(e.element == "text" and e.post is None for e in embeds)


def test_remnant_inside_a_resolved_blockquote_is_not_reported_again() -> None:
    resolved, remnant = article("11-blockquote-and-remnant.html")
    assert resolved.author == "BigUnionEx"
    assert resolved.quoted_text is not None and "(@SmallerUnionEx)" in resolved.quoted_text
    assert remnant.quoted_text == ("We will consult members again before any action. "
                                   "Ballot papers go out on Monday.")


def test_forms_are_reported_in_article_order() -> None:
    embeds = article("14-mixed-forms-in-order.html")
    assert [e.found_in for e in embeds] == [FoundIn.BLOCKQUOTE, FoundIn.IFRAME, FoundIn.TEXT,
                                            FoundIn.LINK, FoundIn.BLOCKQUOTE]
    assert [e.element for e in embeds][3] == "figure.wp-block-embed-twitter"


def test_relative_links_resolve_against_the_base_url() -> None:
    page = ('<blockquote class="twitter-tweet"><p>hi</p>&mdash; J (@jack) '
            '<a href="/jack/status/20">March 21, 2006</a></blockquote>')
    with_base = discover_html(page, "https://twitter.com/some/page")
    assert ids(with_base) == ["20"]
    without = discover_html(page)
    assert ids(without) == [None] and without[0].raw_url == "/jack/status/20"


def test_markup_is_capped() -> None:
    page = ('<blockquote class="twitter-tweet"><p>' + "word " * 10_000 + '</p>&mdash; J (@jack)'
            ' <a href="https://twitter.com/jack/status/20">March 21, 2006</a></blockquote>')
    [embed] = discover_html(page)
    assert embed.markup is not None and len(embed.markup) == MARKUP_LIMIT
    assert ids([embed]) == ["20"]


def test_discover_dispatches_on_content_type() -> None:
    assert ids(discover(SEED_HTML)) == ids(discover_html(SEED_HTML))
    assert ids(discover(SEED_HTML, content_type="application/xhtml+xml")) == ids(
        discover_html(SEED_HTML))
    assert len(discover(SEED_TEXT, content_type="text/plain")) == 2
    with pytest.raises(NotHTMLError):
        discover("%PDF-1.7", content_type="application/pdf")


class ClipShare(Platform):
    """A made-up platform declared only by facts, as later platform modules will be."""

    name: ClassVar[str] = "clipshare"
    url_patterns = (re.compile(r"^https://clips\.example/@(?P<user>\w+)/video/(?P<id>\d+)$"),)
    examples = ()
    embed_markup = (
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"clip-embed"}),
                    url_attrs=("cite",), id_attrs=("data-video-id",), claims=True),
        EmbedMarkup("script", FoundIn.SCRIPT, id_attrs=("data-clip",)),
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        EmbedMarkup("amp-clip", FoundIn.IFRAME, id_attrs=("data-id",), claims=True),
    )
    embed_url_patterns = (re.compile(r"^https://clips\.example/embed/(?P<id>\d+)"),)
    id_pattern = re.compile(r"\d+")

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return f"https://clips.example/@{author or '_'}/video/{post_id}"

    def data_requests(self, post: PostRef) -> list[DataRequest]:
        raise NotImplementedError

    def pages(self, post: PostRef) -> list[PageSpec]:
        raise NotImplementedError

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData:
        raise NotImplementedError


def test_a_platform_is_added_by_declaring_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    index = build_index((*REGISTRY, ClipShare()))
    monkeypatch.setattr(discover_module, "_index", lambda: index)
    page = ('<blockquote class="clip-embed" cite="https://clips.example/@ana/video/11" '
            'data-video-id="11"><a href="https://clips.example/@ana">@ana</a></blockquote>'
            '<p>text</p><script src="https://clips.example/widget.js" data-clip="12">'
            'var u = "https://clips.example/@ana/video/99";</script>'
            '<iframe src="https://clips.example/embed/13"></iframe>'
            '<amp-clip data-id="oops"></amp-clip>' + TWEET.format(n=14))
    assert [(e.platform, e.found_in, e.element, e.post.post_id if e.post else None)
            for e in discover_html(page)] == [
        ("clipshare", FoundIn.BLOCKQUOTE, "blockquote.clip-embed", "11"),
        ("clipshare", FoundIn.SCRIPT, "script", "12"),
        ("clipshare", FoundIn.IFRAME, "iframe", "13"),
        ("clipshare", FoundIn.IFRAME, "amp-clip", None),
        ("twitter", FoundIn.BLOCKQUOTE, "blockquote.twitter-tweet", "14"),
    ]


# -- broken and hostile input -------------------------------------------------------------
TWEET = ('<blockquote class="twitter-tweet"><p lang="en">Post {n}</p>&mdash; J (@jack) '
         '<a href="https://twitter.com/jack/status/{n}">March 21, 2006</a></blockquote>')


@pytest.mark.parametrize("document", [
    "", " ", "<", "<html", "</blockquote>", "<!-- unterminated", "<![CDATA[", "\x00" * 10,
    "<blockquote class='twitter-tweet'", "https://twitter.com/jack/status/20",
    '<?xml version="1.0"?><blockquote class="twitter-tweet"/>',
    "<p>\ud800 lone surrogate \udcff</p>",
])
def test_degenerate_documents(document: str) -> None:
    discover_html(document)
    discover_text(document)


def test_truncated_html_at_every_point_of_the_seed() -> None:
    start = SEED_HTML.index('<blockquote class="twitter-tweet"')
    end = SEED_HTML.index("</blockquote>", start)
    for cut in range(start - 5, end + 20, 7):
        embeds = discover_html(SEED_HTML[:cut])
        assert len(embeds) <= 2


def test_truncated_inside_a_blockquote_still_reports_it() -> None:
    cut = SEED_HTML.index("NikolPashinyan/status")  # inside the href: the link is lost
    embeds = discover_html(SEED_HTML[:cut])
    assert summary(embeds) == [{"platform": "twitter", "post_id": None,
                                "found_in": "blockquote", "author": "NikolPashinyan"}]


def test_binary_garbage() -> None:
    rng = random.Random(20200927)
    for _ in range(20):
        blob = rng.randbytes(20_000)
        discover_html(blob.decode("latin-1"))
        discover_html(blob.decode("utf-8", "surrogateescape"))
        discover_text(blob.decode("utf-8", "replace"))


def test_iframes_with_javascript_or_data_sources_are_ignored() -> None:
    page = ('<iframe src="javascript:top.location=\'https://twitter.com/a/status/1\'"></iframe>'
            '<iframe src="data:text/html,<blockquote class=twitter-tweet>'
            '<a href=https://twitter.com/a/status/2>x</a></blockquote>"></iframe>'
            '<iframe data-src="data:,https://platform.twitter.com/embed/Tweet.html?id=3">'
            '</iframe><iframe src="https://platform.twitter.com/embed/Tweet.html?id="></iframe>')
    assert discover_html(page) == []


# Hostile sizes: a hang would fail these through the timeout; speed itself is measured in
# bench/detect.py, never asserted here (wall-clock limits flake on a busy machine).
@pytest.mark.timeout(60)
def test_huge_inline_script_is_not_read() -> None:
    code = 'x.push("https://twitter.com/jack/status/20", "<blockquote class=twitter-tweet>");\n'
    script = code * (5_000_000 // len(code))
    page = f"<html><body><p>Text</p><script>{script}</script>{TWEET.format(n=21)}</body></html>"
    assert ids(discover_html(page)) == ["21"]


@pytest.mark.timeout(60)
def test_deep_nesting_does_not_recurse() -> None:
    depth = 10_000
    page = ("<html><body>" + "<div>" * depth + TWEET.format(n=22) + "<p>x</p>"
            + "</div>" * depth + "</body></html>")
    assert ids(discover_html(page)) == ["22"]
    nested_in_embed = ('<blockquote class="twitter-tweet">' + "<div>" * depth + "deep"
                       + "</div>" * depth + '&mdash; J (@jack) '
                       '<a href="https://twitter.com/jack/status/23">x</a></blockquote>')
    [embed] = discover_html(nested_in_embed)
    assert ids([embed]) == ["23"] and embed.author == "jack"


@pytest.mark.timeout(60)
def test_ten_thousand_amp_embeds() -> None:
    count = 10_000
    page = "<html><body>" + "".join(
        f'<amp-twitter width="375" height="472" data-tweetid="{1_000_000 + n}"></amp-twitter>'
        for n in range(count)) + "</body></html>"
    embeds = discover_html(page)
    assert ids(embeds) == [str(1_000_000 + n) for n in range(count)]
    assert [e.position for e in embeds] == list(range(count))


# -- speed --------------------------------------------------------------------------------
def hundred_kb_page() -> str:
    """A realistic ~100 KB article page: head with inline CSS and JSON, menus, the seed
    article's body twice, a sidebar of related stories, a footer."""
    head, rest = SEED_HTML.split("<main>")
    body, tail = rest.split("</main>")
    css = "<style>" + ".c{color:#222;margin:0 auto;padding:4px 8px}\n" * 700 + "</style>"
    state = '{"id": 1, "url": "https://twitter.com/jack/status/20", "tags": ["a", "b"]},'
    js = "<script>window.__STATE__ = [" + state * 250 + "];</script>"
    menu = "<nav><ul>" + "".join(
        f'<li class="menu-item menu-item-{i}"><a href="/category/{i}/"><span>Section {i}'
        "</span></a></li>" for i in range(120)) + "</ul></nav>"
    side = "<aside>" + "".join(
        f'<div class="related"><h3><a href="/2020/09/{i}/">Related story {i} with a longer '
        f'headline</a></h3><img src="/img/{i}.jpg" alt=""><p>Teaser {i}, two short lines of '
        "text to read.</p></div>" for i in range(90)) + "</aside>"
    page = (head.replace("</head>", css + js + "</head>") + menu + "<main>" + body * 2
            + "</main>" + side + tail)
    assert 90_000 < len(page.encode()) < 120_000, len(page.encode())
    return page


def test_a_100_kb_article_gives_the_same_embeds_as_its_core() -> None:
    # its speed is measured in bench/detect.py
    assert len(discover_html(hundred_kb_page())) == 4


def test_hydration_json_never_reads_urls_in_code_or_prose() -> None:
    html = ('<script>var u = "https://twitter.com/a/status/111";</script>'
            '<script type="application/json">{"body": [{"type": "paragraph", "text": '
            '"see https://twitter.com/b/status/222"}, {"link": '
            '"https://twitter.com/c/status/333"}]}</script>')
    assert discover_html(html) == []


def test_hydration_json_is_bounded_and_tolerant() -> None:
    broken = '<script type="application/json">{"html": "<blockquote class=</script>'
    assert discover_html(broken) == []
    deep = '<script type="application/json">' + '[' * 100_000 + ']' * 100_000 + '</script>'
    assert discover_html(deep) == []


def test_a_short_link_in_an_embed_wrapper_is_an_unresolved_embed() -> None:
    html = ('<figure class="wp-block-embed wp-block-embed-twitter"><div class='
            '"wp-block-embed__wrapper">https://t.co/AbC123xyz</div></figure>'
            '<p>prose <a href="https://t.co/zzz">link</a></p>')
    (embed,) = discover_html(html)
    assert (embed.platform, embed.post, embed.raw_url) == ("twitter", None,
                                                           "https://t.co/AbC123xyz")
