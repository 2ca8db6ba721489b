"""How the fake Instagram and Threads render a post record: embeds, notices, login pages.

Pure functions of a record (a dict from tests/fixtures/meta/*.json). The markup carries
the class names archiver/platforms/instagram.py and threads.py read (for Instagram, the
real embed's: `.Embed`, `.UsernameText`, `.Caption`, `.EmbeddedMediaImage`,
`.EmbedIsBroken .ebmMessage`); the look comes from tests/fixtures/meta/*.css. Facebook's
plugin is in meta_facebook.py.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[1] / "fixtures" / "meta"
IG_CDN = "https://scontent.cdninstagram.com"
IG = "https://www.instagram.com"
THREADS = "https://www.threads.net"

#: What each platform shows instead of a post, by state (login walls are a redirect).
IG_NOTICES = {
    "deleted": "The link to this photo or video may be broken, or the post may have been "
               "removed.",
    "private": "This account is private. Follow this account to see their photos and videos.",
    "age_gated": "This post is age-restricted. You must be 18 years or older to see it.",
    "region_blocked": "This content isn't available in your country.",
}
THREADS_NOTICES = {
    "deleted": ("Post unavailable", "This post may have been deleted, or the link may be "
                                    "broken."),
    "private": ("Post unavailable", "This profile is private."),
    "age_gated": ("Post unavailable", "This post is age-restricted. You must be 18 or older "
                                      "to see it."),
    "region_blocked": ("Post unavailable", "This post isn't available in your country."),
}

_HEART = ('<svg viewBox="0 0 24 24"><path d="M16.8 3.5c-2 0-3.7 1.1-4.8 2.8-1.1-1.7-2.8-2.8-4.8'
          "-2.8C4.3 3.5 2 5.9 2 8.9c0 5.5 9 11.6 10 11.6s10-6.1 10-11.6c0-3-2.3-5.4-5.2-5.4z"
          '"/></svg>')
_COMMENT = ('<svg viewBox="0 0 24 24"><path d="M20.7 16.7A9.5 9.5 0 1 0 17 20.3L22 22z"/>'
            "</svg>")
_SHARE = ('<svg viewBox="0 0 24 24"><path d="M22 3 9.2 10.1M22 3l-7 19-5.8-11.9L2 7.5z"/>'
          "</svg>")
_SAVE = '<svg viewBox="0 0 24 24"><path d="M19 21l-7-6.6L5 21V3h14z"/></svg>'
_REPOST = ('<svg viewBox="0 0 24 24"><path d="M17 2l4 4-4 4M3 11V9a3 3 0 0 1 3-3h15M7 22l-4-4'
           ' 4-4M21 13v2a3 3 0 0 1-3 3H3"/></svg>')
IG_GLYPH = ('<svg viewBox="0 0 24 24" aria-label="Instagram"><rect x="2" y="2" width="20" '
            'height="20" rx="6" fill="none" stroke="#262626" stroke-width="2"/><circle cx="12"'
            ' cy="12" r="4.5" fill="none" stroke="#262626" stroke-width="2"/><circle cx="17.6"'
            ' cy="6.4" r="1.3" fill="#262626"/></svg>')
THREADS_LOGO = ('<svg viewBox="0 0 192 192" aria-label="Threads"><path fill="#000" d="M141.5 '
                "89c-.9-.4-1.7-.8-2.6-1.2-1.5-28.2-16.9-44.3-42.7-44.5h-.4c-15.4 0-28.3 6.6-36.2"
                " 18.6l14.2 9.7c5.9-9 15.2-10.9 22-10.9h.2c8.5.1 14.9 2.5 19 7.3 3 3.5 5 8.3 6"
                " 14.4-7.6-1.3-15.7-1.7-24.5-1.2-24.6 1.4-40.4 15.8-39.3 35.7.5 10.1 5.5 18.8 14.1"
                " 24.5 7.3 4.8 16.6 7.1 26.4 6.6 12.9-.7 23-5.6 30.1-14.6 5.4-6.9 8.8-15.8 10.3"
                "-27 6.1 3.7 10.7 8.6 13.2 14.5 4.3 10.1 4.5 26.6-9 40.1-11.8 11.8-26 16.9-47.5"
                " 17.1-23.8-.2-41.9-7.8-53.6-22.8C35.6 131.6 29.9 111.6 29.7 96c.2-15.6 5.9-35.6"
                " 17.3-50.2 11.7-15 29.8-22.6 53.6-22.8 24 .2 42.3 7.9 54.5 22.9 6 7.4 10.5 16.6"
                " 13.5 27.4l16.6-4.4c-3.6-13.3-9.2-24.7-16.9-34.2C152.8 15.7 130.3 6.2 101.2 6h"
                "-.1C72.1 6.2 49.9 15.8 35 34.5 21.8 51.2 15 74.4 14.8 103.9v.1c.2 29.5 7 52.7 20.2"
                " 69.4 14.9 18.7 37.1 28.3 66 28.5h.1c25.7-.2 43.8-6.9 58.7-21.8 19.5-19.5 18.9"
                "-43.9 12.5-58.9-4.6-10.7-13.4-19.4-25.4-25.2zm-44.2 41.6c-10.7.6-21.9-4.2-22.5"
                "-14.5-.4-7.6 5.4-16.1 23-17.1 2-.1 4-.2 5.9-.2 6.4 0 12.3.6 17.8 1.8-2 25.4-13.9"
                ' 29.4-24.2 30z"/></svg>')
_VERIFIED = ('<svg viewBox="0 0 40 40" class="{cls}" aria-label="Verified"><path fill="#0095f6"'
             ' d="M19.998 3.094 14.638 0l-2.972 5.15H5.432v6.354L0 14.64 3.094 20 0 25.359l5.432'
             " 3.137v5.905h5.975L14.638 40l5.36-3.094L25.358 40l3.232-5.6h6.162v-6.01L40 25.359"
             ' 36.905 20 40 14.641l-5.248-3.03v-6.46h-6.419L25.358 0l-5.36 3.094Z"/><path '
             'fill="#fff" d="m17.2 26.5-6.1-6.1 2.1-2.1 4 4 9.1-9.1 2.1 2.1z"/></svg>')

e = html.escape


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def page(title: str, css: str, body: str, status_note: str = "") -> str:
    """A complete page: the platform's CSS inline (no other host is ever asked)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{asset(css)}</style>{status_note}</head>"
            f"<body>\n{body}\n</body></html>\n")


