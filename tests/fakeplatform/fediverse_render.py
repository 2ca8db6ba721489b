"""How the fake Telegram, Bluesky and Mastodon render a fixture record: the t.me widget page,
getPostThread JSON, the Mastodon status JSON and its embed / status / error pages.

Pure functions of records from tests/fixtures/fediverse/*.json (prepared by
fediverse.py); page assets (CSS, the Bluesky embed app, widget scripts) live next to them.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[1] / "fixtures" / "fediverse"
e = html.escape


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _paragraphs(text: str) -> str:
    return "<br/>".join(e(line, quote=False) for line in text.split("\n"))


# -- Telegram --------------------------------------------------------------------------------
_TAIL = ('<i class="tgme_widget_message_bubble_tail"><svg class="bubble_icon" width="9px" '
         'height="20px" viewBox="0 0 9 20"><g fill="none"><path class="background" '
         'fill="#ffffff" d="M8,1 L9,1 L9,20 L8,20 L8,18 C7.807,15.161 7.124,12.233 5.950,9.218 '
         'C5.046,6.893 3.504,4.733 1.325,2.738 C0.917,2.365 0.89,1.732 1.263,1.325 C1.452,1.118 '
         '1.72,1 2,1 L8,1 Z"></path></g></svg></i>')


def telegram_page(body: str, title: str = "Telegram Widget") -> str:
    """The frame every t.me widget answer shares; it reports its height to the parent."""
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta property="og:site_name" content="Telegram">
<style>{asset("telegram-widget.css")}</style>
</head>
<body class="widget_frame_base tgme_widget body_widget_post emoji_image nodark">
{body}
<script>
window.addEventListener("load", function () {{
  var height = Math.ceil(document.body.getBoundingClientRect().height);
  if (window.parent !== window) {{
    window.parent.postMessage(JSON.stringify({{event: "resize", height: height}}), "*");
  }}
}});
</script>
</body>
</html>
"""


def telegram_message(post: dict[str, Any], channel: dict[str, Any], userpic: bool) -> str:
    """The widget's message markup for a live post (classes as t.me serves them)."""
    name, number = post["id"].split("/")
    link = f"https://t.me/{name}"
    when = _when(post["date"])
    user = ""
    if userpic:
        user = (f'<div class="tgme_widget_message_user"><a href="{link}"><i class="tgme_widget_'
                f'message_user_photo bgcolor2" data-content="{e(channel["title"][:1])}"><img '
                f'src="https://cdn4.telesco.pe/file/avatar-{name}.jpg"></i></a></div>')
    photos = "".join(
        f'<a class="tgme_widget_message_photo_wrap" href="{link}/{number}" style="width:'
        f"{min(480, p['width'])}px;background-image:url('https://cdn4.telesco.pe/file/"
        f"{p['file']}')\"><div class=\"tgme_widget_message_photo\" style=\"padding-top:"
        f'{p["height"] / p["width"] * 100:.4f}%"></div></a>' for p in post["photos"])
    return f"""<div class="tgme_widget_message_wrap js-widget_message_wrap">
<div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{e(post['id'])}" data-view="{number}" data-post-id="{number}">
{user}<div class="tgme_widget_message_bubble">{_TAIL}
<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="{link}"><span dir="auto">{e(channel['title'])}</span></a></div>
{photos}<div class="tgme_widget_message_text js-message_text" dir="auto">{_paragraphs(post['text'])}</div>
<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info short js-message_info"><span class="tgme_widget_message_views">{e(post['views'])}</span><span class="copyonly">&nbsp;views</span><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="{link}/{number}"><time datetime="{e(post['date'])}" class="time">{when:%b} {when.day}, {when:%H:%M}</time></a></span></div></div>
</div></div></div>"""  # noqa: E501


TELEGRAM_NOTICES = {
    "deleted": "Post not found",
    "private": "Channel is private",
    "blocked": "This channel can\u2019t be displayed because it violated local laws.",
    "login_wall": "Please open Telegram to view this post",
}


