"""End to end in Firefox ESR: the player page decodes H.264 and receives Opus, reconnects
after a server restart, and says why when the stream's H.264 profile is beyond it.

Debian's firefox-esr, headless, driven by tests/firefox/viewer.js (puppeteer-core over
WebDriver BiDi) with the prefs that make it decode H.264 through libavcodec
(tests/firefox/viewer.js). It offers only Constrained Baseline and Baseline (42e01f,
42001f), like Firefox's OpenH264 in the field.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.firefox_viewer import FirefoxViewer, audio_packets, decoded, require_firefox
from tests.helpers import ServerProcess

pytestmark = pytest.mark.e2e

LIGHT = ("--source", "test", "--audio", "test", "--width", "640", "--height", "360",
         "--fps", "30", "--bitrate", "800")  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _firefox_installed() -> None:
    require_firefox()


def test_firefox_decodes_x11_h264_and_receives_pulse_opus(desktop: dict[str, str]) -> None:
    args = ("--source", "x11", "--audio", "pulse", "--width", "1280", "--height", "720",
            "--fps", "30", "--bitrate", "4000")  # fmt: skip
    with ServerProcess(*args, env=desktop) as server, FirefoxViewer(server.url + "/") as firefox:
        first = firefox.wait_for(
            lambda s: decoded(s) > 10 and audio_packets(s) > 10,
            what="H.264 frames decoded and Opus packets in Firefox",
        )
        assert first["video"]["codec"] == "video/H264"
        assert first["audio"]["codec"].lower() == "audio/opus"
        later = firefox.wait_for(lambda s: s["at"] >= first["at"] + 2000, what="2 s more")
        frames = decoded(later) - decoded(first)
        seconds = (later["at"] - first["at"]) / 1000
        assert frames >= 20 * seconds, f"{frames} frames in {seconds:.1f} s: Firefox stalled"
        # 50 Opus packets a second (20 ms frames): two thirds of them, or Opus stalled.
        assert audio_packets(later) - audio_packets(first) >= 33 * seconds, "Opus stopped"
        # The player plays by itself (muted, per autoplay rules) and samples getStats.
        assert later["status"] == "playing"
        assert not later["paused"]
        assert later["samples"] >= 1
        answer = " ".join(later["answerH264"])
        assert "profile-level-id=42e01f" in answer  # Constrained Baseline, level 3.1
    log = server.output()
    assert "x11 :" in log
    assert "takes H.264 constrained-baseline" in log
    assert "rejected message" not in log


def test_firefox_player_controls_and_figures() -> None:
    with ServerProcess(*LIGHT) as server, FirefoxViewer(server.url + "/") as firefox:
        playing = firefox.wait_for(lambda s: decoded(s) > 10, what="frames")
        assert playing["muted"]
        assert playing["unmuteShown"]
        firefox.click("#unmute")
        unmuted = firefox.wait_for(lambda s: not s["muted"] and not s["unmuteShown"], what="sound")
        assert not unmuted["paused"]
        firefox.click("#fullscreen")
        firefox.wait_for(lambda s: s["fullscreen"], what="fullscreen")
        firefox.click("#fullscreen")
        firefox.wait_for(lambda s: not s["fullscreen"], what="fullscreen left")
        # The overlay's figures, from Firefox's getStats (2 samples make the first rates).
        sampled = firefox.wait_for(lambda s: s["samples"] >= 3, what="stats samples")
        figures = sampled["lastSample"]
        assert 15 <= figures["fps"] <= 40, figures
        assert 300 <= figures["bitrateKbps"] <= 2000, figures
        assert figures["rttMs"] is not None
        assert figures["latencyMs"] is not None
        assert sampled["firstFrameMs"] is not None
        assert 0 < sampled["firstFrameMs"] < 10_000
    # The player's "stats" messages from Firefox's figures were all accepted.
    assert "rejected message" not in server.output()


def test_firefox_reconnects_after_a_server_restart() -> None:
    first_server = ServerProcess(*LIGHT).start()
    port = first_server.port
    try:
        with FirefoxViewer(first_server.url + "/") as firefox:
            before = firefox.wait_for(lambda s: decoded(s) > 10, what="frames before")
            assert before["connects"] == 1
            first_server.stop()
            firefox.wait_for(lambda s: s["status"] == "retrying", what="the player to retry")
            with ServerProcess(*LIGHT, port=port):
                after = firefox.wait_for(
                    lambda s: s["connects"] >= 2 and decoded(s) > 10,
                    timeout=40,
                    what="frames again after the restart",
                )
                assert after["status"] == "playing"
                assert audio_packets(after) > 0
    finally:
        if first_server.proc is not None and first_server.proc.poll() is None:
            first_server.stop()


def test_firefox_is_told_why_it_cannot_take_a_high_profile_stream() -> None:
    with ServerProcess(*LIGHT, "--h264-profile", "high") as server:
        with FirefoxViewer(server.url + "/") as firefox:
            refused = firefox.wait_for(lambda s: s["status"] == "error", what="an error shown")
            error: Any = refused["lastError"]
            assert error["code"] == "unsupported-codec"
            # Firefox rejects the video section outright (port 0) for a High offer.
            assert "this browser cannot decode H.264 high level" in error["message"]
            # It does not retry: no later answer from this browser can help.
            later = firefox.wait_for(lambda s: s["at"] >= refused["at"] + 2000, what="2 s more")
            assert later["connects"] == 1
            assert later["status"] == "error"
        log = server.output()
    assert "cannot take the stream: the viewer rejected the video" in log
