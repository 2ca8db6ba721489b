"""How the fake Reddit and LinkedIn render a post record: listing JSON, oEmbed, embed cards,
post pages and the platforms' notices.

Pure functions of a record (a dict from tests/fixtures/forums/*.json) and its state. The
markup follows what the real embeds carry where other tools document it (shreddit-post
with `id="t3_<id>"`; LinkedIn's `data-test-id="main-feed-activity-embed-card__..."`);
styles are in tests/fixtures/forums/*.css.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[1] / "fixtures" / "forums"
E = html.escape

REDDIT_LOGO = ('<svg viewBox="0 0 20 20" aria-hidden="true"><circle cx="10" cy="10" r="10" '
               'fill="#ff4500"/><ellipse cx="10" cy="11.6" rx="5.4" ry="3.6" fill="#fff"/>'
               '<circle cx="8" cy="11.2" r=".9" fill="#ff4500"/><circle cx="12" cy="11.2" '
               'r=".9" fill="#ff4500"/><circle cx="14.2" cy="5.2" r="1.1" fill="#fff"/>'
               '<path d="M10 8 L11 4.6 L14 5.2" stroke="#fff" stroke-width=".8" fill="none"/>'
               "</svg>")
_UP = ('<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M10 2 2 11h5v7h6v-7h5z"/></svg>')
_DOWN = ('<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M10 18 18 9h-5V2H7v7H2z"/>'
         "</svg>")
_BUBBLE = ('<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M10 2C5.6 2 2 5.1 2 9c0 2 '
           '.9 3.7 2.4 5L4 18l4-1.7c.6.1 1.3.2 2 .2 4.4 0 8-3.1 8-7s-3.6-7.5-8-7.5z"/></svg>')
LI_LOGO = ('<svg viewBox="0 0 24 24" aria-label="LinkedIn"><rect width="24" height="24" '
           'rx="3" fill="#0a66c2"/><path fill="#fff" d="M5.3 9.4h2.9V19H5.3zM6.8 4.8a1.7 '
           '1.7 0 1 1 0 3.4 1.7 1.7 0 0 1 0-3.4zM10 9.4h2.8v1.3c.4-.8 1.4-1.5 2.9-1.5 3 0 '
           '3.6 2 3.6 4.6V19h-2.9v-4.6c0-1.1 0-2.5-1.5-2.5s-1.8 1.2-1.8 2.4V19H10z"/></svg>')
_GLOBE = ('<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M8 1a7 7 0 1 0 0 14A7 7 0 0 '
          '0 8 1zm4.9 6H11a11 11 0 0 0-.9-4A5 5 0 0 1 12.9 7zM8 3c.5.6 1.1 2 1.2 4H6.8C6.9 5 '
          '7.5 3.6 8 3zM5.9 3a11 11 0 0 0-.9 4H3.1A5 5 0 0 1 5.9 3zM3.1 9H5a11 11 0 0 0 .9 '
          '4A5 5 0 0 1 3.1 9zM8 13c-.5-.6-1.1-2-1.2-4h2.4c-.1 2-.7 3.4-1.2 4zm2.1 0a11 11 0 0 0 '
          '.9-4h1.9a5 5 0 0 1-2.8 4z"/></svg>')
_LIKE = ('<svg viewBox="0 0 16 16"><circle cx="8" cy="8" r="8" fill="#378fe9"/><path '
         'fill="#fff" d="M4 7h2v5H4zm3 0 2-3c.6 0 1 .5 1 1l-.3 2H12l-.6 5H7z"/></svg>')
_HEART = ('<svg viewBox="0 0 16 16"><circle cx="8" cy="8" r="8" fill="#df704d"/><path '
          'fill="#fff" d="M8 12 4.5 8.6a2 2 0 0 1 3.5-2.4 2 2 0 0 1 3.5 2.4z"/></svg>')


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{E(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p)


def compact(n: int) -> str:
    return f"{n / 1000:.1f}".rstrip("0").rstrip(".") + "K" if n >= 1000 else str(n)


def page(title: str, css: str, body: str, extra_head: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{E(title)}</title>{extra_head}'
            f"<style>{asset(css)}</style></head>\n<body>{body}</body></html>\n")


# -- Reddit ----------------------------------------------------------------------------------
def reddit_location(record: dict[str, Any]) -> str:
    return f"user/{record['profile']}" if record.get("profile") else f"r/{record['subreddit']}"


def reddit_permalink(record: dict[str, Any]) -> str:
    return f"/{reddit_location(record)}/comments/{record['id']}/{record['slug']}/"


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000000+0000")


def _t3(record: dict[str, Any], state: str) -> dict[str, Any]:
    """A post's `data` as the listing JSON carries it (the fields tools read, and more)."""
    sub, rid = record["subreddit"], record["id"]
    image = f"https://i.redd.it{record['image']}" if record.get("image") else None
    url = image or f"https://www.reddit.com{reddit_permalink(record)}"
    author, selftext, category = record["author"], record["selftext"], None
    if state == "deleted":
        author, selftext, category = "[deleted]", "[deleted]", "deleted"
    elif state == "removed":
        selftext, category = "[removed]", "moderator"
    data: dict[str, Any] = {
        "approved_at_utc": None, "subreddit": sub, "selftext": selftext,
        "title": record["title"], "subreddit_name_prefixed": f"r/{sub}"
        if not record.get("profile") else f"u/{record['profile']}",
        "hidden": False, "downs": 0, "name": f"t3_{rid}", "quarantine": state == "quarantined",
        "upvote_ratio": record["upvote_ratio"], "subreddit_type":
        "user" if record.get("profile") else "public", "ups": record["score"],
        "link_flair_text": record.get("flair"), "score": record["score"],
        "thumbnail": "self" if not image else f"https://b.thumbs.redditmedia.com/{rid}.jpg",
        "edited": False, "is_self": image is None, "subreddit_id": record["subreddit_id"],
        "created": float(record["created_utc"]), "removed_by_category": category,
        "domain": "i.redd.it" if image else f"self.{sub}", "archived": False,
        "over_18": False, "spoiler": False, "locked": state == "removed", "id": rid,
        "author": author, "num_comments": record["num_comments"],
        "permalink": reddit_permalink(record), "stickied": False, "url": url,
        "subreddit_subscribers": record["subscribers"],
        "created_utc": float(record["created_utc"]), "num_crossposts": 0, "media": None,
        "is_video": False, "is_robot_indexable": state == "live",
    }
    if author != "[deleted]":
        data["author_fullname"] = record["author_fullname"]
    if image:
        data["post_hint"] = "image"
        data["url_overridden_by_dest"] = image
        data["preview"] = {"images": [{"source": {
            "url": f"https://preview.redd.it{record['image']}?auto=webp&s={rid}",
            "width": 1200, "height": 675}, "resolutions": [], "variants": {},
            "id": rid}], "enabled": True}
    return data


