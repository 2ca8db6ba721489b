"""The raw traffic of one capture as a WARC/1.1 file, so pywb or ReplayWeb.page can replay
the post as it was served.

What goes in, in the order it is added (after a `warcinfo` record that opens the file):

- every `requests` exchange (`add_exchange`) and every entry of the browser's HAR
  (`add_har`) as a `response` record followed by its `request` record; the request names
  the response in `WARC-Concurrent-To` (warcio's order and convention); `WARC-Date` is
  when the request started and `WARC-IP-Address` the server address that answered;
- screenshots, the manifest and notes as `resource` / `metadata` records whose target is
  `urn:embed-archiver:<capture_id>/<name>`, never an http(s) URL: pywb serves any record
  whose target URI matches a request, so a sidecar record sharing the page's URL would be
  replayed in place of the page.

Why the browser side comes from Playwright's HAR (`record_har_path=...,
record_har_content="embed"`): Playwright already joins Chromium's network events into one
entry per request, with the raw request and response headers as they crossed the wire (the
CDP "ExtraInfo" events), the protocol, the server address and the body, read before
Chromium evicts it; embed mode keeps bodies lossless (base64 unless valid UTF-8 text).
Route interception would change the traffic it records (`route.fetch` replays the request
from another HTTP stack), and our own CDP listener would redo Playwright's joining of
events, worse. Limits of the HAR: headers arrive as Chromium reports them (a map, so the
order is Chromium's and repeated names are split back apart), redirect responses carry no
body, an embed HAR leaves out `application/octet-stream` request bodies, and WebSocket
frames are not recorded (such entries, and any body the HAR lacks, are listed in a metadata
record).

Bodies are stored decoded: `requests` and Chromium both hand over the payload after undoing
`Content-Encoding` and chunked `Transfer-Encoding`, and the encoded bytes are gone. So that
no record claims bytes we do not hold, and replay serves what is stored, a stored message's
headers are rewritten only where they describe the encoding: `Content-Encoding`,
`Transfer-Encoding` and a `Content-Length` that does not match the stored body are renamed
`X-Archiver-Original-<Name>` (value kept), and `Content-Length` is set to the stored length.
Other reconstructed parts, named here so no one mistakes them for captured bytes:

- the status line: HTTP/2 and HTTP/3 have none, so such messages are written as HTTP/1.1
  with the real protocol in `X-Archiver-Original-Protocol` and pseudo-headers (`:path` ...)
  dropped (`:authority` becomes `Host` when there is none);
- the reason phrase, where none was captured (HTTP/2 and later, and `requests` exchanges,
  which `HttpExchange` keeps without one), is the standard one for the code;
- requests made with `requests`: `Host` is added when absent (urllib3 sends it on the wire
  but `requests` does not list it), and only the last hop of a redirect chain is held, so the
  chain is written as a metadata record that refers to the response.

Record digests are SHA-1, as WARC tools and CDXJ indexes expect; the file as a whole is
covered by the SHA-256 sums of the capture directory.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from archiver.models import HttpExchange

URN_PREFIX = "urn:embed-archiver:"
ORIGINAL = "X-Archiver-Original-"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: Headers that describe the encoding of bytes we no longer hold.
ENCODING_HEADERS = frozenset({"content-encoding", "transfer-encoding"})
HTTP1 = ("HTTP/1.0", "HTTP/1.1")

Headers = list[tuple[str, str]]


def warc_date(value: str = "") -> str:
    """A WARC-Date (UTC, microseconds) from an ISO 8601 time, or now when empty."""
    if value:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    else:
        moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored_headers(headers: Iterable[tuple[str, str]], body_length: int,
                   protocol: str = "HTTP/1.1") -> tuple[str, Headers]:
    """(protocol to write, headers that describe the body we store); see the module doc."""
    out: Headers = []
    authority = None
    renamed = False
    for name, value in headers:
        lname = name.lower()
        if lname.startswith(":"):  # an HTTP/2 pseudo-header has no place in HTTP/1 syntax
            if lname == ":authority":
                authority = value
            continue
        if lname in ENCODING_HEADERS or (lname == "content-length"
                                         and value.strip() != str(body_length)):
            out.append((ORIGINAL + name.title(), value))
            renamed = True
        else:
            out.append((name, value))
    if authority and not any(n.lower() == "host" for n, _ in out):
        out.insert(0, ("Host", authority))
    has_length = any(n.lower() == "content-length" for n, _ in out)
    if not has_length and (body_length or renamed):
        out.append(("Content-Length", str(body_length)))
    if protocol not in HTTP1:
        out.append((ORIGINAL + "Protocol", protocol))
        protocol = "HTTP/1.1"
    return protocol, out


def _reason(status: int, text: str = "") -> str:
    if text:
        return text
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _lead(kind: str, uri: str, date: str, warcinfo_id: str) -> dict[str, str]:
    """The named fields a record starts with, in the order a reader looks for them."""
    return {"WARC-Type": kind, "WARC-Record-ID": _record_id(), "WARC-Target-URI": uri,
            "WARC-Date": date, "WARC-Warcinfo-ID": warcinfo_id}


class WarcWriter:
    """Collects a capture's records in the order they are added; one gzip WARC/1.1 file.

    Each record is its own gzip member, as the WARC spec recommends, so tools can seek to
    any record from an index.
    """

    def __init__(self, capture_id: str, software: str, *, filename: str | None = None) -> None:
        self.capture_id = capture_id
        self._buffer = io.BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=True, warc_version="1.1")
        self._hars = 0
        info = self._writer.create_warcinfo_record(filename, {
            "software": software,
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "description": "raw traffic of one embed-archiver capture; bodies are stored "
                           "decoded, original encoding headers kept as X-Archiver-Original-*",
            "capture-id": capture_id,
        })
        self.warcinfo_id: str = info.rec_headers.get_header("WARC-Record-ID")
        self._writer.write_record(info)

    def urn(self, name: str) -> str:
        """The target URI of a sidecar record: never one a browser could request."""
        return f"{URN_PREFIX}{self.capture_id}/{name}"

    # -- HTTP traffic -------------------------------------------------------------------
    def add_exchange(self, exchange: HttpExchange, *, request_body: bytes = b"") -> None:
        """A response record and its request record for one `requests` exchange.

        `HttpExchange` keeps no request body: pass a POST's body as `request_body`, else the
        request record holds none and says so (its Content-Length is kept aside)."""
        url = exchange.final_url or exchange.url
        request_headers = list(exchange.request_headers)
        if not any(name.lower() == "host" for name, _ in request_headers):
            request_headers.insert(0, ("Host", urlsplit(url).netloc))
        response_id = self._pair(
            url=url, date=warc_date(exchange.started), ip=exchange.peer_ip,
            method=exchange.method, request_headers=request_headers, request_body=request_body,
            protocol=exchange.http_version, status=exchange.status, reason="",
            response_headers=exchange.headers, body=exchange.body)
        if exchange.redirects:
            chain = {"requested": exchange.url, "redirected_from": list(exchange.redirects),
                     "final_url": url,
                     "note": "intermediate redirect responses were followed by requests and "
                             "not kept; the response record holds the last hop only"}
            self._sidecar("metadata", f"redirects/{response_id.strip('<>').split(':')[-1]}.json",
                          json.dumps(chain, indent=2).encode(), "application/json",
                          refers_to=response_id)

    def add_har(self, har: dict[str, Any]) -> int:
        """Records for every answered entry of a Playwright HAR; returns how many entries.

        Entries without a response (aborted, failed, blocked), WebSocket entries and
        non-http(s) URLs get no request/response records; they are listed, with why, in one
        metadata record, as are entries whose body the HAR lacks.
        """
        self._hars += 1
        written = 0
        notes: list[dict[str, Any]] = []
        for entry in har.get("log", {}).get("entries", []):
            request = entry.get("request") or {}
            url = str(request.get("url", ""))
            skip = _skip_reason(entry, url)
            if skip is not None:
                notes.append({"url": url, "started": entry.get("startedDateTime"),
                              "skipped": skip})
                continue
            response = entry["response"]
            status = int(response["status"])
            body, missing = _har_body(response.get("content") or {}, status)
            if missing:
                notes.append({"url": url, "status": status,
                              "body": "not recorded in the HAR; stored empty"})
            post = request.get("postData") or {}
            ip = str(entry.get("serverIPAddress") or "").strip("[]") or None
            self._pair(
                url=url, date=warc_date(str(entry.get("startedDateTime") or "")), ip=ip,
                method=str(request.get("method", "GET")),
                request_headers=_har_headers(request.get("headers")),
                request_body=str(post.get("text") or "").encode(),
                protocol=str(response.get("httpVersion") or "HTTP/1.1"),
                status=status, reason=str(response.get("statusText") or ""),
                response_headers=_har_headers(response.get("headers")), body=body)
            written += 1
        if notes:
            self.add_metadata(f"har/{self._hars}/notes.json",
                              json.dumps(notes, indent=2).encode(), "application/json")
        return written

    def _pair(self, *, url: str, date: str, ip: str | None, method: str,
              request_headers: Iterable[tuple[str, str]], request_body: bytes, protocol: str,
              status: int, reason: str, response_headers: Iterable[tuple[str, str]],
              body: bytes) -> str:
        """Write a response record then its request record; return the response's id."""
        warc_headers = _lead("response", url, date, self.warcinfo_id)
        if ip:
            warc_headers["WARC-IP-Address"] = ip
        proto, headers = stored_headers(response_headers, len(body), protocol)
        http = StatusAndHeaders(f"{status} {_reason(status, reason)}".rstrip(), headers,
                                protocol=proto)
        response = self._writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body),
            warc_headers_dict=dict(warc_headers), http_headers=http)
        response_id = cast(str, response.rec_headers.get_header("WARC-Record-ID"))
        req_proto, req_headers = stored_headers(request_headers, len(request_body), protocol)
        req_http = StatusAndHeaders(f"{method} {_target(url)} {req_proto}", req_headers,
                                    is_http_request=True)
        request = self._writer.create_warc_record(
            url, "request", payload=io.BytesIO(request_body), length=len(request_body),
            warc_headers_dict={**warc_headers, "WARC-Type": "request",
                               "WARC-Record-ID": _record_id(),
                               "WARC-Concurrent-To": response_id},
            http_headers=req_http)
        self._writer.write_record(response)
        self._writer.write_record(request)
        return response_id

    # -- sidecar records ------------------------------------------------------------------
    def add_resource(self, name: str, data: bytes, media_type: str) -> None:
        """A file the capture made (a screenshot, the DOM ...), as a resource record."""
        self._sidecar("resource", name, data, media_type)

    def add_metadata(self, name: str, data: bytes, media_type: str) -> None:
        """Something about the capture (the manifest, notes), as a metadata record."""
        self._sidecar("metadata", name, data, media_type)

    def _sidecar(self, kind: str, name: str, data: bytes, media_type: str,
                 refers_to: str | None = None) -> None:
        headers = _lead(kind, self.urn(name), warc_date(), self.warcinfo_id)
        if refers_to:
            headers["WARC-Refers-To"] = refers_to
        record = self._writer.create_warc_record(
            self.urn(name), kind, payload=io.BytesIO(data), length=len(data),
            warc_content_type=media_type, warc_headers_dict=headers)
        self._writer.write_record(record)

    def to_bytes(self) -> bytes:
        """The .warc.gz as written so far (the warcinfo record first)."""
        return self._buffer.getvalue()


