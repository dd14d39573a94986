"""End to end: `aether serve --rtp-forward` into two real Janus instances (Debian's
package, started here with a generated config); headless Chromium watches their streaming
mountpoints with janus.js and decodes; a Janus viewer's PLI reaches our encoder."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from tests import janus as janus_tools
from tests.helpers import ROOT, ServerProcess
from tests.janus import JanusProcess, PageServer, free_udp_ports, rtp_mountpoint

pytestmark = pytest.mark.e2e

MOUNT_ID = 1
WIDTH, HEIGHT = 640, 360


@dataclass
class Setup:
    server: ServerProcess
    janus: list[JanusProcess]
    pages: PageServer

    def stats(self) -> Any:
        with urllib.request.urlopen(self.server.url + "/stats", timeout=10) as reply:
            return json.load(reply)

    def target(self, index: int) -> Any:
        return self.stats()["rtp_forward"][index]


def poll(what: str, get: Callable[[], Any], ok: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get()
        if ok(last):
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: last {last}")


def fmtp_from_log(server: ServerProcess) -> str:
    """The videofmtp the server says the mountpoints need (its start-up log line)."""
    found = poll(
        "the videofmtp log line",
        lambda: re.search(r'videofmtp = "([^"]+)"', server.output()),
        lambda m: m is not None,
        10,
    )
    return str(found.group(1))


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    reason = janus_tools.missing()
    if reason is not None:
        if os.environ.get("AETHER_REQUIRE_E2E") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    # Janus A: video and audio, RTCP on an explicit port. Janus B: video only, RTCP on
    # the default VIDEOPORT + 1.
    a_video, a_audio, a_rtcp, b_video = free_udp_ports(4)
    forward = f"127.0.0.1:{a_video}:{a_audio}:{a_rtcp},127.0.0.1:{b_video}"
    with ExitStack() as stack:
        server = ServerProcess(
            "--source", "test", "--audio", "test",
            "--width", str(WIDTH), "--height", str(HEIGHT), "--fps", "30",
            "--bitrate", "1500",
            # Periodic keyframes only once a minute: a viewer that decodes at once got
            # its first keyframe because its PLI reached the encoder.
            "--keyframe-interval", "60",
            "--rtp-forward", forward,
        )  # fmt: skip
        stack.enter_context(server)
        fmtp = fmtp_from_log(server)
        janus = [
            JanusProcess(
                {"streaming": {"general": {}, "aether": rtp_mountpoint(
                    MOUNT_ID, a_video, a_rtcp, a_audio, videofmtp=fmtp)}},
                rtp_port_range="30000-34999",
            ),
            JanusProcess(
                {"streaming": {"general": {}, "aether": rtp_mountpoint(
                    MOUNT_ID, b_video, b_video + 1, None, videofmtp=fmtp)}},
                rtp_port_range="35000-39999",
            ),
        ]  # fmt: skip
        for instance in janus:
            stack.enter_context(instance)
        pages = PageServer()
        stack.callback(pages.close)
        yield Setup(server, janus, pages)


def test_the_shipped_mountpoint_example_loads() -> None:
    """docs/janus/janus.plugin.streaming.jcfg, as shipped, gives mountpoint 1 with H.264
    on PT 96, Opus on PT 111 and video RTCP."""
    reason = janus_tools.missing()
    if reason is not None:
        pytest.skip(reason)
    example = (ROOT / "docs" / "janus" / "janus.plugin.streaming.jcfg").read_text()
    with JanusProcess({"streaming": example}) as janus:
        info = janus.plugin_request("janus.plugin.streaming", {"request": "info", "id": 1})
    assert info.get("streaming") == "info", info
    media = {m["type"]: m for m in info["info"]["media"]}
    assert media["video"]["codec"] == "h264" and media["video"]["pt"] == 96
    assert "packetization-mode=1" in media["video"]["fmtp"]
    assert media["audio"]["codec"] == "opus" and media["audio"]["pt"] == 111


def open_viewer(browser: Any, url: str) -> Any:
    context = browser.new_context()  # own context: background tabs get ~1 fps in headless
    page = context.new_page()
    page.goto(url)
    return page


def page_stats(page: Any) -> Any:
    return page.evaluate("window.videoStats()")


def wait_page(page: Any, what: str, ok: Callable[[Any], bool], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = page_stats(page)
        assert not last.get("error"), f"janus.js reported: {last['error']}"
        if ok(last):
            return last
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: last {last}")


def decoded(s: Any) -> int:
    return int((s.get("video") or {}).get("framesDecoded", 0))


def test_janus_viewers_of_two_instances_decode_the_forwarded_stream(
    browser: Any, setup: Setup
) -> None:
    pages = [open_viewer(browser, setup.pages.url(j, MOUNT_ID)) for j in setup.janus]
    try:
        for page in pages:
            first = wait_page(
                page,
                "decoded frames shown at the stream's size",
                lambda s: s["frames"] > 20 and decoded(s) > 20 and s["width"] == WIDTH,
            )
            assert first["height"] == HEIGHT
            page.wait_for_timeout(1500)
            later = page_stats(page)
            assert later["frames"] > first["frames"] + 15, "video stopped being shown"
        with_audio, video_only = (page_stats(p) for p in pages)
        assert (with_audio.get("audio") or {}).get("packetsReceived", 0) > 20
        assert "audio" not in video_only  # the second mountpoint has no audio
    finally:
        for page in pages:
            page.context.close()
    for index, target in enumerate(setup.stats()["rtp_forward"]):
        assert target["state"] == "forwarding"
        assert target["video"]["packets_sent"] > 100
        assert target["rtcp_received"] > 0, f"no RTCP came back from Janus {index}"
    targets = setup.stats()["rtp_forward"]
    assert targets[0]["audio"]["packets_sent"] > 50
    assert targets[1]["audio"] is None
    assert targets[1]["rtcp_port"] == targets[1]["video"]["port"] + 1


def test_a_janus_viewer_pli_produces_a_keyframe(browser: Any, setup: Setup) -> None:
    before = setup.stats()
    requests_before = before["rtp_forward"][1]["keyframe_requests"]
    sent_before = before["keyframes"]["sent"]
    page = open_viewer(browser, setup.pages.url(setup.janus[1], MOUNT_ID))
    try:
        shown = wait_page(
            page,
            "a keyframe decoded (periodic ones are a minute apart)",
            lambda s: (s.get("video") or {}).get("keyFramesDecoded", 0) >= 1 and s["frames"] > 5,
            timeout=20,
        )
    finally:
        page.context.close()
    after = poll(
        "the PLI counted for that target",
        setup.stats,
        lambda s: s["rtp_forward"][1]["keyframe_requests"] > requests_before,
        10,
    )
    assert after["keyframes"]["sent"] > sent_before, "no keyframe went to the encoder"
    assert shown["video"]["keyFramesDecoded"] >= 1
    assert "PLI/FIR from 127.0.0.1:" in setup.server.output()
