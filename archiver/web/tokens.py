"""Reading tokens for the web view and API.

A token is 32 random bytes (URL-safe base64, prefixed `arch_`), shown once when created;
the index keeps only its SHA-256, so a copy of the database gives no one access. Tokens
are high-entropy, so a plain hash is enough (no password stretching needed), and lookups
by hash make comparison timing irrelevant.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from archiver.errors import UsageError
from archiver.net import utc_now
from archiver.store.index import Index
from archiver.store.schema import TokenRow

PREFIX = "arch_"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: str
    revoked_at: str | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(index: Index, name: str) -> tuple[TokenInfo, str]:
    """A new token: its record and the token itself (never stored, shown once)."""
    name = name.strip()
    if not name or len(name) > 128:
        raise UsageError("give the token a name of 1-128 characters (who or what uses it)")
    token = PREFIX + secrets.token_urlsafe(32)
    with index.session() as s:
        row = TokenRow(name=name, sha256=_digest(token), created_at=utc_now())
        s.add(row)
        s.flush()
        return TokenInfo(row.id, row.name, row.created_at, None), token


def list_tokens(index: Index) -> list[TokenInfo]:
    with index.session() as s:
        return [TokenInfo(r.id, r.name, r.created_at, r.revoked_at)
                for r in s.scalars(select(TokenRow).order_by(TokenRow.id))]


def revoke_token(index: Index, ref: str) -> list[TokenInfo]:
    """Revoke the token with this id, or every active token with this name."""
    with index.session() as s:
        q = select(TokenRow).where(TokenRow.revoked_at.is_(None))
        q = q.where(TokenRow.id == int(ref)) if ref.isdigit() else q.where(TokenRow.name == ref)
        rows = list(s.scalars(q))
        if not rows:
            raise UsageError(f"no active token with id or name {ref!r}")
        now = utc_now()
        for row in rows:
            row.revoked_at = now
        return [TokenInfo(r.id, r.name, r.created_at, r.revoked_at) for r in rows]


def check_token(index: Index, token: str | None) -> bool:
    """Whether `token` is a known, unrevoked token."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return False
    with index.session() as s:
        row = s.scalar(select(TokenRow).where(TokenRow.sha256 == _digest(token)))
        return row is not None and row.revoked_at is None