def reddit_listing(record: dict[str, Any], state: str) -> list[dict[str, Any]]:
    """What /comments/<id>/.json answers: [the post's listing, the comments' listing]."""
    comments = [] if state != "live" else [
        {"kind": "t1", "data": {"id": c["id"], "name": f"t1_{c['id']}", "author": c["author"],
                                "body": c["body"], "score": c["score"], "ups": c["score"],
                                "parent_id": f"t3_{record['id']}", "link_id": f"t3_{record['id']}",
                                "permalink": f"{reddit_permalink(record)}{c['id']}/",
                                "created_utc": float(record["created_utc"] + 600), "replies": "",
                                "depth": 0, "subreddit": record["subreddit"]}}
        for c in record.get("comments", [])]
    return [
        {"kind": "Listing", "data": {"after": None, "dist": 1, "modhash": "", "geo_filter": "",
                                     "children": [{"kind": "t3", "data": _t3(record, state)}],
                                     "before": None}},
        {"kind": "Listing", "data": {"after": None, "dist": None, "modhash": "",
                                     "geo_filter": "", "children": comments, "before": None}},
    ]


def reddit_oembed(record: dict[str, Any]) -> dict[str, Any]:
    link = f"https://www.reddit.com{reddit_permalink(record)}"
    markup = (f'\n    <blockquote class="reddit-embed-bq" style="height:500px" >\n      <a href="'
              f'{link}">{E(record["title"])}</a><br> by\n      <a href="https://www.reddit.com/'
              f'user/{record["author"]}/">u/{record["author"]}</a> in\n      <a href="https://'
              f'www.reddit.com/r/{record["subreddit"]}/">{record["subreddit"]}</a>\n    '
              '</blockquote>\n    <script async src="https://embed.reddit.com/widgets.js" '
              'charset="UTF-8"></script>\n')
    return {"provider_url": "https://www.reddit.com/", "version": "1.0",
            "title": record["title"], "type": "rich", "provider_name": "reddit",
            "height": 500, "width": 640, "html": markup, "author_name": record["author"]}


