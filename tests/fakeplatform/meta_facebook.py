"""How the fake Facebook renders a post record: the post and video plugins, notices, login.

Pure functions of a record (a dict from tests/fixtures/meta/facebook.json). The card is the
classic markup the plugin has long used (`div[role=article]`, `a.profileLink`,
`abbr[data-utime]`, `div.userContent[data-testid=post_message]`), which
archiver/platforms/facebook.py reads; the look comes from tests/fixtures/meta/facebook.css.
"""

from __future__ import annotations

from typing import Any

from tests.fakeplatform.meta_render import count, created, e, page, text_html

FB = "https://www.facebook.com"
FB_CDN = "https://scontent.xx.fbcdn.net"

#: The plugin's notices by state (login walls are a redirect). The plugin does not tell a
#: deleted post from one whose audience changed: both get the same words.
NOTICES = {
    "deleted": ("This Facebook post is no longer available", "It may have been removed or the "
                "privacy settings of the post may have changed."),
    "private": ("This content isn't available right now", "When this happens, it's usually "
                "because the owner only shared it with a small group of people, changed who "
                "can see it or it's been deleted."),
    "age_gated": ("This content is age-restricted", "You must be 18 or older and logged in "
                  "to see it."),
    "region_blocked": ("This content isn't available in your country", "It has been "
                       "restricted in your country or region in response to a legal request."),
}
_LOGO = ('<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M15.1 5.3h2.1V1.7c-.4-.1-1.6-.2'
         "-3-.2-3 0-5 1.9-5 5.3V10H6v4h3.2v10h4V14h3.2l.5-4h-3.7V7.3c0-1.2.3-2 1.9-2z\"/></svg>")
_LIKE = ('<svg viewBox="0 0 16 16"><path d="M1 7h3v8H1zm4 0 3-6c1.3 0 2 .8 2 2v3h4.2c.9 0 1.5'
         ' .8 1.3 1.7l-1.2 6c-.2.8-.8 1.3-1.6 1.3H5z"/></svg>')
_COMMENT = ('<svg viewBox="0 0 16 16"><path d="M8 1C4 1 1 3.8 1 7.2c0 1.9 1 3.6 2.5 4.8V15l3'
            '-1.7c.5.1 1 .1 1.5.1 4 0 7-2.8 7-6.2S12 1 8 1z"/></svg>')
_GLOBE = ('<svg viewBox="0 0 16 16" width="12" height="12"><circle cx="8" cy="8" r="6.5" '
          'fill="none" stroke="#65676b" stroke-width="1.5"/><path d="M1.5 8h13M8 1.5c2 2 2 11 0 13'
          'M8 1.5c-2 2-2 11 0 13" fill="none" stroke="#65676b" stroke-width="1.2"/></svg>')
_THUMB = ('<svg viewBox="0 0 16 16" width="10" height="10"><path fill="#fff" d="M2 7h2.5v7H2zm3.5'
          ' 0L8 2c1 0 1.8.7 1.6 1.8L9.2 6H13c.8 0 1.4.7 1.2 1.5l-1 5c-.2.6-.7 1-1.3 1H5.5z"/>'
          "</svg>")
_SHARE = '<svg viewBox="0 0 16 16"><path d="M9 1v4C3 5.5 1 9 1 15c2-3.5 4.5-5 8-5v4l6-6.5z"/></svg>'


def page_url(record: dict[str, Any]) -> str:
    page_name = record["page"]
    return f"{FB}/profile.php?id={page_name}" if page_name.isdigit() else f"{FB}/{page_name}"


def post_url(record: dict[str, Any]) -> str:
    post_id, page_name = record["id"], record["page"]
    if "/" in post_id:
        return f"{FB}/{post_id}"
    if record.get("kind") == "video":
        return f"{FB}/{page_name}/videos/{post_id}/"
    if record.get("kind") == "photo":
        return f"{FB}/photo/?fbid={post_id}"
    return f"{FB}/{page_name}/posts/{post_id}"


def media_url(record: dict[str, Any]) -> str | None:
    media = record.get("media")
    if not media:
        return None
    key = record["id"].rsplit("/", 1)[-1]
    return f"{FB_CDN}/v/t39.30808-6/{key}_{media['width']}x{media['height']}_n.png"


