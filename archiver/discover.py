"""Embed discovery: an article's HTML (or plain text) -> the posts it embeds, in order.

The page is parsed once (BeautifulSoup with lxml) and walked once, iteratively, in
document order. Each element is offered to the platforms that declared its tag in their
`embed_markup` (see `archiver/platforms/base.py`); an element they claim is one embed and
its subtree is not looked into again, so a WordPress figure around a blockquote, or an AMP
element around its placeholder, counts once. Besides those:

- a bare post URL that is the whole content of an embed wrapper (`figure.wp-block-embed`,
  Ghost's `kg-embed-card`) is an embed found in a link: that is how WordPress leaves an
  embed whose oEmbed failed;
- an embed inside `<noscript>` next to the same post's lazy element is the same embed;
- the content of `<script>` and `<style>` is never read (a platform may declare a script
  element's attributes): URLs in code are not embeds, and neither are links in running
  text, share or follow buttons: only the forms above count;
- the text outside embeds is kept as lines, in which `archiver.textembeds` finds embeds
  that survived only as "— Name (@handle) date" text.

Embeds carried only in the page's hydration JSON (Arc XP, Next.js) are read by
`archiver.hydration` and follow those of the markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import islice
from urllib.parse import urljoin

from bs4 import Tag
from bs4.element import NavigableString, PageElement, PreformattedString

from archiver.errors import NotHTMLError
from archiver.hydration import embeds_in_json, json_blobs, merge
from archiver.markup import (
    MARKUP_FORMAT,
    attr,
    bare_url,
    classes_of,
    has_class,
    link_author,
    parse,
)
from archiver.merge import merge_rendered
from archiver.models import EmbedRef, FoundIn, PostRef
from archiver.platforms import REGISTRY
from archiver.platforms.base import EmbedMarkup, Platform
from archiver.textembeds import (
    MARKUP_LIMIT,
    Line,
    LineBuilder,
    Remnant,
    find_remnants,
    join_lines,
    lines_from_text,
    parse_date,
)

__all__ = ["MARKUP_LIMIT", "discover", "discover_html", "discover_text", "merge_rendered"]


_SKIP = frozenset({"script", "style", "head", "title", "textarea", "select", "svg", "math"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = _HEADINGS | frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "header", "hr", "html", "li", "main", "nav", "noscript", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"})
_LINK_WRAPPERS = frozenset({"wp-block-embed", "kg-embed-card"})
_LINK_WRAPPER_TAGS = frozenset({"figure", "div"})
_URLISH = re.compile(r"(?:https?:)?//|(?:www\.)?[\w-]+(?:\.[\w-]+)+/\S")
_HAS_SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


def discover(document: str, *, content_type: str = "text/html",
             base_url: str | None = None) -> list[EmbedRef]:
    """The embeds of a document: HTML (and XHTML) is parsed, other text read as lines.

    Raises NotHTMLError for a type that is neither (PDF, images, JSON ...).
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("", "text/html", "application/xhtml+xml"):
        return discover_html(document, base_url)
    if kind.startswith("text/"):
        return discover_text(document)
    raise NotHTMLError(f"cannot look for embeds in a {kind} document", url=base_url)


def discover_text(text: str) -> list[EmbedRef]:
    """Embeds that survived only as text ("— Name (@handle) date" bylines), in order."""
    remnants = find_remnants(lines_from_text(text))
    return [r.ref(position) for position, r in enumerate(remnants)]