def reddit_card(record: dict[str, Any]) -> str:
    """The shreddit-post card of a live post (embed render and post page)."""
    created = datetime.fromtimestamp(record["created_utc"], tz=UTC)
    where, sub = reddit_location(record), record["subreddit"]
    shown = f"u/{record['profile']}" if record.get("profile") else f"r/{sub}"
    icon = f"https://styles.redditmedia.com/{record['subreddit_id']}/styles/communityIcon.png"
    body = _paragraphs(record["selftext"]) if record["selftext"] else ""
    media = (f'<figure class="post-media"><img src="https://i.redd.it{E(record["image"])}" '
             f'alt="{E(shown)} - {E(record["title"])}"></figure>' if record.get("image") else "")
    flair = f'<span class="flair">{E(record["flair"])}</span>' if record.get("flair") else ""
    return (
        f'<shreddit-post id="t3_{record["id"]}" permalink="{E(reddit_permalink(record))}" '
        f'post-title="{E(record["title"])}" author="{E(record["author"])}" '
        f'subreddit-prefixed-name="{E(shown)}" score="{record["score"]}" '
        f'comment-count="{record["num_comments"]}" created-timestamp="'
        f'{_iso(record["created_utc"])}" post-type="{"image" if media else "text"}">'
        f'<div class="post-header"><a class="community" href="https://www.reddit.com/{where}/" '
        f'target="_blank"><img class="community-icon" src="{icon}" alt="">{E(shown)}</a>'
        f'<span class="dot">•</span><time datetime="{created.isoformat()}">'
        f"{created:%b} {created.day}, {created.year}</time>"
        f'<a class="reddit-logo" href="https://www.reddit.com/" target="_blank">{REDDIT_LOGO}'
        f"reddit</a></div>"
        f'<div class="post-author">u/<a href="https://www.reddit.com/user/{E(record["author"])}/"'
        f">{E(record['author'])}</a></div>"
        f'<h1 slot="title" class="post-title">{E(record["title"])}</h1>{flair}'
        f'<div slot="text-body" class="post-body">{body}</div>{media}'
        f'<div class="post-footer"><span class="pill">{_UP}{compact(record["score"])}{_DOWN}'
        f'</span><a class="pill" href="https://www.reddit.com{E(reddit_permalink(record))}" '
        f'target="_blank">{_BUBBLE}{record["num_comments"]}</a><a class="join" href="https://'
        f'www.reddit.com{E(reddit_permalink(record))}" target="_blank">Join the conversation'
        "</a></div></shreddit-post>")


def reddit_notice(record: dict[str, Any] | None, state: str) -> str:
    """The notice the embed and post page show instead of a card."""
    sub = f"r/{record['subreddit']}" if record else "this community"
    notices = {
        "deleted": ("post-unavailable", "Sorry, this post was deleted by the person who "
                    "originally posted it.", ""),
        "removed": ("post-unavailable", f"Sorry, this post has been removed by the "
                    f"moderators of {sub}.", "Moderators remove posts from feeds for a variety "
                    "of reasons, including keeping communities safe, civil, and true to their "
                    "purpose."),
        "private_subreddit": ("community-unavailable", f"{sub} is a private community",
                              "Only approved members can view and contribute."),
        "quarantined": ("community-unavailable", f"{sub} is quarantined",
                        "Log in to confirm you want to view this community."),
        "banned": ("community-unavailable", f"{sub} has been banned from Reddit",
                   "This community was banned for violating Reddit's rules."),
    }
    testid, title, detail = notices.get(state, (
        "page-not-found", "Page not found", "The post you are looking for does not exist."))
    return (f'<div class="embed-unavailable" data-testid="{testid}" role="alert">{REDDIT_LOGO}'
            f"<h2>{E(title)}</h2><p>{E(detail)}</p></div>")


def reddit_embed_page(record: dict[str, Any] | None, state: str) -> str:
    content = reddit_card(record) if record and state in _RENDERED else \
        reddit_notice(record, state)
    title = f"{record['title']} : {record['subreddit']}" if record else "reddit"
    resize = ("<script>addEventListener('load',function(){parent.postMessage({type:"
              "'resize.embed',data:document.body.scrollHeight},'*')});</script>")
    return page(title, "reddit-embed.css", content + resize)


def reddit_post_page(record: dict[str, Any] | None, state: str) -> str:
    main = reddit_notice(record, state)
    if record and state in _RENDERED:
        comments = "".join(
            f'<div class="comment"><div class="meta">u/{E(c["author"])} · {c["score"]} points'
            f'</div><p>{E(c["body"])}</p></div>' for c in record.get("comments", []))
        main = reddit_card(record) + f'<div class="comments-list">{comments}</div>'
    title = f"{record['title']} : r/{record['subreddit']}" if record else "reddit"
    return page(title, "reddit-embed.css", f'<header class="site-header">{REDDIT_LOGO}reddit'
                f'</header><main class="site-main">{main}</main>')


#: States in which Reddit still shows the post (the data endpoint is what fails).
_RENDERED = frozenset({"live", "ratelimited", "blocked"})


# -- LinkedIn --------------------------------------------------------------------------------
def _commentary(text: str) -> str:
    out = E(text).replace("\n", "<br>")
    return re.sub(r"#(\w+)", lambda m: f'<a href="https://www.linkedin.com/feed/hashtag/'
                  f'{m.group(1).lower()}?trk=public_post_embed-text">#{m.group(1)}</a>', out)