def _when(record: dict[str, Any]) -> tuple[int, str, str]:
    when = created(record)
    hour = when.strftime("%I").lstrip("0")
    title = f"{when:%A}, {when:%B} {when.day}, {when.year} at {hour}:{when:%M %p}"
    return int(when.timestamp()), f"{when:%B} {when.day}, {when.year}", title


def card(record: dict[str, Any]) -> str:
    """The plugin's `div[role=article]`: header, text, media, counts, actions."""
    utime, shown, title = _when(record)
    profile, link = page_url(record), post_url(record)
    image = media_url(record)
    media = ""
    if image:
        w, h = record["media"]["width"], record["media"]["height"]
        play = '<span class="_play" aria-label="Play video"></span>' \
            if record.get("kind") == "video" else ""
        media = (f'<div class="_3x-2"><a class="_4-eo" href="{e(link)}" target="_blank">'
                 f'<img class="scaledImageFitWidth img" src="{e(image)}" width="{w}" '
                 f'height="{h}" alt="">{play}</a></div>')
    avatar = f"{FB_CDN}/v/t39.30808-1/{e(record['page'])}_s60x60.png"
    paragraphs = "".join(f"<p>{text_html(p)}</p>" for p in record["text"].split("\n\n"))
    return f"""<div class="_li"><div class="_1dwg _1w_m" role="article">
<div class="_1dwh"><a class="_5pb8" href="{e(profile)}" target="_blank"><img class="_s0 _4ooo img" src="{avatar}" alt=""></a>
<div class="_5pbw"><h5><span class="fwb"><a class="profileLink" href="{e(profile)}" target="_blank">{e(record['name'])}</a></span></h5>
<div class="_5pcp"><a class="_5pcq" href="{e(link)}" target="_blank"><abbr class="_5ptz" data-utime="{utime}" title="{title}"><span class="timestampContent">{shown}</span></abbr></a> · <span class="_6spk" title="Public">{_GLOBE}</span></div></div>
<a class="_fblogo" href="{FB}/" target="_blank" aria-label="Facebook">{_LOGO}</a></div>
<div class="_5pbx userContent" data-testid="post_message">{paragraphs}</div>{media}
<div class="_3-8y"><span class="_reacts"><i class="like">{_THUMB}</i><i class="love">&#10084;</i><span>{count(record.get('reactions', 0))}</span></span><span>{count(record.get('comments', 0))} comments · {count(record.get('shares', 0))} shares</span></div>
<div class="_3-8z"><span>{_LIKE}Like</span><span>{_COMMENT}Comment</span><span>{_SHARE}Share</span></div>
</div></div>"""  # noqa: E501


def plugin(record: dict[str, Any]) -> str:
    return page(f"{record['name']} on Facebook", "facebook.css", card(record))


def notice(state: str) -> str:
    heading, text = NOTICES.get(state, NOTICES["deleted"])
    return page("Facebook", "facebook.css", f'<div class="_4-u2 _4-u8"><div class="_50f4" '
                                            f'role="alert"><h3>{e(heading)}</h3>{e(text)}'
                                            "</div></div>")


def post_page(record: dict[str, Any] | None, state: str) -> str:
    """The logged-out post page: the post under a login banner, or the notice."""
    if record is None or state != "live":
        heading, text = NOTICES.get(state, NOTICES["deleted"])
        return page("Facebook", "facebook.css", f'<div class="Page"><div role="alert"><h3>'
                                                f"{e(heading)}</h3>{e(text)}</div></div>")
    banner = ('<div class="LoginBanner"><a href="/login/">Log in</a> or <a href="/r.php">'
              "sign up</a> for Facebook to connect with friends, family and people you know.</div>")
    return page(f"{record['name']} - {record['text'][:60]} | Facebook", "facebook.css",
                f'<div class="Page">{card(record)}</div>{banner}')


def login() -> str:
    body = ('<div class="LoginPage"><form id="login_form" method="post" '
            'action="/login/device-based/regular/login/"><h2>facebook</h2>'
            "<div>Log in to Facebook</div>"
            '<input name="email" placeholder="Email address or phone number">'
            '<input name="pass" type="password" placeholder="Password">'
            '<button type="submit" name="login">Log in</button></form></div>')
    return page("Log in to Facebook", "facebook.css", body)