def telegram_notice(state: str, link: str) -> str:
    view = (f'<a href="{e(link)}" class="tgme_action_button">View in Telegram</a>'
            if state == "login_wall" else "")
    return (f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_'
            f'widget_message_error">{e(TELEGRAM_NOTICES.get(state, "Post not found"))}{view}'
            "</div></div>")


def telegram_discussion(key: str) -> str:
    return (f'<div class="tgme_widget_discussion" data-discussion="{e(key)}"><h3>Comments</h3>'
            "<p>Log in to Telegram to comment.</p></div>")


# -- Bluesky ---------------------------------------------------------------------------------
def bsky_author(account: dict[str, Any]) -> dict[str, Any]:
    did = account["did"]
    labels = [{"src": did, "uri": f"at://{did}/app.bsky.actor.profile/self",
               "cid": account["avatar_cid"], "val": val, "cts": "2024-01-01T00:00:00.000Z"}
              for val in account.get("labels", [])]
    return {"did": did, "handle": account["handle"], "displayName": account["displayName"],
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/{account['avatar_cid']}@jpeg",
            "associated": {"chat": {"allowIncoming": "following"}}, "labels": labels,
            "createdAt": "2023-05-02T11:20:31.000Z"}


def bsky_thread(post: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    """getPostThread's answer for a post that can be shown."""
    did = post["did"]
    uri = f"at://{did}/app.bsky.feed.post/{post['rkey']}"
    record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": post["createdAt"],
                              "langs": post["langs"], "text": post["text"]}
    view: dict[str, Any] = {
        "uri": uri, "cid": post["cid"], "author": bsky_author(account), "record": record,
        "replyCount": post["replyCount"], "repostCount": post["repostCount"],
        "likeCount": post["likeCount"], "quoteCount": 0, "indexedAt": post["createdAt"],
        "labels": []}
    if post["images"]:
        record["embed"] = {"$type": "app.bsky.embed.images", "images": [
            {"alt": i["alt"], "aspectRatio": {"height": i["height"], "width": i["width"]},
             "image": {"$type": "blob", "ref": {"$link": i["cid"]}, "mimeType": "image/jpeg",
                       "size": 183211}} for i in post["images"]]}
        view["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
            {"thumb": f"https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{i['cid']}@jpeg",
             "fullsize": f"https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{i['cid']}@jpeg",
             "alt": i["alt"], "aspectRatio": {"height": i["height"], "width": i["width"]}}
            for i in post["images"]]}
    return {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": view,
                       "replies": [], "threadContext": {}}}


def bsky_blocked(uri: str, did: str) -> dict[str, Any]:
    return {"thread": {"$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": True,
                       "author": {"did": did, "viewer": {"blockedBy": True}}}}


def bsky_simple_page(title: str, description: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}'
            f'</title><meta property="og:title" content="{e(title)}"><meta property="og:'
            f'description" content="{e(description)}"><meta property="og:site_name" '
            'content="Bluesky Social"></head><body><div id="root"><noscript>This is a heavily '
            "interactive web application, and JavaScript is required.</noscript><p>"
            f"{e(description)}</p></div></body></html>")


