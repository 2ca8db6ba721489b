"""Finding stored captures again: by capture id, by any URL of a post, or all of them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from archiver.config import Config
from archiver.errors import ArchiverError, ConfigError, UsageError
from archiver.evidence import ledger
from archiver.evidence.keys import public_key_path
from archiver.evidence.ledger import LedgerEntry
from archiver.evidence.timestamp import LATE_DIR, late_token_path, verify_stamp
from archiver.evidence.verify import Problem, Verification, verify_directory
from archiver.platforms import match_url
from archiver.store.files import MANIFEST, TIMESTAMP, inside, read_manifest, sha256_file
from archiver.store.index import Index
from archiver.store.schema import CaptureRow, PostRow


def capture_json(row: CaptureRow, config: Config, *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "capture_id": row.id,
        "status": row.status,
        "reason": row.reason,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "platform": row.post.platform,
        "post_id": row.post.post_id,
        "url": row.post.url,
        "author": row.post.author,
        "text": row.text,
        "directory": str(config.storage.data_dir / row.directory) if row.directory else None,
        "manifest_sha256": row.manifest_sha256,
        "timestamp": row.timestamp,
        "change": row.change,
    }
    if detail:
        out["artifacts"] = [{"name": a.name, "sha256": a.sha256, "size": a.size,
                             "media_type": a.media_type, "role": a.role} for a in row.artifacts]
        if row.directory and row.manifest_sha256:
            try:
                manifest = read_manifest(config.storage.data_dir / row.directory)
            except ArchiverError as exc:
                out["manifest_error"] = str(exc)
            else:
                out["post_data"] = manifest.get("post_data")
                out["checks"] = manifest.get("checks")
                out["chain"] = manifest.get("chain")
                out["signing"] = manifest.get("signing")
                out["environment"] = manifest.get("how")
                got = manifest.get("got")
                pages = got.get("pages") if isinstance(got, dict) else None
                out["pages"] = [{k: p.get(k) for k in ("role", "final_url", "http_status",
                                                       "signal", "detail")}
                                for p in (pages if isinstance(pages, list) else [])
                                if isinstance(p, dict)]
    return out


def post_json(row: PostRow, config: Config) -> dict[str, Any]:
    return {
        "post": {"platform": row.platform, "post_id": row.post_id, "url": row.url,
                 "author": row.author, "first_seen": row.first_seen,
                 "last_status": row.last_status, "last_captured": row.last_captured,
                 "state": row.state, "next_check": row.next_check},
        "history": [{"at": c.started_at, "status": c.status, "change": c.change,
                     "capture_id": c.id} for c in row.captures
                    if c.change not in (None, "unchanged")],
        "embedded_in": [{"article": e.article.url, "position": e.position,
                         "found_in": e.found_in, "quoted_text": e.quoted_text,
                         "date_text": e.date_text} for e in row.embeds],
        "captures": [capture_json(c, config) for c in row.captures],
    }


def _post_row(index: Index, ref: str) -> PostRow:
    post = match_url(ref)
    if post is None:
        raise UsageError(f"not a post URL of any platform we know: {ref}")
    row = index.post(post.platform, post.post_id)
    if row is None:
        raise ArchiverError(f"nothing archived for {post.platform} post {post.post_id}")
    return row


def _check_ref(ref: str | None) -> None:
    """A reference that can name nothing is a usage error, whatever the index holds."""
    if ref is not None and "/" not in ref and len(ref) < 4:
        raise UsageError("give at least 4 characters of a capture id")
    if ref is not None and "/" in ref and match_url(ref) is None:
        raise UsageError(f"not a post URL of any platform we know: {ref}")


def _capture_row(index: Index, ref: str) -> CaptureRow:
    _check_ref(ref)
    rows = index.captures_by_prefix(ref)
    if not rows:
        raise ArchiverError(f"no capture with id {ref}")
    if len(rows) > 1:
        raise UsageError(f"capture id prefix {ref} is ambiguous; give more characters")
    return rows[0]


def lookup(config: Config, ref: str) -> dict[str, Any]:
    """A capture (by id or id prefix) or a post with its history (by a URL of the post)."""
    _check_ref(ref)
    index = existing_index(config)
    try:
        if "/" in ref:
            return post_json(_post_row(index, ref), config)
        return capture_json(_capture_row(index, ref), config, detail=True)
    finally:
        index.close()


def select_captures(config: Config, ref: str) -> list[CaptureRow]:
    """The captures a reference names: a capture id (or unique prefix), or a post URL."""
    _check_ref(ref)
    index = existing_index(config)
    try:
        if "/" in ref:
            return list(_post_row(index, ref).captures)
        return [_capture_row(index, ref)]
    finally:
        index.close()


def verify_selection(config: Config, ref: str | None) -> list[Verification]:
    """Verify one capture, every capture of a post (ref is a URL), or everything (None):
    files, signatures, tokens, chain links, and what the index says against the manifest;
    with None also the article fetches, the ledger, and directories no row names."""
    _check_ref(ref)
    index = existing_index(config)
    data_dir = config.storage.data_dir
    try:
        if ref is None:
            rows = index.completed_captures()
            fetches = index.article_fetch_dirs()
        elif "/" in ref:
            rows = [c for c in _post_row(index, ref).captures if c.directory]
            fetches = []
        else:
            rows = [_capture_row(index, ref)]
            fetches = []
        everything = {r.id: r for r in rows
                      if r.manifest_sha256 and r.status not in ("in_progress", "abandoned")}
        if ref is None:
            known = everything
        else:  # only the links the selection names, not the whole archive
            known = dict(everything)
            for r in rows:
                prev = _previous_id(data_dir, r)
                if prev and prev not in known:
                    found = index.capture(prev)
                    if found is not None:
                        known[prev] = found
    finally:
        index.close()
    tsa_roots = _tsa_roots(config)
    archive_pub = public_key_path(config.key_path)
    trusted = archive_pub.read_bytes() if archive_pub.is_file() else None
    results = []
    for r in rows:
        if not r.directory:
            continue
        if r.status == "in_progress":
            # being stored, or left by a killed run until the next run settles it: what is
            # in place is checked on its own, without the index's word on it
            try:
                placed = inside(data_dir, r.directory).is_dir()
            except ArchiverError:
                placed = True  # and verify_directory says why it is not
            if placed:
                v = verify_directory(data_dir, r.directory, r.id, None, trusted)
                results.append(replace(v, notes=(*v.notes, "the index has it in progress: "
                                                 "being stored, or left by a killed run until "
                                                 "the next run settles it")))
            continue
        v = verify_directory(data_dir, r.directory, r.id, r.manifest_sha256, trusted)
        stamp_problems, notes = _stamp_problems(
            data_dir, r, tsa_roots, stamped=r.timestamp in ("stamped", "stamped_later"))
        # a manifest that changed explains any disagreement with the index: the index is
        # not blamed for it as well
        changed = any(p.file == MANIFEST for p in v.problems)
        more = _chain_problems(data_dir, r, known) + stamp_problems \
            + ([] if changed else _index_problems(data_dir, r))
        results.append(replace(v, problems=v.problems + tuple(more),
                               notes=v.notes + tuple(notes)))
    results += [verify_directory(data_dir, d, f"article {d.rsplit('-', 1)[-1]}", sha, trusted)
                for d, sha in fetches]
    if ref is None:  # what the index says now: runs may have stored captures meanwhile
        index = Index(config.storage.effective_database_url)
        try:
            results.append(_ledger_now(data_dir, index, list(everything.values())))
            strays = _unindexed(data_dir, index,
                                {r.directory for r in rows} | {d for d, _ in fetches})
        finally:
            index.close()
        if strays is not None:
            results.append(strays)
    if ref is not None and not results:
        raise ArchiverError(f"{ref}: no stored capture directory to verify")
    return results


def existing_index(config: Config) -> Index:
    """The index, for reading: the default SQLite file must be there already (a mistyped
    data directory would otherwise get a new, empty index, and verify nothing: OK)."""
    if not config.storage.database_url:
        path = config.storage.data_dir / "index.sqlite3"
        if not path.is_file():
            raise ArchiverError(f"no index at {path}: nothing was archived with the data "
                                f"directory {config.storage.data_dir} (see --data-dir, "
                                "[storage] data_dir)")
    return Index(config.storage.effective_database_url)


#: How many directories no index row names `verify --all` lists by name.
UNINDEXED_LISTED = 20


def _unindexed(data_dir: Path, index: Index, known: set[str | None]) -> Verification | None:
    """Capture and article directories on disk that no index row names: not verified (the
    index vouches for no manifest hash of theirs) and not presented as captures, but said,
    since evidence may have been left there (a run killed between storing an article and
    recording it) or put there. None when there are none."""
    found = [d for d in sorted({m.parent.relative_to(data_dir).as_posix()
                                for top in ("captures", "articles") if (data_dir / top).is_dir()
                                for m in (data_dir / top).rglob(MANIFEST)} - known)
             if not index.names_directory(d)]  # or stored since the rows were read
    if not found:
        return None
    more = len(found) - UNINDEXED_LISTED
    return Verification("unindexed", "captures/, articles/", (), 0, (
        f"{len(found)} directory(ies) with a manifest that no index row names; not "
        "verified, and not shown as captures: " + ", ".join(found[:UNINDEXED_LISTED])
        + (f" and {more} more" if more > 0 else ""),))


def _ledger_now(data_dir: Path, index: Index, captures: list[CaptureRow]) -> Verification:
    """The ledger as it stands once the captures are verified, with the head the index
    records for it, and what the index says now of captures it names beyond them."""
    reading, head = ledger.read_with_head(data_dir, lambda: index.get_meta("ledger_head"))
    known = {r.id for r in captures}
    later = {e.capture_id: row for e in reading.entries if e.capture_id not in known
             and (row := index.capture(e.capture_id)) is not None}
    return verify_ledger(data_dir, captures, head, reading, later)


def _manifest(data_dir: Path, row: CaptureRow) -> dict[str, Any] | None:
    try:
        return read_manifest(inside(data_dir, row.directory))
    except ArchiverError:
        return None  # reported by the file checks


def _previous_id(data_dir: Path, row: CaptureRow) -> str | None:
    if not row.directory:
        return None
    chain = (_manifest(data_dir, row) or {}).get("chain")
    prev = chain.get("previous_capture_id") if isinstance(chain, dict) else None
    return str(prev) if prev else None


def _index_problems(data_dir: Path, row: CaptureRow) -> list[Problem]:
    """What the index shows (status, text) must be what the signed manifest says."""
    manifest = _manifest(data_dir, row)
    if manifest is None:
        return []

    def section(name: str) -> dict[str, Any]:
        found = manifest.get(name)
        return found if isinstance(found, dict) else {}

    status, data = section("status"), section("post_data")
    post, when = section("post"), section("when")
    problems = []
    if status.get("status") != row.status:
        problems.append(Problem(MANIFEST, f"the index records status {row.status!r} but the "
                                          f"manifest says {status.get('status')!r}"))
    if data.get("text") != row.text:
        problems.append(Problem(MANIFEST, "the index records a text the manifest does not "
                                          "hold (the index was changed)"))
    # which capture of which post, and when: what `show` and the web say of it
    for what, says, holds in (
            ("capture id", manifest.get("capture_id"), row.id),
            ("post", (post.get("platform"), post.get("post_id")),
             (row.post.platform, row.post.post_id)),
            ("start", when.get("started"), row.started_at),
            ("end", when.get("finished"), row.finished_at)):
        if says != holds:
            problems.append(Problem(MANIFEST, f"the index records another {what} than the "
                                              f"manifest ({holds!r}, not {says!r})"))
    return problems


def _tsa_roots(config: Config) -> bytes | None:
    """The configured TSA CA bundle; a configured one that cannot be read is an error (a
    typo must not turn the tokens' signature check off without a word)."""
    if not config.evidence.tsa_ca_bundle:
        return None
    try:
        return Path(config.evidence.tsa_ca_bundle).read_bytes()
    except OSError as exc:
        raise ConfigError(f"[evidence] tsa_ca_bundle {config.evidence.tsa_ca_bundle}: "
                          f"{exc.strerror or exc}") from exc


def _stamp_problems(data_dir: Path, row: CaptureRow, roots: bytes | None,
                    stamped: bool) -> tuple[list[Problem], list[str]]:
    """Each RFC 3161 token must cover this manifest (and chain to the configured CAs);
    (problems, notes): without CAs a note says that only the imprint was checked."""
    directory = data_dir / (row.directory or "")
    found = [(directory / TIMESTAMP, TIMESTAMP),
             (late_token_path(data_dir, row.id), f"{LATE_DIR}/{row.id}.tsr (data directory)")]
    manifest = directory / MANIFEST
    problems, notes, seen = [], [], 0
    for path, label in found:
        if not path.is_file() or not manifest.is_file():
            continue
        seen += 1
        check = verify_stamp(path.read_bytes(), manifest.read_bytes(), roots)
        if not check.ok:
            problems.append(Problem(label, f"timestamp token: {check.detail}"))
        elif roots is None:
            notes.append(f"{label}: {check.detail}; set [evidence] tsa_ca_bundle to check it")
    if stamped and not seen:
        problems.append(Problem(TIMESTAMP, "missing (the index records the capture as "
                                           "timestamped)"))
    return problems, notes


def _chain_problems(data_dir: Path, row: CaptureRow,
                    everything: dict[str, CaptureRow]) -> list[Problem]:
    """The manifest's link to the post's previous capture must name that manifest's hash."""
    try:
        chain = read_manifest(inside(data_dir, row.directory)).get("chain") or {}
    except ArchiverError:
        return []  # reported by the file checks
    if not isinstance(chain, dict):
        return [Problem(MANIFEST, "its chain section is not an object")]
    prev_id, prev_sha = chain.get("previous_capture_id"), chain.get("previous_manifest_sha256")
    if not prev_id:
        return []
    prev = everything.get(str(prev_id))
    if prev is None or not prev.directory:
        return [Problem(MANIFEST, f"links to previous capture {prev_id}, which the index "
                                  "does not hold")]
    path = data_dir / prev.directory / MANIFEST
    if not path.is_file() or sha256_file(path) != prev_sha:
        return [Problem(MANIFEST, f"links to previous capture {prev_id} by a manifest hash "
                                  "that capture no longer has (history was rewritten)")]
    return []


def verify_ledger(data_dir: Path, captures: list[CaptureRow], head: str | None,
                  reading: ledger.Reading | None = None,
                  later: dict[str, CaptureRow] | None = None) -> Verification:
    """The ledger chain, its head against the index, and ledger vs index, both ways.

    `captures` are the completed captures verified; `later` what the index says now of
    captures the ledger names beyond them. An entry whose capture is still in progress
    (being stored by a run, or left by a killed one until the next run settles it), or
    was completed since `captures` were read with the same manifest, is in flight: not
    verified here, and not a problem. The head the index recorded may stop short of the
    ledger's end by such entries only (a run killed between the two writes)."""
    reading = reading if reading is not None else ledger.read(data_dir)
    later = later or {}
    entries, problems = reading.entries, list(reading.problems)
    by_id: dict[str, LedgerEntry] = {}
    for entry in entries:
        if entry.capture_id in by_id:
            problems.append(Problem(ledger.LEDGER, f"entry {entry.seq} names capture "
                                                   f"{entry.capture_id} again (entry "
                                                   f"{by_id[entry.capture_id].seq})"))
        by_id.setdefault(entry.capture_id, entry)

    def in_flight(entry: LedgerEntry) -> bool:
        row = later.get(entry.capture_id)
        return entry.capture_id not in known and row is not None and (
            row.status == "in_progress" or (row.status != "abandoned"
                                            and row.manifest_sha256 == entry.manifest_sha256
                                            and row.directory == entry.directory))

    known = {r.id for r in captures}
    flying = [e for e in entries if in_flight(e)]
    if head is not None:
        seq, _, digest = head.partition(":")
        at = next((i for i, e in enumerate(entries) if str(e.seq) == seq), None)
        if at is None or reading.hashes[at] != digest or not all(
                in_flight(e) for e in entries[at + 1:]):
            problems.append(Problem(ledger.LEDGER, f"ends at a different line than the index "
                                                   f"recorded (entry {seq}): lines were cut "
                                                   "off or the last line was changed"))
    for row in captures:
        found = by_id.get(row.id)
        if found is None:
            problems.append(Problem(ledger.LEDGER, f"has no entry for capture {row.id}"))
        elif found.manifest_sha256 != row.manifest_sha256:
            problems.append(Problem(ledger.LEDGER, f"entry {found.seq} records another "
                                                   f"manifest hash for capture {row.id}"))
    for entry in entries:
        if entry.capture_id not in known and not in_flight(entry):
            problems.append(Problem(ledger.LEDGER, f"entry {entry.seq} names capture "
                                                   f"{entry.capture_id}, unknown to the index"))
    notes = (f"{len(flying)} capture(s) still being stored or not yet settled after an "
             f"interrupted run: {', '.join(e.capture_id for e in flying)}",) if flying else ()
    return Verification("ledger", ledger.LEDGER, tuple(problems), len(entries), notes)
