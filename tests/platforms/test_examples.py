"""Every platform's examples map to their own platform and id, and to no other platform."""

from __future__ import annotations

import pytest

from archiver.platforms import REGISTRY, Example, Platform, match_url

CASES = [(platform, example) for platform in REGISTRY for example in platform.examples]


def _case_id(case: tuple[Platform, Example]) -> str:
    return f"{case[0].name}:{case[1].url}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_example_maps_to_its_own_platform_only(case: tuple[Platform, Example]) -> None:
    platform, example = case
    ref = platform.match_url(example.url)
    if example.post_id is None:
        assert ref is None, f"{example.url} is not a post, yet {platform.name} matched it"
    else:
        assert ref is not None, f"{platform.name} does not match its example {example.url}"
        assert (ref.platform, ref.post_id) == (platform.name, example.post_id)
        if example.author is not None:
            assert ref.author == example.author
        assert platform.match_url(ref.url) == ref, "the canonical URL maps back to the post"
    for other in REGISTRY:
        if other is not platform:
            assert other.match_url(example.url) is None, f"{other.name} claims {example.url}"
    assert match_url(example.url) == ref


def test_every_platform_has_examples_of_both_kinds() -> None:
    for platform in REGISTRY:
        ids = [example.post_id for example in platform.examples]
        assert any(ids), f"{platform.name} has no post example"
        assert None in ids, f"{platform.name} has no non-post example"


@pytest.mark.parametrize("platform", REGISTRY, ids=[p.name for p in REGISTRY])
def test_detection_facts_are_well_formed(platform: Platform) -> None:
    """The discovery facts read by archiver/discover.py name the groups it reads."""
    for pattern in (*platform.url_patterns, *platform.embed_url_patterns):
        assert "id" in pattern.groupindex, pattern.pattern
    if platform.byline_pattern is not None:
        assert {"name", "handle"} <= set(platform.byline_pattern.groupindex)
    for markup in platform.embed_markup:
        assert markup.tag == markup.tag.lower()
        readable = markup.url_attrs or markup.id_attrs or markup.link_pattern
        assert readable, f"{markup.tag}: nothing to read a post from"
