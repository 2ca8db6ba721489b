"""The platforms we know, in the order they are asked. Add a module, then list it here."""

from __future__ import annotations

from archiver.models import PostRef
from archiver.platforms.base import DataRequest, Example, PageSpec, Platform
from archiver.platforms.bluesky import Bluesky
from archiver.platforms.facebook import Facebook
from archiver.platforms.instagram import Instagram
from archiver.platforms.linkedin import LinkedIn
from archiver.platforms.mastodon import Mastodon
from archiver.platforms.reddit import Reddit
from archiver.platforms.telegram import Telegram
from archiver.platforms.threads import Threads
from archiver.platforms.tiktok import TikTok
from archiver.platforms.twitter import Twitter
from archiver.platforms.vimeo import Vimeo
from archiver.platforms.youtube import YouTube

REGISTRY: tuple[Platform, ...] = (Twitter(), YouTube(), Vimeo(), TikTok(), Telegram(), Bluesky(),
                                  Mastodon(), Instagram(), Facebook(), Threads(), Reddit(),
                                  LinkedIn())

__all__ = ["REGISTRY", "DataRequest", "Example", "PageSpec", "Platform", "by_name", "match_url"]


def by_name(name: str) -> Platform:
    """The platform registered under `name`."""
    for platform in REGISTRY:
        if platform.name == name:
            return platform
    raise KeyError(name)


def match_url(url: str) -> PostRef | None:
    """The post a URL points at, asking each platform in order; None if none claims it."""
    for platform in REGISTRY:
        ref = platform.match_url(url)
        if ref is not None:
            return ref
    return None
