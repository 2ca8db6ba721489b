"""Detection quality and speed on the hand-labelled corpus (tests/fixtures/articles).

    .venv/bin/python bench/detect.py [--repeat 5]

Quality: each page's embeds are compared with its hand-written <page>.expected.json as
multisets of (platform, post_id, found_in) per page: a post embedded twice must be found
twice. Precision = right / found, recall = right / expected, over the whole corpus.

Speed: every page is padded to ~100 KB with ordinary article furniture (paragraphs with
links, navigation, an inline script, related-article lists) and `discover_html` runs on
one core, in this process. The padded pages must give the same embeds as the originals,
so the filler cannot hide a miss.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.discover import discover_html
from archiver.models import EmbedRef

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "articles"
TARGET_BYTES = 100_000

Key = tuple[str, str | None, str]


def keys(embeds: list[EmbedRef]) -> Counter[Key]:
    return Counter((e.platform, e.post.post_id if e.post else None, str(e.found_in))
                   for e in embeds)


def expected_keys(page: Path) -> Counter[Key]:
    data = json.loads(page.with_name(page.stem + ".expected.json").read_text())
    return Counter((e["platform"], e["post_id"], e["found_in"]) for e in data["embeds"])


def filler(n: int) -> str:
    para = ("<p>Officials said on Monday that talks would resume <a href=\"/world/2024/talks\">"
            "later this week</a>, while analysts cautioned that the <em>ceasefire</em> remained "
            "fragile. &ldquo;We are not there yet,&rdquo; one diplomat said, asking not to be "
            "named because the negotiations are private.</p>\n")
    nav = "<nav><ul>" + "".join(f"<li><a href=\"/section/{i}\">Section {i}</a></li>"
                                for i in range(40)) + "</ul></nav>\n"
    related = "<aside class=\"related\"><ul>" + "".join(
        f"<li><a href=\"/2024/01/{i:02d}/story-{i}\"><img src=\"/img/{i}.jpg\" alt=\"\">"
        f"Story number {i} about the region</a></li>" for i in range(30)) + "</ul></aside>\n"
    script = "<script>window.analytics = {" + ",".join(
        f"\"k{i}\": \"value-{i}-{'x' * 40}\"" for i in range(200)) + "};</script>\n"
    block = nav + para * 6 + related + script
    out = []
    while sum(len(b) for b in out) < n:
        out.append(block)
    return "".join(out)[:n]


def padded(html: str) -> str:
    missing = TARGET_BYTES - len(html.encode())
    if missing <= 0:
        return html
    pad = filler(missing)
    cut = html.rfind("</body>")
    return html[:cut] + pad + html[cut:] if cut != -1 else html + pad


def main(repeat: int) -> int:
    pages = sorted(CORPUS.glob("*.html"))
    found_total = expected_total = right_total = 0
    misses: list[str] = []
    for page in pages:
        found, expected = keys(discover_html(page.read_text(encoding="utf-8"))), \
            expected_keys(page)
        right = sum((found & expected).values())
        found_total += sum(found.values())
        expected_total += sum(expected.values())
        right_total += right
        if found != expected:
            misses.append(f"  {page.name}: extra {dict(found - expected)}, "
                          f"missed {dict(expected - found)}")
    big = [(p, padded(p.read_text(encoding="utf-8"))) for p in pages]
    for page, html in big:  # the padding must not change what is found
        assert keys(discover_html(html)) == keys(discover_html(page.read_text("utf-8"))), page
    discover_html(big[0][1])  # warm-up: imports, date-parser data
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _, html in big:
            discover_html(html)
        rates.append(len(big) / (time.perf_counter() - t0))
    size = statistics.mean(len(h.encode()) for _, h in big) / 1000
    precision = right_total / found_total if found_total else 1.0
    recall = right_total / expected_total if expected_total else 1.0
    print(f"corpus: {len(pages)} article pages, {expected_total} expected embeds, "
          f"{len({p for p in (e[0] for pg in pages for e in expected_keys(pg))})} platforms")
    print(f"precision {precision:.4f}   recall {recall:.4f}   (targets >= 0.99)")
    for line in misses:
        print(line)
    print(f"speed: {statistics.median(rates):.1f} articles/s (median of {repeat}; pages padded "
          f"to {size:.0f} KB on average; one core; target >= 50)")
    print(f"reproduce: .venv/bin/python bench/detect.py --repeat {repeat}")
    return 0 if precision >= 0.99 and recall >= 0.99 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    raise SystemExit(main(parser.parse_args().repeat))
