"""`POST /encoder` with `fps`: an admin changes the frame rate while a viewer watches; the
same connection goes on decoding at the new rate, and back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import decoded, stats, wait_for
from tests.e2e.test_bitrate_control import ADMIN, VIEWER, post
from tests.helpers import ServerProcess

pytestmark = pytest.mark.e2e


def decoded_fps(page: Any, seconds: float = 3.0) -> float:
    before = decoded(stats(page))
    page.wait_for_timeout(seconds * 1000)
    return (decoded(stats(page)) - before) / seconds


def test_admin_changes_the_frame_rate_while_a_viewer_watches(browser: Any) -> None:
    tokens = f"admin:{ADMIN},view:{VIEWER}"
    args = ("--source", "test", "--audio", "test", "--width", "640", "--height", "360",
            "--fps", "30", "--bitrate", "1500", "--tokens", tokens)  # fmt: skip
    with ServerProcess(*args) as server:
        page = browser.new_context().new_page()
        try:
            page.goto(f"{server.url}/#token={VIEWER}")
            wait_for(page, lambda s: decoded(s) > 10, what="frames")
            normal = decoded_fps(page)
            assert post(server, {"fps": 10}, VIEWER)[0] == 403
            assert post(server, {"fps": 0}, ADMIN)[0] == 400
            assert post(server, {"fps": "slow"}, ADMIN)[0] == 400
            assert post(server, {"frames": 10}, ADMIN)[0] == 400
            code, answer = post(server, {"fps": 10}, ADMIN)
            assert (code, answer) == (200, {"fps": 10, "previous_fps": 30})
            page.wait_for_timeout(1500)  # the rebuilt encoder's first keyframe
            slow = decoded_fps(page)
            figures = server.stats(ADMIN)
            code, answer = post(server, {"fps": 30, "bitrate_kbps": 1000}, ADMIN)
            assert code == 200, answer
            assert answer == {
                "bitrate_kbps": 1000,
                "previous_kbps": 1500,
                "fps": 30,
                "previous_fps": 10,
            }
            page.wait_for_timeout(1500)
            back = decoded_fps(page)
            after = stats(page)
            connects = page.evaluate("() => window.aether.connects")
        finally:
            page.context.close()
        log = server.output()
    assert after["state"] == "connected" and connects == 1, (after, connects)
    assert normal > 24, normal
    assert 7 <= slow <= 13, slow
    assert back > 24, back
    assert figures["fps"] == 10 and 7 <= figures["fps_actual"] <= 13, figures
    assert "Traceback" not in log and "CRITICAL" not in log, log[-3000:]
