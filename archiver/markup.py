"""Reading HTML: parsing a page, and small readers of elements used by discovery."""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning
from bs4.dammit import EntitySubstitution
from bs4.element import AttributeValueList, NavigableString, PageElement, PreformattedString
from bs4.formatter import HTMLFormatter

_LINK_CONTENT = frozenset({"div", "p", "span", "a", "br", "figcaption"})
_LINK_MAX_NODES = 64  # a wrapper holding only a URL is a handful of nodes


class AsWritten(HTMLFormatter):
    """Serialise an element's attributes in source order (bs4 sorts them by default)."""

    def attributes(self, tag: Tag) -> list[tuple[str, str | AttributeValueList | None]]:
        return list(tag.attrs.items())


MARKUP_FORMAT = AsWritten(entity_substitution=EntitySubstitution.substitute_xml,
                            void_element_close_prefix="")


def parse(html: str) -> BeautifulSoup:
    # bs4 warns when a document looks like a URL, a file name (short, no '<') or XML; here
    # that is just input. Silenced only then: catch_warnings changes process-wide state.
    # class attributes stay strings (see _classes): bs4 splitting them on every element
    # costs a tenth of the parse
    if not html.startswith("<?xml") and (len(html) > 256 or "<" in html):
        return BeautifulSoup(html, "lxml", multi_valued_attributes=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(html, "lxml", multi_valued_attributes=None)


def has_class(value: str | None, wanted: frozenset[str]) -> bool:
    return value is not None and not wanted.isdisjoint(value.split())


def classes_of(node: Tag) -> list[str]:
    value = node.get("class")
    return value.split() if isinstance(value, str) else list(value or ())


def attr(node: Tag | None, name: str) -> str | None:
    value = node.get(name) if node is not None else None
    if isinstance(value, list):
        return " ".join(value)
    return value


def link_author(node: Tag, pattern: re.Pattern[str]) -> str | None:
    """The `user` group of the first link inside `node` whose href `pattern` finds."""
    for a in node.find_all("a", href=True):
        m = pattern.search(attr(a, "href") or "")
        if m:
            return m["user"]
    return None


def bare_url(node: Tag) -> tuple[str, ...] | None:
    """The URL (and the href of its single link) when it is all a wrapper holds."""
    text: list[str] = []
    hrefs: list[str] = []
    stack: list[PageElement] = list(reversed(node.contents))
    seen = 0
    while stack:
        child = stack.pop()
        seen += 1
        if seen > _LINK_MAX_NODES:
            return None
        if isinstance(child, Tag):
            if child.name not in _LINK_CONTENT:
                return None
            if child.name == "figcaption":
                continue
            href = attr(child, "href") if child.name == "a" else None
            if href:
                hrefs.append(href)
            stack.extend(reversed(child.contents))
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            text.append(child)
    tokens = "".join(text).split()
    if len(tokens) != 1:
        return None
    return (tokens[0], hrefs[0]) if len(hrefs) == 1 else (tokens[0],)