def linkedin_card(record: dict[str, Any]) -> str:
    kind, company = record["kind"], record["actor"] == "company"
    profile = (f"https://www.linkedin.com/{'company' if company else 'in'}/{record['vanity']}"
               "?trk=public_post_embed_feed-actor-name")
    avatar = (f"https://media.licdn.com/dms/image/v2/{record['vanity']}/"
              f"{'company-logo_100_100' if company else 'profile-displayphoto-shrink_100_100'}"
              "/0/1690000000000?e=2147483647&v=beta")
    alt = "View organization page for " if company else "View profile for "
    image = (f'<ul data-test-id="feed-images-content" class="feed-images"><li data-test-id='
             f'"feed-images-content__list-item"><img src="https://media.licdn.com'
             f'{E(record["image"])}" alt="No alternative text description for this image">'
             "</li></ul>" if record.get("image") else "")
    return (
        f'<article class="main-feed-activity-embed-card" data-activity-urn="urn:li:activity:'
        f'{record["activity"]}" data-attributed-urn="urn:li:{kind}:{record["id"]}">'
        f'<div data-test-id="main-feed-activity-embed-card__entity-lockup" class="entity-lockup">'
        f'<a class="actor-image{" company" if company else ""}" href="{E(profile)}" '
        'data-tracking-control-name="public_post_embed_feed-actor-image" target="_blank">'
        f'<img src="{E(avatar)}" alt="{alt}{E(record["author"])}"></a>'
        f'<div class="entity-lockup__content"><a class="entity-lockup__title" href="{E(profile)}" '
        'data-tracking-control-name="public_post_embed_feed-actor-name" target="_blank">'
        f'{E(record["author"])}</a><p class="entity-lockup__subtitle">{E(record["headline"])}'
        f'</p><p class="entity-lockup__caption"><time>{E(record["ago"])}</time> · {_GLOBE}</p>'
        '</div><a class="li-logo" href="https://www.linkedin.com/?trk=public_post_embed_nav-'
        f'header-logo" target="_blank">{LI_LOGO}</a></div>'
        '<p data-test-id="main-feed-activity-embed-card__commentary" class="commentary '
        f'attributed-text-segment-list__content">{_commentary(record["text"])}</p>{image}'
        '<div data-test-id="main-feed-activity-embed-card__social-actions" class="social-'
        f'actions"><span class="reaction-icons">{_LIKE}{_HEART}</span><span data-test-id='
        f'"social-actions__reaction-count">{record["reactions"]:,}</span><a class="comments" '
        f'data-test-id="social-actions__comments" data-num-comments="{record["comments"]}">'
        f'{record["comments"]} Comments</a></div>'
        '<div class="embed-cta"><a href="https://www.linkedin.com/signup">Like</a><a href='
        '"https://www.linkedin.com/signup">Comment</a><a href="https://www.linkedin.com/'
        'signup">Share</a></div></article>')


def linkedin_notice(state: str) -> str:
    if state == "login_wall":
        return ('<div class="authwall-join-form" data-test-id="authwall">' + LI_LOGO
                + "<h2>Sign in to view this post</h2><p>Join LinkedIn to see what professionals"
                " are sharing.</p><a class=\"btn btn-secondary\" href=\"https://www.linkedin.com"
                '/login">Sign in</a> <a class="btn btn-primary" href="https://www.linkedin.com/'
                'signup">Join now</a></div>')
    title, detail = {
        "private": ("This post is private", "Only the author's connections can see it."),
    }.get(state, ("This post cannot be displayed",
                  "It may have been deleted, or its visibility changed."))
    return (f'<section class="embed-error" data-test-id="embed-error">{LI_LOGO}<h2>{E(title)}'
            f"</h2><p>{E(detail)}</p></section>")


def linkedin_embed_page(record: dict[str, Any] | None, state: str) -> str:
    live = record is not None and state == "live"
    content = linkedin_card(record) if live and record else linkedin_notice(state)
    title = f"{record['author']} on LinkedIn" if live and record else "LinkedIn"
    return page(title, "linkedin-embed.css", content)


def linkedin_post_page(record: dict[str, Any] | None, state: str) -> str:
    main = linkedin_card(record) if record and state == "live" else linkedin_notice(state)
    title = (f"{record['text'][:60]} | {record['author']} | LinkedIn" if record and
             state == "live" else "LinkedIn")
    return page(title, "linkedin-embed.css",
                f'<header class="guest-header">{LI_LOGO}<span class="actions"><a class="btn '
                'btn-secondary" href="https://www.linkedin.com/login">Sign in</a><a class="btn '
                'btn-primary" href="https://www.linkedin.com/signup">Join now</a></span>'
                f'</header><main class="guest-main">{main}</main>')
