"""Embed archiver: find the posts an article embeds, capture them, keep verifiable evidence."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
