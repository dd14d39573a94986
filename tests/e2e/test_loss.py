"""End to end: under 5% packet loss Chromium keeps decoding, with NACK/RTX resending.

The server runs in a second network namespace joined to the browser's by the impaired link
of tests/linkemu.py (the kernel here has no netem): 5% of packets are lost each way, media
and feedback alike. With `--nack true` (the default) the offer carries an RTX payload type,
Chromium's NACKs are answered with resends, and /stats counts them for that viewer; with
`--nack false` there is no RTX and the count stays 0, which is what makes the first check
able to fail. Adaptation is on (the default) and must take 5% random loss for what it is,
not congestion: the bitrate stays where it was set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import decoded, open_player, stats, wait_for
from tests.helpers import ServerProcess
from tests.linkemu import Link

pytestmark = pytest.mark.e2e

TOKEN = "loss-test-" + "b" * 20
FPS = 30
BITRATE = 1500
WINDOW_S = 6.0
# The picture must keep moving: at 5% loss with resends Chromium decodes ~30 of 30 fps
# here; a stall (waiting on keyframes) would show as a rate far below this.
MIN_FPS = 0.6 * FPS


@pytest.fixture(scope="module")
def link() -> Iterator[Link]:
    if not Path("/dev/net/tun").exists():
        reason = "the impaired link needs /dev/net/tun (CONFIG_TUN) for its forwarder"
        if os.environ.get("AETHER_REQUIRE_E2E") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with Link(loss=5.0, seed=10) as lossy:
        yield lossy


def server_for(link: Link, nack: bool) -> ServerProcess:
    args = ("--source", "test", "--audio", "test", "--width", "640", "--height", "360",
            "--fps", str(FPS), "--bitrate", str(BITRATE), "--tokens", f"admin:{TOKEN}",
            "--nack", "true" if nack else "false")  # fmt: skip
    return ServerProcess(*args, host=link.server_host, wrapper=link.enter_server_ns)


def server_video(server: ServerProcess, viewer: str) -> dict[str, Any]:
    """The viewer's video figures from /stats, with the top encode's target bitrate."""
    snap = server.stats(TOKEN)
    view = next(v for v in snap["viewers"] if v["id"] == viewer)
    return {**view["video"], "top_bitrate_kbps": snap["bitrate_kbps"]}


OFFER_JS = """
() => {
  const pc = window.aether.pc;
  return pc.remoteDescription ? pc.remoteDescription.sdp : "";
}
"""


def watch(browser: Any, server: ServerProcess) -> tuple[dict[str, Any], float, str]:
    """Open the player; after the first frames, decode WINDOW_S seconds under loss.
    Returns the server's video figures for this viewer, the decoded fps and the offer."""
    page = open_player(browser, server.url, TOKEN)
    try:
        wait_for(page, lambda s: decoded(s) > 10, what="first frames under loss")
        viewer = page.evaluate("window.aether.viewer")
        before = decoded(stats(page))
        page.wait_for_timeout(WINDOW_S * 1000)
        fps = (decoded(stats(page)) - before) / WINDOW_S
        return server_video(server, viewer), fps, page.evaluate(OFFER_JS)
    finally:
        page.context.close()


def test_nack_rtx_resends_keep_chromium_decoding_under_5_percent_loss(
    browser: Any, link: Link
) -> None:
    with server_for(link, nack=True) as server:
        video, fps, offer = watch(browser, server)
    assert "rtx/90000" in offer, offer
    assert fps >= MIN_FPS, f"decoded {fps:.1f} fps under 5% loss"
    assert video["packets_lost"] > 0, video  # the loss is real
    assert video["nack_count"] > 0, video
    assert video["retransmitted_packets"] > 0, video
    # Random loss is not congestion: adaptation (on by default) kept the bitrate.
    assert video["top_bitrate_kbps"] == BITRATE, video


def test_without_nack_nothing_is_resent(browser: Any, link: Link) -> None:
    with server_for(link, nack=False) as server:
        video, _fps, offer = watch(browser, server)
    assert "rtx/90000" not in offer, offer
    assert video["packets_lost"] > 0, video
    assert video["retransmitted_packets"] == 0, video