def created(record: dict[str, Any]) -> datetime:
    return datetime.strptime(record["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def long_date(record: dict[str, Any]) -> str:
    when = created(record)
    return f"{when:%B} {when.day}, {when.year}"


def text_html(text: str) -> str:
    return e(text, quote=False).replace("\n", "<br>")


def count(n: int) -> str:
    return f"{n:,}"


# -- Instagram ---------------------------------------------------------------------------------
def ig_avatar(username: str) -> str:
    return f"{IG_CDN}/v/t51.2885-19/{username}_s150x150.png"


def ig_image(record: dict[str, Any]) -> str:
    return (f"{IG_CDN}/v/t51.2885-15/{record['id']}_{record.get('width', 640)}x"
            f"{record.get('height', 640)}_n.png")


def instagram_card(record: dict[str, Any]) -> str:
    """The `div.Embed` of the captioned embed (also the post page's article)."""
    user, code = record["username"], record["id"]
    profile, permalink = f"{IG}/{user}/", f"{IG}/p/{code}/"
    video = record.get("media") == "video"
    kind = "GraphVideo" if video else "GraphImage"
    badge = _VERIFIED.format(cls="Verified") if record.get("verified") else ""
    play = '<span class="PlayIcon" aria-label="Play"></span>' if video else ""
    return f"""<div class="Embed" data-media-type="{kind}" id="{e(code)}">
<div class="Header"><a class="Avatar InsideRing" href="{profile}" target="_blank"><img src="{e(ig_avatar(user))}" alt="{e(user)}"></a>
<div class="HeaderText"><a class="Username" href="{profile}" target="_blank"><span class="UsernameText">{e(user)}</span>{badge}</a></div>
<a class="ViewProfileButton" href="{profile}" target="_blank">View profile</a></div>
<a class="EmbeddedMedia" href="{permalink}" target="_blank"><img class="EmbeddedMediaImage" alt="Photo by {e(user)}" src="{e(ig_image(record))}" width="{record.get('width', 640)}" height="{record.get('height', 640)}">{play}</a>
<div class="SocialProof"><a class="ViewMore" href="{permalink}" target="_blank">View more on Instagram</a>
<div class="ActionBar"><span>{_HEART}</span><span>{_COMMENT}</span><span>{_SHARE}</span><span class="Save">{_SAVE}</span></div>
<div class="LikeCount">{count(record.get('likes', 0))} likes</div></div>
<div class="Caption"><a class="CaptionUsername" href="{profile}" target="_blank">{e(user)}</a> {text_html(record['text'])}
<div class="CaptionComments"><a href="{permalink}" target="_blank">View all {count(record.get('comments', 0))} comments</a></div></div>
<div class="Footer"><time class="Timestamp" datetime="{e(record['created_at'])}">{long_date(record)}</time>
<a class="AddComment" href="{permalink}" target="_blank"><span>Add a comment...</span>{IG_GLYPH}</a></div>
</div>"""  # noqa: E501


def instagram_embed(record: dict[str, Any]) -> str:
    return page(f"Instagram post by {record['username']}", "instagram.css",
                instagram_card(record))


def instagram_broken(state: str) -> str:
    message = IG_NOTICES.get(state, IG_NOTICES["deleted"])
    body = (f'<div class="EmbedIsBroken"><div class="ebmContent">{IG_GLYPH}'
            f'<p class="ebmMessage">{e(message)}</p>'
            f'<a class="ebmLink" href="{IG}/" target="_blank">View on Instagram</a></div></div>')
    return page("Instagram", "instagram.css", body)


def instagram_post_page(record: dict[str, Any] | None, state: str) -> str:
    """The logged-out post page: the post, or 'Sorry, this page isn't available.'"""
    if record is not None and state == "live":
        title = f"{record['username']} on Instagram: \u201c{record['text'][:60]}\u201d"
        return page(title, "instagram.css", f'<main class="Page"><article role="presentation">'
                                            f"{instagram_card(record)}</article></main>")
    if state == "private":
        heading, text = "This account is private", "Follow to see their photos and videos."
    else:
        heading = "Sorry, this page isn't available."
        text = "The link you followed may be broken, or the page may have been removed."
    return page("Page not found • Instagram", "instagram.css",
                f'<main class="Page"><h2>{e(heading)}</h2><p>{e(text)}</p></main>')


def instagram_login() -> str:
    body = ('<div class="LoginPage"><form id="loginForm" method="post" '
            'action="/accounts/login/ajax/"><h1>Instagram</h1>'
            '<label>Phone number, username, or email<input name="username"></label>'
            '<label>Password<input name="password" type="password"></label>'
            '<button type="submit">Log in</button></form></div>')
    return page("Login • Instagram", "instagram.css", body)


# -- Threads -----------------------------------------------------------------------------------
def threads_card(record: dict[str, Any]) -> str:
    user, code = record["username"], record["id"]
    profile, permalink = f"{THREADS}/@{user}", f"{THREADS}/@{user}/post/{code}"
    when = created(record)
    badge = _VERIFIED.format(cls="TextPostVerified") if record.get("verified") else ""
    media = ""
    if record.get("media"):
        w, h = record["media"]["width"], record["media"]["height"]
        media = (f'<div class="TextPostMedia"><img src="{IG_CDN}/v/t51.29350-15/{e(code)}_{w}x{h}'
                 f'_n.png" alt="Photo by {e(user)}" width="{w}" height="{h}"></div>')
    return f"""<div class="TextPostEmbed" role="article">
<div class="TextPostHeader"><a class="TextPostAvatar" href="{profile}" target="_blank"><img src="{e(ig_avatar(user))}" alt="{e(user)}"></a>
<a class="TextPostUsername" href="{profile}" target="_blank">{e(user)}</a>{badge}
<a class="TextPostTime" href="{permalink}" target="_blank"><time datetime="{e(record['created_at'])}" title="{long_date(record)}">{when:%m/%d/%y}</time></a>
<a class="TextPostLogo" href="{permalink}" target="_blank">{THREADS_LOGO}</a></div>
<div class="TextPostBody">{text_html(record['text'])}</div>{media}
<div class="TextPostActions"><span>{_HEART}{count(record.get('likes', 0))}</span><span>{_COMMENT}{count(record.get('replies', 0))}</span><span>{_REPOST}{count(record.get('reposts', 0))}</span><span>{_SHARE}</span></div>
</div>"""  # noqa: E501


def threads_embed(record: dict[str, Any]) -> str:
    return page(f"@{record['username']} on Threads", "threads.css", threads_card(record))


def threads_unavailable(state: str) -> str:
    heading, text = THREADS_NOTICES.get(state, THREADS_NOTICES["deleted"])
    return page("Threads", "threads.css",
                f'<div class="TextPostUnavailable"><h2>{e(heading)}</h2><p>{e(text)}</p></div>')


def threads_post_page(record: dict[str, Any] | None, state: str) -> str:
    if record is not None and state == "live":
        return page(f"@{record['username']} on Threads", "threads.css",
                    f'<main class="Page">{threads_card(record)}</main>')
    return page("Threads", "threads.css", f'<main class="Page">{_body(threads_unavailable(state))}'
                                          "</main>")


def threads_login() -> str:
    body = ('<div class="LoginPage"><form method="post" action="/login/"><h2>Log in with your '
            'Instagram account</h2><input name="username" placeholder="Username, phone or email">'
            '<input name="password" type="password" placeholder="Password">'
            '<button type="submit">Log in</button></form></div>')
    return page("Threads • Log in", "threads.css", body)


def _body(document: str) -> str:
    return document.split("<body>\n", 1)[1].rsplit("\n</body>", 1)[0]
