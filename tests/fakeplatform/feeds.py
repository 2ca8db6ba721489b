"""Builders of feeds and sitemaps for tests: RSS 2.0, Atom, (news) sitemaps, sitemap indexes.

Every builder returns well-formed UTF-8 XML with all text and attributes escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Item:
    url: str
    title: str = ""
    published: datetime | None = None  # aware datetimes
    updated: datetime | None = None


def w3c(moment: datetime) -> str:
    """RFC 3339 / W3C datetime in UTC: 2026-11-24T03:10:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rss(items: Sequence[Item], title: str = "News") -> bytes:
    """RSS 2.0; published as <pubDate> (RFC 822), updated as <dcterms:modified>."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<rss version="2.0" xmlns:dcterms="http://purl.org/dc/terms/">\n<channel>\n'
             f"<title>{escape(title)}</title>\n<link>https://news.example.org/</link>\n"
             f"<description>{escape(title)}</description>\n"]
    for item in items:
        parts.append("<item>")
        if item.title:
            parts.append(f"<title>{escape(item.title)}</title>")
        parts.append(f"<link>{escape(item.url)}</link>"
                     f'<guid isPermaLink="true">{escape(item.url)}</guid>')
        if item.published is not None:
            parts.append(f"<pubDate>{format_datetime(item.published.astimezone(UTC), True)}"
                         "</pubDate>")
        if item.updated is not None:
            parts.append(f"<dcterms:modified>{w3c(item.updated)}</dcterms:modified>")
        parts.append("</item>\n")
    parts.append("</channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")


def atom(items: Sequence[Item], title: str = "News") -> bytes:
    """Atom 1.0; an item's URL is both its alternate link and its id."""
    newest = max((i.updated or i.published for i in items if i.updated or i.published),
                 default=datetime(2026, 1, 1, tzinfo=UTC))
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             f'<feed xmlns="{ATOM_NS}">\n<title>{escape(title)}</title>\n'
             "<id>https://news.example.org/</id>\n"
             f"<updated>{w3c(newest)}</updated>\n"]
    for item in items:
        parts.append(f"<entry><id>{escape(item.url)}</id>"
                     f'<link rel="alternate" type="text/html" href={quoteattr(item.url)}/>')
        if item.title:
            parts.append(f"<title>{escape(item.title)}</title>")
        if item.published is not None:
            parts.append(f"<published>{w3c(item.published)}</published>")
        if item.updated is not None:
            parts.append(f"<updated>{w3c(item.updated)}</updated>")
        parts.append("</entry>\n")
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


def sitemap(items: Sequence[Item], news: bool = False) -> bytes:
    """A <urlset>: <lastmod> from `updated`; with `news`, Google News publication date
    (from `published`) and title."""
    news_ns = f' xmlns:news="{NEWS_NS}"' if news else ""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}"{news_ns}>\n']
    for item in items:
        parts.append(f"<url><loc>{escape(item.url)}</loc>")
        if item.updated is not None:
            parts.append(f"<lastmod>{w3c(item.updated)}</lastmod>")
        if news:
            parts.append("<news:news><news:publication><news:name>News</news:name>"
                         "<news:language>en</news:language></news:publication>")
            if item.published is not None:
                parts.append(f"<news:publication_date>{w3c(item.published)}"
                             "</news:publication_date>")
            parts.append(f"<news:title>{escape(item.title)}</news:title></news:news>")
        parts.append("</url>\n")
    parts.append("</urlset>\n")
    return "".join(parts).encode("utf-8")


def sitemap_index(sitemap_urls: Sequence[str], lastmod: datetime | None = None) -> bytes:
    """A <sitemapindex> listing `sitemap_urls`, each with `lastmod` when given."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n']
    for url in sitemap_urls:
        parts.append(f"<sitemap><loc>{escape(url)}</loc>")
        if lastmod is not None:
            parts.append(f"<lastmod>{w3c(lastmod)}</lastmod>")
        parts.append("</sitemap>\n")
    parts.append("</sitemapindex>\n")
    return "".join(parts).encode("utf-8")