def discover_html(html: str, base_url: str | None = None, *,
                  hydration: bool = True) -> list[EmbedRef]:
    """The embeds of an HTML page, in article order. Never raises on malformed input.

    With `hydration`, embeds carried only in the page's JSON (see archiver.hydration)
    follow those of the markup.
    """
    if not html.isascii():
        # lone surrogates (bytes decoded with surrogateescape) cannot reach lxml
        html = html.encode("utf-8", "replace").decode("utf-8")
    walker = _Walker(_index(), base_url)
    walker.walk(parse(html))
    entries: list[tuple[int, _Found | Remnant]] = list(
        _drop_noscript_copies(_drop_widget_scripts(walker.found)))
    entries.extend((r.line, r) for r in find_remnants(walker.text.lines))
    entries.sort(key=lambda entry: entry[0])
    found = [item.ref(position) for position, (_, item) in enumerate(entries)]
    if not hydration or not walker.scripts:
        return found
    blobs = json_blobs((attr(s, "type"), attr(s, "id"), s.get_text()) for s in walker.scripts)
    hydrated = embeds_in_json(blobs, lambda snippet: discover_html(snippet, base_url,
                                                                   hydration=False))
    return merge(found, hydrated)


@dataclass(frozen=True)
class _Facts:
    """What a pasted blockquote shows besides the post link."""

    author: str | None = None
    author_name: str | None = None
    quoted_text: str | None = None
    date_text: str | None = None


@dataclass(frozen=True)
class _Found:
    platform: Platform
    found_in: FoundIn
    post: PostRef | None
    element: str
    node: Tag
    raw_url: str | None
    facts: _Facts
    noscript: Tag | None  # the <noscript> it sits in, if any

    def ref(self, position: int) -> EmbedRef:
        facts = self.facts
        return EmbedRef(
            self.platform.name, self.found_in, position, self.post, self.element,
            facts.author, facts.author_name, facts.quoted_text, facts.date_text,
            parse_date(facts.date_text) if facts.date_text else None, self.raw_url,
            self.node.decode(formatter=MARKUP_FORMAT)[:MARKUP_LIMIT])


_Specs = tuple[tuple[Platform, EmbedMarkup], ...]


@dataclass(frozen=True)
class _Index:
    by_tag: dict[str, _Specs]  # element name -> (platform, markup) in registry order
    text_specs: dict[str, EmbedMarkup]  # platform name -> its blockquote-like markup
    wrapper_tags: frozenset[str] = _LINK_WRAPPER_TAGS  # elements that may hold a bare URL


_TEXT_ONLY = _Index({}, {}, frozenset())


@lru_cache(maxsize=1)
def _index() -> _Index:
    return build_index(REGISTRY)


def build_index(platforms: Sequence[Platform]) -> _Index:
    """Which platforms to ask about which elements (tests build their own)."""
    by_tag: dict[str, list[tuple[Platform, EmbedMarkup]]] = {}
    text_specs: dict[str, EmbedMarkup] = {}
    for platform in platforms:
        for spec in platform.embed_markup:
            by_tag.setdefault(spec.tag, []).append((platform, spec))
            if spec.reads_text:
                text_specs.setdefault(platform.name, spec)
    return _Index({tag: tuple(specs) for tag, specs in by_tag.items()}, text_specs)