# -- Mastodon --------------------------------------------------------------------------------
_LOGO = ('<svg viewBox="0 0 79 75" aria-hidden="true"><path d="M63 45.8c-1 5-8.6 10.4-17.5 '
         "11.5-4.6.5-9.1 1-14 .8-7.9-.4-14.1-1.9-14.1-1.9v2.2c1.1 7.8 7.8 8.3 14.2 8.5 6.4.2 "
         "12.2-1.6 12.2-1.6l.3 5.8s-4.5 2.4-12.5 2.9c-4.4.2-9.9-.1-16.3-1.8C1.4 68.5-.9 54.2-1.3 "
         "39.7c-.1-4.3 0-8.4 0-11.8C-1.3 13 8.5 8.6 8.5 8.6 13.5 6.3 22 5.4 30.9 5.3h.2c8.9.1 "
         "17.4 1 22.4 3.3 0 0 9.8 4.4 9.8 19.3 0 0 .1 11-1.3 17.9zM52.8 28.2c0-3.7-.9-6.6-2.8-"
         "8.8-1.9-2.2-4.5-3.3-7.6-3.3-3.6 0-6.4 1.4-8.2 4.2L32.4 23.3l-1.8-3c-1.8-2.8-4.5-4.2-"
         "8.2-4.2-3.2 0-5.7 1.1-7.6 3.3-1.9 2.2-2.8 5.1-2.8 8.8v17.9h7.1V28.7c0-3.7 1.5-5.5 "
         '4.6-5.5 3.4 0 5.1 2.2 5.1 6.6v9.6h7.1v-9.6c0-4.4 1.7-6.6 5.1-6.6 3.1 0 4.6 1.8 4.6 '
         '5.5v17.4h7.1V28.2z"/></svg>')


def mastodon_status(host: str, media_host: str, status: dict[str, Any],
                    account: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/statuses/<id> for a status the API shows."""
    user = account["username"]
    url = f"https://{host}/@{user}/{status['id']}"
    avatar = f"https://{media_host}/accounts/avatars/{_split(account['id'])}/original/avatar.png"
    return {
        "id": status["id"], "created_at": status["created_at"], "in_reply_to_id": None,
        "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
        "visibility": status.get("visibility", "public"), "language": status["language"],
        "uri": f"https://{host}/users/{user}/statuses/{status['id']}", "url": url,
        "replies_count": status["replies_count"], "reblogs_count": status["reblogs_count"],
        "favourites_count": status["favourites_count"], "edited_at": None,
        "content": status["content"], "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": {
            "id": account["id"], "username": user, "acct": user,
            "display_name": account["display_name"], "locked": bool(account.get("locked")),
            "bot": False, "discoverable": True, "group": False,
            "created_at": "2022-11-06T00:00:00.000Z", "note": "", "url": f"https://{host}/@{user}",
            "uri": f"https://{host}/users/{user}", "avatar": avatar, "avatar_static": avatar,
            "followers_count": 5120, "following_count": 80, "statuses_count": 941,
            "emojis": [], "fields": []},
        "media_attachments": [
            {"id": f"{status['id'][:12]}{n}", "type": "image",
             "url": mastodon_media_url(media_host, status, m),
             "preview_url": mastodon_media_url(media_host, status, m, "small"),
             "remote_url": None, "description": m["description"],
             "meta": {"original": {"width": m["width"], "height": m["height"],
                                   "aspect": m["width"] / m["height"]}},
             "blurhash": "UHF5?xYk^6#M@-5b,1J5@[or[k6.};FxngOZ"}
            for n, m in enumerate(status["media"])],
        "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None}


def _split(number: str) -> str:
    """Mastodon's media paths: the id in groups of three digits."""
    return "/".join(number[i:i + 3] for i in range(0, len(number), 3))


def mastodon_media_url(media_host: str, status: dict[str, Any], media: dict[str, Any],
                       size: str = "original") -> str:
    return (f"https://{media_host}/media_attachments/files/{_split(status['id'])}/{size}/"
            f"{media['file']}")


def mastodon_detailed(host: str, data: dict[str, Any]) -> str:
    """The .detailed-status block of the embed and status pages, from the API's JSON."""
    account, created = data["account"], _when(data["created_at"])
    media = "".join(
        f'<div class="media-gallery__item"><a href="{e(m["url"])}" target="_blank"><img '
        f'src="{e(m["preview_url"])}" alt="{e(m["description"] or "")}" style="aspect-ratio:'
        f'{m["meta"]["original"]["aspect"]:.4f}"></a></div>' for m in data["media_attachments"])
    gallery = f'<div class="media-gallery">{media}</div>' if media else ""
    return f"""<div class="detailed-status detailed-status--flex" data-status-id="{e(data['id'])}">
<div class="p-author h-card"><a class="detailed-status__display-name u-url" href="{e(account['url'])}" rel="noopener" target="_blank">
<div class="detailed-status__display-avatar"><img alt="" class="account__avatar u-photo" src="{e(account['avatar'])}" width="46" height="46"></div>
<span class="display-name"><bdi><strong class="display-name__html p-name emojify">{e(account['display_name'])}</strong></bdi> <span class="display-name__account">@{e(account['username'])}@{e(host)}</span></span>
<div class="spacer"></div><span class="logo-button">{_LOGO}</span></a></div>
<div class="status__content emojify"><div class="e-content" lang="{e(data['language'])}">{data['content']}</div></div>
{gallery}<div class="detailed-status__meta"><div class="detailed-status__meta__line"><data class="dt-published" value="{e(data['created_at'])}"></data><a class="detailed-status__datetime u-url u-uid" href="{e(data['url'])}" target="_blank" rel="noopener"><time class="formatted" datetime="{e(data['created_at'])}">{created:%b} {created.day}, {created.year}, {created:%H:%M}</time></a> · <span>Web</span></div>
<div class="detailed-status__meta__line"><span class="detailed-status__link"><strong class="detailed-status__reblogs">{data['reblogs_count']}</strong> boosts</span> · <span class="detailed-status__link"><strong class="detailed-status__favorites">{data['favourites_count']}</strong> favorites</span></div></div>
</div>"""  # noqa: E501


def mastodon_page(host: str, title: str, body: str, body_class: str = "",
                  resize: bool = False) -> str:
    script = ("<script>window.addEventListener('load',function(){if(window.parent!==window)"
              "{window.parent.postMessage({type:'setHeight',id:0,height:Math.ceil(document."
              "body.getBoundingClientRect().height)},'*');}});</script>") if resize else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport"'
            f' content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f'<meta property="og:site_name" content="{e(host)}"><style>{asset("mastodon.css")}'
            f'</style></head><body class="{body_class}">{body}{script}</body></html>\n')


