"""Plain text from the HTML that platforms answer with (a Telegram widget's message, a
Mastodon status's `content`): <br> is a line break, a paragraph a blank line, runs of
spaces one space, entities decoded. Links keep their visible text only."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PreformattedString

_BLOCKS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3",
                     "h4", "h5", "h6", "figure", "figcaption", "table", "tr", "section"})
_SKIP = frozenset({"script", "style", "template", "svg"})
_PARAGRAPH = "\x00"  # marks a paragraph break while pieces are gathered


def html_text(fragment: str | Tag) -> str:
    """The text a reader sees in `fragment` (an HTML string or a parsed element)."""
    root: Tag = BeautifulSoup(fragment, "lxml") if isinstance(fragment, str) else fragment
    pieces: list[str] = []
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and node == _PARAGRAPH:
            pieces.append(_PARAGRAPH)
        elif isinstance(node, Tag):
            if node.name in _SKIP:
                continue
            if node.name == "br":
                pieces.append("\n")
                continue
            block = node.name in _BLOCKS
            if block:
                pieces.append(_PARAGRAPH)
                stack.append(_PARAGRAPH)
            stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            pieces.append(re.sub(r"\s+", " ", str(node)))
    text = "".join(pieces).replace(_PARAGRAPH, "\n\n")
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
