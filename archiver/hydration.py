"""Embeds that a page carries only in its hydration JSON.

News CMSs such as Arc XP (Fusion) and Next.js render the article body in the browser from
a JSON blob in the page; an embed then exists only as an oEmbed object (post URL plus the
escaped blockquote) inside that JSON. Policy:

- only JSON is read: `<script type="application/json">` (Next.js `__NEXT_DATA__`,
  Nuxt, ...) and a JSON object assigned in a script (`Fusion.globalContent = {...};`,
  `window.__INITIAL_STATE__ = {...};`); URLs that merely occur in JavaScript code are
  never embeds;
- inside the JSON, an embed is an object that says it is one: embed markup in an `html`
  string (discovered like any page markup), or a post URL in an object typed as an embed
  or oEmbed (`type` / `subtype` naming an embed or a platform, or carrying
  `provider_name`);
- a post already found in the page markup is not reported again; each post is reported
  once however often the JSON repeats it. Such embeds have `found_in = "script"` and
  `element = "hydration-json"`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from archiver.models import EmbedRef, FoundIn
from archiver.platforms import REGISTRY, match_url

MAX_SCRIPT = 10_000_000  # characters of one script we are willing to parse
MAX_NODES = 500_000  # JSON values visited per page
MAX_SNIPPETS = 500  # embed-markup strings parsed per page (each is an HTML parse)
# Both patterns run on whole scripts and JSON strings, so each is kept linear: an assignment
# starts where an identifier does (else every "__X" inside "__A__B__C..." restarts a scan to
# the end), and a tag's attributes end at the next "<" as well as ">" (else every "<div" of
# "<div<div<div..." scans to the end). Quadratic, a few hundred KB took minutes.
_ASSIGNMENT = re.compile(
    r"(?<![\w$])(?:Fusion\.(?:globalContent|contentCache)|(?:window\.)?__[A-Z][A-Z0-9_]*__)"
    r"\s*=\s*(?=[{\[])")
_MARKUP = re.compile(r"<(?:blockquote|iframe|amp-|script|div)[^<>]*(?:class|src|data-)", re.I)
_URL_KEYS = ("url", "embed_url", "permalink", "href", "src", "canonical_url", "_id")
_EMBED_WORDS = frozenset({"embed", "oembed", "oembed_response", "social", "social_embed"})


def json_blobs(scripts: Iterable[tuple[str | None, str | None, str]]) -> Iterator[Any]:
    """Parsed JSON of the scripts worth reading, given (type, id, text) of each script."""
    decoder = json.JSONDecoder()
    for kind, _ident, text in scripts:
        if not text or len(text) > MAX_SCRIPT:
            continue
        kind = (kind or "").lower()
        if kind in ("application/json", "application/ld+json") or \
                (kind.endswith("+json") and "importmap" not in kind):
            try:
                yield json.loads(text)
            except (ValueError, RecursionError):
                continue
        elif kind in ("", "text/javascript", "application/javascript", "module") and \
                ("__" in text or "Fusion." in text):  # cheap test before the regex scan
            for m in _ASSIGNMENT.finditer(text):
                try:
                    value, _ = decoder.raw_decode(text, m.end())
                except (ValueError, RecursionError):
                    continue
                yield value


def embeds_in_json(blobs: Iterable[Any],
                   discover_markup: Callable[[str], list[EmbedRef]]) -> list[EmbedRef]:
    """Embeds declared in JSON values, in document order, each post once."""
    found: list[EmbedRef] = []
    seen: set[tuple[str, str]] = set()
    budget, snippets = MAX_NODES, MAX_SNIPPETS
    platforms = {p.name for p in REGISTRY}

    def add(embed: EmbedRef) -> None:
        if embed.post is None or embed.post.key in seen:
            return
        seen.add(embed.post.key)
        found.append(replace(embed, found_in=FoundIn.SCRIPT, element="hydration-json",
                             position=len(found)))

    for blob in blobs:
        stack: list[Any] = [blob]
        while stack and budget > 0:
            node = stack.pop()
            budget -= 1
            if isinstance(node, list):
                stack.extend(reversed(node))
                continue
            if not isinstance(node, dict):
                continue
            html = node.get("html")
            if isinstance(html, str) and snippets > 0 and _MARKUP.search(html):
                snippets -= 1
                for embed in discover_markup(html):
                    add(embed)
            elif _declares_embed(node, platforms):
                for key in _URL_KEYS:
                    value = node.get(key)
                    if isinstance(value, str) and (post := match_url(value)) is not None:
                        add(EmbedRef(post.platform, FoundIn.SCRIPT, 0, post, raw_url=value))
                        break
            stack.extend(reversed([v for v in node.values() if isinstance(v, dict | list)]))
    return found


def _declares_embed(node: dict[str, Any], platforms: set[str]) -> bool:
    if "provider_name" in node:
        return True
    for key in ("type", "subtype", "__typename", "_type", "kind"):
        value = node.get(key)
        if isinstance(value, str):
            word = value.lower().replace("-", "_")
            if word in _EMBED_WORDS or word in platforms or word.endswith("_embed") \
                    or word.endswith("embed"):
                return True
    return False


def merge(static: list[EmbedRef], hydrated: list[EmbedRef]) -> list[EmbedRef]:
    """The page's embeds plus those only the JSON carries, appended in JSON order."""
    known = {e.post.key for e in static if e.post is not None}
    extra = [e for e in hydrated if e.post is not None and e.post.key not in known]
    return static + [replace(e, position=len(static) + i) for i, e in enumerate(extra)]