def mastodon_embed(host: str, data: dict[str, Any]) -> str:
    body = ('<div class="activity-stream activity-stream--headless"><div class="entry '
            f'entry-center">{mastodon_detailed(host, data)}</div></div>')
    return mastodon_page(host, f"{data['account']['display_name']} on {host}", body,
                         "embed", resize=True)


def mastodon_status_page(host: str, data: dict[str, Any]) -> str:
    body = (f'<div class="page-header">{e(host)}</div><div class="page-body activity-stream">'
            f'<div class="entry">{mastodon_detailed(host, data)}</div></div>')
    return mastodon_page(host, f"{data['account']['display_name']}: \"{host}\"", body)


MASTODON_ERRORS = {
    403: "You are not authorized to view this page.",
    404: "The page you are looking for isn't here.",
    410: "The page you were looking for doesn't exist here anymore.",
}


def mastodon_error(host: str, status: int) -> str:
    body = (f'<div class="dialog"><div class="dialog__illustration">{_LOGO}</div><div '
            f'class="dialog__message"><h1>{e(MASTODON_ERRORS[status])}</h1></div></div>')
    return mastodon_page(host, f"{host}", body, "error")


def mastodon_sign_in(host: str) -> str:
    body = (f'<div class="page-header">{e(host)}</div><div class="sign-in"><form '
            'class="simple_form new_user" id="new_user" novalidate="novalidate" '
            'action="/auth/sign_in" accept-charset="UTF-8" method="post"><h1>Log in to '
            f'{e(host)}</h1><p>Log in with your {e(host)} credentials.</p><label for="user_email">'
            'E-mail address</label><input id="user_email" type="email" name="user[email]"><label '
            'for="user_password">Password</label><input id="user_password" type="password" '
            'name="user[password]"><button type="submit">Log in</button></form></div>')
    return mastodon_page(host, f"Log in - {host}", body)
