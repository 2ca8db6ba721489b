"""`archiver serve` over HTTP: tokens, the JSON API and OpenAPI, file routes that cannot
be walked out of, downloads that never render archived HTML, no write routes."""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from urllib.parse import quote, urlsplit

import pytest

from tests.harness import SEED_IDS, SEED_URL
from tests.web.conftest import EDITED_ID, HOSTILE_ID, Server, cli, start_server

pytestmark = pytest.mark.browser
NIKOL = f"/posts/twitter/{SEED_IDS[0]}"


def raw_get(server: Server, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (no client-side normalisation of ../ or %2e)."""
    parts = urlsplit(server.base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {server.token}")
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def first_capture(server: Server, post_id: str = SEED_IDS[0]) -> dict:  # type: ignore[type-arg]
    found = server.get(f"/api/v1/posts/twitter/{post_id}?verify=false").json()
    return found["captures"][0]  # type: ignore[no-any-return]


def test_every_route_needs_a_token(server: Server) -> None:
    capture = first_capture(server)
    png = next(a["href"] for a in capture["artifacts"] if a["name"] == "embed.png")
    for path in ("/", "/posts", NIKOL, "/articles", "/captures", capture["href"], png,
                 "/api/v1/posts", f"/api/v1{NIKOL}", "/api/v1/search?q=x",
                 f"{capture['href']}/export.wacz"):
        assert server.get(path, token=None).status_code == 401, path
        assert server.get(path, token="arch_not-a-token").status_code == 401, path
        assert server.get(path).status_code == 200, path
    answer = server.get("/api/v1/posts", token=None)
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json() == {"detail": "a valid token is required (archiver token create)"}
    page = server.get("/posts", token=None)
    assert "Log in" in page.text and 'type="password"' in page.text


def test_tokens_are_stored_hashed_and_can_be_revoked(server: Server) -> None:
    made = json.loads(cli(server.archive, "token", "create", "--name", "revokee",
                          "--json").stdout)
    token = made["token"]
    assert server.get("/api/v1/posts", token=token).status_code == 200
    db = (server.archive.data_dir / "index.sqlite3").read_bytes()
    assert token.encode() not in db and token[5:].encode() not in db
    listed = cli(server.archive, "token", "list")
    assert "revokee" in listed.stdout and token not in listed.stdout
    assert cli(server.archive, "token", "revoke", "revokee").returncode == 0
    assert server.get("/api/v1/posts", token=token).status_code == 401
    assert cli(server.archive, "token", "revoke", "nobody").returncode == 2


def test_login_form_sets_a_strict_cookie(server: Server) -> None:
    import requests

    s = requests.Session()
    bad = s.post(server.base + "/login", data={"token": "arch_wrong", "next": "/"},
                 allow_redirects=False)
    assert bad.status_code == 401 and "not valid" in bad.text
    ok = s.post(server.base + "/login", data={"token": server.token,
                                              "next": "https://evil.example/"},
                allow_redirects=False)
    assert ok.status_code == 303 and ok.headers["Location"] == "/"  # never off-site
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert s.get(server.base + NIKOL).status_code == 200
    s.post(server.base + "/logout", allow_redirects=False)
    assert s.get(server.base + NIKOL, allow_redirects=False).status_code == 401


@pytest.mark.parametrize("name", [
    "../../../index.sqlite3",
    "..%2f..%2f..%2findex.sqlite3",
    "%2e%2e/%2e%2e/%2e%2e/index.sqlite3",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fkeys%2farchive-key.pem",
    "data/../../../../keys/archive-key.pem",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "embed.png%00.txt",
    "..\\..\\..\\index.sqlite3",
    "manifest.json/../../../../index.sqlite3",
])
def test_file_routes_cannot_leave_the_capture(server: Server, name: str) -> None:
    capture = first_capture(server)
    status, body = raw_get(server, f"{capture['href']}/files/{name}")
    assert status in (400, 404), (status, body[:200])
    assert b"SQLite format" not in body and b"PRIVATE KEY" not in body
    assert b"root:" not in body
    status, body = raw_get(server, "/captures/..%2f..%2fkeys/files/archive-key.pem")
    assert status in (400, 404) and b"PRIVATE KEY" not in body


def test_files_are_served_as_images_or_downloads_only(server: Server) -> None:
    capture = first_capture(server)
    hrefs = {a["name"]: a["href"] for a in capture["artifacts"]}
    png = server.get(hrefs["embed.png"])
    assert png.headers["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert "sandbox" in png.headers["Content-Security-Policy"]
    html = server.get(hrefs["embed.html"])
    assert html.status_code == 200
    assert html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith("attachment;")
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in html.headers["Content-Security-Policy"]
    # the bytes are the stored artifact, whose hash the index records
    import hashlib

    sha = next(a["sha256"] for a in capture["artifacts"] if a["name"] == "embed.html")
    assert hashlib.sha256(html.content).hexdigest() == sha
    manifest = server.get(f"{capture['href']}/files/manifest.json")
    assert manifest.status_code == 200 and hashlib.sha256(
        manifest.content).hexdigest() == capture["manifest_sha256"]


def test_wacz_and_bundle_downloads(server: Server) -> None:
    capture = first_capture(server)
    wacz = server.get(capture["downloads"]["wacz"])
    assert wacz.status_code == 200 and "attachment" in wacz.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(wacz.content)) as z:
        assert {"datapackage.json", "pages/pages.jsonl"} <= set(z.namelist())
    bundle = server.get(capture["downloads"]["bundle"])
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
        names = z.namelist()
        assert any(n.endswith("SHA256SUMS") for n in names)
        assert not any(b"PRIVATE KEY" in z.read(n) for n in names)


def test_no_write_routes(server: Server) -> None:
    import requests

    capture = first_capture(server)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/api/v1/posts", f"/api/v1{NIKOL}", f"/api/v1/captures/"
                     f"{capture['capture_id']}", NIKOL, capture["href"]):
            answer = requests.request(method, server.base + path, timeout=10, headers={
                "Authorization": f"Bearer {server.token}"})
            assert answer.status_code == 405, (method, path, answer.status_code)
    spec = server.get("/api/openapi.json").json()
    methods = {m for item in spec["paths"].values() for m in item}
    assert methods == {"get"}


def test_openapi_describes_the_api(server: Server) -> None:
    spec = server.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/search", "/api/v1/posts", "/api/v1/posts/{platform}/{post_id}",
                 "/api/v1/captures", "/api/v1/captures/{capture_id}", "/api/v1/articles",
                 "/api/v1/articles/{article_id}", "/api/v1/diff"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert "state" in schemas["PostSummary"]["properties"]
    assert "verification" in schemas["CaptureDetail"]["properties"]
    assert all(p.startswith("/api/") for p in spec["paths"])  # pages and files stay out


def test_search_resolves_any_form_of_a_post_url(server: Server) -> None:
    for q in (f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}?s=20&t=abcDEF",
              f"https://mobile.twitter.com/NikolPashinyan/status/{SEED_IDS[0]}",
              f"twitter.com/NikolPashinyan/status/{SEED_IDS[0]}/photo/1"):
        found = server.get(f"/api/v1/search?q={quote(q)}").json()
        assert found["redirect"] == NIKOL, q
        # the URL names one post: no list of the archive's other posts comes with it
        assert found["posts"]["items"] == [] and found["posts"]["paging"]["total"] == 0
    article = server.get(f"/api/v1/search?q={quote(SEED_URL + '#comments')}").json()
    assert article["redirect"].startswith("/articles/")
    missing = server.get("/api/v1/search?q=" + quote("https://x.com/a/status/42")).json()
    assert missing["redirect"] is None and "not in the archive" in missing["message"]
    page = server.get(f"/search?q={quote(f'https://x.com/x/status/{SEED_IDS[1]}?s=46')}")
    assert page.status_code == 303 and page.headers["Location"] == \
        f"/posts/twitter/{SEED_IDS[1]}"


def test_search_filters(server: Server) -> None:
    def ids(query: str) -> set[str]:
        return {p["post_id"] for p in server.get(f"/api/v1/posts?{query}").json()["items"]}

    assert ids("author=@NikolPashinyan") == {SEED_IDS[0]}
    assert ids("q=Turnout") == {EDITED_ID}  # words of a captured text
    assert ids("platform=twitter") == {*SEED_IDS, HOSTILE_ID, EDITED_ID}
    assert ids("platform=youtube") == set()
    assert ids("status=edited") == {EDITED_ID}
    assert ids("from=2000-01-01&to=2000-12-31") == set()
    assert EDITED_ID in ids("from=2020-01-01")
    assert server.get("/api/v1/posts?from=yesterday").status_code == 400
    assert server.get("/api/v1/posts?q=100%25_").status_code == 200  # LIKE wildcards
    paged = server.get("/api/v1/captures?page=1").json()["paging"]
    assert paged["total"] >= 5 and paged["page"] == 1

    def captured(query: str) -> set[str]:
        return {c["post_id"] for c in server.get(f"/api/v1/captures?{query}").json()["items"]}

    assert captured("author=@nikolpashinyan") == {SEED_IDS[0]}
    assert captured("author=NikolPashinyan&from=2000-01-01&to=2000-12-31") == set()
    assert captured("author=NikolPashinyan&from=2020-01-01&status=live") == {SEED_IDS[0]}
    for bad in ("from=yesterday", "to=2026-02-30x", "to=2026-02-30", "status=edited"):
        assert server.get(f"/api/v1/captures?{bad}").status_code == 400, bad


def test_post_detail_verifies_on_view(server: Server) -> None:
    found = server.get(f"/api/v1{NIKOL}").json()
    assert found["post"]["state"] == "live"
    [capture] = found["captures"]
    assert capture["verification"]["ok"] is True
    assert capture["verification"]["files_checked"] >= 9
    assert capture["environment"]["browser"].startswith("Chromium")
    assert capture["checks"]["quotes"][0]["result"] == "match"
    assert found["embedded_in"][0]["article_url"] == SEED_URL


def test_diff_of_an_edited_post(server: Server) -> None:
    found = server.get(f"/api/v1/posts/twitter/{EDITED_ID}?verify=false").json()
    assert [t["change"] for t in found["timeline"]] == ["first", "edited"]
    new, old = found["captures"][0]["capture_id"], found["captures"][1]["capture_id"]
    diff = server.get(f"/api/v1/diff?a={old}&b={new}").json()
    removed = "".join(p["text"] for p in diff["text"] if p["op"] == "delete")
    added = "".join(p["text"] for p in diff["text"] if p["op"] == "insert")
    assert "41" in removed and "47" in added and "officials" in added
    other = first_capture(server)["capture_id"]
    assert server.get(f"/api/v1/diff?a={old}&b={other}").status_code == 400
    assert server.get("/api/v1/diff?a=ffff&b=eeee").status_code == 404


def test_article_embeds_in_order(server: Server) -> None:
    article = server.get("/api/v1/search?q=" + quote(SEED_URL)).json()["redirect"]
    found = server.get("/api/v1" + article).json()
    assert [e["post"]["post_id"] for e in found["embeds"]] == list(SEED_IDS)
    assert all(e["post"]["state"] == "live" for e in found["embeds"])
    assert found["fetches"][0]["status"] == "ok" and found["fetches"][0]["fetched_at"]
    assert found["article"]["title"]


def test_open_access_needs_no_token(web_archive: object) -> None:
    proc, base = start_server(web_archive, "[web]", "open_access = true")  # type: ignore[arg-type]
    try:
        import requests

        assert requests.get(base + "/api/v1/posts", timeout=10).status_code == 200
        assert requests.get(base + NIKOL, timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)


def test_the_index_cannot_point_the_file_route_elsewhere(server: Server) -> None:
    """Even a tampered index (an artifact named ../../.., a capture directory moved to
    keys/, a symlink planted in a capture) never gets the key or the index served."""
    from sqlalchemy import update

    from archiver.store.index import Index
    from archiver.store.schema import ArtifactRow, CaptureRow

    capture = first_capture(server)
    root = server.archive.data_dir / capture["directory"]
    index = Index(server.archive.config.storage.effective_database_url)
    link = root / "planted.png"
    try:
        with index.session() as s:
            for name in ("../../../../index.sqlite3", "../../../../keys/archive-key.pem",
                         "planted.png"):
                s.add(ArtifactRow(capture_id=capture["capture_id"], name=name, sha256="0" * 64,
                                  size=1, media_type="image/png", role="screenshot"))
        link.symlink_to(server.archive.data_dir / "keys" / "archive-key.pem")
        for name in ("../../../../index.sqlite3", "..%2f..%2f..%2f..%2findex.sqlite3",
                     "../../../../keys/archive-key.pem", "planted.png"):
            status, body = raw_get(server, f"{capture['href']}/files/{name}")
            assert status == 404, (name, status)
            assert b"PRIVATE KEY" not in body and b"SQLite format" not in body
        with index.session() as s:  # the capture "moved" to the key's directory
            s.execute(update(CaptureRow).where(CaptureRow.id == capture["capture_id"])
                      .values(directory="keys"))
            s.add(ArtifactRow(capture_id=capture["capture_id"], name="archive-key.pem",
                              sha256="0" * 64, size=1, media_type="image/png", role="x"))
        status, body = raw_get(server, f"{capture['href']}/files/archive-key.pem")
        assert status == 404 and b"PRIVATE KEY" not in body
    finally:
        link.unlink(missing_ok=True)
        with index.session() as s:
            s.execute(update(CaptureRow).where(CaptureRow.id == capture["capture_id"])
                      .values(directory=capture["directory"].removeprefix(
                          str(server.archive.data_dir) + "/")))
            for row in s.query(ArtifactRow).filter(
                    ArtifactRow.capture_id == capture["capture_id"],
                    ArtifactRow.sha256 == "0" * 64):
                s.delete(row)
        index.close()
    assert server.get(f"/api/v1/captures/{capture['capture_id']}").json()[
        "verification"]["ok"] is True


def test_a_tampered_index_turns_verification_red(server: Server) -> None:
    """What the page shows from the index (text, status) must match the signed manifest."""
    from sqlalchemy import update

    from archiver.store.index import Index
    from archiver.store.schema import CaptureRow

    capture = first_capture(server, SEED_IDS[1])
    index = Index(server.archive.config.storage.effective_database_url)
    try:
        with index.session() as s:
            s.execute(update(CaptureRow).where(CaptureRow.id == capture["capture_id"])
                      .values(text="Forged text", status="deleted"))
        found = server.get(f"/api/v1/captures/{capture['capture_id']}").json()
        assert found["verification"]["ok"] is False
        issues = " ".join(p["issue"] for p in found["verification"]["problems"])
        assert "status 'deleted'" in issues and "text" in issues
    finally:
        with index.session() as s:
            s.execute(update(CaptureRow).where(CaptureRow.id == capture["capture_id"])
                      .values(text=capture["text"], status=capture["status"]))
        index.close()
    assert server.get(f"/api/v1/captures/{capture['capture_id']}").json()[
        "verification"]["ok"] is True


def test_every_route_of_the_app_needs_a_token(web_archive: object) -> None:
    """Walk the app's own route table, so a route added later cannot skip the check."""
    import re

    from archiver.web.app import create_app

    app = create_app(web_archive.config)  # type: ignore[attr-defined]
    public = {"/login", "/logout", "/api/openapi.json", "/static"}
    checked = 0
    import requests as http

    proc, base = start_server(web_archive)  # type: ignore[arg-type]
    try:
        for route in app.routes:
            path = getattr(route, "path", "")
            methods = getattr(route, "methods", None) or {"GET"}
            if path in public or "GET" not in methods:
                continue
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            answer = http.get(base + concrete, timeout=10, allow_redirects=False)
            assert answer.status_code == 401, (path, answer.status_code)
            checked += 1
    finally:
        proc.terminate()
        proc.wait(15)
    assert checked >= 18


def test_odd_input_is_a_client_error_not_a_crash(server: Server) -> None:
    for path in ("/posts?page=99999999999999999999", "/captures?page=0",
                 "/search?q=x&page=99999999999999999999",
                 "/api/v1/articles/99999999999999999999999", "/articles/-1",
                 "/posts/nosuchplatform/123", "/posts/mastodon/evil.example/1",
                 "/api/v1/posts/telegram/channel/5", "/captures/zz", "/diff?a=1&b=2",
                 "/api/v1/captures?page=abc", "/captures?from=soon", "/captures?status=x"):
        answer = server.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
    failed = server.get("/api/v1/captures?status=failed").json()["items"]
    for c in failed[:1]:
        assert server.get(f"{c['href']}/export.wacz").status_code == 404


def test_urls_from_archived_data_are_links_only_when_http(server: Server) -> None:
    from archiver.web.app import link

    assert str(link("javascript:alert(1)")) == "javascript:alert(1)"
    assert "<a" not in str(link("data:text/html,<script>x</script>"))
    assert "&lt;script&gt;" in str(link("data:text/html,<script>x</script>"))
    assert str(link("https://x.com/a?b=1&c=<2>")).startswith(
        '<a href="https://x.com/a?b=1&amp;c=&lt;2&gt;" rel="noreferrer noopener">')
