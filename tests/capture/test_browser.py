from pathlib import Path

import pytest

from archiver.capture.browser import find_browser, launch_args, resolver_rules, spki_hashes
from archiver.config import BrowserConfig, NetworkConfig
from archiver.errors import BrowserError, ConfigError


def test_configured_browser_comes_first(tmp_path: Path) -> None:
    exe = tmp_path / "chrome"
    exe.write_text("")
    own = tmp_path / "playwright-chrome"
    own.write_text("")
    assert find_browser(BrowserConfig(executable=str(exe)), str(own)) == (str(exe), "config")
    assert find_browser(BrowserConfig(), str(own)) == (str(own), "playwright")


def test_missing_configured_browser_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match="does not exist"):
        find_browser(BrowserConfig(executable=str(tmp_path / "nope")))


def test_no_browser_anywhere_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserError, match="make install"):
        find_browser(BrowserConfig(), None)


def test_network_settings_reach_the_browser(fake_platform) -> None:
    network = NetworkConfig(host_map={"x.com": "127.0.0.1:8443", "*.twimg.com": "127.0.0.1:1"},
                            ca_bundle=str(fake_platform.ca_pem))
    args = launch_args(BrowserConfig(extra_args=("--foo",)), network)
    # the host map first; every other name fails inside Chromium (the proxy resolves)
    assert ("--host-resolver-rules=MAP *.twimg.com 127.0.0.1:1, MAP x.com 127.0.0.1:8443, "
            "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1") in args
    assert "--disable-quic" in args
    assert "--webrtc-ip-handling-policy=disable_non_proxied_udp" in args
    (spki,) = spki_hashes(str(fake_platform.ca_pem))
    assert f"--ignore-certificate-errors-spki-list={spki}" in args
    assert "--disable-background-networking" in args and args[-1] == "--foo"
    assert resolver_rules({}) == ""


def test_unreadable_ca_bundle(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="CA bundle"):
        spki_hashes(str(bad))


def test_with_an_upstream_proxy_chromium_looks_up_only_the_proxy() -> None:
    args = launch_args(BrowserConfig(), NetworkConfig(proxy="http://proxy.internal:3128"))
    rules = next(a for a in args if a.startswith("--host-resolver-rules="))
    assert rules == ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, "
                     "EXCLUDE proxy.internal")
