"""How the fake Twitter / X renders a tweet record: tweet-result JSON, oEmbed, the card.

Pure functions of a record (a dict from tests/fixtures/twitter/tweets.json or
`TweetStore.put`). The card markup here and the one the embed page builds in JavaScript
(tests/fixtures/twitter/embed.html) are the same, styled by tests/fixtures/twitter/card.css.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ASSETS = Path(__file__).resolve().parents[1] / "fixtures" / "twitter"

ICONS = {
    "x": "M18.244 2.25h3.308l-7.227 8.26 8.502 11.24H16.17l-5.214-6.817L4.99 21.75H1.68"
         "l7.73-8.835L1.254 2.25H8.08l4.713 6.231zm-1.161 17.52h1.833L7.084 4.126H5.117z",
    "verified": "M22.25 12c0-1.43-.88-2.67-2.19-3.34.46-1.39.2-2.9-.81-3.91s-2.52-1.27-3.91"
                "-.81c-.66-1.31-1.91-2.19-3.34-2.19s-2.67.88-3.33 2.19c-1.4-.46-2.91-.2-3.92"
                ".81s-1.26 2.52-.8 3.91C2.63 9.33 1.75 10.57 1.75 12s.88 2.67 2.19 3.34c-.46"
                " 1.39-.21 2.9.8 3.91s2.52 1.26 3.91.81c.67 1.31 1.91 2.19 3.34 2.19s2.68-.88"
                " 3.34-2.19c1.39.45 2.9.2 3.91-.81s1.27-2.52.81-3.91c1.31-.67 2.19-1.91 2.19"
                "-3.34zm-11.71 4.2L6.8 12.46l1.41-1.42 2.26 2.26 4.8-5.23 1.47 1.36-6.2 6.77z",
    "heart": "M20.884 13.19c-1.351 2.48-4.001 5.12-8.379 7.67l-.503.3-.504-.3c-4.379-2.55"
             "-7.029-5.19-8.382-7.67-1.36-2.5-1.41-4.86-.514-6.67.887-1.79 2.647-2.91 4.601"
             "-3.01 1.651-.09 3.368.56 4.798 2.01 1.429-1.45 3.146-2.1 4.796-2.01 1.954.1"
             " 3.714 1.22 4.601 3.01.896 1.81.846 4.17-.514 6.67z",
    "reply": "M1.751 10c0-4.42 3.584-8 8.005-8h4.366c4.49 0 8.129 3.64 8.129 8.13 0 2.96"
             "-1.607 5.68-4.196 7.11l-8.054 4.46v-3.69h-.067c-4.49.1-8.183-3.51-8.183-8.01z",
    "link": "M18.36 5.64c-1.95-1.96-5.11-1.96-7.07 0L9.88 7.05 8.46 5.64l1.42-1.42c2.73-2.73"
            " 7.16-2.73 9.9 0 2.73 2.74 2.73 7.17 0 9.9l-1.42 1.42-1.41-1.42 1.41-1.41c1.96"
            "-1.96 1.96-5.12 0-7.07zm-2.12 3.53l-7.07 7.07-1.41-1.41 7.07-7.07 1.41 1.41zm-12.02"
            " .71l1.42-1.42 1.41 1.42-1.41 1.41c-1.96 1.96-1.96 5.12 0 7.07 1.95 1.96 5.11 1.96"
            " 7.07 0l1.41-1.41 1.42 1.41-1.42 1.42c-2.73 2.73-7.16 2.73-9.9 0-2.73-2.74-2.73"
            "-7.17 0-9.9z",
}


def _created(record: dict[str, Any]) -> datetime:
    return datetime.strptime(record["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def full_text(record: dict[str, Any]) -> str:
    """The API `text`: visible text, then the t.co link of the media (as the real API)."""
    links = [m["tco"] for m in record["media"] if m.get("tco")]
    return " ".join([record["text"], *links]) if links else record["text"]


def _entities(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    text = record["text"]
    tags = [{"indices": [m.start(), m.end()], "text": m.group(1)}
            for m in re.finditer(r"(?<![\w&])#(\w+)", text)]
    mentions = [{"id_str": "0", "indices": [m.start(), m.end()], "name": m.group(1),
                 "screen_name": m.group(1)} for m in re.finditer(r"(?<!\w)@(\w{1,15})", text)]
    urls = [{"display_url": m.group(0).split("://", 1)[1][:26], "expanded_url": m.group(0),
             "indices": [m.start(), m.end()], "url": m.group(0)}
            for m in re.finditer(r"https?://\S+", text)]
    return {"hashtags": tags, "urls": urls, "user_mentions": mentions, "symbols": []}


def _media_details(record: dict[str, Any]) -> list[dict[str, Any]]:
    out, start = [], len(record["text"]) + 1
    for n, m in enumerate(record["media"], 1):
        tco = m.get("tco", "https://t.co/media")
        out.append({
            "display_url": "pic.twitter.com/" + tco.rsplit("/", 1)[-1],
            "expanded_url": f"https://twitter.com/{record['user']['screen_name']}/status/"
                            f"{record['id']}/photo/{n}",
            "ext_media_availability": {"status": "Available"},
            "indices": [start, start + len(tco)],
            "media_key": m.get("media_key", f"3_{record['id']}"),
            "media_url_https": m["url"],
            "original_info": {"height": m.get("height", 675), "width": m.get("width", 1200),
                              "focus_rects": []},
            "type": m.get("type", "photo"),
            "url": tco,
        })
        start += len(tco) + 1
    return out


def tweet_result(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON cdn.syndication.twimg.com/tweet-result answers for a live tweet."""
    created = _created(record)
    user = record["user"]
    media = _media_details(record)
    edits = record.get("edits", [])
    return {
        "__typename": "Tweet",
        "lang": record["lang"],
        "favorite_count": record.get("favorite_count", 0),
        "possibly_sensitive": record.get("possibly_sensitive", False),
        "created_at": record["created_at"],
        "display_text_range": [0, len(record["text"])],
        "entities": _entities(record),
        "id_str": record["id"],
        "text": full_text(record),
        "user": {
            "id_str": user["id_str"], "name": user["name"],
            "profile_image_url_https": user["profile_image_url_https"],
            "screen_name": user["screen_name"], "verified": bool(user.get("verified")),
            "is_blue_verified": bool(user.get("is_blue_verified")),
            "profile_image_shape": user.get("profile_image_shape", "Circle"),
        },
        "edit_control": {
            "edit_tweet_ids": [record["id"]],
            "editable_until_msecs": str(int((created + timedelta(hours=1)).timestamp() * 1000)),
            "is_edit_eligible": True,
            "edits_remaining": str(max(0, 5 - len(edits))),
        },
        **({"mediaDetails": media} if media else {}),
        "photos": [{"backgroundColor": {"red": 204, "green": 214, "blue": 221},
                    "cropCandidates": [], "expandedUrl": m["expanded_url"],
                    "url": m["media_url_https"], "width": m["original_info"]["width"],
                    "height": m["original_info"]["height"]} for m in media],
        "conversation_count": record.get("conversation_count", 0),
        "news_action_type": "conversation",
        "isEdited": bool(edits),
        "isStaleEdit": False,
    }


