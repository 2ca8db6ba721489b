"""One exception tree for the archiver.

Callers catch at the level they need::

    ArchiverError                 anything the archiver raises on purpose
    ├── UsageError                the user's input is wrong (bad URL, missing file): exit 2
    ├── ConfigError               configuration cannot be loaded or is inconsistent: exit 2
    ├── FetchError                an HTTP fetch did not give a usable document
    │   ├── BlockedAddressError   the host resolves to an address policy refuses (SSRF guard)
    │   ├── TooLargeError         the body exceeded the configured size cap
    │   ├── NotHTMLError          the document is not HTML (PDF, image, ...)
    │   └── HTTPStatusError       the server answered with an error status (404, 500, ...)
    ├── BrowserError              no usable browser, or the browser died
    ├── CaptureError              a capture could not produce its evidence
    ├── TimestampError            a timestamp authority answered, but the token is unusable
    └── StoreError                the index or the artifact store cannot be written or read

``expected`` is True when the fault lies outside our code (the site, the network, the
user's input): such errors become one clear line and a recorded status, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archiver.models import HttpExchange


class ArchiverError(Exception):
    """Base of every error the archiver raises on purpose."""

    expected: bool = True

    def __init__(self, message: str, *, expected: bool | None = None) -> None:
        super().__init__(message)
        if expected is not None:
            self.expected = expected


class UsageError(ArchiverError):
    """The input given by the user cannot be used (exit status 2)."""


class ConfigError(ArchiverError):
    """Configuration is missing, malformed or contradictory (exit status 2)."""


class FetchError(ArchiverError):
    """An HTTP fetch failed: unreachable host, timeout, redirect loop, ..."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        #: answers 429 / 503 that were waited out before the request that failed
        self.retried: tuple[HttpExchange, ...] = ()


class BlockedAddressError(FetchError):
    """The host resolves to a private, loopback or link-local address not allowed by config."""


class TooLargeError(FetchError):
    """The response body is larger than the configured cap."""


class NotHTMLError(FetchError):
    """The document is not an HTML page."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""


class BrowserError(ArchiverError):
    """The browser cannot be found, launched, or has died."""


class CaptureError(ArchiverError):
    """A capture could not produce its evidence."""


class TimestampError(ArchiverError):
    """A timestamp authority answered, but not with a usable token for our request."""


class StoreError(ArchiverError):
    """The index or the artifact store failed."""

    expected = False
