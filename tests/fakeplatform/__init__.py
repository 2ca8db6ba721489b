"""Offline stand-in for the platforms: one loopback HTTPS server for their real host names.

    with start_fake_platform(tmp_path) as fake:
        fake.host_resolver_rules()   # Chromium: --host-resolver-rules=...
        fake.ca_pem                  # requests: verify=..., or proxies via fake.proxy_url()
        fake.tweets.delete("1310100737619791965")

See server.py (FakePlatform), twitter.py (tweet store and routes), news.py (news site).
"""

from tests.fakeplatform.ca import HOSTS, TestPKI, make_test_pki
from tests.fakeplatform.server import FakePlatform, FetchResult, start_fake_platform

__all__ = ["HOSTS", "FakePlatform", "FetchResult", "TestPKI", "make_test_pki",
           "start_fake_platform"]
