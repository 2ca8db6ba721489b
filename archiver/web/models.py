"""The shapes the JSON API returns (and the HTML pages render): one model per thing shown,
so the OpenAPI description names every field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Paging(BaseModel):
    page: int = Field(description="1-based page number")
    size: int
    total: int = Field(description="items matching, over all pages")
    pages: int
    total_is_lower_bound: bool = Field(
        False, description="true when counting stopped early (a search matching more than "
        "1,000 items): `total` and `pages` are then at least that, and more pages follow")


class PostSummary(BaseModel):
    platform: str
    post_id: str
    url: str = Field(description="canonical URL of the post")
    author: str | None
    state: str | None = Field(description="live, edited, deleted, unavailable or restored "
                              "(the latest change over the post's captures)")
    last_status: str | None
    first_seen: str
    last_captured: str | None
    next_check: str | None = Field(description="when the scheduler captures it again")
    captures: int
    href: str = Field(description="path of the post's page")


class CaptureSummary(BaseModel):
    capture_id: str
    platform: str
    post_id: str
    url: str
    author: str | None
    status: str = Field(description="live, deleted, unavailable, failed, abandoned or "
                        "in_progress")
    change: str | None = Field(description="against the post's previous completed capture: "
                               "first, unchanged, edited, deleted, unavailable, restored")
    reason: str | None
    started_at: str
    finished_at: str | None
    timestamp: str | None = Field(description="RFC 3161: stamped, stamped_later, "
                                  "untimestamped, or null (no authority configured)")
    text: str | None
    href: str


class ArticleSummary(BaseModel):
    id: int
    url: str
    title: str | None
    first_seen: str
    last_fetched: str | None
    last_status: str
    embeds: int
    href: str


class PostList(BaseModel):
    items: list[PostSummary]
    paging: Paging


class CaptureList(BaseModel):
    items: list[CaptureSummary]
    paging: Paging


class ArticleList(BaseModel):
    items: list[ArticleSummary]
    paging: Paging


class Problem(BaseModel):
    file: str
    issue: str


class VerificationResult(BaseModel):
    ok: bool
    checked_at: str
    files_checked: int
    problems: list[Problem]
    checks: list[str] = Field(description="what was checked")


class ArtifactInfo(BaseModel):
    name: str
    sha256: str
    size: int
    media_type: str
    role: str
    href: str = Field(description="download path")
    image: bool = Field(description="shown as an image on the page")


class CaptureDetail(CaptureSummary):
    directory: str | None
    manifest_sha256: str | None
    artifacts: list[ArtifactInfo]
    post_data: dict[str, Any] | None
    environment: dict[str, Any] | None = Field(description="the manifest's `how`: tool, "
                                               "browser, user agent, viewport, locale ...")
    checks: dict[str, Any] | None = Field(description="quote integrity and id-time checks")
    chain: dict[str, Any] | None
    signing: dict[str, Any] | None
    pages: list[dict[str, Any]]
    asked: list[dict[str, Any]] = Field(description="the embeds this capture was made for")
    verification: VerificationResult | None
    downloads: dict[str, str]


class EmbedInfo(BaseModel):
    article_id: int
    article_url: str
    article_title: str | None
    position: int
    found_in: str
    quoted_text: str | None
    date_text: str | None


class TimelineEntry(BaseModel):
    at: str
    status: str
    change: str | None
    capture_id: str
    href: str


class PostDetail(BaseModel):
    post: PostSummary
    embedded_in: list[EmbedInfo]
    timeline: list[TimelineEntry]
    captures: list[CaptureDetail] = Field(description="one page of them, newest first")
    captures_paging: Paging


class ArticleEmbed(BaseModel):
    position: int
    platform: str
    found_in: str
    author: str | None
    quoted_text: str | None
    date_text: str | None
    raw_url: str | None
    post: PostSummary | None = Field(description="null when only text of the embed survived")


class ArticleFetch(BaseModel):
    fetched_at: str
    status: str
    http_status: int | None
    final_url: str | None
    error: str | None
    embed_count: int
    change: dict[str, Any] | None
    directory: str | None


class ArticleDetail(BaseModel):
    article: ArticleSummary
    embeds: list[ArticleEmbed] = Field(description="in article order")
    fetches: list[ArticleFetch]


class DiffPiece(BaseModel):
    op: str = Field(description="equal, delete (only in a) or insert (only in b)")
    text: str


class FieldChange(BaseModel):
    field: str
    a: str | None
    b: str | None


class CaptureDiff(BaseModel):
    a: CaptureSummary
    b: CaptureSummary
    text: list[DiffPiece]
    fields: list[FieldChange] = Field(description="status and platform-data fields that differ")


class SearchResult(BaseModel):
    query: str
    redirect: str | None = Field(description="the page of the post or article the query names")
    message: str | None
    posts: PostList
