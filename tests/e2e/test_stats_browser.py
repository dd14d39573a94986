"""End to end: /stats and /metrics agree with what a real Chromium viewer measures."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import decoded, stats, wait_for
from tests.helpers import ServerProcess

pytestmark = pytest.mark.e2e

ADMIN = "admin:" + "a" * 24
TOKEN = ADMIN.split(":", 1)[1]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    args = ("--source", "test", "--audio", "test", "--width", "640", "--height", "360",
            "--fps", "30", "--bitrate", "1500", "--tokens", ADMIN)  # fmt: skip
    with ServerProcess(*args) as srv:
        yield srv


def fetch(url: str) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return str(r.read().decode())


LOST_JS = """
async () => {
  const out = {};
  (await window.aether.pc.getStats()).forEach(r => {
    if (r.type === 'inbound-rtp') out[r.kind] = r.packetsLost;
  });
  return out;
}
"""


def server_view(server: ServerProcess, viewer: str) -> dict[str, Any]:
    snap = json.loads(fetch(server.url + "/stats"))
    return dict(next(v for v in snap["viewers"] if v["id"] == viewer))


def metric_value(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"no {name}{labels} in /metrics")


def open_player(browser: Any, url: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{url}/#token={TOKEN}")
    return page


def test_bytes_sent_agree_with_what_the_browser_received(
    browser: Any, server: ServerProcess
) -> None:
    page = open_player(browser, server.url)
    try:
        wait_for(page, lambda s: decoded(s) > 30, what="frames")
        page.wait_for_timeout(3000)
        viewer = page.evaluate("window.aether.viewer")
        before = stats(page)["video"]["bytesReceived"]
        view = server_view(server, viewer)
        after = stats(page)["video"]["bytesReceived"]
        sent = view["video"]["bytes_sent"]
        # Sent is read between the two browser readings; a packet in flight is ~1 KB.
        assert before * 0.97 <= sent <= after * 1.03, (before, sent, after)
        assert view["state"] == "connected" and view["ice_state"] in ("connected", "completed")
        assert view["candidate_type"] == {"local": "host", "remote": "host"}
        assert view["video"]["packets_sent"] > 100 and view["audio"]["packets_sent"] > 100
        assert 500 < view["bitrate_kbps"] < 4000
        assert view["rtt_ms"] is not None and 0 <= view["rtt_ms"] < 100
        # Loss as the browser counts it reaches the server in RTCP receiver reports.
        lost = page.evaluate(LOST_JS)
        assert abs(view["video"]["packets_lost"] - lost["video"]) <= 2
        # /metrics reads the same figures
        before = stats(page)["video"]["bytesReceived"]
        metric = metric_value(fetch(server.url + "/metrics"), "aether_viewer_sent_bytes_total",
                              {"viewer": viewer, "kind": "video"})  # fmt: skip
        after = stats(page)["video"]["bytesReceived"]
        assert before * 0.97 <= metric <= after * 1.03, (before, metric, after)
        # The browser's own report, once a second over signaling
        page.wait_for_timeout(1500)
        client = server_view(server, viewer)["client"]
        assert client is not None and client["age_s"] < 2.5
        assert 20 <= client["fps"] <= 35
        assert client["frames_decoded"] > 60
        assert client["latency_ms"] is not None and 0 < client["latency_ms"] < 500
        browser_bytes = stats(page)["video"]["bytesReceived"]
        assert 0.8 * browser_bytes <= client["bytes_received"] <= browser_bytes
    finally:
        page.context.close()