def _skip_reason(entry: dict[str, Any], url: str) -> str | None:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        return f"not an http(s) URL ({scheme or 'none'})"
    if entry.get("_resourceType") == "websocket":
        return "WebSocket: frames are not recorded in the WARC"
    response = entry.get("response") or {}
    if int(response.get("status") or -1) <= 0:
        why = response.get("_failureText") or ("aborted" if entry.get("_wasAborted") else "")
        return f"no response{': ' + str(why) if why else ''}"
    return None


def _har_headers(value: Any) -> Headers:
    return [(str(h["name"]), str(h["value"])) for h in value or () if "name" in h]


def _har_body(content: dict[str, Any], status: int) -> tuple[bytes, bool]:
    """(stored body, whether the HAR lacks a body the response should have had)."""
    text = content.get("text")
    if text is None:
        bodiless = 300 <= status < 400 or status in (204, 304) or content.get("size") == 0
        return b"", not bodiless
    if content.get("encoding") == "base64":
        return base64.b64decode(text), False
    return str(text).encode(), False


def page_records(warc: bytes) -> list[tuple[str, str]]:
    """(url, WARC-Date) of every 2xx HTML response record, in file order: the pages a
    replay tool should list (pages.jsonl) and index (CDXJ)."""
    pages: list[tuple[str, str]] = []
    for record in ArchiveIterator(io.BytesIO(warc)):
        if record.rec_type != "response" or record.http_headers is None:
            continue
        status = record.http_headers.get_statuscode()
        ctype = (record.http_headers.get_header("Content-Type") or "").split(";")[0]
        if status.startswith("2") and ctype.strip().lower() in HTML_TYPES:
            pages.append((str(record.rec_headers.get_header("WARC-Target-URI")),
                          str(record.rec_headers.get_header("WARC-Date"))))
    return pages