class _Walker:
    """One pass over the page: embeds found, and the text outside them as lines."""

    def __init__(self, index: _Index, base_url: str | None, skip: Tag | None = None) -> None:
        self.index = index  # an empty index: only the text is gathered
        self.base_url = base_url
        self.skip = skip
        self.text = LineBuilder()
        self.found: list[tuple[int, _Found]] = []  # (index of its barrier line, embed)
        self.scripts: list[Tag] = []  # for archiver.hydration
        self._noscripts: list[Tag] = []

    def walk(self, root: Tag) -> None:
        by_tag, text, wrappers = self.index.by_tag, self.text, self.index.wrapper_tags
        stack: list[PageElement | tuple[Tag]] = [root]  # (tag,): where its subtree ends
        while stack:
            node = stack.pop()
            if type(node) is NavigableString:  # the common case first: plain text
                text.add(node)
            elif isinstance(node, Tag):
                name = node.name
                if name == "br":
                    text.line()
                    continue
                specs = by_tag.get(name)  # before skipping: a <script> may be a widget
                if specs is not None or (name in wrappers and "class" in node.attrs):
                    found = self._match(node, name, specs or ())
                    if found is not None:
                        text.barrier()
                        self.found.append((len(text.lines) - 1, found))
                        continue
                if name in _SKIP or node is self.skip:
                    if name == "script":
                        self.scripts.append(node)
                    continue
                if name in _BLOCKS:
                    text.paragraph()
                    if name == "noscript":
                        self._noscripts.append(node)
                    stack.append((node,))
                stack.extend(reversed(node.contents))
            elif isinstance(node, tuple):
                name = node[0].name
                if name == "noscript":
                    self._noscripts.pop()
                text.paragraph(heading=name in _HEADINGS)
            elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
                text.add(node)  # template strings ...; not comments, CDATA or doctypes
        text.paragraph()

    # -- embeds --------------------------------------------------------------------------
    def _match(self, node: Tag, name: str, specs: _Specs) -> _Found | None:
        for platform, spec in specs:
            found = self._read(node, platform, spec)
            if found is not None:
                return found
        classes = classes_of(node) if name in _LINK_WRAPPER_TAGS else []
        if not _LINK_WRAPPERS.isdisjoint(classes):
            return self._read_link(node, classes)
        return None

    def _read(self, node: Tag, platform: Platform, spec: EmbedMarkup) -> _Found | None:
        classes: list[str] = []
        if spec.classes:
            classes = [c for c in classes_of(node) if c in spec.classes]
            if not classes:
                return None
        post: PostRef | None = None
        raw_url: str | None = None
        for name in spec.url_attrs:
            url = self._absolute(attr(node, name))
            if url and (post := platform.match_embed_url(url)) is not None:
                raw_url = url
                break
            if url and platform.is_short_link(url):  # resolved later by one recorded lookup
                raw_url = url
                break
        for name in () if post else spec.id_attrs:
            value = attr(node, name)
            if value and (post := platform.post_from_id(value)) is not None:
                break
        text_node, text_spec = node, spec
        if not spec.reads_text and spec.claims:
            text_spec = self.index.text_specs.get(platform.name, spec)
            inner = node.find(text_spec.tag,
                              class_=lambda v, cs=text_spec.classes: has_class(v, cs)) \
                if text_spec.reads_text else None
            text_node = inner if isinstance(inner, Tag) else node
        if text_spec.reads_text:
            link, facts = self._facts(text_node, platform, text_spec)
        else:  # the post link only, no text to read (Reddit's pasted markup)
            link, facts = self._post_link(node, platform, spec)[1], _Facts()
        if link is not None:
            raw_url = raw_url or link
            post = post or platform.match_url(link)
        if post is None and not spec.claims and raw_url is None:
            return None
        if post is not None and post.author is None and facts.author:
            post = platform.post_from_id(post.post_id, facts.author) or post  # /i/web/status
        if spec.author_link is not None and facts.author is None:
            facts = replace(facts, author=link_author(node, spec.author_link))
        element = f"{node.name}.{classes[0]}" if classes else node.name
        return _Found(platform, spec.found_in, post, element, node, raw_url, facts,
                      self._noscripts[-1] if self._noscripts else None)

    def _facts(self, node: Tag, platform: Platform,
               spec: EmbedMarkup) -> tuple[str | None, _Facts]:
        """The post link of a pasted blockquote, and what its text shows."""
        link, href = self._post_link(node, platform, spec)
        link_text = " ".join(link.get_text().split()) if link is not None and spec.date_link \
            else ""
        lines = _lines(node, skip=link if spec.date_link else None)
        if spec.boilerplate:
            lines = [line for line in lines if line.text.lower() not in spec.boilerplate]
        if not spec.date_link:  # the date is in a <time>, when the embed shows one
            shown = node.find("time")
            link_text = " ".join(shown.get_text().split()) if isinstance(shown, Tag) else ""
        text = join_lines(lines)
        quoted, author, name, rest = text, None, None, ""
        byline = None
        if platform.byline_pattern is not None and "(@" in text:
            # the byline ends the text (the date link is left out of it); the last match,
            # as the post's own text may quote another byline
            for match in platform.byline_pattern.finditer(text, max(0, len(text) - 400)):
                byline = match
        if byline is not None:
            quoted, rest = text[:byline.start()], text[byline.end():]
            author, name = byline["handle"], byline["name"].strip() or None
        date_text = link_text if link_text and not _URLISH.match(link_text) \
            else (rest.strip().split("\n")[0][:64].strip() or None)
        return href, _Facts(author, name, quoted.strip() or None, date_text)

    def _post_link(self, node: Tag, platform: Platform,
                   spec: EmbedMarkup) -> tuple[Tag | None, str | None]:
        """The link to the post: the last one that resolves and shows text, not a URL (the
        date link ends the byline; links in the post's text come before it)."""
        if spec.link_pattern is None:
            return None, None
        best: tuple[bool, bool, int] = (False, False, -1)
        link, href = None, None
        for i, a in enumerate(node.find_all("a", href=True)):
            url = self._absolute(attr(a, "href"))
            if not url or not spec.link_pattern.search(url):
                continue
            resolves = platform.match_url(url) is not None
            rank = (resolves and not _URLISH.match(a.get_text().strip()), resolves, i)
            if rank > best:
                best, link, href = rank, a, url
        return link, href

    def _read_link(self, node: Tag, classes: Sequence[str]) -> _Found | None:
        for candidate in bare_url(node) or ():
            url = self._absolute(candidate) or ""
            for platform in REGISTRY:
                post = platform.match_url(url)
                if post is not None or platform.is_short_link(url):
                    own = f"wp-block-embed-{platform.name}"  # WordPress names the provider
                    shown = own if own in classes else min(_LINK_WRAPPERS & set(classes))
                    return _Found(platform, FoundIn.LINK, post, f"{node.name}.{shown}", node,
                                  url, _Facts(), self._noscripts[-1] if self._noscripts else None)
        return None

    def _absolute(self, url: str | None) -> str | None:
        url = (url or "").strip()
        if not url or self.base_url is None or _HAS_SCHEME.match(url):
            return url or None
        try:
            return urljoin(self.base_url, url)
        except ValueError:  # a malformed base or URL: keep what the page says
            return url