def _long_date(record: dict[str, Any]) -> str:
    created = _created(record)
    return f"{created:%B} {created.day}, {created.year}"


def _linked_text(record: dict[str, Any], hashtag_base: str, ref: str) -> str:
    """The post text as HTML (hashtags and mentions linked, newlines as <br>)."""
    text, out, pos = record["text"], [], 0
    for m in re.finditer(r"(?<![\w&])#(\w+)|(?<!\w)@(\w{1,15})", text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        if m.group(1):
            href = f"{hashtag_base}{quote(m.group(1))}?src=hash{ref}"
        else:
            href = f"https://twitter.com/{m.group(2)}{ref.replace('&amp;', '?', 1)}"
        out.append(f'<a href="{href}">{html.escape(m.group(0))}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out).replace("\n", "<br>")


def oembed(record: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The JSON publish.twitter.com/oembed answers for a live tweet."""
    user = record["user"]
    status_url = f"https://twitter.com/{user['screen_name']}/status/{record['id']}"
    ref = "&amp;ref_src=twsrc%5Etfw"
    body = _linked_text(record, "https://twitter.com/hashtag/", ref)
    for m in record["media"]:
        tco = m.get("tco", "https://t.co/media")
        body += f' <a href="{tco}">pic.twitter.com/{tco.rsplit("/", 1)[-1]}</a>'
    attrs = "".join(f' data-{k}="{html.escape(params[p])}"'
                    for p, k in (("theme", "theme"), ("lang", "lang")) if params.get(p))
    if params.get("dnt") in ("1", "true"):
        attrs += ' data-dnt="true"'
    markup = (f'<blockquote class="twitter-tweet"{attrs}><p lang="{record["lang"]}" dir="ltr">'
              f"{body}</p>&mdash; {html.escape(user['name'])} (@{user['screen_name']}) "
              f'<a href="{status_url}?ref_src=twsrc%5Etfw">{_long_date(record)}</a></blockquote>\n')
    if params.get("omit_script") not in ("1", "true"):
        markup += ('<script async src="https://platform.twitter.com/widgets.js" '
                   'charset="utf-8"></script>\n')
    try:
        width = max(220, min(550, int(params.get("maxwidth", "550"))))
    except ValueError:
        width = 550
    return {"url": status_url, "author_name": user["name"],
            "author_url": f"https://twitter.com/{user['screen_name']}", "html": markup,
            "width": width, "height": None, "type": "rich", "cache_age": "3153600000",
            "provider_name": "Twitter", "provider_url": "https://twitter.com", "version": "1.0"}


def svg(name: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<svg viewBox="0 0 24 24" aria-hidden="true"{klass}><path d="{ICONS[name]}">'
            "</path></svg>")


def _compact(n: int) -> str:
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= size:
            value = round(n / size, 1)
            return (f"{value:.1f}".rstrip("0").rstrip(".") if value < 100 else
                    f"{round(n / size)}") + suffix
    return str(n)


def card_html(record: dict[str, Any]) -> str:
    """The post card, server-side; the same markup the embed page builds in JS."""
    user, e = record["user"], html.escape
    profile = f"https://x.com/{user['screen_name']}"
    url = f"{profile}/status/{record['id']}"
    created = _created(record)
    badge = svg("verified", "tweet-verified") if user.get("verified") else ""
    media = "".join(
        f'<a class="tweet-media" data-testid="tweetPhoto" href="{e(m["expanded_url"])}">'
        f'<img src="{e(m["media_url_https"])}" alt="Image" '
        f'width="{m["original_info"]["width"]}" height="{m["original_info"]["height"]}"></a>'
        for m in _media_details(record))
    count = record.get("conversation_count", 0)
    replies = (f"Read {_compact(count)} {'reply' if count == 1 else 'replies'}" if count
               else "Read more on X")
    hour = created.strftime("%I").lstrip("0")
    when = f"{hour}:{created:%M %p} · {created:%b} {created.day}, {created.year}"
    return f"""<article data-testid="tweet" role="article" class="tweet" data-tweet-id="{record['id']}">
<div class="tweet-header"><a class="tweet-avatar" href="{profile}"><img src="{e(user['profile_image_url_https'])}" alt="{e(user['name'])}" width="40" height="40"></a>
<div class="tweet-author"><a class="tweet-name" data-testid="User-Name" href="{profile}"><span>{e(user['name'])}</span>{badge}</a>
<div class="tweet-meta"><a class="tweet-handle" href="{profile}">@{user['screen_name']}</a> · <a class="tweet-follow" href="https://x.com/intent/follow?screen_name={user['screen_name']}">Follow</a></div></div>
<a class="tweet-brand" href="{url}" aria-label="View on X">{svg("x")}</a></div>
<div class="tweet-text" data-testid="tweetText" lang="{record['lang']}" dir="auto">{_linked_text(record, "https://x.com/hashtag/", "")}</div>
{media}<div class="tweet-info"><a class="tweet-time" href="{url}"><time datetime="{record['created_at']}">{when}</time></a></div>
<div class="tweet-actions"><a class="tweet-like" href="https://x.com/intent/like?tweet_id={record['id']}">{svg("heart")}<span>{_compact(record.get("favorite_count", 0))}</span></a>
<a class="tweet-reply" href="https://x.com/intent/tweet?in_reply_to={record['id']}">{svg("reply")}<span>Reply</span></a>
<a class="tweet-copy" href="{url}">{svg("link")}<span>Copy link</span></a></div>
<a class="tweet-replies" href="{url}">{replies}</a>
</article>"""  # noqa: E501


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def x_page(heading: str, body: str, title: str = "X", meta: str = "") -> str:
    """An x.com-looking page around `body`."""
    return (asset("x_page.html").replace("{{card_css}}", asset("card.css"))
            .replace("{{logo}}", svg("x")).replace("{{title}}", html.escape(title))
            .replace("{{meta}}", meta).replace("{{heading}}", html.escape(heading))
            .replace("{{body}}", body))
