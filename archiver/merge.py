"""Merging discovery passes: the served HTML and the DOM after the page's scripts ran."""

from __future__ import annotations

from dataclasses import replace

from archiver.models import EmbedRef


def merge_rendered(static: list[EmbedRef], rendered: list[EmbedRef]) -> list[EmbedRef]:
    """One list from the static pass and the rendered-DOM pass, in article order.

    A post found by both keeps what the served HTML showed (quoted text, author, date) and
    is marked as seen by both; an embed only the rendered DOM has (a script injected it) is
    placed after the embed the rendered DOM shows just before it.
    """
    out: list[tuple[tuple[int, int, int], EmbedRef]] = [
        ((i, 0, 0), e) for i, e in enumerate(static)]
    unmatched = {i for i, e in enumerate(static) if e.post is not None}
    anchor = -1
    for j, embed in enumerate(rendered):
        if embed.post is None:
            continue
        match = next((i for i in sorted(unmatched) if static[i].post is not None
                      and static[i].post.key == embed.post.key), None)  # type: ignore[union-attr]
        if match is not None:
            unmatched.discard(match)
            anchor = match
            out[match] = (out[match][0], replace(static[match],
                                                 found_by=(*static[match].found_by, "rendered")))
        else:
            out.append(((anchor, 1, j), replace(embed, found_by=("rendered",))))
    out.sort(key=lambda item: item[0])
    return [replace(e, position=n) for n, (_, e) in enumerate(out)]