def _lines(root: Tag, skip: Tag | None = None) -> list[Line]:
    """The text of a subtree as lines (<br> a line break, block elements paragraphs)."""
    walker = _Walker(_TEXT_ONLY, None, skip)
    walker.walk(root)
    return walker.text.lines


def _drop_noscript_copies(found: list[tuple[int, _Found]]) -> list[tuple[int, _Found]]:
    """Drop an embed in <noscript> that repeats the neighbouring lazy element's post."""
    kept: list[tuple[int, _Found]] = []
    for i, (line, item) in enumerate(found):
        if item.noscript is not None and item.post is not None:
            neighbours = [found[j][1] for j in (i - 1, i + 1) if 0 <= j < len(found)]
            if any(n.noscript is None and n.post is not None and n.post.key == item.post.key
                   and _near(n.node, item.noscript) for n in neighbours):
                continue
        kept.append((line, item))
    return kept


def _drop_widget_scripts(found: list[tuple[int, _Found]]) -> list[tuple[int, _Found]]:
    """Drop a widget <script> right after the iframe it drew for the same post: such scripts
    (telegram-widget.js) insert the iframe just before themselves and stay in the page, so a
    rendered DOM holds both."""
    kept: list[tuple[int, _Found]] = []
    for line, item in found:
        if kept and item.node.name == "script" and item.post is not None:
            before = kept[-1][1]
            if before.post is not None and before.post.key == item.post.key \
                    and item.node.find_previous_sibling() is before.node:
                continue
        kept.append((line, item))
    return kept


def _near(node: Tag, noscript: Tag) -> bool:
    """`node` sits beside `noscript`: within three levels under the same parent."""
    return any(ancestor is noscript.parent for ancestor in islice(node.parents, 3))
