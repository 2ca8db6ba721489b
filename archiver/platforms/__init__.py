"""The platforms we know, in the order they are asked. Add a module, then list it here."""

from __future__ import annotations

from archiver.models import PostRef
from archiver.platforms.base import DataRequest, Example, PageSpec, Platform
from archiver.platforms.twitter import Twitter

REGISTRY: tuple[Platform, ...] = (Twitter(),)

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
