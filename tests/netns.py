"""Load a WebRTC page in Chromium inside a network namespace of its own, and report what
reached the namespace's one non-loopback link. Run by tests/test_ssrf.py as
`unshare --net python -m tests.netns EXECUTABLE`; it prints one JSON object.

The namespace holds loopback and a veth pair (`v0` with 192.0.2.1/24, its peer `v1`), both
ends inside it: whatever Chromium sends on `v0` arrives at `v1` and goes nowhere else. The
link is real to Chromium (an interface with an address and a default route), so WebRTC
gathers on it as it would on a machine's network, and a frame it sends shows up at `v1`,
where this script reads every frame (AF_PACKET). To make unicast visible as a frame rather
than as an address lookup, 192.0.2.2 (the page's STUN server) has a neighbour entry; an ARP
request for any other address is reported too. Kernel chatter on the link (IPv6 neighbour
discovery and MLD, IGMP) is not Chromium's sending and is reported apart (`igmp`).

A broadcast datagram sent before the browser starts (`control`) shows that the watch sees
what is sent on `v0`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import replace
from typing import Any

from playwright.async_api import Error as PlaywrightError

from archiver.capture.browser import BrowserSession
from archiver.config import BrowserConfig, NetworkConfig

LINK, PEER = "v0", "v1"
ADDRESS, STUN = "192.0.2.1", "192.0.2.2"
CONTROL = b"tests.netns control"
#: The page: a peer connection with a STUN server on the link, keeping what it gathers.
PAGE = f"""<!doctype html><script>
window.gathered = [];
const pc = new RTCPeerConnection({{iceServers: [{{urls: "stun:{STUN}:3478"}}]}});
pc.onicecandidate = e => e.candidate && gathered.push(e.candidate.candidate);
pc.createDataChannel("x");
pc.createOffer().then(o => pc.setLocalDescription(o));
</script>"""
GATHERED = "pc.iceGatheringState === 'complete' ? gathered : null"
ETH_P_ALL, ETH_IPV4, ETH_ARP, ETH_IPV6 = 0x0003, 0x0800, 0x0806, 0x86DD


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def set_up_link() -> None:
    ip("link", "set", "lo", "up")
    ip("link", "add", LINK, "type", "veth", "peer", "name", PEER)
    ip("addr", "add", f"{ADDRESS}/24", "dev", LINK)
    ip("link", "set", LINK, "up")
    ip("link", "set", PEER, "up")
    ip("route", "add", "default", "dev", LINK)
    peer_mac = json.loads(ip("-json", "link", "show", "dev", PEER))[0]["address"]
    ip("neigh", "add", STUN, "lladdr", peer_mac, "dev", LINK)


def describe(frame: bytes) -> tuple[str, str] | None:
    """(kind, description) of a frame: kind "sent" for what a program sent (UDP, TCP, ARP),
    "igmp" for a multicast membership report, None for other kernel chatter."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == ETH_ARP:
        return "sent", f"ARP who-has {socket.inet_ntoa(frame[38:42])}"
    if ethertype == ETH_IPV4:
        header = (frame[14] & 15) * 4
        proto, dst = frame[23], socket.inet_ntoa(frame[30:34])
        body = frame[14 + header:]
        if proto == 2:
            return "igmp", igmp(body) or f"IGMP to {dst}"
        if proto in (6, 17):
            if proto == 17 and body[8:8 + len(CONTROL)] == CONTROL:
                return "control", "control"
            port = struct.unpack("!H", body[2:4])[0]
            return "sent", f"{'UDP' if proto == 17 else 'TCP'} to {dst}:{port}"
        return "sent", f"IPv4 protocol {proto} to {dst}"
    if ethertype == ETH_IPV6:
        following, dst = frame[20], socket.inet_ntop(socket.AF_INET6, frame[38:54])
        if following == 0:  # hop-by-hop options: MLD's, as a rule
            following = frame[54]
        if following in (6, 17):
            port = struct.unpack("!H", frame[56:58])[0]
            return "sent", f"{'UDP' if following == 17 else 'TCP'} to [{dst}]:{port}"
    return None


def igmp(body: bytes) -> str | None:
    """An IGMPv3 membership report as "join G" / "leave G" per group (else None)."""
    if not body or body[0] != 0x22 or len(body) < 8:
        return None
    records, at = [], 8
    for _ in range(struct.unpack("!H", body[6:8])[0]):
        if len(body) < at + 8:
            return None
        kind, aux, sources = body[at], body[at + 1], struct.unpack("!H", body[at + 2:at + 4])[0]
        change = {4: "join", 3: "leave"}.get(kind, f"record type {kind}")
        records.append(f"{change} {socket.inet_ntoa(body[at + 4:at + 8])}")
        at += 8 + 4 * sources + 4 * aux
    return ", ".join(records)


class Watch:
    """Every frame that arrives at the peer end of the link, described, in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((PEER, 0))
        self.sock.settimeout(0.2)
        self.seen: dict[str, list[str]] = {"sent": [], "igmp": [], "control": []}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._note(self.sock.recv(65535))
            except TimeoutError:
                continue

    def _note(self, frame: bytes) -> None:
        found = describe(frame)
        if found is not None:
            self.seen[found[0]].append(found[1])

    def stop(self) -> dict[str, list[str]]:
        """What was seen, the frames still queued on the socket included (a veth delivers
        a frame as it is sent: what the browser sent before it closed is queued by now)."""
        self.stopping.set()
        self.thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                self._note(self.sock.recv(65535))
            except BlockingIOError:
                break
        self.sock.close()
        return self.seen


def send_control() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((ADDRESS, 0))
        sock.sendto(CONTROL, ("192.0.2.255", 9))


async def visit(executable: str) -> Any:
    config = replace(BrowserConfig(), executable=executable)
    async with BrowserSession(config, NetworkConfig()) as browser:
        context = await browser.new_context()
        await context.route("https://rtc.test/**", lambda route: route.fulfill(
            status=200, content_type="text/html", body=PAGE))
        page = await context.new_page()
        await page.goto("https://rtc.test/")
        try:
            handle = await page.wait_for_function(GATHERED, timeout=10_000)
            gathered = await handle.json_value()
        except PlaywrightError as exc:  # reported: the test fails on it
            gathered = f"gathering did not end: {exc}"
        await page.wait_for_timeout(1000)  # anything sent late
        await context.close()
        return gathered


def main() -> None:
    set_up_link()
    watch = Watch()
    send_control()
    gathered = asyncio.run(visit(sys.argv[1]))
    seen = watch.stop()
    print(json.dumps({"gathered": gathered, "control": bool(seen["control"]),
                      "sent": seen["sent"], "igmp": seen["igmp"]}))


if __name__ == "__main__":
    main()
