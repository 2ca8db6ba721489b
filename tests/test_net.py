"""The resolver's address guard and host map (no network needed), and fetches against the
loopback fake platform."""

from pathlib import Path

import pytest

from archiver.config import NetworkConfig
from archiver.errors import BlockedAddressError, FetchError
from archiver.net import Http, Resolver, decode_document


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(BlockedAddressError, match="non-public"):
        Resolver().check(address, "example.org")


def test_public_addresses_pass() -> None:
    Resolver().check("93.184.216.34", "example.org")
    Resolver().check("2606:2800:220:1:248:1893:25c8:1946", "example.org")


@pytest.mark.parametrize("host", ["127.1", "0x7f000001", "2130706433", "localhost"])
def test_numeric_and_local_host_forms_resolve_to_loopback_and_are_refused(host: str) -> None:
    with pytest.raises(BlockedAddressError):
        Resolver().resolve(host, 443)


def test_allowed_networks_open_the_guard() -> None:
    resolver = Resolver(allow_networks=["127.0.0.0/8"])
    assert resolver.resolve("127.1", 80) == [("127.0.0.1", 80)]
    with pytest.raises(BlockedAddressError):
        resolver.resolve("10.1.1.1", 80)


def test_host_map_exact_and_wildcard() -> None:
    resolver = Resolver({"x.com": "127.0.0.1:8443", "*.twimg.com": "127.0.0.2:9443"},
                        ["127.0.0.0/8"])
    assert resolver.resolve("x.com", 443) == [("127.0.0.1", 8443)]
    assert resolver.resolve("X.COM.", 443) == [("127.0.0.1", 8443)]
    assert resolver.resolve("pbs.twimg.com", 443) == [("127.0.0.2", 9443)]
    assert resolver.mapped("twimg.com") is None


def test_host_map_cannot_bypass_the_guard() -> None:
    resolver = Resolver({"x.com": "10.0.0.5:443"})
    with pytest.raises(BlockedAddressError):
        resolver.resolve("x.com", 443)


def test_unknown_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="cannot resolve"):
        Resolver().resolve("no-such-host.invalid", 443)


def test_non_http_url_is_refused() -> None:
    http = Http(NetworkConfig())
    for url in ("ftp://example.org/", "javascript:alert(1)", "file:///etc/passwd"):
        with pytest.raises(FetchError, match="not an http"):
            http.get(url)


def test_loopback_is_refused_by_default_before_any_byte_is_sent() -> None:
    http = Http(NetworkConfig())
    with pytest.raises(BlockedAddressError):
        http.get("http://127.0.0.1:9/")


def test_fetch_through_the_host_map_verifies_tls(fake_platform, net_config) -> None:
    http = Http(net_config)
    got = http.get("https://news.example.org/2020/09/28/violents-combats-azerbaidjan-armenie/")
    assert got.status == 200
    assert got.peer_ip == "127.0.0.1"
    text, kind = decode_document(got)
    assert kind == "html" and "NikolPashinyan" in text


def test_tls_is_verified_against_the_configured_bundle(fake_platform, net_config,
                                                       tmp_path: Path) -> None:
    from dataclasses import replace

    http = Http(replace(net_config, ca_bundle=""))  # system CAs do not know the test CA
    with pytest.raises(FetchError, match="TLS verification failed"):
        http.get("https://news.example.org/missing")


@pytest.mark.parametrize("path, error", [
    ("/loop", "redirect loop"),
    ("/huge", "byte cap"),
])
def test_bad_responses_raise(fake_platform, net_config, path: str, error: str) -> None:
    from dataclasses import replace

    http = Http(replace(net_config, max_bytes=5_000_000))
    with pytest.raises(FetchError, match=error):
        http.get(f"https://news.example.org{path}")


def test_slow_server_times_out(fake_platform, net_config) -> None:
    from dataclasses import replace

    http = Http(replace(net_config, read_timeout=0.5, connect_timeout=0.5))
    with pytest.raises(FetchError, match=r"slow|timed out"):
        http.get("https://news.example.org/slow")


@pytest.mark.parametrize("path, needle", [
    ("/latin1", "é"),
    ("/meta-charset", "é"),
])
def test_charsets_are_honoured(fake_platform, net_config, path: str, needle: str) -> None:
    text, _ = decode_document(Http(net_config).get(f"https://news.example.org{path}"))
    assert needle in text


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo carrying 10.0.0.1
])
def test_ipv4_inside_ipv6_is_checked_as_ipv4(address: str) -> None:
    with pytest.raises(BlockedAddressError):
        Resolver().check(address, "example.org")


@pytest.mark.parametrize("host_map, allow, message", [
    ({"x.com": "not-an-address:80"}, (), "host_map"),
    ({"x.com": "127.0.0.1:99999"}, (), "host_map"),
    ({}, ("not-a-network",), "allow_networks"),
])
def test_bad_network_settings_are_config_errors(host_map: dict[str, str],
                                                allow: tuple[str, ...], message: str) -> None:
    from archiver.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        Resolver(host_map, allow)


def test_bracketed_ipv6_targets() -> None:
    resolver = Resolver({"x.com": "[::1]:8443", "y.com": "::1"}, ["::1/128"])
    assert resolver.resolve("x.com", 443) == [("::1", 8443)]
    assert resolver.resolve("y.com", 443) == [("::1", 443)]


@pytest.mark.parametrize("endpoint, ordinary", [
    ("169.254.170.23", "169.254.170.22"),  # AWS EKS Pod Identity Agent
    ("fd00:ec2::23", "fd00:ec2::22"),  # the same agent over IPv6
    ("169.254.0.23", "169.254.0.22"),  # Tencent Cloud metadata
])
def test_credential_endpoints_stay_refused_in_an_allowed_network(endpoint: str,
                                                                 ordinary: str) -> None:
    resolver = Resolver(allow_networks=["169.254.0.0/16", "fd00::/8"])
    resolver.check(ordinary, "example.org")  # the network is allowed ...
    with pytest.raises(BlockedAddressError, match="whatever"):  # ... its agent is not
        resolver.check(endpoint, "example.org")


@pytest.mark.parametrize("address", ["192.0.0.8", "192.0.0.11", "192.0.0.200", "192.0.0.255"])
def test_ietf_protocol_assignments_are_refused_on_every_python(address: str) -> None:
    """192.0.0.0/24 is global to `ipaddress` before 3.11.10 / 3.12.4 (but .0-.7 and
    .170-.171), private after: the verdict must not depend on which Python runs."""
    with pytest.raises(BlockedAddressError, match="IETF protocol assignments"):
        Resolver().check(address, "example.org")


@pytest.mark.parametrize("address", ["192.0.0.9", "192.0.0.10"])
def test_the_globally_reachable_anycast_addresses_in_192_0_0_0_24_pass(address: str) -> None:
    Resolver().check(address, "example.org")


@pytest.mark.parametrize("address", [
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "::ffff:127.0.0.1",  # IPv4-mapped
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo carrying 10.0.0.1
])
def test_allowing_an_ipv6_prefix_does_not_allow_the_ipv4_it_carries(address: str) -> None:
    """A connection to these reaches the IPv4 address inside: that is what is judged."""
    wide = Resolver(allow_networks=["2002::/16", "::ffff:0:0/96", "64:ff9b::/96",
                                    "2001::/32"])
    with pytest.raises(BlockedAddressError, match="non-public"):
        wide.check(address, "example.org")
    Resolver(allow_networks=["10.0.0.0/8", "127.0.0.0/8"]).check(address, "example.org")
