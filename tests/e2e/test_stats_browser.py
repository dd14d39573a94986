"""End to end: /stats and /metrics agree with what a real Chromium viewer measures."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import decoded, open_player, stats, wait_for
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


def test_bytes_sent_agree_with_what_the_browser_received(
    browser: Any, server: ServerProcess
) -> None:
    page = open_player(browser, server.url, TOKEN)
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
        # the viewer's address may first be seen in a connectivity check: peer-reflexive
        assert view["candidate_type"]["local"] == "host"
        assert view["candidate_type"]["remote"] in ("host", "prflx")
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


def until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression (wait_for_function needs eval, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def figures_of(page: Any) -> dict[str, str]:
    names = page.locator("#stats-figures dt").all_inner_texts()
    values = page.locator("#stats-figures dd").all_inner_texts()
    return dict(zip(names, values, strict=True))


def test_overlay_toggles_and_its_charts_move(
    browser: Any, server: ServerProcess, tmp_path: Any
) -> None:
    page = open_player(browser, server.url, TOKEN)
    try:
        wait_for(page, lambda s: decoded(s) > 10, what="frames")
        overlay = page.locator("#stats")
        assert overlay.is_hidden()
        page.keyboard.press("s")
        assert overlay.is_visible()
        page.wait_for_timeout(2500)
        first = figures_of(page)
        shot1 = overlay.screenshot(path=str(tmp_path / "overlay-1.png"))
        charts1 = page.evaluate("[...document.querySelectorAll('#stats canvas')]"
                                ".map(c => c.toDataURL())")  # fmt: skip
        page.wait_for_timeout(2000)
        second = figures_of(page)
        shot2 = overlay.screenshot(path=str(tmp_path / "overlay-2.png"))
        charts2 = page.evaluate("[...document.querySelectorAll('#stats canvas')]"
                                ".map(c => c.toDataURL())")  # fmt: skip
        assert int(second["frames decoded"]) > int(first["frames decoded"]) + 30
        assert float(second["received"].split()[0]) > 0
        assert shot1 != shot2
        assert all(a != b for a, b in zip(charts1, charts2, strict=True)), "a chart stood still"
        # the charts have drawn figures, not just their frames
        labels = page.evaluate("window.aether.samples.slice(-1)[0]")
        assert labels["fps"] > 20 and labels["bitrateKbps"] > 100
        page.click("#stats-toggle")
        assert overlay.is_hidden()
        page.click("#stats-toggle")
        assert overlay.is_visible()
    finally:
        page.context.close()


def viewer_row(page: Any, viewer: str) -> dict[str, str]:
    headers = page.locator("thead th").all_inner_texts()
    cells = page.locator(f'tr[data-viewer="{viewer}"] td').all_inner_texts()
    return dict(zip(headers, cells, strict=True))


def test_admin_page_lists_viewers_with_live_figures(
    browser: Any, server: ServerProcess, tmp_path: Any
) -> None:
    player = open_player(browser, server.url, TOKEN)
    admin = browser.new_context().new_page()
    try:
        wait_for(player, lambda s: decoded(s) > 10, what="frames")
        viewer = player.evaluate("window.aether.viewer")
        admin.goto(f"{server.url}/admin#token={TOKEN}")
        until(admin, "window.aetherAdmin.updates >= 3")
        first = viewer_row(admin, viewer)
        shot1 = admin.screenshot(path=str(tmp_path / "admin-1.png"))
        admin.wait_for_timeout(2500)
        second = viewer_row(admin, viewer)
        shot2 = admin.screenshot(path=str(tmp_path / "admin-2.png"))
        assert admin.locator("#status").inner_text() == "streaming"
        assert first["state"] == "connected" and first["candidates"].startswith("host / ")
        assert float(second["connected s"]) >= float(first["connected s"]) + 2
        assert 300 < float(second["sent kbit/s"]) < 4000
        assert 20 <= float(second["decoded fps"]) <= 35  # what the browser reported
        assert float(second["latency ms"]) > 0
        assert shot1 != shot2
        summary = admin.locator("#summary").inner_text()
        assert "x264" in summary and "test pattern" in summary
    finally:
        admin.context.close()
        player.context.close()


def test_admin_page_without_a_token_says_so_and_stops_asking(
    browser: Any, server: ServerProcess
) -> None:
    page = browser.new_context().new_page()
    try:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{server.url}/admin")
        until(page, "document.getElementById('status').dataset.state === 'error'")
        assert "access denied" in page.locator("#status").inner_text()
        page.wait_for_timeout(2500)
        assert sum(url.endswith("/stats") for url in requests) == 1
    finally:
        page.context.close()
