"""The command line as a user runs it: a subprocess, a config file, the fake platform."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakeplatform import FakePlatform
from tests.harness import SEED_IDS, SEED_URL, config_toml

FIXTURES = Path(__file__).parent / "fixtures"


def cli(config_file: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", "--config", str(config_file),
                           *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=config_file.parent)


def one_clear_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("archiver: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_detect_seed_html_json_contract(config_file: Path) -> None:
    out = cli(config_file, "detect", str(FIXTURES / "seed" / "article.html"), "--json")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert set(found) >= {"article", "embeds"}
    got = [(e["platform"], e["post_id"], e["author"], e["found_in"]) for e in found["embeds"]]
    assert got == [("twitter", SEED_IDS[0], "NikolPashinyan", "blockquote"),
                   ("twitter", SEED_IDS[1], "LaurenceBroers", "blockquote")]
    first = found["embeds"][0]
    assert first["url"] == f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"
    assert "Pour la patrie, pour la victoire." in first["quoted_text"]
    assert first["date"] == "2020-09-27"


def test_detect_seed_text_reports_text_embeds(config_file: Path) -> None:
    out = cli(config_file, "detect", str(FIXTURES / "seed" / "article.txt"), "--json")
    assert out.returncode == 0, out.stderr
    embeds = json.loads(out.stdout)["embeds"]
    assert [(e["author"], e["author_name"], e["date"], e["found_in"], e["post_id"])
            for e in embeds] == [
        ("NikolPashinyan", "Nikol Pashinyan", "2020-09-27", "text", None),
        ("LaurenceBroers", "Laurence Broers", "2020-09-27", "text", None)]
    assert embeds[0]["quoted_text"].endswith("Pour la patrie, pour la victoire.")


def test_detect_over_https_through_the_config(config_file: Path) -> None:
    out = cli(config_file, "detect", SEED_URL)
    assert out.returncode == 0, out.stderr
    assert "2 embed(s)" in out.stdout and "@LaurenceBroers" in out.stdout


@pytest.mark.parametrize("args, status, message", [
    (["archive", "not-a-url"], 2, "not an http(s) URL"),
    (["archive", "https://"], 2, "not an http(s) URL"),
    (["detect", "/no/such/file.html"], 2, "no such file"),
    (["show", "zz"], 2, "at least 4 characters"),
    (["show", "https://example.org/not-a-post"], 2, "not a post URL"),
])
def test_usage_errors_exit_2_with_one_line(config_file: Path, args: list[str], status: int,
                                           message: str) -> None:
    out = cli(config_file, *args)
    assert out.returncode == status
    assert message in one_clear_line(out.stderr)


def test_a_bad_time_in_list_is_a_usage_error(config_file: Path) -> None:
    out = cli(config_file, "list", "--until", "last tuesday")
    assert out.returncode == 2 and "not a date (YYYY-MM-DD)" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\nnope = 1\n")
    out = cli(bad, "list")
    assert out.returncode == 2 and "unknown config key" in one_clear_line(out.stderr)


@pytest.mark.parametrize("url, exit_code, shown", [
    ("https://unreachable.example.org/article", 1, "cannot connect to unreachable.example.org"),
    ("https://news.example.org/missing", 1, "answered HTTP 404"),
    ("https://news.example.org/report.pdf", 1, "not an HTML page (application/pdf)"),
    ("https://news.example.org/photo.png", 1, "not an HTML page (image/png)"),
    ("https://news.example.org/loop", 1, "redirect loop"),
    ("https://news.example.org/site/no-embeds.html", 0, "no embedded posts found"),
    ("https://news.example.org/site/malformed-embed.html", 0, "cannot be captured"),
])
def test_bad_articles_give_one_clear_line_and_a_status(
        fake_platform: FakePlatform, tmp_path: Path, url: str, exit_code: int,
        shown: str) -> None:
    host_map = fake_platform.host_map() | {"unreachable.example.org": "127.0.0.1:1"}
    cfg = tmp_path / "archiver.toml"
    cfg.write_text(config_toml(host_map, fake_platform.ca_pem, tmp_path / "data"))
    out = cli(cfg, "archive", url)
    assert out.returncode == exit_code, out.stdout + out.stderr
    assert shown in out.stdout
    assert "Traceback" not in out.stderr
    listed = cli(cfg, "verify", "--all", "--json")
    assert json.loads(listed.stdout)["ok"] is True


@pytest.mark.browser
def test_archive_list_show_verify_tamper(config_file: Path) -> None:
    out = cli(config_file, "archive", SEED_URL, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and len(report["captures"]) == 2
    capture = report["captures"][0]

    listed = json.loads(cli(config_file, "list", "--json").stdout)
    assert {c["capture_id"] for c in listed} == {c["capture_id"] for c in report["captures"]}
    # one author's captures in a time range: any case, with "@", the day of the capture
    day = next(c["started_at"] for c in listed if c["capture_id"] == capture["capture_id"])
    mine = json.loads(cli(config_file, "list", "--json", "--author", "@" + capture[
        "author"].upper(), "--since", day[:10], "--until", day[:10]).stdout)
    assert [c["capture_id"] for c in mine] == [capture["capture_id"]]
    assert json.loads(cli(config_file, "list", "--json", "--since", "2999-01-01").stdout) == []
    assert "no captures match" in cli(config_file, "list", "--author", "nobody").stdout

    shown = json.loads(cli(config_file, "show", capture["capture_id"][:8], "--json").stdout)
    assert shown["status"] == "live" and shown["post_id"] == capture["post_id"]
    assert {a["name"] for a in shown["artifacts"]} >= {"embed.png", "data/tweet-result.json"}
    assert shown["environment"]["browser"].startswith("Chromium")

    messy = f"https://mobile.twitter.com/{capture['author']}/status/{capture['post_id']}?s=20"
    post = json.loads(cli(config_file, "show", messy, "--json").stdout)
    assert [c["capture_id"] for c in post["captures"]] == [capture["capture_id"]]
    assert post["embedded_in"][0]["article"] == SEED_URL

    verified = cli(config_file, "verify", "--all")
    assert verified.returncode == 0 and "4 of 4 verified" in verified.stdout  # + the ledger

    directory = Path(capture["directory"])
    if not directory.is_absolute():
        directory = config_file.parent / directory
    shot = directory / "embed.png"
    data = bytearray(shot.read_bytes())
    data[100] ^= 0xFF
    shot.write_bytes(bytes(data))
    broken = cli(config_file, "verify", capture["capture_id"])
    assert broken.returncode == 1
    assert "embed.png: content does not match" in broken.stdout
    assert cli(config_file, "verify", "--all").returncode == 1


def _archive_until(config_file: Path, marker: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "archiver.cli", "--config",
                             str(config_file), "archive", SEED_URL], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            cwd=config_file.parent)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        if marker in line or time.monotonic() > deadline:
            break
    return proc


def _complete_dirs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "captures").glob("*/*/*") if p.is_dir()]


@pytest.mark.browser
@pytest.mark.parametrize("sig, delay", [
    (signal.SIGKILL, 0.0),  # while the browser starts
    (signal.SIGKILL, 0.9),  # while pages render
    (signal.SIGKILL, 1.6),  # around the writing of the evidence
    (signal.SIGINT, 1.0),
])
def test_interrupted_capture_leaves_nothing_claiming_completeness(
        config_file: Path, sig: signal.Signals, delay: float) -> None:
    data_dir = config_file.parent / "data"
    proc = _archive_until(config_file, "capturing")
    time.sleep(delay)  # where the interruption lands, not a wait for a result
    os.kill(proc.pid, sig)
    proc.wait(30)
    if sig == signal.SIGINT:
        assert proc.returncode in (0, 130)  # 0 only if it finished before the signal
    # whatever made it into captures/ is complete and verifies; nothing else is there
    for directory in _complete_dirs(data_dir):
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=directory, check=True)
    listed = json.loads(cli(config_file, "list", "--json").stdout)
    assert all(c["status"] in ("in_progress", "failed", "live") for c in listed)
    # a re-run completes the work and closes what was left in flight
    rerun = cli(config_file, "archive", SEED_URL, "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert all(c["status"] == "live" for c in json.loads(rerun.stdout)["captures"])
    listed = json.loads(cli(config_file, "list", "--json").stdout)
    assert "in_progress" not in {c["status"] for c in listed}
    assert not any((data_dir / ".staging").iterdir())
    verified = cli(config_file, "verify", "--all", "--json")
    assert json.loads(verified.stdout)["ok"] is True


@pytest.mark.browser
def test_show_flags_an_altered_quote_and_a_wrong_date(config_file: Path) -> None:
    out = cli(config_file, "archive", "https://news.example.org/site/misquoted.html", "--json")
    assert out.returncode == 0, out.stderr
    (capture,) = json.loads(out.stdout)["captures"]
    shown = json.loads(cli(config_file, "show", capture["capture_id"], "--json").stdout)
    (quote,) = shown["checks"]["quotes"]
    assert quote["result"] == "differs" and 0.3 < quote["similarity"] < 0.97
    id_time = shown["checks"]["id_time"]
    assert id_time["id_time"] == "2020-09-27T06:15:31Z" and id_time["shown_date"] == "2021-09-27"
    assert id_time["flags"] and "2020-09-27" in id_time["flags"][0]
    human = cli(config_file, "show", capture["capture_id"]).stdout
    assert "differs" in human and "the embed shows 2021-09-27" in human
